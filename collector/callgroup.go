package collector

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// errCallStuck refuses a key whose earlier call outlived the scrape that
// waited for it and has not returned yet.
var errCallStuck = errors.New("earlier call still blocked")

// callGroup runs calls that may block indefinitely (statfs or getdents on a
// dead NFS server, a device-mapper ioctl on a device being suspended) off
// the scrape goroutine, at most one per key: a scrape waits only until its
// deadline, concurrent scrapes share the call in flight, and a hung call
// costs one goroutine per key rather than one per scrape.
type callGroup[K comparable, V any] struct {
	// skipStuck makes later scrapes refuse a key at once (errCallStuck)
	// while a call that a scrape gave up on is still blocked; otherwise they
	// wait for that same call again, up to their own deadline.
	skipStuck bool

	mu    sync.Mutex
	calls map[K]*groupCall[V]
}

type groupCall[V any] struct {
	done      chan struct{}
	val       V
	err       error
	abandoned atomic.Bool
}

// do returns fn's result for key, starting fn only when no call for key is
// in flight. When ctx ends first it returns ctx's error; fn keeps running
// and its result is dropped.
func (g *callGroup[K, V]) do(ctx context.Context, key K, fn func() (V, error)) (V, error) {
	var zero V
	g.mu.Lock()
	if g.calls == nil {
		g.calls = map[K]*groupCall[V]{}
	}
	c, ok := g.calls[key]
	if ok && g.skipStuck && c.abandoned.Load() {
		g.mu.Unlock()
		return zero, errCallStuck
	}
	if !ok {
		c = &groupCall[V]{done: make(chan struct{})}
		g.calls[key] = c
		go func() {
			defer func() {
				if p := recover(); p != nil {
					c.err = fmt.Errorf("call panicked: %v", p)
				}
				g.mu.Lock()
				delete(g.calls, key)
				g.mu.Unlock()
				close(c.done)
			}()
			c.val, c.err = fn()
		}()
	}
	g.mu.Unlock()
	select {
	case <-c.done:
		return c.val, c.err
	case <-ctx.Done():
		c.abandoned.Store(true)
		return zero, ctx.Err()
	}
}

// running counts calls still in flight.
func (g *callGroup[K, V]) running() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.calls)
}

package collector

import (
	"context"
	"sync"
)

// scrapeShared memoises work that several collectors need in one scrape (the
// cgroup tree walk, say): the first caller computes, concurrent callers wait
// for that result, and the memo dies with the scrape.
type scrapeShared struct {
	mu    sync.Mutex
	calls map[string]*sharedCall
}

type sharedCall struct {
	done chan struct{}
	val  any
	err  error
}

type sharedKey struct{}

func withShared(ctx context.Context) context.Context {
	return context.WithValue(ctx, sharedKey{}, &scrapeShared{calls: map[string]*sharedCall{}})
}

// shared returns fn's result for key, computed once per scrape. Outside a
// scrape (a collector driven directly by a test) it just calls fn.
func shared(ctx context.Context, key string, fn func() (any, error)) (any, error) {
	s, _ := ctx.Value(sharedKey{}).(*scrapeShared)
	if s == nil {
		return fn()
	}
	s.mu.Lock()
	c, ok := s.calls[key]
	if !ok {
		c = &sharedCall{done: make(chan struct{})}
		s.calls[key] = c
		s.mu.Unlock()
		c.val, c.err = fn()
		close(c.done)
		return c.val, c.err
	}
	s.mu.Unlock()
	select {
	case <-c.done:
		return c.val, c.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

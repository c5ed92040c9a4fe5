package collector

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestCallGroupBoundsHungCalls(t *testing.T) {
	for _, skipStuck := range []bool{false, true} {
		g := &callGroup[string, int]{skipStuck: skipStuck}
		release := make(chan struct{})
		var started atomic.Int32
		hung := func() (int, error) { started.Add(1); <-release; return 7, nil }
		for i := 0; i < 3; i++ {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			_, err := g.do(ctx, "nfs", hung)
			cancel()
			want := context.DeadlineExceeded
			if skipStuck && i > 0 {
				want = errCallStuck
			}
			if !errors.Is(err, want) {
				t.Errorf("skipStuck=%v call %d: got %v, want %v", skipStuck, i, err, want)
			}
		}
		if n := started.Load(); n != 1 {
			t.Errorf("skipStuck=%v: %d calls started for one key, want 1", skipStuck, n)
		}
		if v, err := g.do(context.Background(), "other", func() (int, error) { return 1, nil }); v != 1 || err != nil {
			t.Errorf("another key must not wait: %v %v", v, err)
		}
		close(release)
		for deadline := time.Now().Add(30 * time.Second); g.running() != 0; {
			if time.Now().After(deadline) {
				t.Fatal("released call never finished")
			}
			time.Sleep(time.Millisecond)
		}
		if v, err := g.do(context.Background(), "nfs", func() (int, error) { return 8, nil }); v != 8 || err != nil {
			t.Errorf("after release a new call must run: %v %v", v, err)
		}
	}
}

func TestCallGroupContainsPanics(t *testing.T) {
	var g callGroup[int, string]
	_, err := g.do(context.Background(), 1, func() (string, error) { panic("bad input") })
	if err == nil || g.running() != 0 {
		t.Errorf("panic must become an error and free the key: %v", err)
	}
}

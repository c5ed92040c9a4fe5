package kmsg

import (
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// within fails the test if ch is not closed within a generous watchdog.
func within(t *testing.T, what string, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatalf("gave up waiting for %s", what)
	}
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// TestFollowerReadyAfterBacklog: Ready closes once the records pending at
// the start have been handled, not before, and following goes on.
func TestFollowerReadyAfterBacklog(t *testing.T) {
	r := &ring{idle: func() { time.Sleep(time.Millisecond) }}
	for range 50 {
		r.add(6, "x")
	}
	f, err := NewFollower(Config{Open: r.open, NoStateFromBeginning: true})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	handled := 0
	if closed(f.Ready()) {
		t.Fatal("ready before following")
	}
	f.Start(func(Record) { mu.Lock(); handled++; mu.Unlock() })
	within(t, "ready", f.Ready())
	mu.Lock()
	n := handled
	mu.Unlock()
	if st := f.Stats(); n != 50 || !st.CaughtUp || !st.Running {
		t.Fatalf("ready with %d of 50 handled, stats %+v", n, st)
	}
	r.add(6, "y")
	deadline := time.Now().Add(30 * time.Second)
	for f.Stats().RecordsRead < 51 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if err := f.Stop(time.Second); err != nil || f.Stats().RecordsRead != 51 || f.Stats().Reason != ReasonStopped {
		t.Fatalf("stop %v, stats %+v", err, f.Stats())
	}
}

// TestFollowerReadyWhenLogUnreadable: a start-up that cannot complete
// (permission denied) makes Ready close while retrying goes on.
func TestFollowerReadyWhenLogUnreadable(t *testing.T) {
	r := &ring{openErrs: []error{&os.PathError{Op: "open", Path: "/dev/kmsg", Err: syscall.EPERM}}}
	f, err := NewFollower(Config{Open: r.open, PermissionRetry: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	f.Start(func(Record) {})
	within(t, "ready", f.Ready())
	if st := f.Stats(); st.Running || st.Reason != ReasonPermission {
		t.Fatalf("stats %+v", st)
	}
	if err := f.Stop(time.Second); err != nil || f.Stats().Reason != ReasonStopped {
		t.Fatalf("stop %v, stats %+v", err, f.Stats())
	}
}

// blockingSource serves records, then blocks in Read the way a read on a
// hung file system does, until release is closed.
type blockingSource struct {
	recs    []string
	next    int
	blocked chan struct{}
	release chan struct{}
	once    sync.Once
}

func (s *blockingSource) Read(b []byte) (int, error) {
	if s.next < len(s.recs) {
		s.next++
		return copy(b, s.recs[s.next-1]), nil
	}
	s.once.Do(func() { close(s.blocked) })
	<-s.release
	return 0, syscall.EAGAIN
}

func (s *blockingSource) Close() error { return nil }

// TestFollowerStopBounded: Stop returns within its bound when the
// following goroutine is stuck in a read (before catching up, so Ready is
// still open), saving the position of the last record handled, and closes
// Ready so that nobody waits for a backlog that is never read.
func TestFollowerStopBounded(t *testing.T) {
	dir := t.TempDir()
	h := stateHarness(t, &ring{}, dir, boot1)
	src := &blockingSource{blocked: make(chan struct{}), release: make(chan struct{})}
	for i := range 5 {
		src.recs = append(src.recs, "6,"+string(rune('0'+i))+",1,-;x\n")
	}
	h.cfg.Open = func(Position) (Source, error) { return src, nil }
	f, err := NewFollower(h.cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.Start(func(Record) {})
	// Before the temporary directory goes: the follower saves as it ends.
	t.Cleanup(func() { close(src.release); <-f.done })
	within(t, "the read to block", src.blocked)
	if closed(f.Ready()) {
		t.Fatal("ready while the backlog's end was never seen")
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		err = f.Stop(50 * time.Millisecond)
	}()
	within(t, "Stop", stopped)
	if err == nil || !strings.Contains(err.Error(), "did not stop within 50ms") {
		t.Errorf("Stop = %v, want an error saying the follower did not stop", err)
	}
	if !closed(f.Ready()) {
		t.Error("Ready still open after Stop")
	}
	if s, err := LoadState(h.cfg.StatePath); err != nil || s != (State{BootID: boot1, Seq: 4}) {
		t.Errorf("state %+v, %v; want seq 4", s, err)
	}
	if again := f.Stop(time.Second); again != err {
		t.Errorf("second Stop = %v, want the first one's result", again)
	}
}

// TestFollowerStopWithoutStart only saves (nothing to save here).
func TestFollowerStopWithoutStart(t *testing.T) {
	f, err := NewFollower(Config{Open: (&ring{}).open})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Stop(time.Second); err != nil || !closed(f.Ready()) {
		t.Fatalf("Stop = %v, ready %v", err, closed(f.Ready()))
	}
}

func TestStatsState(t *testing.T) {
	for _, c := range []struct {
		s    Stats
		want string
	}{
		{Stats{Running: true}, "running"},
		{Stats{Running: true, Reason: ReasonIO}, "running"},
		{Stats{Reason: ReasonStarting}, ReasonStarting},
		{Stats{Reason: ReasonPermission}, ReasonPermission},
		{Stats{Reason: ReasonStopped}, ReasonStopped},
		{Stats{Reason: "something new"}, ReasonIO},
		{Stats{}, ReasonIO},
	} {
		got := c.s.State()
		known := false
		for _, s := range States() {
			known = known || s == got
		}
		if got != c.want || !known {
			t.Errorf("%+v: %q, want %q", c.s, got, c.want)
		}
	}
	if len(States()) != 6 || len(Modes()) != 3 {
		t.Errorf("states %v, modes %v", States(), Modes())
	}
}

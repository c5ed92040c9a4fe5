package kmsg

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ring simulates the kernel's printk buffer behind /dev/kmsg: one record per
// read, EPIPE when the reader's record was overwritten, EAGAIN at the end,
// EINVAL when the buffer is too small.
type ring struct {
	mu       sync.Mutex
	recs     []string // recs[i] has seq base+i
	base     uint64
	openErrs []error // consumed by successive opens
	readErrs []error // consumed by successive reads, before data
	opens    []Position
	idle     func() // called from Wait when the reader is at the end
	waits    int
}

func (r *ring) add(prio int, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	seq := r.base + uint64(len(r.recs))
	r.recs = append(r.recs, fmt.Sprintf("%d,%d,%d,-;%s\n", prio, seq, 1000+seq*10, msg))
}

// overwrite drops the n oldest records, as the ring wrapping does.
func (r *ring) overwrite(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = r.recs[n:]
	r.base += uint64(n)
}

func (r *ring) open(pos Position) (Source, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.opens = append(r.opens, pos)
	if len(r.openErrs) > 0 {
		err := r.openErrs[0]
		r.openErrs = r.openErrs[1:]
		if err != nil {
			return nil, err
		}
	}
	s := &ringSource{r: r, cur: r.base}
	if pos == FromEnd {
		s.cur = r.base + uint64(len(r.recs))
	}
	return s, nil
}

type ringSource struct {
	r      *ring
	cur    uint64
	closed bool
}

func (s *ringSource) Read(buf []byte) (int, error) {
	r := s.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if s.closed {
		return 0, syscall.EBADF
	}
	if len(r.readErrs) > 0 {
		err := r.readErrs[0]
		r.readErrs = r.readErrs[1:]
		return 0, err
	}
	if s.cur < r.base {
		s.cur = r.base
		return 0, syscall.EPIPE
	}
	i := s.cur - r.base
	if i >= uint64(len(r.recs)) {
		return 0, syscall.EAGAIN
	}
	if len(buf) < len(r.recs[i]) {
		return 0, syscall.EINVAL
	}
	s.cur++
	return copy(buf, r.recs[i]), nil
}

func (s *ringSource) Wait(time.Duration) error {
	s.r.mu.Lock()
	s.r.waits++
	idle := s.r.idle
	s.r.mu.Unlock()
	if idle != nil {
		idle()
	}
	return nil
}

func (s *ringSource) Close() error { s.closed = true; return nil }

// fakeClock is a manual clock; Sleep records the delay and advances time.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
	onNap  func()
}

func newClock() *fakeClock { return &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	nap := c.onNap
	c.mu.Unlock()
	if nap != nil {
		nap()
	}
	return ctx.Err()
}

type harness struct {
	t      *testing.T
	ring   *ring
	clock  *fakeClock
	cfg    Config
	seqs   []uint64
	msgs   []string
	ctx    context.Context
	cancel context.CancelFunc
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, ring: &ring{}, clock: newClock()}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	t.Cleanup(h.cancel)
	h.ring.idle = h.cancel // stop at the end of the buffer unless a test says otherwise
	h.cfg = Config{Open: h.ring.open, Now: h.clock.Now, Sleep: h.clock.Sleep}
	return h
}

func (h *harness) run() *Follower {
	h.t.Helper()
	f, err := NewFollower(h.cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := f.Follow(h.ctx, func(r Record) {
		h.seqs = append(h.seqs, r.Seq)
		h.msgs = append(h.msgs, r.Message)
	}); err != nil {
		h.t.Fatal(err)
	}
	return f
}

func seqRange(from, to uint64) []uint64 {
	var s []uint64
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

func TestFollowWithoutStateFromBeginning(t *testing.T) {
	h := newHarness(t)
	for i := range 5 {
		h.ring.add(6, fmt.Sprintf("m%d", i))
	}
	h.cfg.NoStateFromBeginning = true
	st := h.run().Stats()
	if !reflect.DeepEqual(h.seqs, seqRange(0, 4)) {
		t.Fatalf("handled %v", h.seqs)
	}
	if st.Mode != ModeBeginning || st.StatePersisted || st.RecordsRead != 5 || st.RecordsLost != 0 || st.Running || st.Reason != ReasonStopped {
		t.Fatalf("stats %+v", st)
	}
}

func TestFollowWithoutStateFromEnd(t *testing.T) {
	h := newHarness(t)
	h.ring.add(6, "old")
	h.ring.add(6, "old")
	waits := 0
	h.ring.idle = func() {
		waits++
		if waits == 1 {
			h.ring.add(6, "new")
			return
		}
		h.cancel()
	}
	st := h.run().Stats()
	if !reflect.DeepEqual(h.msgs, []string{"new"}) || h.ring.opens[0] != FromEnd {
		t.Fatalf("handled %v, opens %v", h.msgs, h.ring.opens)
	}
	if st.Mode != ModeEnd {
		t.Fatalf("mode %q", st.Mode)
	}
}

func TestFollowEAGAINThenData(t *testing.T) {
	h := newHarness(t)
	h.ring.add(6, "a")
	h.ring.idle = func() {
		if h.ring.waits <= 3 {
			h.ring.add(6, "b")
			return
		}
		h.cancel()
	}
	h.cfg.NoStateFromBeginning = true
	h.run()
	if !reflect.DeepEqual(h.msgs, []string{"a", "b", "b", "b"}) {
		t.Fatalf("handled %v", h.msgs)
	}
	// One poll per empty read: no spinning between data.
	if h.ring.waits != 4 {
		t.Fatalf("waited %d times, want 4", h.ring.waits)
	}
}

func TestFollowEPIPEMidStream(t *testing.T) {
	h := newHarness(t)
	for range 10 {
		h.ring.add(6, "x")
	}
	h.cfg.NoStateFromBeginning = true
	f, _ := NewFollower(h.cfg)
	f.Follow(h.ctx, func(r Record) {
		h.seqs = append(h.seqs, r.Seq)
		if r.Seq == 3 {
			h.ring.overwrite(7) // records 4, 5, 6 are gone before we read them
		}
	})
	st := f.Stats()
	if !reflect.DeepEqual(h.seqs, []uint64{0, 1, 2, 3, 7, 8, 9}) {
		t.Fatalf("handled %v", h.seqs)
	}
	if st.Overruns != 1 || st.RecordsLost != 3 {
		t.Fatalf("overruns %d lost %d, want 1 and 3", st.Overruns, st.RecordsLost)
	}
}

func TestFollowCountsGapBeforeFirstRecordOfBoot(t *testing.T) {
	h := newHarness(t)
	for range 3 {
		h.ring.add(6, "x")
	}
	h.ring.overwrite(2)
	h.cfg.NoStateFromBeginning = true
	if st := h.run().Stats(); st.RecordsLost != 2 || !reflect.DeepEqual(h.seqs, []uint64{2}) {
		t.Fatalf("lost %d handled %v", st.RecordsLost, h.seqs)
	}
}

func TestFollowUnparsableAndEINVAL(t *testing.T) {
	h := newHarness(t)
	h.ring.add(6, "ok")
	h.ring.mu.Lock()
	h.ring.recs = append(h.ring.recs, "garbage without header\n")
	h.ring.mu.Unlock()
	big := make([]byte, 9000)
	for i := range big {
		big[i] = 'a'
	}
	h.ring.add(6, string(big)) // larger than the 8 KiB buffer: EINVAL, then read with a bigger one
	h.cfg.BufferSize = 8192
	h.cfg.NoStateFromBeginning = true
	st := h.run().Stats()
	if st.Unparsable != 1 || len(h.msgs) != 2 || len(h.msgs[1]) != 9000 {
		t.Fatalf("unparsable %d, handled %d records", st.Unparsable, len(h.msgs))
	}
}

func TestFollowRecordTooLargeForAnyBuffer(t *testing.T) {
	h := newHarness(t)
	h.ring.add(6, "before")
	h.ring.add(6, string(make([]byte, maxBufferSize+1)))
	h.ring.add(6, "after")
	h.cfg.NoStateFromBeginning = true
	st := h.run().Stats()
	// Counted once, then the device is reopened at the end instead of
	// failing on the same record forever.
	if st.Unparsable != 1 || !reflect.DeepEqual(h.msgs, []string{"before"}) {
		t.Fatalf("unparsable %d handled %v", st.Unparsable, h.msgs)
	}
	if !reflect.DeepEqual(h.ring.opens, []Position{FromBeginning, FromEnd}) {
		t.Fatalf("opens %v", h.ring.opens)
	}
}

func TestFollowReadErrorReopensWithBackoff(t *testing.T) {
	h := newHarness(t)
	for range 3 {
		h.ring.add(6, "x")
	}
	eio := syscall.EIO
	h.ring.openErrs = []error{errors.New("boom"), errors.New("boom"), errors.New("boom"), nil}
	h.cfg.NoStateFromBeginning = true
	h.cfg.BackoffMin, h.cfg.BackoffMax = time.Second, 3*time.Second
	var f *Follower
	f, _ = NewFollower(h.cfg)
	var midStats Stats
	f.Follow(h.ctx, func(r Record) {
		h.seqs = append(h.seqs, r.Seq)
		if r.Seq == 1 {
			h.ring.readErrs = []error{eio}
			h.ring.openErrs = []error{errors.New("boom"), nil}
		}
	})
	midStats = f.Stats()
	// Open failures back off 1s, 2s, 3s (capped); a healthy source resets
	// the backoff, so the failure after the read error starts at 1s again.
	want := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, time.Second, 2 * time.Second}
	if !reflect.DeepEqual(h.clock.sleeps, want) {
		t.Fatalf("backoff %v, want %v", h.clock.sleeps, want)
	}
	if !reflect.DeepEqual(h.seqs, []uint64{0, 1, 2}) {
		t.Fatalf("handled %v (nothing twice, nothing lost)", h.seqs)
	}
	if midStats.Reopens != 5 || midStats.RecordsSkipped != 2 || midStats.LastError == "" {
		t.Fatalf("stats %+v", midStats)
	}
	// After the read error the device is reread from the start, skipping.
	if got := h.ring.opens[len(h.ring.opens)-1]; got != FromBeginning {
		t.Fatalf("reopened at %v", got)
	}
}

func TestFollowPermissionDenied(t *testing.T) {
	h := newHarness(t)
	h.ring.add(6, "x")
	denied := &os.PathError{Op: "open", Path: "/dev/kmsg", Err: syscall.EPERM}
	h.ring.openErrs = []error{denied, denied, denied, nil}
	h.cfg.NoStateFromBeginning = true
	var changes []Stats
	h.cfg.OnChange = func(s Stats) { changes = append(changes, s) }
	f, _ := NewFollower(h.cfg)
	var during []Stats
	h.clock.onNap = func() { during = append(during, f.Stats()) }
	f.Follow(h.ctx, func(r Record) { h.seqs = append(h.seqs, r.Seq) })
	for _, s := range during {
		if s.Running || s.Reason != ReasonPermission {
			t.Fatalf("while denied: %+v", s)
		}
	}
	for _, d := range h.clock.sleeps {
		if d != defaultPermRetry {
			t.Fatalf("permission retry after %v, want the slow %v", d, defaultPermRetry)
		}
	}
	if len(during) != 3 || len(h.seqs) != 1 {
		t.Fatalf("retries %d, handled %v", len(during), h.seqs)
	}
	// One notification per change, not per retry: denied, running, caught
	// up, stopped.
	var got []string
	for _, c := range changes {
		got = append(got, fmt.Sprintf("%v/%s/%v", c.Running, c.Reason, c.CaughtUp))
	}
	if want := []string{"false/permission/false", "true//false", "true//true", "false/stopped/true"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("changes %v, want %v", got, want)
	}
}

func TestReasonOf(t *testing.T) {
	for err, want := range map[error]string{
		&os.PathError{Err: syscall.EACCES}: ReasonPermission,
		&os.PathError{Err: syscall.EPERM}:  ReasonPermission,
		&os.PathError{Err: syscall.ENOENT}: ReasonNotFound,
		syscall.EIO:                        ReasonIO,
	} {
		if got := reasonOf(err); got != want {
			t.Errorf("reasonOf(%v) = %q, want %q", err, got, want)
		}
	}
}

const (
	boot1 = "2f6e7a3c-9b1d-4c8e-a5f0-1d2e3f4a5b6c"
	boot2 = "8a9b0c1d-2e3f-4a5b-8c6d-7e8f9a0b1c2d"
)

func writeBootID(t *testing.T, proc, id string) {
	t.Helper()
	dir := filepath.Join(proc, "sys/kernel/random")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "boot_id"), []byte(id+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// stateHarness is a harness with a procfs boot_id and a state file.
func stateHarness(t *testing.T, r *ring, dir, bootID string) *harness {
	h := newHarness(t)
	h.ring = r
	r.idle = h.cancel
	h.cfg.Open = r.open
	writeBootID(t, filepath.Join(dir, "proc"), bootID)
	h.cfg.ProcPath = filepath.Join(dir, "proc")
	h.cfg.StatePath = filepath.Join(dir, "kmsg.state")
	return h
}

const (
	oomSummary = "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/fxoom,task_memcg=/fxoom,task=python3,pid=%d,uid=0"
	oomKilled  = "Memory cgroup out of memory: Killed process %d (python3) total-vm:278712kB, anon-rss:65024kB, file-rss:1884kB, shmem-rss:0kB, UID:0 pgtables:188kB oom_score_adj:0"
)

func TestFollowRestartSameBootCountsOnce(t *testing.T) {
	dir := t.TempDir()
	r := &ring{}
	r.add(6, "boot")
	r.add(6, fmt.Sprintf(oomSummary, 100))
	r.add(3, fmt.Sprintf(oomKilled, 100))
	r.add(6, fmt.Sprintf(oomSummary, 200)) // the exporter stops between summary and kill

	kills := map[int]string{}
	count := 0
	follow := func() Stats {
		h := stateHarness(t, r, dir, boot1)
		c := NewClassifier()
		h.cfg.Replay = c.Prime
		f, _ := NewFollower(h.cfg)
		f.Follow(h.ctx, func(rec Record) {
			if ev, ok := c.Handle(rec); ok && ev.Kind == KindOOMKill {
				count++
				kills[ev.PID] = ev.Cgroup
			}
		})
		return f.Stats()
	}
	st := follow()
	if st.Mode != ModeBeginning || !st.StatePersisted || st.StateSaves != 1 || count != 1 {
		t.Fatalf("first run: count %d stats %+v", count, st)
	}
	if s, err := LoadState(filepath.Join(dir, "kmsg.state")); err != nil || s != (State{BootID: boot1, Seq: 3}) {
		t.Fatalf("saved %+v, %v", s, err)
	}

	// Kills logged while the exporter was down are counted on restart.
	r.add(3, fmt.Sprintf(oomKilled, 200))
	r.add(6, fmt.Sprintf(oomSummary, 300))
	r.add(3, fmt.Sprintf(oomKilled, 300))
	st = follow()
	if st.Mode != ModeResume || st.RecordsSkipped != 4 || st.RecordsLost != 0 || count != 3 {
		t.Fatalf("second run: count %d stats %+v", count, st)
	}
	if kills[200] != "/fxoom" {
		t.Fatalf("kill across the resume point lost its cgroup: %v", kills)
	}
	// A third start with nothing new counts nothing.
	st = follow()
	if count != 3 || st.RecordsSkipped != 7 {
		t.Fatalf("third run: count %d stats %+v", count, st)
	}
}

func TestFollowRebootCountsAll(t *testing.T) {
	dir := t.TempDir()
	if err := SaveState(filepath.Join(dir, "kmsg.state"), State{BootID: boot1, Seq: 50}); err != nil {
		t.Fatal(err)
	}
	r := &ring{}
	for range 4 {
		r.add(6, "x")
	}
	h := stateHarness(t, r, dir, boot2)
	st := h.run().Stats()
	if st.Mode != ModeBeginning || !reflect.DeepEqual(h.seqs, seqRange(0, 3)) || st.RecordsSkipped != 0 {
		t.Fatalf("handled %v stats %+v", h.seqs, st)
	}
	if s, _ := LoadState(filepath.Join(dir, "kmsg.state")); s != (State{BootID: boot2, Seq: 3}) {
		t.Fatalf("saved %+v", s)
	}
}

func TestFollowWrapAroundWhileDown(t *testing.T) {
	dir := t.TempDir()
	if err := SaveState(filepath.Join(dir, "kmsg.state"), State{BootID: boot1, Seq: 4}); err != nil {
		t.Fatal(err)
	}
	r := &ring{}
	for range 13 {
		r.add(6, "x")
	}
	r.overwrite(10) // 5…9 were overwritten while the exporter was down
	h := stateHarness(t, r, dir, boot1)
	st := h.run().Stats()
	if st.Mode != ModeResume || st.RecordsLost != 5 || !reflect.DeepEqual(h.seqs, seqRange(10, 12)) {
		t.Fatalf("handled %v stats %+v", h.seqs, st)
	}
}

func TestFollowCorruptStateFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kmsg.state")
	if err := os.WriteFile(path, []byte("\x00\x01garbage{"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &ring{}
	r.add(6, "x")
	r.add(6, "y")
	h := stateHarness(t, r, dir, boot1)
	var first Stats
	h.cfg.OnChange = func(s Stats) {
		if s.Running && first.Mode == "" {
			first = s
		}
	}
	st := h.run().Stats()
	if first.StateProblem != StateCorrupt || first.Mode != ModeBeginning || len(h.seqs) != 2 {
		t.Fatalf("at start %+v, handled %v", first, h.seqs)
	}
	// Rewritten on shutdown: the problem is gone and the file is valid.
	if st.StateProblem != "" {
		t.Fatalf("after save: %+v", st)
	}
	if s, err := LoadState(path); err != nil || s.Seq != 1 {
		t.Fatalf("state %+v %v", s, err)
	}
}

func TestFollowUnusableStateFallsBack(t *testing.T) {
	dir := t.TempDir()
	r := &ring{}
	r.add(6, "old")
	h := stateHarness(t, r, dir, boot1)
	h.cfg.StatePath = filepath.Join(dir, "missing-dir", "kmsg.state")
	st := h.run().Stats()
	if st.StateProblem != StateUnwritable || st.StatePersisted || st.Mode != ModeEnd || len(h.seqs) != 0 {
		t.Fatalf("stats %+v handled %v", st, h.seqs)
	}

	h = stateHarness(t, r, dir, "not-a-uuid")
	h.cfg.NoStateFromBeginning = true
	st = h.run().Stats()
	if st.StateProblem != StateNoBootID || st.Mode != ModeBeginning || len(h.seqs) != 1 {
		t.Fatalf("stats %+v handled %v", st, h.seqs)
	}
}

func TestFollowSavesPeriodicallyNotPerRecord(t *testing.T) {
	dir := t.TempDir()
	r := &ring{}
	for range 10 {
		r.add(6, "x")
	}
	h := stateHarness(t, r, dir, boot1)
	h.cfg.SaveInterval = 5 * time.Second
	f, _ := NewFollower(h.cfg)
	f.Follow(h.ctx, func(Record) { h.clock.Advance(time.Second) })
	// Saved after records 4 and 9 (5s each) and on shutdown only if changed.
	if st := f.Stats(); st.StateSaves != 2 || st.StateSaveErrors != 0 {
		t.Fatalf("saves %d errors %d", st.StateSaves, st.StateSaveErrors)
	}
	if s, _ := LoadState(h.cfg.StatePath); s.Seq != 9 {
		t.Fatalf("state %+v", s)
	}
}

func TestFollowStatsConcurrent(t *testing.T) {
	h := newHarness(t)
	h.cfg.NoStateFromBeginning = true
	n := 0
	h.ring.idle = func() {
		n++
		if n > 200 {
			h.cancel()
			return
		}
		h.ring.add(6, "x")
	}
	f, _ := NewFollower(h.cfg)
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.Follow(h.ctx, func(Record) {})
	}()
	for {
		select {
		case <-done:
			if st := f.Stats(); st.RecordsRead != 200 {
				t.Fatalf("read %d", st.RecordsRead)
			}
			return
		default:
			_ = f.Stats()
		}
	}
}

func TestNewFollowerNeedsOpener(t *testing.T) {
	if _, err := NewFollower(Config{}); err == nil {
		t.Fatal("no error without an opener")
	}
}

func TestDeviceOpener(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kmsg")
	rec := "6,7,100,-;hello\n"
	if err := os.WriteFile(path, []byte(rec), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := DeviceOpener(path)(FromBeginning)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, err := src.Read(buf)
	if err != nil || string(buf[:n]) != rec {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	if err := src.(Waiter).Wait(10 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	src.Close()
	if err := src.Close(); err != nil {
		t.Fatal("second close:", err)
	}

	src, err = DeviceOpener(path)(FromEnd)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := src.Read(buf); n != 0 || err != nil {
		t.Fatalf("at end: %d, %v", n, err)
	}
	src.Close()

	_, err = DeviceOpener(filepath.Join(dir, "absent"))(FromBeginning)
	if reasonOf(err) != ReasonNotFound {
		t.Fatalf("missing device: %v", err)
	}
}

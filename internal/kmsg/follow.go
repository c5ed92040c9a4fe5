package kmsg

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

// Source is an open kernel log: every Read returns exactly one record, or
// EAGAIN when none is pending, EPIPE when records were overwritten since the
// last read, EINVAL when buf is smaller than the record.
type Source interface {
	Read(buf []byte) (int, error)
	Close() error
}

// Waiter is implemented by sources that can block until a record is
// readable (poll(2)); it returns after at most timeout either way.
type Waiter interface {
	Wait(timeout time.Duration) error
}

// Position is where a newly opened source starts reading.
type Position int

const (
	// FromBeginning starts at the oldest record still in the buffer (SEEK_SET 0).
	FromBeginning Position = iota
	// FromEnd starts after the newest record (SEEK_END).
	FromEnd
)

// Opener opens the kernel log at a position.
type Opener func(pos Position) (Source, error)

// Mode says how the follower chose its starting point.
type Mode string

const (
	// ModeResume: the state file is from this boot; records up to its
	// sequence number were counted before and are skipped.
	ModeResume Mode = "resume"
	// ModeBeginning: a new boot, no state yet, or no usable state file and
	// Config.NoStateFromBeginning: the whole buffer is counted.
	ModeBeginning Mode = "beginning"
	// ModeEnd: no usable state file and not Config.NoStateFromBeginning:
	// only records logged after the start are counted.
	ModeEnd Mode = "end"
)

// Reasons for not running, bounded for use as a label value.
const (
	ReasonStarting   = "starting"
	ReasonPermission = "permission" // EACCES/EPERM: needs CAP_SYSLOG when kernel.dmesg_restrict=1
	ReasonNotFound   = "not_found"
	ReasonIO         = "io"
	ReasonStopped    = "stopped"
)

// States lists the values of Stats.State: "running" and the reasons.
func States() []string {
	return []string{ReasonStarting, "running", ReasonPermission, ReasonNotFound, ReasonIO, ReasonStopped}
}

// Modes lists the start modes.
func Modes() []Mode { return []Mode{ModeResume, ModeBeginning, ModeEnd} }

// State file problems, bounded.
const (
	StateCorrupt    = "corrupt"
	StateUnwritable = "unwritable"
	StateNoBootID   = "boot_id_unreadable"
	StateSaveFailed = "save_failed"
	// StateBeyondLog: the state file names this boot, but every record in
	// the kernel log is older than its sequence number. The kernel's numbers
	// only grow within a boot, so no reader of this log wrote it (a copied
	// or edited file, another log source): it says nothing about what was
	// counted, and the follower counts the whole buffer as for a corrupt file.
	StateBeyondLog = "seq_beyond_log"
)

const (
	minBufferSize      = 8 << 10
	maxBufferSize      = 1 << 20
	defaultBufferSize  = 16 << 10
	defaultSaveEvery   = 5 * time.Second
	defaultBackoffMin  = time.Second
	defaultBackoffMax  = 30 * time.Second
	defaultPermRetry   = time.Minute
	defaultPollTimeout = time.Second
)

// Config configures a Follower. Only Open is required.
type Config struct {
	Open Opener

	// StatePath is the state file. Empty: no state is kept, and
	// NoStateFromBeginning decides where every start begins.
	StatePath string
	// ProcPath is the procfs mount holding sys/kernel/random/boot_id ("/proc").
	ProcPath string
	// NoStateFromBeginning chooses where to start when there is no usable
	// state file (no path, unwritable directory, unreadable boot id):
	//   false (default): at the end. Nothing is counted twice across
	//     exporter restarts, but events logged while the exporter was down
	//     (or before its first start) are never counted.
	//   true: at the beginning of the buffer. Nothing still in the buffer is
	//     missed, but every restart counts the buffer again, so counters
	//     jump by the buffer's events after each restart.
	// Stats.Mode says which is in effect.
	NoStateFromBeginning bool

	SaveInterval    time.Duration // how often a changed state is saved (5s)
	BackoffMin      time.Duration // first retry delay after an error (1s)
	BackoffMax      time.Duration // retry delay cap (30s)
	PermissionRetry time.Duration // retry delay while permission is denied (1m)
	PollTimeout     time.Duration // longest wait for data; bounds cancellation latency (1s)
	BufferSize      int           // read buffer, at least 8 KiB (16 KiB)

	// Now and Sleep replace the clock in tests.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error

	// Replay, if set, receives records that were handled before a restart
	// and are skipped now (so a Classifier can rebuild report context).
	Replay func(Record)
	// Rewind, if set, is called from the following goroutine when the resume
	// point proves impossible (StateBeyondLog) and the log is read again from
	// its beginning: what Replay rebuilt is stale, and the records it was
	// given are now passed to handle.
	Rewind func()
	// OnChange, if set, is called from the following goroutine whenever
	// Running, Reason, StateProblem or CaughtUp changes — once per change,
	// not per retry.
	OnChange func(Stats)
}

// Stats is a snapshot of the follower's counters.
type Stats struct {
	Running   bool
	Reason    string // why not running (bounded), "" while running
	LastError string // text of the last open/read error

	Mode           Mode
	StatePersisted bool   // a state file is read and written
	StateProblem   string // "", or a bounded State* value
	// CaughtUp: everything pending at the start has been read (and a resume
	// point checked against the log); it stays true.
	CaughtUp bool

	RecordsRead     uint64 // records returned by read(2)
	RecordsSkipped  uint64 // records at or before the resume point
	RecordsLost     uint64 // records overwritten before they were read (sequence gaps)
	Overruns        uint64 // EPIPE results: the reader fell behind the ring buffer
	Unparsable      uint64 // malformed records, and records too large to read (EINVAL)
	Reopens         uint64 // open attempts after the first
	StateSaves      uint64
	StateSaveErrors uint64
	LastSeq         uint64
}

// State is "running" while running, otherwise the reason (ReasonIO for
// one not in States): a bounded value.
func (s Stats) State() string {
	switch {
	case s.Running:
		return "running"
	case slices.Contains(States(), s.Reason):
		return s.Reason
	}
	return ReasonIO
}

var errRecordTooLarge = fmt.Errorf("kmsg record larger than %d bytes", maxBufferSize)

// errRewind ends a pass that found the resume point impossible.
var errRewind = errors.New("kmsg resume point beyond the log; reading it again from the beginning")

// Follower reads the kernel log continuously.
type Follower struct {
	cfg Config

	mu    sync.Mutex // guards stats and the fields shared with Save
	stats Stats
	// Shared with Save. handled advances only after handle returned, so a
	// saved position never covers a record that was not counted.
	persist     bool
	bootID      string
	handled     uint64 // the newest record handled, or the resume point
	haveHandled bool

	saveMu    sync.Mutex // serializes state file writes; guards saved
	saved     State      // what the state file holds (as written or loaded)
	haveSaved bool

	// Owned by the Follow goroutine.
	lastSeq     uint64
	haveSeq     bool
	expectZero  bool   // the boot's first record (seq 0) is expected: count any gap before it
	unconfirmed bool   // resuming, and no record at or after the resume point read yet
	pending     uint64 // records skipped in this pass while unconfirmed
	passSeen    bool   // this pass read a parsable record
	start       Position
	lastSave    time.Time
	opened      bool
	notified    notice // what OnChange last reported

	ready     chan struct{} // closed once the start-up backlog is read (see Ready)
	readyOnce sync.Once

	// Start and Stop.
	cancel   context.CancelFunc
	done     chan struct{} // closed when the goroutine of Start returns
	stopOnce sync.Once
	stopErr  error
}

// notice is what a change must touch for OnChange to be called.
type notice struct {
	running  bool
	reason   string
	problem  string
	caughtUp bool
}

// NewFollower checks cfg and fills in defaults.
func NewFollower(cfg Config) (*Follower, error) {
	if cfg.Open == nil {
		return nil, errors.New("kmsg: Config.Open is required")
	}
	if cfg.ProcPath == "" {
		cfg.ProcPath = "/proc"
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.SaveInterval, defaultSaveEvery)
	def(&cfg.BackoffMin, defaultBackoffMin)
	def(&cfg.BackoffMax, defaultBackoffMax)
	def(&cfg.PermissionRetry, defaultPermRetry)
	def(&cfg.PollTimeout, defaultPollTimeout)
	if cfg.BackoffMax < cfg.BackoffMin {
		cfg.BackoffMax = cfg.BackoffMin
	}
	if cfg.BufferSize == 0 {
		cfg.BufferSize = defaultBufferSize
	}
	if cfg.BufferSize < minBufferSize {
		cfg.BufferSize = minBufferSize
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleepCtx
	}
	f := &Follower{cfg: cfg, notified: notice{reason: ReasonStarting}, ready: make(chan struct{})}
	f.stats.Reason = ReasonStarting
	return f, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Ready is closed once Follow has read everything pending when it started
// (Stats.CaughtUp), or found it cannot read the log (a failed open or
// read: a start-up that cannot complete), or returned, or Stop gave up
// waiting for it. A caller wanting a complete first count waits for it,
// bounded by its own deadline.
func (f *Follower) Ready() <-chan struct{} { return f.ready }

func (f *Follower) markReady() { f.readyOnce.Do(func() { close(f.ready) }) }

// Start runs Follow with handle in a goroutine of its own until Stop.
// Call it at most once.
func (f *Follower) Start(handle func(Record)) {
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel, f.done = cancel, make(chan struct{})
	go func() {
		defer close(f.done)
		f.Follow(ctx, handle)
	}()
}

// Stop ends what Start started and saves the position of the last record
// handled, so that a restart on the same boot handles nothing twice. It is
// bounded: if the following goroutine does not return within wait (a read
// blocked on a hung file system), the position of what it has handled so
// far is saved from here, and that save too is abandoned after wait. Safe
// to call concurrently with Stats and Ready; later calls return the first
// one's result.
func (f *Follower) Stop(wait time.Duration) error {
	f.stopOnce.Do(func() { f.stopErr = f.stop(wait) })
	return f.stopErr
}

func (f *Follower) stop(wait time.Duration) error {
	t := time.NewTimer(wait)
	defer t.Stop()
	stuck := false
	if f.cancel != nil {
		f.cancel()
		select {
		case <-f.done:
		case <-t.C:
			stuck = true
		}
	}
	// Nobody should wait for a backlog that is never read.
	f.markReady()
	// After a clean stop Follow has saved; this only retries a save that
	// failed. If it is stuck, this is the save it cannot make.
	saved := make(chan error, 1)
	go func() { saved <- f.Save() }()
	t.Reset(wait)
	var err error
	select {
	case err = <-saved:
	case <-t.C:
		err = fmt.Errorf("timed out after %s", wait)
	}
	switch {
	case err != nil:
		return fmt.Errorf("saving the kernel log position to %s: %w", f.cfg.StatePath, err)
	case stuck:
		return fmt.Errorf("kernel log follower did not stop within %s; saved the position of the last record it counted", wait)
	}
	return nil
}

// Stats returns a snapshot; safe for concurrent use.
func (f *Follower) Stats() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats
}

func (f *Follower) update(fn func(s *Stats)) {
	f.mu.Lock()
	fn(&f.stats)
	f.mu.Unlock()
}

// Follow reads records and passes each new one to handle, in order, until
// ctx is cancelled; it then saves the state and returns nil. Records are
// never handed out twice within one boot while the state file works.
// Follow must not be called more than once at a time.
func (f *Follower) Follow(ctx context.Context, handle func(Record)) error {
	f.plan()
	f.lastSave = f.cfg.Now()
	backoff := f.cfg.BackoffMin
	for {
		if ctx.Err() != nil {
			break
		}
		if f.opened {
			f.update(func(s *Stats) { s.Reopens++ })
		}
		f.opened = true
		f.pending, f.passSeen = 0, false
		src, err := f.cfg.Open(f.start)
		if err == nil {
			var healthy bool
			healthy, err = f.readLoop(ctx, src, handle)
			src.Close()
			if healthy {
				backoff = f.cfg.BackoffMin
			}
			if ctx.Err() != nil {
				break
			}
			if err == nil || errors.Is(err, errRewind) {
				continue
			}
		}
		reason := reasonOf(err)
		f.setRunning(false, reason, err)
		delay := backoff
		if reason == ReasonPermission {
			// Capabilities rarely change; poll slowly, quietly.
			delay = f.cfg.PermissionRetry
		} else {
			backoff = min(backoff*2, f.cfg.BackoffMax)
		}
		switch {
		case errors.Is(err, errRecordTooLarge):
			f.start = FromEnd // step over the record that cannot be read
		case f.haveSeq:
			// Reread from the oldest record: the ones up to lastSeq are
			// skipped and anything overwritten meanwhile shows as a gap.
			f.start = FromBeginning
		}
		if f.cfg.Sleep(ctx, delay) != nil {
			break
		}
	}
	f.save(true)
	f.setRunning(false, ReasonStopped, nil)
	return nil
}

// plan decides the starting point from the state file and the boot id.
func (f *Follower) plan() {
	var mode Mode
	problem := ""
	fallback := func() {
		if f.cfg.NoStateFromBeginning {
			mode, f.start, f.expectZero = ModeBeginning, FromBeginning, true
		} else {
			mode, f.start = ModeEnd, FromEnd
		}
	}
	switch {
	case f.cfg.StatePath == "":
		fallback()
	default:
		bootID, err := ReadBootID(f.cfg.ProcPath)
		if err != nil {
			problem = StateNoBootID
			fallback()
			break
		}
		if err := checkWritable(f.cfg.StatePath); err != nil {
			problem = StateUnwritable
			fallback()
			break
		}
		f.mu.Lock()
		f.persist, f.bootID = true, bootID
		f.mu.Unlock()
		st, err := LoadState(f.cfg.StatePath)
		switch {
		case err == nil && st.BootID == bootID:
			mode, f.start = ModeResume, FromBeginning
			f.lastSeq, f.haveSeq, f.unconfirmed = st.Seq, true, true
			f.mu.Lock()
			f.handled, f.haveHandled = st.Seq, true
			f.mu.Unlock()
			f.saveMu.Lock()
			f.saved, f.haveSaved = st, true
			f.saveMu.Unlock()
		case err == nil, fsutil.IsNotExist(err):
			mode, f.start, f.expectZero = ModeBeginning, FromBeginning, true
		default:
			problem = StateCorrupt
			mode, f.start, f.expectZero = ModeBeginning, FromBeginning, true
		}
	}
	f.update(func(s *Stats) {
		s.Mode, s.StatePersisted, s.StateProblem = mode, f.persist, problem
		s.LastSeq = f.lastSeq
	})
}

// readLoop reads until an error that needs a reopen or cancellation.
// healthy reports whether the source delivered anything (data or EAGAIN),
// which resets the backoff.
func (f *Follower) readLoop(ctx context.Context, src Source, handle func(Record)) (healthy bool, err error) {
	buf := make([]byte, f.cfg.BufferSize)
	for ctx.Err() == nil {
		n, err := src.Read(buf)
		switch {
		case err == nil && n > 0:
			if !healthy {
				healthy = true
				f.setRunning(true, "", nil)
			}
			f.record(buf[:n], handle)
			f.save(false)
			continue
		case err == nil || err == io.EOF || errors.Is(err, syscall.EAGAIN):
			// n == 0 / EOF only come from replayed or regular-file sources.
			// Everything pending has been read: a resume point not reached
			// by now is beyond the newest record.
			if f.unconfirmed && f.passSeen {
				f.rewind()
				return true, errRewind
			}
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EPIPE):
			// The next read returns the oldest record left; its sequence
			// gap says how many were lost.
			f.update(func(s *Stats) { s.Overruns++ })
			continue
		case errors.Is(err, syscall.EINVAL):
			// The record is larger than buf and stays pending: retry with a
			// larger buffer; past the cap it can never be read.
			if len(buf) >= maxBufferSize {
				f.update(func(s *Stats) { s.Unparsable++ })
				return healthy, fmt.Errorf("%w: %w", errRecordTooLarge, err)
			}
			buf = make([]byte, min(2*len(buf), maxBufferSize))
			continue
		default:
			return healthy, err
		}
		if !healthy {
			healthy = true
			f.setRunning(true, "", nil)
		}
		f.set(func(s *Stats) { s.CaughtUp = true })
		f.save(false)
		if w, ok := src.(Waiter); ok {
			if err := w.Wait(f.cfg.PollTimeout); err != nil && !errors.Is(err, syscall.EINTR) {
				return healthy, err
			}
		} else if f.cfg.Sleep(ctx, f.cfg.PollTimeout) != nil {
			return healthy, nil
		}
	}
	return healthy, nil
}

func (f *Follower) record(b []byte, handle func(Record)) {
	r, err := ParseRecord(b)
	if err != nil {
		f.update(func(s *Stats) { s.RecordsRead++; s.Unparsable++ })
		return
	}
	f.passSeen = true
	if f.unconfirmed && r.Seq >= f.lastSeq {
		// The resume point is in this log (or was overwritten in it): the
		// records skipped so far were counted before.
		f.unconfirmed = false
		pending := f.pending
		f.pending = 0
		f.update(func(s *Stats) { s.RecordsSkipped += pending })
	}
	if f.haveSeq && r.Seq <= f.lastSeq {
		if f.unconfirmed {
			f.pending++
			f.update(func(s *Stats) { s.RecordsRead++ })
		} else {
			f.update(func(s *Stats) { s.RecordsRead++; s.RecordsSkipped++ })
		}
		if f.cfg.Replay != nil {
			f.cfg.Replay(r)
		}
		return
	}
	var lost uint64
	switch {
	case f.haveSeq && r.Seq > f.lastSeq+1:
		lost = r.Seq - f.lastSeq - 1
	case !f.haveSeq && f.expectZero:
		lost = r.Seq // the boot's records before the oldest one left
	}
	f.lastSeq, f.haveSeq = r.Seq, true
	f.update(func(s *Stats) {
		s.RecordsRead++
		s.RecordsLost += lost
		s.LastSeq = r.Seq
	})
	handle(r)
	f.mu.Lock()
	f.handled, f.haveHandled = r.Seq, true
	f.mu.Unlock()
}

// rewind drops a resume point that no record of this log reaches: the
// state file cannot be from this log, so the whole buffer is counted, as
// for a corrupt file. Counting it from the end instead would silently drop
// every event in it; this may count again what a previous run counted, and
// says so (StateBeyondLog, ModeBeginning).
func (f *Follower) rewind() {
	f.unconfirmed, f.haveSeq, f.lastSeq, f.expectZero = false, false, 0, true
	f.start, f.pending = FromBeginning, 0
	f.mu.Lock()
	f.handled, f.haveHandled = 0, false
	f.stats.Mode, f.stats.StateProblem, f.stats.LastSeq = ModeBeginning, StateBeyondLog, 0
	f.mu.Unlock()
	if f.cfg.Rewind != nil {
		f.cfg.Rewind()
	}
	f.notify()
}

// save writes the state when it changed and SaveInterval has passed, or
// at once when force is set.
func (f *Follower) save(force bool) {
	now := f.cfg.Now()
	if !force && now.Sub(f.lastSave) < f.cfg.SaveInterval {
		return
	}
	if attempted, _ := f.persistHandled(); attempted {
		f.lastSave = now
		f.notify()
	}
}

// Save writes the position of the newest record whose handle call has
// returned (never one still being handled) to the state file, if it
// changed since the last write. It is safe to call from any goroutine while
// Follow runs, e.g. at shutdown when the following goroutine is blocked in
// a read; writes are serialized and atomic. Without a usable state file it
// does nothing.
func (f *Follower) Save() error {
	_, err := f.persistHandled()
	return err
}

func (f *Follower) persistHandled() (attempted bool, err error) {
	f.saveMu.Lock()
	defer f.saveMu.Unlock()
	f.mu.Lock()
	persist, have := f.persist, f.haveHandled
	st := State{BootID: f.bootID, Seq: f.handled}
	f.mu.Unlock()
	if !persist || !have || (f.haveSaved && f.saved == st) {
		return false, nil
	}
	err = SaveState(f.cfg.StatePath, st)
	f.update(func(s *Stats) {
		if err != nil {
			s.StateSaveErrors++
			s.StateProblem = StateSaveFailed
			return
		}
		s.StateSaves++
		switch s.StateProblem {
		case StateSaveFailed, StateCorrupt, StateBeyondLog:
			s.StateProblem = ""
		}
	})
	if err == nil {
		f.saved, f.haveSaved = st, true
	}
	return true, err
}

func (f *Follower) setRunning(running bool, reason string, err error) {
	f.set(func(s *Stats) {
		s.Running, s.Reason = running, reason
		if err != nil {
			s.LastError = err.Error()
		}
	})
}

// set updates the stats and reports a change to OnChange; only the
// following goroutine calls it.
func (f *Follower) set(fn func(s *Stats)) {
	f.update(fn)
	f.notify()
}

// notify closes Ready when it is due, and calls OnChange if Running,
// Reason, StateProblem or CaughtUp changed since it last did; only the
// following goroutine calls it.
func (f *Follower) notify() {
	snap := f.Stats()
	if snap.Running && snap.CaughtUp || !snap.Running && snap.Reason != ReasonStarting {
		f.markReady()
	}
	n := notice{running: snap.Running, reason: snap.Reason, problem: snap.StateProblem, caughtUp: snap.CaughtUp}
	if n == f.notified {
		return
	}
	f.notified = n
	if f.cfg.OnChange != nil {
		f.cfg.OnChange(snap)
	}
}

func reasonOf(err error) string {
	switch {
	case errors.Is(err, fs.ErrPermission):
		return ReasonPermission
	case fsutil.IsNotExist(err):
		return ReasonNotFound
	default:
		return ReasonIO
	}
}

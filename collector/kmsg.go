package collector

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/crashguard/crashguard_exporter/internal/cgroup"
	"github.com/crashguard/crashguard_exporter/internal/fsutil"
	"github.com/crashguard/crashguard_exporter/internal/kmsg"
)

// Bounds of the kmsg collector's label values and memory.
const (
	kmsgCgroupLabelMax = 512 // bytes of a cgroup path kept as a label
	kmsgCommLabelMax   = 64  // bytes of a task name kept as a label
	// kmsgReplayMax caps a recorded stream replayed from a regular file
	// (the flag's help says 64 MiB).
	kmsgReplayMax = 64 << 20
	// kmsgStatMax caps /proc/stat, read for btime: its per-CPU and
	// interrupt lines reach a few hundred KiB on large machines.
	kmsgStatMax = 8 << 20
	// kmsgStartupWait bounds how long a scrape waits for the follower to
	// read the backlog it found at start-up (or to fail opening the log).
	kmsgStartupWait = 5 * time.Second
	// kmsgStopWait bounds each step of Close: the follower stopping (it
	// notices within its 1 s poll), then the final save of the position.
	kmsgStopWait = 2 * time.Second
)

// The kmsg collector follows the kernel log for the events that leave no
// other trace once their cgroup is gone: OOM kills (memcg and global, with
// the victim's cgroup), pids-controller fork rejections, crashes, lockups,
// hung tasks, I/O, filesystem and dm-thin errors.
//
// It is enabled by default. Reading /dev/kmsg needs CAP_SYSLOG where
// kernel.dmesg_restrict=1; without it the collector logs that once, reports
// crashguard_kmsg_follower_state{reason="permission"} and keeps retrying
// quietly, while every other collector works as before. Its scrape success
// stays 1 then: a missing privilege is a fact about the host, reported by
// its own metric, not a failed scrape.
func init() {
	registerCollector("kmsg", true, func(app FlagGroup) Factory {
		path := app.Flag("collector.kmsg.path",
			"Kernel log device to follow (a character device, not read below --path.rootfs; in a container mount the host's /dev/kmsg). A regular file is replayed as a recorded stream of /dev/kmsg records, for testing; one larger than 64 MiB is refused, logged, and reported as crashguard_kmsg_follower_state{reason=\"io\"} and crashguard_scrape_collector_file_errors{collector=\"kmsg\",reason=\"too_large\"}.").
			Default("/dev/kmsg").String()
		state := app.Flag("collector.kmsg.state-file",
			"File keeping the boot id and the last kernel log sequence number handled (saved every 5s and at shutdown), so a restart resumes where the previous run stopped and counts events logged meanwhile exactly once. Empty disables it: each start then counts only records logged after it.").
			Default("/var/lib/crashguard_exporter/kmsg.state").String()
		retention := app.Flag("collector.kmsg.retention",
			"How long a per-cgroup OOM-kill or fork-rejection series is kept after its last increment (also after the cgroup is gone).").
			Default("24h").Duration()
		maxSeries := app.Flag("collector.kmsg.max-series",
			"Most per-cgroup OOM-kill and fork-rejection series kept; beyond it the least recently incremented is dropped (crashguard_kmsg_series_evicted_total). The per-constraint totals are never dropped.").
			Default("1000").Int()
		return func(cfg Config, logger log.Logger) (Collector, error) {
			if *retention <= 0 {
				return nil, fmt.Errorf("--collector.kmsg.retention must be positive, got %s", *retention)
			}
			if *maxSeries < 1 {
				return nil, fmt.Errorf("--collector.kmsg.max-series must be at least 1, got %d", *maxSeries)
			}
			return newKmsgCollector(cfg, logger, kmsgOptions{
				path:      *path,
				statePath: *state,
				retention: *retention,
				maxSeries: *maxSeries,
			})
		}
	})
}

// kmsgOptions configures a kmsgCollector; open, now and tune are for tests.
type kmsgOptions struct {
	path      string
	statePath string
	retention time.Duration
	maxSeries int

	open     kmsg.Opener        // nil: the device (or a replayed regular file) at path
	now      func() time.Time   // clock for retention (time.Now)
	tune     func(*kmsg.Config) // adjusts the follower's configuration
	stopWait time.Duration      // bound of each step of Close (kmsgStopWait)
}

const (
	familyOOM uint8 = iota
	familyFork
)

type kmsgSeriesKey struct {
	family     uint8
	cgroup     string
	constraint kmsg.Constraint
}

type kmsgSeries struct {
	labels cgroup.Label
	value  float64
	tick   uint64    // order of the last increment, for eviction
	last   time.Time // time of the last increment, for retention
}

type kmsgEventKey struct {
	kind kmsg.Kind
	sub  string
}

type kmsgLastKill struct {
	seen          bool
	seq           uint64
	timestampUsec uint64
	cgroup, comm  string
	labels        cgroup.Label
}

// kmsgCollector follows the kernel log in one goroutine started by its
// constructor; Update only copies what that goroutine has counted.
type kmsgCollector struct {
	logger    log.Logger
	opts      kmsgOptions
	follower  *kmsg.Follower
	btime     uint64 // boot time (seconds since the epoch); 0 if unknown
	btimePath string
	btimeErr  error // why btime is unknown, when not simply absent
	cancel    context.CancelFunc
	done      chan struct{}
	ready     chan struct{}
	closeOnce sync.Once
	closeErr  error

	classifier *kmsg.Classifier // owned by the following goroutine

	mu          sync.Mutex
	readyClosed bool
	replayErr   error // why the replayed file cannot be used, nil otherwise
	logged      map[string]bool
	events      map[kmsgEventKey]float64
	oomAll      map[kmsg.Constraint]float64
	series      map[kmsgSeriesKey]*kmsgSeries
	tick        uint64
	evicted     float64
	lastKill    kmsgLastKill

	oomKills, oomAllKills, lastKillTime, lastKillInfo, eventsDesc, forkRejections *prometheus.Desc
	recordsRead, recordsSkipped, recordsLost, unparsable, reopens                 *prometheus.Desc
	running1, state, startMode, stateOK, evictedDesc                              *prometheus.Desc
}

var kmsgStates = []string{kmsg.ReasonStarting, "running", kmsg.ReasonPermission, kmsg.ReasonNotFound, kmsg.ReasonIO, kmsg.ReasonStopped}

var kmsgModes = []kmsg.Mode{kmsg.ModeResume, kmsg.ModeBeginning, kmsg.ModeEnd}

// kmsgEventKeys lists every kind with its sub-kinds ("" for kinds without).
func kmsgEventKeys() []kmsgEventKey {
	subs := map[kmsg.Kind][]string{
		kmsg.KindIOError:     kmsg.IOSubKinds(),
		kmsg.KindFSError:     kmsg.FSSubKinds(),
		kmsg.KindDMThinError: kmsg.DMThinSubKinds(),
	}
	var out []kmsgEventKey
	for _, k := range kmsg.Kinds() {
		if s, ok := subs[k]; ok {
			for _, sub := range s {
				out = append(out, kmsgEventKey{k, sub})
			}
			continue
		}
		out = append(out, kmsgEventKey{k, ""})
	}
	return out
}

func newKmsgCollector(cfg Config, logger log.Logger, opts kmsgOptions) (*kmsgCollector, error) {
	if opts.now == nil {
		opts.now = time.Now
	}
	if opts.stopWait <= 0 {
		opts.stopWait = kmsgStopWait
	}
	d := func(subsystem, name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, subsystem, name), help, labels, nil)
	}
	c := &kmsgCollector{
		logger:     logger,
		opts:       opts,
		done:       make(chan struct{}),
		ready:      make(chan struct{}),
		classifier: kmsg.NewClassifier(),
		logged:     map[string]bool{},
		events:     map[kmsgEventKey]float64{},
		oomAll:     map[kmsg.Constraint]float64{},
		series:     map[kmsgSeriesKey]*kmsgSeries{},

		oomKills: d("kernel", "oom_kills_total",
			"OOM kills in the kernel log (/dev/kmsg) by the victim's memory cgroup as the kernel printed it (oom-kill: task_memcg=, or \"Task in\" before 4.19; \"\" when the report naming it was rate-limited away; capped at 512 bytes), container_id, runtime and pod_uid derived from that path, and constraint (memcg, global, cpuset, memory_policy, unknown). Kept for --collector.kmsg.retention after the last kill, also after the cgroup is deleted; at most --collector.kmsg.max-series series together with the fork rejections. Counted from the exporter's start, resuming after the previous run on the same boot.",
			"cgroup", "container_id", "runtime", "pod_uid", "constraint"),
		oomAllKills: d("kernel", "oom_kills_all_total",
			"All OOM kills in the kernel log by constraint (memcg, global, cpuset, memory_policy, unknown); never dropped by retention or the series cap, so no kill is missing from it.",
			"constraint"),
		lastKillTime: d("kernel", "oom_last_kill_timestamp_seconds",
			"Wall-clock time of the newest OOM kill in the kernel log: the record's time since boot plus btime from /proc/stat. Absent until a kill is seen."),
		lastKillInfo: d("kernel", "oom_last_kill_info",
			"Always 1; one series naming the newest OOM kill's victim: memory cgroup (capped at 512 bytes), container and pod derived from it, and comm (capped at 64 bytes).",
			"cgroup", "container_id", "pod_uid", "comm"),
		eventsDesc: d("kernel", "events_total",
			"Kernel log events by class: oom_kill, fork_rejected, kernel_bug, oops, gpf, null_deref, soft_lockup, hard_lockup, hung_task, rcu_stall, panic, io_error, fs_error, dm_thin_error, warning. subkind is the block-layer status for io_error, the failure for fs_error and dm_thin_error, \"\" otherwise. A crash report counts once under its most specific class. Every known pair is exported from 0.",
			"event", "subkind"),
		forkRejections: d("kernel", "fork_rejections_total",
			"Kernel log lines \"cgroup: fork rejected by pids controller in <cgroup>\" by the forking task's cgroup (capped at 512 bytes) and the container_id, runtime and pod_uid derived from it. The kernel prints this once per cgroup, at its first rejected fork, so this counts cgroups that hit their pids limit, not rejected forks: the pids collector reads the real count from pids.events. Retained and capped like crashguard_kernel_oom_kills_total.",
			"cgroup", "container_id", "runtime", "pod_uid"),
		recordsRead: d("kmsg", "records_read_total",
			"Records read from the kernel log since the exporter started, including those skipped when resuming."),
		recordsSkipped: d("kmsg", "records_skipped_total",
			"Records read again at start-up that a previous run on this boot had already counted (at or before the state file's sequence number)."),
		recordsLost: d("kmsg", "records_lost_total",
			"Records the kernel overwrote before they were read (sequence gaps after the saved position or the boot's first record: the ring buffer wrapped while the exporter was down or fell behind)."),
		unparsable: d("kmsg", "records_unparsable_total",
			"Kernel log records that could not be parsed or were too large to read."),
		reopens: d("kmsg", "reopens_total",
			"Times the kernel log was opened again after an error (including retries while it cannot be opened)."),
		running1: d("kmsg", "follower_running",
			"1 while the kernel log follower reads --collector.kmsg.path, 0 while it cannot (crashguard_kmsg_follower_state says why)."),
		state: d("kmsg", "follower_state",
			"State of the kernel log follower, 1 for the current one: starting, running, permission (reading /dev/kmsg needs CAP_SYSLOG when kernel.dmesg_restrict=1), not_found, io, stopped.",
			"reason"),
		startMode: d("kmsg", "start_mode",
			"Where the follower started, 1 for the mode in effect: resume (after the state file's sequence number, same boot), beginning (new boot or no usable state: the whole buffer is counted), end (no state file: only records logged after the start are counted).",
			"mode"),
		stateOK: d("kmsg", "state_file_ok",
			"1 when the kmsg state file (--collector.kmsg.state-file) is read and written, 0 when it is unusable (unwritable, corrupt until rewritten, save failed, boot id unreadable). Absent when the flag is empty."),
		evictedDesc: d("kmsg", "series_evicted_total",
			"Per-cgroup OOM-kill and fork-rejection series dropped because --collector.kmsg.max-series was reached (least recently incremented first); their kills stay in crashguard_kernel_oom_kills_all_total."),
	}
	for _, k := range kmsgEventKeys() {
		c.events[k] = 0
	}
	for _, con := range kmsg.Constraints() {
		c.oomAll[con] = 0
	}

	// btime is fixed for the boot; reading it once keeps timestamps stable.
	// Read at start-up, so through the guarded reader: a FIFO here must
	// not keep the exporter from listening. A problem is reported in every
	// scrape's file errors (and logged once) rather than at start-up only.
	c.btimePath = cfg.Proc("stat")
	if b, err := cfg.tree(c.btimePath).ReadFile(c.btimePath, kmsgStatMax); err == nil {
		c.btime, c.btimeErr = kmsg.ParseBtime(b)
	} else if !fsutil.IsNotExist(err) {
		c.btimeErr = err
	}

	replay := false
	open := opts.open
	if open == nil {
		if fi, err := os.Stat(opts.path); err == nil && fi.Mode().IsRegular() {
			replay = true
		}
		open = kmsgOpener(opts.path)
	}
	fcfg := kmsg.Config{
		Open:      c.watch(open),
		StatePath: opts.statePath,
		ProcPath:  cfg.ProcPath,
		// A recorded stream is replayed from its start when there is no
		// state to resume from; the device then starts at its end.
		NoStateFromBeginning: replay,
		Replay:               c.replay,
		Rewind:               c.rewind,
		OnChange:             c.onChange,
	}
	if opts.tune != nil {
		opts.tune(&fcfg)
	}
	f, err := kmsg.NewFollower(fcfg)
	if err != nil {
		return nil, err
	}
	c.follower = f
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go func() {
		defer close(c.done)
		defer c.markReady()
		f.Follow(ctx, c.handle)
	}()
	return c, nil
}

// Close stops the follower and saves the position of the last record it
// counted, so that a restart on the same boot counts nothing twice. It is
// bounded: if the follower does not stop within stopWait (a read blocked on
// a hung file system), the position of what it has counted so far is
// saved from here, and that save too is abandoned after stopWait. Safe to
// call concurrently with Update; later calls return the first one's result.
func (c *kmsgCollector) Close() error {
	c.closeOnce.Do(func() { c.closeErr = c.stop() })
	return c.closeErr
}

func (c *kmsgCollector) stop() error {
	wait := c.opts.stopWait
	c.cancel()
	t := time.NewTimer(wait)
	defer t.Stop()
	stuck := false
	select {
	case <-c.done:
	case <-t.C:
		stuck = true
	}
	// Scrapes after Close must not wait for a backlog that is never read.
	c.markReady()
	// After a clean stop the follower has saved; this only retries a save
	// that failed. If it is stuck, this is the save it cannot make.
	saved := make(chan error, 1)
	go func() { saved <- c.follower.Save() }()
	t.Reset(wait)
	var err error
	select {
	case err = <-saved:
	case <-t.C:
		err = fmt.Errorf("timed out after %s", wait)
	}
	switch {
	case err != nil:
		return fmt.Errorf("saving the kernel log position to %s: %w", c.opts.statePath, err)
	case stuck:
		return fmt.Errorf("kernel log follower did not stop within %s; saved the position of the last record it counted", wait)
	}
	return nil
}

// replayError marks a problem with a replayed regular file (as opposed to
// the device): it is a file error of the scrape.
type replayError struct{ err error }

func (e *replayError) Error() string { return e.err.Error() }
func (e *replayError) Unwrap() error { return e.err }

// kmsgOpener opens path as the kernel log device or, if it is a regular
// file, replays the records it holds.
func kmsgOpener(path string) kmsg.Opener {
	device := kmsg.DeviceOpener(path)
	return func(pos kmsg.Position) (kmsg.Source, error) {
		if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() {
			b, err := readReplay(path, kmsgReplayMax)
			if err != nil {
				return nil, &replayError{err}
			}
			s := &replaySource{recs: kmsg.SplitRecords(b)}
			if pos == kmsg.FromEnd {
				s.next = len(s.recs)
			}
			return s, nil
		}
		return device(pos)
	}
}

// readReplay reads a recorded stream of at most max bytes. A larger file
// is refused by its size before any of it is read: reading 64 MiB to find
// out (again at every retry) took seconds under load.
func readReplay(path string, max int64) ([]byte, error) {
	f, fi, err := fsutil.Open(path, false)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi.Size() > max {
		return nil, &fs.PathError{Op: "read", Path: path, Err: fsutil.ErrTooLarge}
	}
	// The cap also holds for a file that grows after the fstat.
	buf := bytes.NewBuffer(make([]byte, 0, fi.Size()+bytes.MinRead))
	if _, err := buf.ReadFrom(io.LimitReader(f, max+1)); err != nil {
		return nil, &fs.PathError{Op: "read", Path: path, Err: err}
	}
	if int64(buf.Len()) > max {
		return nil, &fs.PathError{Op: "read", Path: path, Err: fsutil.ErrTooLarge}
	}
	return buf.Bytes(), nil
}

// replaySource serves a recorded stream one record per read, like the
// device; at its end it reports EOF (the follower then polls, and a reopen
// reads the file again).
type replaySource struct {
	recs [][]byte
	next int
}

func (s *replaySource) Read(b []byte) (int, error) {
	if s.next >= len(s.recs) {
		return 0, io.EOF
	}
	r := s.recs[s.next]
	if len(b) < len(r) {
		return 0, syscall.EINVAL
	}
	s.next++
	return copy(b, r), nil
}

func (s *replaySource) Close() error { return nil }

// watch wraps the opener so that the collector knows whether the replayed
// file is unusable: scrapes report it as a file error while it is.
func (c *kmsgCollector) watch(open kmsg.Opener) kmsg.Opener {
	return func(pos kmsg.Position) (kmsg.Source, error) {
		s, err := open(pos)
		var re *replayError
		c.mu.Lock()
		c.replayErr = nil
		if errors.As(err, &re) && !fsutil.IsNotExist(err) {
			c.replayErr = re.err
		}
		c.mu.Unlock()
		return s, err
	}
}

func (c *kmsgCollector) markReady() {
	c.mu.Lock()
	c.markReadyLocked()
	c.mu.Unlock()
}

func (c *kmsgCollector) markReadyLocked() {
	if !c.readyClosed {
		c.readyClosed = true
		close(c.ready)
	}
}

// onChange runs in the following goroutine when the follower starts or
// stops running, catches up or finds a state file problem; it logs each
// kind of problem once.
func (c *kmsgCollector) onChange(s kmsg.Stats) {
	c.mu.Lock()
	replayErr := c.replayErr
	first := func(key string) bool {
		if c.logged[key] {
			return false
		}
		c.logged[key] = true
		return true
	}
	logStart := first("start")
	logState := s.StateProblem != "" && first("state:"+s.StateProblem)
	logReason := !s.Running && s.Reason != kmsg.ReasonStopped && s.Reason != kmsg.ReasonStarting && first("reason:"+s.Reason)
	switch {
	case s.Running && s.CaughtUp:
		c.markReadyLocked()
	case !s.Running && s.Reason != kmsg.ReasonStarting:
		c.markReadyLocked()
	}
	c.mu.Unlock()

	if logStart {
		level.Info(c.logger).Log("msg", "kernel log follower started", "path", c.opts.path, "start_mode", s.Mode, "state_file", c.opts.statePath)
	}
	if logState {
		switch s.StateProblem {
		case kmsg.StateBeyondLog:
			level.Warn(c.logger).Log("msg", "kmsg state file names this boot but a sequence number beyond the newest kernel log record, so it does not describe this log: counting the whole buffer (events a previous run counted may count again) and rewriting the file (crashguard_kmsg_state_file_ok 0 until then, start_mode beginning)",
				"path", c.opts.statePath, "problem", s.StateProblem)
		default:
			level.Warn(c.logger).Log("msg", "kmsg state file unusable; restarts may miss or recount kernel log events (crashguard_kmsg_state_file_ok 0)",
				"path", c.opts.statePath, "problem", s.StateProblem)
		}
	}
	if logReason {
		if replayErr != nil {
			level.Warn(c.logger).Log("msg", "cannot replay the kernel log file: nothing is counted from it. Reported in crashguard_kmsg_follower_state and crashguard_scrape_collector_file_errors{collector=\"kmsg\"}; retrying with backoff.",
				"path", c.opts.path, "reason", fsutil.Reason(replayErr), "max_bytes", kmsgReplayMax, "err", s.LastError)
			return
		}
		switch s.Reason {
		case kmsg.ReasonPermission:
			level.Warn(c.logger).Log("msg", "no permission to read the kernel log: it needs CAP_SYSLOG when kernel.dmesg_restrict=1. OOM kills and kernel events are not counted; other collectors are unaffected. Reported as crashguard_kmsg_follower_state{reason=\"permission\"}; retrying quietly.",
				"path", c.opts.path, "err", s.LastError)
		case kmsg.ReasonNotFound:
			level.Warn(c.logger).Log("msg", "kernel log device not found (in a container, mount the host's /dev/kmsg); reported as crashguard_kmsg_follower_state{reason=\"not_found\"}; retrying quietly.",
				"path", c.opts.path, "err", s.LastError)
		default:
			level.Warn(c.logger).Log("msg", "cannot read the kernel log; retrying with backoff", "path", c.opts.path, "reason", s.Reason, "err", s.LastError)
		}
	}
}

// handle counts one new record; it runs in the following goroutine.
func (c *kmsgCollector) handle(r kmsg.Record) {
	ev, ok := c.classifier.Handle(r)
	if !ok {
		return
	}
	now := c.opts.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	key := kmsgEventKey{ev.Kind, ev.Sub}
	if _, known := c.events[key]; !known {
		key.sub = "" // never for the classifier's own sub-kinds
	}
	c.events[key]++
	switch ev.Kind {
	case kmsg.KindOOMKill:
		c.oomAll[ev.Constraint]++
		c.bump(familyOOM, ev.Cgroup, ev.Constraint, now)
		c.setLastKill(ev)
	case kmsg.KindForkRejected:
		c.bump(familyFork, ev.Cgroup, "", now)
	}
}

// rewind forgets the context replay rebuilt: the follower found its resume
// point impossible and hands those records to handle again.
func (c *kmsgCollector) rewind() {
	c.classifier = kmsg.NewClassifier()
	c.mu.Lock()
	c.lastKill = kmsgLastKill{}
	c.mu.Unlock()
}

// replay rebuilds context from a record a previous run already counted:
// the classifier's report state and the newest kill's details.
func (c *kmsgCollector) replay(r kmsg.Record) {
	ev, ok := c.classifier.Handle(r)
	if !ok || ev.Kind != kmsg.KindOOMKill {
		return
	}
	c.mu.Lock()
	c.setLastKill(ev)
	c.mu.Unlock()
}

func (c *kmsgCollector) setLastKill(ev kmsg.Event) {
	if c.lastKill.seen && ev.Seq < c.lastKill.seq {
		return
	}
	cg := capLabel(ev.Cgroup, kmsgCgroupLabelMax)
	c.lastKill = kmsgLastKill{
		seen:          true,
		seq:           ev.Seq,
		timestampUsec: ev.TimestampUsec,
		cgroup:        strings.Clone(cg),
		comm:          strings.Clone(capLabel(ev.Comm, kmsgCommLabelMax)),
		labels:        cgroup.Labels(cg),
	}
}

// bump increments a per-cgroup series, making room by evicting the least
// recently incremented one when the cap is reached.
func (c *kmsgCollector) bump(family uint8, cg string, con kmsg.Constraint, now time.Time) {
	c.tick++
	key := kmsgSeriesKey{family: family, cgroup: capLabel(cg, kmsgCgroupLabelMax), constraint: con}
	s, ok := c.series[key]
	if !ok {
		for len(c.series) >= c.opts.maxSeries {
			c.evictOldest()
		}
		key.cgroup = strings.Clone(key.cgroup) // do not pin the whole message
		s = &kmsgSeries{labels: cgroup.Labels(key.cgroup)}
		c.series[key] = s
	}
	s.value++
	s.tick = c.tick
	s.last = now
}

func (c *kmsgCollector) evictOldest() {
	var oldest kmsgSeriesKey
	var oldestTick uint64
	first := true
	for k, s := range c.series {
		if first || s.tick < oldestTick {
			oldest, oldestTick, first = k, s.tick, false
		}
	}
	if first {
		return
	}
	delete(c.series, oldest)
	c.evicted++
}

func (c *kmsgCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.oomKills, c.oomAllKills, c.lastKillTime, c.lastKillInfo, c.eventsDesc,
		c.forkRejections, c.recordsRead, c.recordsSkipped, c.recordsLost, c.unparsable, c.reopens,
		c.running1, c.state, c.startMode, c.stateOK, c.evictedDesc} {
		ch <- d
	}
}

type kmsgSnapshot struct {
	events   map[kmsgEventKey]float64
	oomAll   map[kmsg.Constraint]float64
	series   map[kmsgSeriesKey]kmsgSeries
	evicted  float64
	lastKill kmsgLastKill
}

// Update reports what the follower has counted. Right after start-up it
// waits (within the scrape deadline, at most kmsgStartupWait) until the
// backlog found at start has been read, so the first scrape is complete.
func (c *kmsgCollector) Update(ctx context.Context, ch chan<- prometheus.Metric) error {
	select {
	case <-c.ready:
	default:
		wait := kmsgStartupWait
		if dl, ok := ctx.Deadline(); ok {
			wait = min(wait, time.Until(dl)/2)
		}
		t := time.NewTimer(wait)
		select {
		case <-c.ready:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}

	if c.btimeErr != nil {
		reportFileError(ctx, c.btimePath, fsutil.Reason(c.btimeErr), c.btimeErr)
	}
	snap := c.snapshot()
	st := c.follower.Stats()
	c.mu.Lock()
	replayErr := c.replayErr
	c.mu.Unlock()
	if replayErr != nil {
		reportFileError(ctx, c.opts.path, fsutil.Reason(replayErr), replayErr)
	}

	for k, v := range snap.events {
		ch <- prometheus.MustNewConstMetric(c.eventsDesc, prometheus.CounterValue, v, string(k.kind), k.sub)
	}
	for con, v := range snap.oomAll {
		ch <- prometheus.MustNewConstMetric(c.oomAllKills, prometheus.CounterValue, v, string(con))
	}
	for k, s := range snap.series {
		l := s.labels
		if k.family == familyOOM {
			ch <- prometheus.MustNewConstMetric(c.oomKills, prometheus.CounterValue, s.value, k.cgroup, l.ContainerID, l.Runtime, l.PodUID, string(k.constraint))
		} else {
			ch <- prometheus.MustNewConstMetric(c.forkRejections, prometheus.CounterValue, s.value, k.cgroup, l.ContainerID, l.Runtime, l.PodUID)
		}
	}
	ch <- prometheus.MustNewConstMetric(c.evictedDesc, prometheus.CounterValue, snap.evicted)
	if lk := snap.lastKill; lk.seen {
		ch <- prometheus.MustNewConstMetric(c.lastKillInfo, prometheus.GaugeValue, 1, lk.cgroup, lk.labels.ContainerID, lk.labels.PodUID, lk.comm)
		if c.btime > 0 {
			ts := float64(c.btime) + float64(lk.timestampUsec)/1e6
			ch <- prometheus.MustNewConstMetric(c.lastKillTime, prometheus.GaugeValue, ts)
		}
	}

	ch <- prometheus.MustNewConstMetric(c.recordsRead, prometheus.CounterValue, float64(st.RecordsRead))
	ch <- prometheus.MustNewConstMetric(c.recordsSkipped, prometheus.CounterValue, float64(st.RecordsSkipped))
	ch <- prometheus.MustNewConstMetric(c.recordsLost, prometheus.CounterValue, float64(st.RecordsLost))
	ch <- prometheus.MustNewConstMetric(c.unparsable, prometheus.CounterValue, float64(st.Unparsable))
	ch <- prometheus.MustNewConstMetric(c.reopens, prometheus.CounterValue, float64(st.Reopens))
	ch <- prometheus.MustNewConstMetric(c.running1, prometheus.GaugeValue, boolFloat(st.Running))
	state := st.Reason
	if st.Running {
		state = "running"
	}
	known := false
	for _, s := range kmsgStates {
		known = known || s == state
	}
	if !known {
		state = kmsg.ReasonIO
	}
	for _, s := range kmsgStates {
		ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, boolFloat(s == state), s)
	}
	for _, m := range kmsgModes {
		ch <- prometheus.MustNewConstMetric(c.startMode, prometheus.GaugeValue, boolFloat(m == st.Mode), string(m))
	}
	if c.opts.statePath != "" {
		ok := st.Mode != "" && st.StatePersisted && st.StateProblem == ""
		ch <- prometheus.MustNewConstMetric(c.stateOK, prometheus.GaugeValue, boolFloat(ok))
	}
	return nil
}

// snapshot copies the counters under the lock, dropping series whose last
// increment is older than the retention.
func (c *kmsgCollector) snapshot() kmsgSnapshot {
	now := c.opts.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	s := kmsgSnapshot{
		events:   make(map[kmsgEventKey]float64, len(c.events)),
		oomAll:   make(map[kmsg.Constraint]float64, len(c.oomAll)),
		series:   make(map[kmsgSeriesKey]kmsgSeries, len(c.series)),
		evicted:  c.evicted,
		lastKill: c.lastKill,
	}
	for k, v := range c.events {
		s.events[k] = v
	}
	for k, v := range c.oomAll {
		s.oomAll[k] = v
	}
	for k, v := range c.series {
		if now.Sub(v.last) > c.opts.retention {
			delete(c.series, k)
			continue
		}
		s.series[k] = *v
	}
	return s
}

package collector

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
	"github.com/crashguard/crashguard_exporter/internal/kmsg"
)

const (
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
// hung tasks, I/O, filesystem and dm-thin errors. internal/kmsg follows and
// counts (Follower, Tally); this file wires them and maps their snapshots.
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

// kmsgCollector follows the kernel log in one goroutine started by its
// constructor; Update only maps what that goroutine has counted.
type kmsgCollector struct {
	logger    log.Logger
	opts      kmsgOptions
	tally     *kmsg.Tally
	follower  *kmsg.Follower
	file      *kmsg.PathOpener // nil when opts.open replaces it
	btime     uint64           // boot time (seconds since the epoch); 0 if unknown
	btimePath string
	btimeErr  error           // why btime is unknown, when not simply absent
	logged    map[string]bool // problems logged once; following goroutine only
	snaps     sync.Pool       // *kmsg.Snapshot, reused by scrapes
}

func newKmsgCollector(cfg Config, logger log.Logger, opts kmsgOptions) (*kmsgCollector, error) {
	if opts.now == nil {
		opts.now = time.Now
	}
	if opts.stopWait <= 0 {
		opts.stopWait = kmsgStopWait
	}
	c := &kmsgCollector{
		logger: logger,
		opts:   opts,
		tally:  kmsg.NewTally(opts.retention, opts.maxSeries),
		logged: map[string]bool{},
	}
	c.snaps.New = func() any { return new(kmsg.Snapshot) }

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

	fcfg := kmsg.Config{
		Open:      opts.open,
		StatePath: opts.statePath,
		ProcPath:  cfg.ProcPath,
		Replay:    c.tally.Replay,
		Rewind:    c.tally.Rewind,
		OnChange:  c.onChange,
	}
	if fcfg.Open == nil {
		c.file = kmsg.NewPathOpener(opts.path)
		fcfg.Open = c.file.Open
		// A recorded stream is replayed from its start when there is no
		// state to resume from; the device then starts at its end.
		fcfg.NoStateFromBeginning = c.file.Recorded()
	}
	if opts.tune != nil {
		opts.tune(&fcfg)
	}
	f, err := kmsg.NewFollower(fcfg)
	if err != nil {
		return nil, err
	}
	c.follower = f
	f.Start(func(r kmsg.Record) { c.tally.Handle(r, c.opts.now()) })
	return c, nil
}

// Close stops the follower and saves the position of the last record it
// counted, so that a restart on the same boot counts nothing twice; each
// step is bounded by stopWait even if the follower is stuck in a read (see
// kmsg.Follower.Stop). Safe to call concurrently with Update; later calls
// return the first one's result.
func (c *kmsgCollector) Close() error { return c.follower.Stop(c.opts.stopWait) }

// replayProblem is why the replayed regular file cannot be used, or nil.
func (c *kmsgCollector) replayProblem() error {
	if c.file == nil {
		return nil
	}
	return c.file.Problem()
}

// onChange runs in the following goroutine when the follower starts or
// stops running, catches up or finds a state file problem; it logs each
// kind of problem once.
func (c *kmsgCollector) onChange(s kmsg.Stats) {
	first := func(key string) bool {
		if c.logged[key] {
			return false
		}
		c.logged[key] = true
		return true
	}
	if first("start") {
		level.Info(c.logger).Log("msg", "kernel log follower started", "path", c.opts.path, "start_mode", s.Mode, "state_file", c.opts.statePath)
	}
	if s.StateProblem != "" && first("state:"+s.StateProblem) {
		msg := "kmsg state file unusable; restarts may miss or recount kernel log events (crashguard_kmsg_state_file_ok 0)"
		if s.StateProblem == kmsg.StateBeyondLog {
			msg = "kmsg state file names this boot but a sequence number beyond the newest kernel log record, so it does not describe this log: counting the whole buffer (events a previous run counted may count again) and rewriting the file (crashguard_kmsg_state_file_ok 0 until then, start_mode beginning)"
		}
		level.Warn(c.logger).Log("msg", msg, "path", c.opts.statePath, "problem", s.StateProblem)
	}
	if s.Running || s.Reason == kmsg.ReasonStopped || s.Reason == kmsg.ReasonStarting || !first("reason:"+s.Reason) {
		return
	}
	if err := c.replayProblem(); err != nil {
		level.Warn(c.logger).Log("msg", "cannot replay the kernel log file: nothing is counted from it. Reported in crashguard_kmsg_follower_state and crashguard_scrape_collector_file_errors{collector=\"kmsg\"}; retrying with backoff.",
			"path", c.opts.path, "reason", fsutil.Reason(err), "max_bytes", kmsg.ReplayMax, "err", s.LastError)
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

func kmsgDesc(subsystem, name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(namespace, subsystem, name), help, labels, nil)
}

var (
	kmsgOOMKills = kmsgDesc("kernel", "oom_kills_total",
		"OOM kills in the kernel log (/dev/kmsg) by the victim's memory cgroup as the kernel printed it (oom-kill: task_memcg=, or \"Task in\" before 4.19; \"\" when the report naming it was rate-limited away; capped at 512 bytes), container_id, runtime and pod_uid derived from that path, and constraint (memcg, global, cpuset, memory_policy, unknown). Kept for --collector.kmsg.retention after the last kill, also after the cgroup is deleted; at most --collector.kmsg.max-series series together with the fork rejections. Counted from the exporter's start, resuming after the previous run on the same boot.",
		"cgroup", "container_id", "runtime", "pod_uid", "constraint")
	kmsgOOMKillsAll = kmsgDesc("kernel", "oom_kills_all_total",
		"All OOM kills in the kernel log by constraint (memcg, global, cpuset, memory_policy, unknown); never dropped by retention or the series cap, so no kill is missing from it.",
		"constraint")
	kmsgLastKillTime = kmsgDesc("kernel", "oom_last_kill_timestamp_seconds",
		"Wall-clock time of the newest OOM kill in the kernel log: the record's time since boot plus btime from /proc/stat. Absent until a kill is seen.")
	kmsgLastKillInfo = kmsgDesc("kernel", "oom_last_kill_info",
		"Always 1; one series naming the newest OOM kill's victim: memory cgroup (capped at 512 bytes), container and pod derived from it, and comm (capped at 64 bytes).",
		"cgroup", "container_id", "pod_uid", "comm")
	kmsgEvents = kmsgDesc("kernel", "events_total",
		"Kernel log events by class: oom_kill, fork_rejected, kernel_bug, oops, gpf, null_deref, soft_lockup, hard_lockup, hung_task, rcu_stall, panic, io_error, fs_error, dm_thin_error, warning. subkind is the block-layer status for io_error, the failure for fs_error and dm_thin_error, \"\" otherwise. A crash report counts once under its most specific class. Every known pair is exported from 0.",
		"event", "subkind")
	kmsgForkRejections = kmsgDesc("kernel", "fork_rejections_total",
		"Kernel log lines \"cgroup: fork rejected by pids controller in <cgroup>\" by the forking task's cgroup (capped at 512 bytes) and the container_id, runtime and pod_uid derived from it. The kernel prints this once per cgroup, at its first rejected fork, so this counts cgroups that hit their pids limit, not rejected forks: the pids collector reads the real count from pids.events. Retained and capped like crashguard_kernel_oom_kills_total.",
		"cgroup", "container_id", "runtime", "pod_uid")
	kmsgRecordsRead = kmsgDesc("kmsg", "records_read_total",
		"Records read from the kernel log since the exporter started, including those skipped when resuming.")
	kmsgRecordsSkipped = kmsgDesc("kmsg", "records_skipped_total",
		"Records read again at start-up that a previous run on this boot had already counted (at or before the state file's sequence number).")
	kmsgRecordsLost = kmsgDesc("kmsg", "records_lost_total",
		"Records the kernel overwrote before they were read (sequence gaps after the saved position or the boot's first record: the ring buffer wrapped while the exporter was down or fell behind).")
	kmsgUnparsable = kmsgDesc("kmsg", "records_unparsable_total",
		"Kernel log records that could not be parsed or were too large to read.")
	kmsgReopens = kmsgDesc("kmsg", "reopens_total",
		"Times the kernel log was opened again after an error (including retries while it cannot be opened).")
	kmsgRunning = kmsgDesc("kmsg", "follower_running",
		"1 while the kernel log follower reads --collector.kmsg.path, 0 while it cannot (crashguard_kmsg_follower_state says why).")
	kmsgState = kmsgDesc("kmsg", "follower_state",
		"State of the kernel log follower, 1 for the current one: starting, running, permission (reading /dev/kmsg needs CAP_SYSLOG when kernel.dmesg_restrict=1), not_found, io, stopped.",
		"reason")
	kmsgStartMode = kmsgDesc("kmsg", "start_mode",
		"Where the follower started, 1 for the mode in effect: resume (after the state file's sequence number, same boot), beginning (new boot or no usable state: the whole buffer is counted), end (no state file: only records logged after the start are counted).",
		"mode")
	kmsgStateOK = kmsgDesc("kmsg", "state_file_ok",
		"1 when the kmsg state file (--collector.kmsg.state-file) is read and written, 0 when it is unusable (unwritable, corrupt until rewritten, save failed, boot id unreadable). Absent when the flag is empty.")
	kmsgEvicted = kmsgDesc("kmsg", "series_evicted_total",
		"Per-cgroup OOM-kill and fork-rejection series dropped because --collector.kmsg.max-series was reached (least recently incremented first); their kills stay in crashguard_kernel_oom_kills_all_total.")
)

var kmsgStates, kmsgModes = kmsg.States(), kmsg.Modes()

func (c *kmsgCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{kmsgOOMKills, kmsgOOMKillsAll, kmsgLastKillTime, kmsgLastKillInfo, kmsgEvents,
		kmsgForkRejections, kmsgRecordsRead, kmsgRecordsSkipped, kmsgRecordsLost, kmsgUnparsable, kmsgReopens,
		kmsgRunning, kmsgState, kmsgStartMode, kmsgStateOK, kmsgEvicted} {
		ch <- d
	}
}

// Update reports what the follower has counted. Right after start-up it
// waits (within the scrape deadline, at most kmsgStartupWait) until the
// backlog found at start has been read, so the first scrape is complete.
func (c *kmsgCollector) Update(ctx context.Context, ch chan<- prometheus.Metric) error {
	select {
	case <-c.follower.Ready():
	default:
		wait := kmsgStartupWait
		if dl, ok := ctx.Deadline(); ok {
			wait = min(wait, time.Until(dl)/2)
		}
		t := time.NewTimer(wait)
		select {
		case <-c.follower.Ready():
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}

	if c.btimeErr != nil {
		reportFileError(ctx, c.btimePath, fsutil.Reason(c.btimeErr), c.btimeErr)
	}
	snap := c.snaps.Get().(*kmsg.Snapshot)
	defer c.snaps.Put(snap)
	c.tally.Snapshot(c.opts.now(), snap)
	st := c.follower.Stats()
	if err := c.replayProblem(); err != nil {
		reportFileError(ctx, c.opts.path, fsutil.Reason(err), err)
	}

	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, e := range snap.Events {
		counter(kmsgEvents, e.Count, string(e.Kind), e.Sub)
	}
	for _, o := range snap.OOMKillsAll {
		counter(kmsgOOMKillsAll, o.Count, string(o.Constraint))
	}
	for _, s := range snap.Series {
		l := s.Labels
		if s.Family == kmsg.FamilyOOMKills {
			counter(kmsgOOMKills, s.Count, s.Cgroup, l.ContainerID, l.Runtime, l.PodUID, string(s.Constraint))
		} else {
			counter(kmsgForkRejections, s.Count, s.Cgroup, l.ContainerID, l.Runtime, l.PodUID)
		}
	}
	counter(kmsgEvicted, snap.Evicted)
	if lk := snap.LastKill; lk.Seen {
		gauge(kmsgLastKillInfo, 1, lk.Cgroup, lk.Labels.ContainerID, lk.Labels.PodUID, lk.Comm)
		if c.btime > 0 {
			gauge(kmsgLastKillTime, float64(c.btime)+float64(lk.TimestampUsec)/1e6)
		}
	}

	counter(kmsgRecordsRead, st.RecordsRead)
	counter(kmsgRecordsSkipped, st.RecordsSkipped)
	counter(kmsgRecordsLost, st.RecordsLost)
	counter(kmsgUnparsable, st.Unparsable)
	counter(kmsgReopens, st.Reopens)
	gauge(kmsgRunning, boolFloat(st.Running))
	state := st.State()
	for _, s := range kmsgStates {
		gauge(kmsgState, boolFloat(s == state), s)
	}
	for _, m := range kmsgModes {
		gauge(kmsgStartMode, boolFloat(m == st.Mode), string(m))
	}
	if c.opts.statePath != "" {
		gauge(kmsgStateOK, boolFloat(st.Mode != "" && st.StatePersisted && st.StateProblem == ""))
	}
	return nil
}

package collector

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/crashguard/crashguard_exporter/internal/kmsg"
)

const (
	testBootID  = "8f994620-b4e2-4945-869b-ff0939e1e39a"
	otherBootID = "1c0ffee0-0000-4000-8000-000000000001"
	k8sCgroup   = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0a1b2c3d_4e5f_4a6b_8c7d_9e0f1a2b3c4d.slice/cri-containerd-9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08.scope"
)

// kmsgEnv is a temporary procfs with a boot id and btime, and a directory
// for streams and state files.
func kmsgEnv(t *testing.T, bootID string) (Config, string) {
	t.Helper()
	dir := t.TempDir()
	proc := filepath.Join(dir, "proc")
	if err := os.MkdirAll(filepath.Join(proc, "sys/kernel/random"), 0o755); err != nil {
		t.Fatal(err)
	}
	setBootID(t, proc, bootID)
	writeFile(t, filepath.Join(proc, "stat"), "cpu  1 0 1 100 0 0 0 0 0 0\nbtime 1764000000\n")
	return Config{ProcPath: proc, SysPath: filepath.Join(dir, "sys"), RootPath: filepath.Join(dir, "root")}, dir
}

func setBootID(t *testing.T, proc, id string) {
	t.Helper()
	writeFile(t, filepath.Join(proc, "sys/kernel/random/boot_id"), id+"\n")
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// kmsgRecords renders messages as /dev/kmsg records numbered from first.
func kmsgRecords(first uint64, msgs ...string) string {
	var b strings.Builder
	for i, m := range msgs {
		seq := first + uint64(i)
		fmt.Fprintf(&b, "3,%d,%d,-;%s\n", seq, (seq+1)*1000000, m)
	}
	return b.String()
}

func newTestKmsg(t testing.TB, cfg Config, opts kmsgOptions) *kmsgCollector {
	t.Helper()
	if opts.retention == 0 {
		opts.retention = 24 * time.Hour
	}
	if opts.maxSeries == 0 {
		opts.maxSeries = 1000
	}
	c, err := newKmsgCollector(cfg, log.NewNopLogger(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// value returns the value of the series of family name whose labels include
// want, from one gather of c.
func value(t *testing.T, c Collector, name string, want map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := registry(t, map[string]Collector{"kmsg": c}).Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if got[k] != v {
					continue next
				}
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue(), true
			}
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

func wantValue(t *testing.T, c Collector, name string, labels map[string]string, want float64) {
	t.Helper()
	got, ok := value(t, c, name, labels)
	if !ok || got != want {
		t.Errorf("%s%v = %v (present %v), want %v", name, labels, got, ok, want)
	}
}

func TestKmsgFixtureProfile(t *testing.T) {
	cfg := profileConfig(t, "kmsg-oom")
	dir := filepath.Dir(cfg.ProcPath)
	c := build(t, "kmsg", cfg, "--collector.kmsg.path="+filepath.Join(dir, "kmsg.stream"), "--collector.kmsg.state-file=")
	t.Cleanup(func() { c.(*kmsgCollector).Close() })
	compare(t, c, `
# HELP crashguard_kernel_oom_kills_all_total All OOM kills in the kernel log by constraint (memcg, global, cpuset, memory_policy, unknown); never dropped by retention or the series cap, so no kill is missing from it.
# TYPE crashguard_kernel_oom_kills_all_total counter
crashguard_kernel_oom_kills_all_total{constraint="cpuset"} 0
crashguard_kernel_oom_kills_all_total{constraint="global"} 1
crashguard_kernel_oom_kills_all_total{constraint="memcg"} 2
crashguard_kernel_oom_kills_all_total{constraint="memory_policy"} 0
crashguard_kernel_oom_kills_all_total{constraint="unknown"} 0
# HELP crashguard_kernel_oom_last_kill_timestamp_seconds Wall-clock time of the newest OOM kill in the kernel log: the record's time since boot plus btime from /proc/stat. Absent until a kill is seen.
# TYPE crashguard_kernel_oom_last_kill_timestamp_seconds gauge
crashguard_kernel_oom_last_kill_timestamp_seconds 1.76400360025e+09
# HELP crashguard_kmsg_records_read_total Records read from the kernel log since the exporter started, including those skipped when resuming.
# TYPE crashguard_kmsg_records_read_total counter
crashguard_kmsg_records_read_total 36
# HELP crashguard_kmsg_records_lost_total Records the kernel overwrote before they were read (sequence gaps after the saved position or the boot's first record: the ring buffer wrapped while the exporter was down or fell behind).
# TYPE crashguard_kmsg_records_lost_total counter
crashguard_kmsg_records_lost_total 0
# HELP crashguard_kmsg_records_unparsable_total Kernel log records that could not be parsed or were too large to read.
# TYPE crashguard_kmsg_records_unparsable_total counter
crashguard_kmsg_records_unparsable_total 0
# HELP crashguard_kmsg_start_mode Where the follower started, 1 for the mode in effect: resume (after the state file's sequence number, same boot), beginning (new boot or no usable state: the whole buffer is counted), end (no state file: only records logged after the start are counted).
# TYPE crashguard_kmsg_start_mode gauge
crashguard_kmsg_start_mode{mode="beginning"} 1
crashguard_kmsg_start_mode{mode="end"} 0
crashguard_kmsg_start_mode{mode="resume"} 0
# HELP crashguard_kmsg_follower_state State of the kernel log follower, 1 for the current one: starting, running, permission (reading /dev/kmsg needs CAP_SYSLOG when kernel.dmesg_restrict=1), not_found, io, stopped.
# TYPE crashguard_kmsg_follower_state gauge
crashguard_kmsg_follower_state{reason="io"} 0
crashguard_kmsg_follower_state{reason="not_found"} 0
crashguard_kmsg_follower_state{reason="permission"} 0
crashguard_kmsg_follower_state{reason="running"} 1
crashguard_kmsg_follower_state{reason="starting"} 0
crashguard_kmsg_follower_state{reason="stopped"} 0
`, "crashguard_kernel_oom_kills_all_total", "crashguard_kernel_oom_last_kill_timestamp_seconds",
		"crashguard_kmsg_records_read_total", "crashguard_kmsg_records_lost_total", "crashguard_kmsg_records_unparsable_total",
		"crashguard_kmsg_start_mode", "crashguard_kmsg_follower_state")

	k8s := map[string]string{"cgroup": k8sCgroup, "constraint": "memcg",
		"container_id": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		"runtime":      "containerd", "pod_uid": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"}
	wantValue(t, c, "crashguard_kernel_oom_kills_total", k8s, 1)
	wantValue(t, c, "crashguard_kernel_oom_kills_total", map[string]string{"cgroup": "/system.slice/java.service", "constraint": "global", "runtime": "systemd", "container_id": ""}, 1)
	wantValue(t, c, "crashguard_kernel_oom_kills_total", map[string]string{
		"cgroup":       "/docker/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		"container_id": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "runtime": "docker", "constraint": "memcg"}, 1)
	wantValue(t, c, "crashguard_kernel_oom_last_kill_info", map[string]string{"cgroup": k8sCgroup, "comm": "node", "pod_uid": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"}, 1)
	wantValue(t, c, "crashguard_kernel_fork_rejections_total", map[string]string{"pod_uid": "7c9e6679-7425-40de-944b-e07fc1f90ae7", "runtime": "containerd"}, 1)
	for _, e := range []struct{ event, sub string }{
		{"oom_kill", ""}, {"fork_rejected", ""}, {"soft_lockup", ""}, {"hung_task", ""},
		{"dm_thin_error", "low_water_mark"}, {"dm_thin_error", "out_of_data_space"}, {"io_error", "io"}, {"fs_error", "error"},
	} {
		want := 1.0
		if e.event == "oom_kill" {
			want = 3
		}
		wantValue(t, c, "crashguard_kernel_events_total", map[string]string{"event": e.event, "subkind": e.sub}, want)
	}
	wantValue(t, c, "crashguard_kernel_events_total", map[string]string{"event": "panic", "subkind": ""}, 0)
	wantValue(t, c, "crashguard_kmsg_series_evicted_total", nil, 0)
	if _, ok := value(t, c, "crashguard_kmsg_state_file_ok", nil); ok {
		t.Error("state_file_ok exported with the state file disabled")
	}
}

// TestKmsgEveryKnownEventFromZero checks that every kind, sub-kind and
// constraint is exported before anything happens, so rate() works at once.
func TestKmsgEveryKnownEventFromZero(t *testing.T) {
	cfg, dir := kmsgEnv(t, testBootID)
	stream := filepath.Join(dir, "stream")
	writeFile(t, stream, "")
	c := newTestKmsg(t, cfg, kmsgOptions{path: stream})
	out := gather(t, c)
	if n := strings.Count(out, "crashguard_kernel_events_total "); n != len(kmsg.EventKeys()) || n != 34 {
		t.Errorf("%d event series, want %d (34)", n, len(kmsg.EventKeys()))
	}
	if n := strings.Count(out, "crashguard_kernel_oom_kills_all_total "); n != len(kmsg.Constraints()) {
		t.Errorf("%d constraint series, want %d", n, len(kmsg.Constraints()))
	}
	for _, absent := range []string{"crashguard_kernel_oom_kills_total ", "crashguard_kernel_oom_last_kill", "crashguard_kernel_fork_rejections_total "} {
		if strings.Contains(out, absent) {
			t.Errorf("%s exported before any event", absent)
		}
	}
	wantValue(t, c, "crashguard_kernel_events_total", map[string]string{"event": "io_error", "subkind": "medium"}, 0)
	wantValue(t, c, "crashguard_kmsg_follower_running", nil, 1)
}

// TestKmsgRestartCountsOnce runs collectors in sequence over one stream and
// state file: a restart counts only what is new, a reboot counts everything,
// a corrupt state file falls back to the whole buffer.
func TestKmsgRestartCountsOnce(t *testing.T) {
	cfg, dir := kmsgEnv(t, testBootID)
	stream := filepath.Join(dir, "stream")
	state := filepath.Join(dir, "kmsg.state")
	part1 := kmsgRecords(0,
		"Linux version 6.8.0",
		"oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/a,task_memcg=/a,task=a,pid=10,uid=0",
		"Memory cgroup out of memory: Killed process 10 (a) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:0",
		"oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/b,task=b,pid=11,uid=0",
		"Out of memory: Killed process 11 (b) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:0",
		"oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/c,task_memcg=/c,task=c,pid=12,uid=0",
	)
	// The next kill's report straddles the restart: its summary was handled
	// by the first run, its kill line is new.
	part2 := kmsgRecords(6,
		"Memory cgroup out of memory: Killed process 12 (c) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:0",
		"cgroup: fork rejected by pids controller in /c",
	)
	writeFile(t, stream, part1)
	opts := kmsgOptions{path: stream, statePath: state}

	// First run: a new boot, the whole buffer counts.
	a := newTestKmsg(t, cfg, opts)
	wantValue(t, a, "crashguard_kmsg_start_mode", map[string]string{"mode": "beginning"}, 1)
	wantValue(t, a, "crashguard_kernel_oom_kills_all_total", map[string]string{"constraint": "memcg"}, 1)
	wantValue(t, a, "crashguard_kernel_oom_kills_all_total", map[string]string{"constraint": "global"}, 1)
	wantValue(t, a, "crashguard_kmsg_state_file_ok", nil, 1)
	a.Close()
	if st, err := kmsg.LoadState(state); err != nil || st.Seq != 5 || st.BootID != testBootID {
		t.Fatalf("state after the first run: %+v, %v", st, err)
	}

	// Restart with nothing new: nothing counts, the newest kill is still known.
	b := newTestKmsg(t, cfg, opts)
	wantValue(t, b, "crashguard_kmsg_start_mode", map[string]string{"mode": "resume"}, 1)
	wantValue(t, b, "crashguard_kernel_oom_kills_all_total", map[string]string{"constraint": "memcg"}, 0)
	wantValue(t, b, "crashguard_kernel_oom_kills_all_total", map[string]string{"constraint": "global"}, 0)
	wantValue(t, b, "crashguard_kmsg_records_skipped_total", nil, 6)
	wantValue(t, b, "crashguard_kernel_oom_last_kill_info", map[string]string{"cgroup": "/b", "comm": "b"}, 1)
	wantValue(t, b, "crashguard_kernel_oom_last_kill_timestamp_seconds", nil, 1764000005)
	b.Close()

	// Events logged while the exporter was down count exactly once.
	writeFile(t, stream, part1+part2)
	c := newTestKmsg(t, cfg, opts)
	wantValue(t, c, "crashguard_kmsg_start_mode", map[string]string{"mode": "resume"}, 1)
	wantValue(t, c, "crashguard_kernel_oom_kills_all_total", map[string]string{"constraint": "memcg"}, 1)
	wantValue(t, c, "crashguard_kernel_oom_kills_all_total", map[string]string{"constraint": "global"}, 0)
	wantValue(t, c, "crashguard_kernel_oom_kills_total", map[string]string{"cgroup": "/c", "constraint": "memcg"}, 1)
	wantValue(t, c, "crashguard_kernel_fork_rejections_total", map[string]string{"cgroup": "/c"}, 1)
	if _, ok := value(t, c, "crashguard_kernel_oom_kills_total", map[string]string{"cgroup": "/a"}); ok {
		t.Error("a kill counted by the previous run was counted again")
	}
	wantValue(t, c, "crashguard_kmsg_records_skipped_total", nil, 6)
	wantValue(t, c, "crashguard_kmsg_records_read_total", nil, 8)
	wantValue(t, c, "crashguard_kmsg_records_lost_total", nil, 0)
	c.Close()

	// A reboot: the boot id changed, the whole (new) buffer counts.
	setBootID(t, cfg.ProcPath, otherBootID)
	d := newTestKmsg(t, cfg, opts)
	wantValue(t, d, "crashguard_kmsg_start_mode", map[string]string{"mode": "beginning"}, 1)
	wantValue(t, d, "crashguard_kernel_oom_kills_all_total", map[string]string{"constraint": "memcg"}, 2)
	wantValue(t, d, "crashguard_kernel_oom_kills_all_total", map[string]string{"constraint": "global"}, 1)
	wantValue(t, d, "crashguard_kmsg_records_skipped_total", nil, 0)
	d.Close()
	if st, err := kmsg.LoadState(state); err != nil || st.Seq != 7 || st.BootID != otherBootID {
		t.Fatalf("state after the reboot: %+v, %v", st, err)
	}

	// A corrupt state file: counted from the beginning, reported, rewritten.
	writeFile(t, state, "{\"boot_id\": garbage\x00\x01")
	e := newTestKmsg(t, cfg, opts)
	wantValue(t, e, "crashguard_kmsg_start_mode", map[string]string{"mode": "beginning"}, 1)
	wantValue(t, e, "crashguard_kmsg_state_file_ok", nil, 0)
	wantValue(t, e, "crashguard_kernel_oom_kills_all_total", map[string]string{"constraint": "memcg"}, 2)
	e.Close()
	if st, err := kmsg.LoadState(state); err != nil || st.Seq != 7 {
		t.Fatalf("state not rewritten after corruption: %+v, %v", st, err)
	}
}

// TestKmsgBufferWrapped: records after the saved one were overwritten while
// the exporter was down; they are counted as lost and the rest once.
func TestKmsgBufferWrapped(t *testing.T) {
	cfg, dir := kmsgEnv(t, testBootID)
	stream := filepath.Join(dir, "stream")
	state := filepath.Join(dir, "kmsg.state")
	if err := kmsg.SaveState(state, kmsg.State{BootID: testBootID, Seq: 3}); err != nil {
		t.Fatal(err)
	}
	writeFile(t, stream, kmsgRecords(10,
		"Memory cgroup out of memory: Killed process 12 (c) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:0",
		"INFO: task kworker/1:2:123 blocked for more than 120 seconds.",
	))
	c := newTestKmsg(t, cfg, kmsgOptions{path: stream, statePath: state})
	wantValue(t, c, "crashguard_kmsg_start_mode", map[string]string{"mode": "resume"}, 1)
	wantValue(t, c, "crashguard_kmsg_records_lost_total", nil, 6)
	// The kill's report was overwritten: its cgroup is unknown.
	wantValue(t, c, "crashguard_kernel_oom_kills_total", map[string]string{"cgroup": "", "constraint": "memcg", "runtime": "none"}, 1)
	wantValue(t, c, "crashguard_kernel_events_total", map[string]string{"event": "hung_task"}, 1)
}

type fakeNow struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeNow) now() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.t }
func (f *fakeNow) add(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

func TestKmsgRetentionAndCap(t *testing.T) {
	cfg, dir := kmsgEnv(t, testBootID)
	stream := filepath.Join(dir, "stream")
	writeFile(t, stream, kmsgRecords(0,
		"cgroup: fork rejected by pids controller in /a",
		"oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/b,task_memcg=/b,task=b,pid=11,uid=0",
		"Memory cgroup out of memory: Killed process 11 (b) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:0",
		"oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/c,task_memcg=/c,task=c,pid=12,uid=0",
		"Memory cgroup out of memory: Killed process 12 (c) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:0",
	))
	clock := &fakeNow{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	c := newTestKmsg(t, cfg, kmsgOptions{path: stream, maxSeries: 2, retention: 24 * time.Hour, now: clock.now})
	// Three series, room for two: the least recently incremented (/a) goes.
	wantValue(t, c, "crashguard_kmsg_series_evicted_total", nil, 1)
	if _, ok := value(t, c, "crashguard_kernel_fork_rejections_total", map[string]string{"cgroup": "/a"}); ok {
		t.Error("the oldest series was not evicted")
	}
	wantValue(t, c, "crashguard_kernel_oom_kills_total", map[string]string{"cgroup": "/b"}, 1)
	wantValue(t, c, "crashguard_kernel_oom_kills_total", map[string]string{"cgroup": "/c"}, 1)
	wantValue(t, c, "crashguard_kernel_events_total", map[string]string{"event": "fork_rejected"}, 1)

	clock.add(23 * time.Hour)
	wantValue(t, c, "crashguard_kernel_oom_kills_total", map[string]string{"cgroup": "/b"}, 1)
	clock.add(2 * time.Hour)
	out := gather(t, c)
	if strings.Contains(out, "crashguard_kernel_oom_kills_total ") {
		t.Errorf("series kept past the retention:\n%s", out)
	}
	wantValue(t, c, "crashguard_kernel_oom_kills_all_total", map[string]string{"constraint": "memcg"}, 2)
	wantValue(t, c, "crashguard_kmsg_series_evicted_total", nil, 1)
}

// syncBuffer is a logger sink safe for the following goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// waitFor polls cond; a generous watchdog fails the test instead of hanging.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestKmsgPermissionDenied(t *testing.T) {
	cfg, _ := kmsgEnv(t, testBootID)
	logs := &syncBuffer{}
	denied := func(kmsg.Position) (kmsg.Source, error) {
		return nil, &os.PathError{Op: "open", Path: "/dev/kmsg", Err: syscall.EPERM}
	}
	c, err := newKmsgCollector(cfg, log.NewLogfmtLogger(logs), kmsgOptions{
		path: "/dev/kmsg", retention: time.Hour, maxSeries: 10, open: denied,
		tune: func(fc *kmsg.Config) { fc.PermissionRetry = time.Millisecond },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitFor(t, "retries", func() bool { return c.follower.Stats().Reopens >= 3 })
	compare(t, c, `
# HELP crashguard_scrape_collector_success 1 if the collector succeeded in this scrape; 0 if it failed or missed the scrape deadline. A feature the host lacks is not a failure.
# TYPE crashguard_scrape_collector_success gauge
crashguard_scrape_collector_success{collector="c"} 1
# HELP crashguard_kmsg_follower_running 1 while the kernel log follower reads --collector.kmsg.path, 0 while it cannot (crashguard_kmsg_follower_state says why).
# TYPE crashguard_kmsg_follower_running gauge
crashguard_kmsg_follower_running 0
`, "crashguard_scrape_collector_success", "crashguard_kmsg_follower_running")
	wantValue(t, c, "crashguard_kmsg_follower_state", map[string]string{"reason": "permission"}, 1)
	wantValue(t, c, "crashguard_kernel_events_total", map[string]string{"event": "oom_kill"}, 0)
	if n := strings.Count(logs.String(), "CAP_SYSLOG"); n != 1 {
		t.Errorf("permission problem logged %d times, want once:\n%s", n, logs)
	}
	if errs := fileErrors(t, c); len(errs) != 0 {
		t.Errorf("a missing privilege reported as file errors: %v", errs)
	}
}

// TestKmsgHostilePaths points the collector at things that are not a
// kernel log: none may hang the scrape or fail the collector.
func TestKmsgHostilePaths(t *testing.T) {
	cfg, dir := kmsgEnv(t, testBootID)
	fifo := filepath.Join(dir, "fifo")
	mkfifo(t, fifo)
	loop := filepath.Join(dir, "loop")
	os.Symlink(loop, loop)
	huge := filepath.Join(dir, "huge")
	if f, err := os.Create(huge); err == nil {
		f.Truncate(kmsg.ReplayMax + 1) // sparse
		f.Close()
	}
	garbage := filepath.Join(dir, "garbage")
	writeFile(t, garbage, "\x00\x01\x02 not a record\n;;;\n3,x,1,-;bad seq\n"+kmsgRecords(0, "INFO: task a:1 blocked for more than 120 seconds."))
	outside := filepath.Join(t.TempDir(), "stream")
	writeFile(t, outside, kmsgRecords(0, "INFO: task a:1 blocked for more than 120 seconds."))
	link := filepath.Join(dir, "link")
	os.Symlink(outside, link)

	for _, tc := range []struct {
		name, path, state string
		events            float64
	}{
		{"fifo", fifo, "io", 0},
		{"symlink loop", loop, "io", 0},
		{"directory", dir, "io", 0},
		{"huge sparse file", huge, "io", 0},
		{"missing", filepath.Join(dir, "absent"), "not_found", 0},
		{"garbage", garbage, "running", 1},
		{"symlink out of the tree", link, "running", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestKmsg(t, cfg, kmsgOptions{path: tc.path})
			wantValue(t, c, "crashguard_kmsg_follower_state", map[string]string{"reason": tc.state}, 1)
			wantValue(t, c, "crashguard_kernel_events_total", map[string]string{"event": "hung_task"}, tc.events)
			wantValue(t, c, "crashguard_scrape_collector_success", nil, 1)
			if tc.name == "garbage" {
				if v, _ := value(t, c, "crashguard_kmsg_records_unparsable_total", nil); v < 2 {
					t.Errorf("unparsable = %v, want at least 2", v)
				}
			}
		})
	}
}

// TestKmsgStreamVanishes: the replayed file disappears while followed.
func TestKmsgStreamVanishes(t *testing.T) {
	cfg, dir := kmsgEnv(t, testBootID)
	stream := filepath.Join(dir, "stream")
	writeFile(t, stream, kmsgRecords(0, "INFO: task a:1 blocked for more than 120 seconds."))
	c := newTestKmsg(t, cfg, kmsgOptions{path: stream})
	wantValue(t, c, "crashguard_kernel_events_total", map[string]string{"event": "hung_task"}, 1)
	os.Remove(stream)
	wantValue(t, c, "crashguard_kernel_events_total", map[string]string{"event": "hung_task"}, 1)
	wantValue(t, c, "crashguard_scrape_collector_success", nil, 1)
}

func TestKmsgFlags(t *testing.T) {
	cfg, dir := kmsgEnv(t, testBootID)
	stream := filepath.Join(dir, "stream")
	writeFile(t, stream, "")
	c := build(t, "kmsg", cfg, "--collector.kmsg.path="+stream, "--collector.kmsg.state-file="+filepath.Join(dir, "st"),
		"--collector.kmsg.retention=2h", "--collector.kmsg.max-series=7").(*kmsgCollector)
	defer c.Close()
	if c.opts.retention != 2*time.Hour || c.opts.maxSeries != 7 || c.opts.statePath != filepath.Join(dir, "st") || c.opts.path != stream {
		t.Errorf("flags not applied: %+v", c.opts)
	}
	wantValue(t, c, "crashguard_kmsg_state_file_ok", nil, 1)
	for _, bad := range [][]string{{"--collector.kmsg.max-series=0"}, {"--collector.kmsg.retention=0s"}} {
		app := kingpin.New("test", "")
		sel := AddFlags(app)
		if _, err := app.Parse(append([]string{"--collector.disable-defaults", "--collector.kmsg", "--collector.kmsg.path=" + stream}, bad...)); err != nil {
			t.Fatal(err)
		}
		if cols, err := sel.Build(cfg, log.NewNopLogger()); err == nil {
			cols["kmsg"].(*kmsgCollector).Close()
			t.Errorf("%v accepted", bad)
		}
	}
}

// TestKmsgCloseStopsFollower checks that Close ends the following
// goroutine and that Update after Close still answers.
func TestKmsgCloseStopsFollower(t *testing.T) {
	cfg, dir := kmsgEnv(t, testBootID)
	stream := filepath.Join(dir, "stream")
	writeFile(t, stream, kmsgRecords(0, "INFO: task a:1 blocked for more than 120 seconds."))
	before := runtime.NumGoroutine()
	c := newTestKmsg(t, cfg, kmsgOptions{path: stream})
	gather(t, c)
	c.Close()
	c.Close()
	waitFor(t, "the follower to stop", func() bool { return runtime.NumGoroutine() <= before })
	wantValue(t, c, "crashguard_kmsg_follower_state", map[string]string{"reason": "stopped"}, 1)
}

// BenchmarkKmsgUpdate measures a scrape with the series cap full.
func BenchmarkKmsgUpdate(b *testing.B) {
	cfg := Config{ProcPath: b.TempDir()}
	c := newTestKmsg(b, cfg, kmsgOptions{path: "absent", open: func(kmsg.Position) (kmsg.Source, error) {
		return nil, &os.PathError{Op: "open", Path: "none", Err: syscall.ENOENT}
	}})
	c.Close()
	for i := 0; i < 1000; i++ {
		c.tally.Handle(kmsg.Record{Seq: uint64(2 * i), Message: fmt.Sprintf("oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/x,task_memcg=%s-%d,task=a,pid=%d,uid=0", k8sCgroup, i, i+1)}, time.Now())
		c.tally.Handle(kmsg.Record{Seq: uint64(2*i + 1), Message: fmt.Sprintf("Memory cgroup out of memory: Killed process %d (a) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:0", i+1)}, time.Now())
	}
	reg := registry(b, map[string]Collector{"kmsg": c})
	if n, err := testutil.GatherAndCount(reg, "crashguard_kernel_oom_kills_total"); err != nil || n != 1000 {
		b.Fatalf("%d series, %v", n, err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKmsgScrape measures the collector's own part of a scrape with
// 1,000 per-cgroup series: one Update, without the registry's gathering.
func BenchmarkKmsgScrape(b *testing.B) {
	msgs := make([]string, 0, 2000)
	for i := range 1000 {
		msgs = append(msgs,
			fmt.Sprintf("oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/x,task_memcg=%s-%d,task=a,pid=%d,uid=0", k8sCgroup, i, i+1),
			fmt.Sprintf("Memory cgroup out of memory: Killed process %d (a) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:0", i+1))
	}
	stream := filepath.Join(b.TempDir(), "stream")
	if err := os.WriteFile(stream, []byte(kmsgRecords(0, msgs...)), 0o644); err != nil {
		b.Fatal(err)
	}
	c := newTestKmsg(b, Config{ProcPath: b.TempDir()}, kmsgOptions{path: stream})
	ch := make(chan prometheus.Metric, 2000)
	drain := func() (n int) {
		for len(ch) > 0 {
			<-ch
			n++
		}
		return n
	}
	if err := c.Update(context.Background(), ch); err != nil {
		b.Fatal(err)
	}
	if n := drain(); n < 1000 {
		b.Fatalf("%d metrics", n)
	}
	c.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := c.Update(context.Background(), ch); err != nil {
			b.Fatal(err)
		}
		drain()
	}
}

package collector

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/crashguard/crashguard_exporter/internal/kmsg"
)

// oomKills renders n memcg OOM kills (the 6.x oom-kill: summary and its
// "Killed process" line, as in testdata/profiles/kmsg-oom) as records
// numbered from first, with pids from pid on.
func oomKills(first uint64, pid, n int) string {
	msgs := make([]string, 0, 2*n)
	for i := range n {
		p := pid + i
		cg := fmt.Sprintf("/kubepods.slice/pod-%d.slice", p%10)
		msgs = append(msgs,
			fmt.Sprintf("oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=%s,task_memcg=%s,task=app,pid=%d,uid=0", cg, cg, p),
			fmt.Sprintf("Memory cgroup out of memory: Killed process %d (app) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:0", p))
	}
	return kmsgRecords(first, msgs...)
}

var memcg = map[string]string{"constraint": "memcg"}

// TestKmsgCloseRestartCountsNothingTwice is the in-process form of
// attack.TestRestartCountsNothingTwice: a collector built from flags is
// closed (while scrapes run) and built again on the same boot and state
// file; it counts nothing twice, then exactly what was logged meanwhile.
func TestKmsgCloseRestartCountsNothingTwice(t *testing.T) {
	cfg, dir := kmsgEnv(t, testBootID)
	stream := filepath.Join(dir, "stream")
	state := filepath.Join(dir, "kmsg.state")
	const kills = 5000
	old := kmsgRecords(0, "Linux version 6.8.0") + oomKills(1, 1000, kills)
	writeFile(t, stream, old)
	args := []string{"--collector.kmsg.path=" + stream, "--collector.kmsg.state-file=" + state}

	a := build(t, "kmsg", cfg, args...).(*kmsgCollector)
	wantValue(t, a, "crashguard_kernel_oom_kills_all_total", memcg, kills)
	wantValue(t, a, "crashguard_kmsg_state_file_ok", nil, 1)
	// Close while scrapes are under way: neither blocks nor races the other.
	reg := registry(t, map[string]Collector{"kmsg": a})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := reg.Gather(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	time.Sleep(10 * time.Millisecond)
	if err := a.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("scrape during Close: %v", err)
	}
	if st, err := kmsg.LoadState(state); err != nil || st != (kmsg.State{BootID: testBootID, Seq: 2 * kills}) {
		t.Fatalf("state after Close: %+v, %v; want seq %d", st, err, 2*kills)
	}

	b := build(t, "kmsg", cfg, args...).(*kmsgCollector)
	wantValue(t, b, "crashguard_kmsg_start_mode", map[string]string{"mode": "resume"}, 1)
	wantValue(t, b, "crashguard_kernel_oom_kills_all_total", memcg, 0)
	wantValue(t, b, "crashguard_kmsg_records_skipped_total", nil, 2*kills+1)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	writeFile(t, stream, old+oomKills(2*kills+1, 9000, 7))
	c := build(t, "kmsg", cfg, args...).(*kmsgCollector)
	wantValue(t, c, "crashguard_kernel_oom_kills_all_total", memcg, 7)
	wantValue(t, c, "crashguard_kmsg_records_lost_total", nil, 0)
}

// hungSource serves records, then blocks in Read the way a read on a hung
// file system does, until release is closed.
type hungSource struct {
	recs    [][]byte
	next    int
	blocked chan struct{} // closed when Read blocks
	release chan struct{}
	once    sync.Once
}

func (s *hungSource) Read(b []byte) (int, error) {
	if s.next < len(s.recs) {
		s.next++
		return copy(b, s.recs[s.next-1]), nil
	}
	s.once.Do(func() { close(s.blocked) })
	<-s.release
	return 0, syscall.EAGAIN
}

func (s *hungSource) Close() error { return nil }

// TestKmsgCloseSavesWhenFollowerBlocked: Close returns within its bound
// even when the follower is stuck in a read, having saved the position of
// the last record counted; a restart on the same boot counts nothing again.
func TestKmsgCloseSavesWhenFollowerBlocked(t *testing.T) {
	cfg, dir := kmsgEnv(t, testBootID)
	state := filepath.Join(dir, "kmsg.state")
	const kills = 50
	recs := kmsg.SplitRecords([]byte(oomKills(0, 100, kills)))
	src := &hungSource{recs: recs, blocked: make(chan struct{}), release: make(chan struct{})}
	c := newTestKmsg(t, cfg, kmsgOptions{
		path: "/dev/kmsg", statePath: state, stopWait: 200 * time.Millisecond,
		open: func(kmsg.Position) (kmsg.Source, error) { return src, nil },
	})
	// Runs before the Close above and the temporary directory's removal:
	// the released follower saves as it ends.
	t.Cleanup(func() {
		close(src.release)
		waitFor(t, "the follower to end", func() bool { return c.follower.Stats().Reason == kmsg.ReasonStopped })
	})
	select {
	case <-src.blocked:
	case <-time.After(30 * time.Second):
		t.Fatal("the follower never reached the end of the records")
	}
	closed := make(chan error, 1)
	go func() { closed <- c.Close() }()
	var err error
	select {
	case err = <-closed:
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not return within 30s with the follower blocked in a read")
	}
	if err == nil || !strings.Contains(err.Error(), "did not stop") {
		t.Errorf("Close = %v, want an error saying the follower did not stop", err)
	}
	if st, err := kmsg.LoadState(state); err != nil || st != (kmsg.State{BootID: testBootID, Seq: 2*kills - 1}) {
		t.Fatalf("state after Close: %+v, %v; want seq %d", st, err, 2*kills-1)
	}
	// A scrape after Close answers at once with what was counted.
	wantValue(t, c, "crashguard_kernel_oom_kills_all_total", memcg, kills)

	// The same records again, then nothing new (never blocking).
	rest := &hungSource{recs: recs, blocked: make(chan struct{}), release: make(chan struct{})}
	close(rest.release)
	again := newTestKmsg(t, cfg, kmsgOptions{
		path: "/dev/kmsg", statePath: state,
		open: func(kmsg.Position) (kmsg.Source, error) { return rest, nil },
	})
	wantValue(t, again, "crashguard_kmsg_start_mode", map[string]string{"mode": "resume"}, 1)
	wantValue(t, again, "crashguard_kernel_oom_kills_all_total", memcg, 0)
	wantValue(t, again, "crashguard_kmsg_records_skipped_total", nil, 2*kills)
}

// TestKmsgStateBeyondLog: a state file with this boot's id and a sequence
// number beyond every record used to make the follower skip the whole log
// while reporting state_file_ok 1. Now the buffer is counted, the problem
// reported and logged once, and the file rewritten.
func TestKmsgStateBeyondLog(t *testing.T) {
	cfg, dir := kmsgEnv(t, testBootID)
	stream := filepath.Join(dir, "stream")
	state := filepath.Join(dir, "kmsg.state")
	writeFile(t, stream, oomKills(0, 100, 3)+kmsgRecords(6, "INFO: task a:1 blocked for more than 120 seconds."))
	if err := kmsg.SaveState(state, kmsg.State{BootID: testBootID, Seq: 1_000_000}); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	opts := kmsgOptions{path: stream, statePath: state, retention: time.Hour, maxSeries: 10,
		// No periodic save: the problem stays visible until Close rewrites the file.
		tune: func(fc *kmsg.Config) { fc.SaveInterval = time.Hour }}
	c, err := newKmsgCollector(cfg, log.NewLogfmtLogger(logs), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	wantValue(t, c, "crashguard_kmsg_state_file_ok", nil, 0)
	wantValue(t, c, "crashguard_kmsg_start_mode", map[string]string{"mode": "beginning"}, 1)
	wantValue(t, c, "crashguard_kmsg_start_mode", map[string]string{"mode": "resume"}, 0)
	wantValue(t, c, "crashguard_kernel_oom_kills_all_total", memcg, 3)
	wantValue(t, c, "crashguard_kernel_events_total", map[string]string{"event": "hung_task"}, 1)
	wantValue(t, c, "crashguard_kmsg_records_skipped_total", nil, 0)
	wantValue(t, c, "crashguard_kmsg_records_lost_total", nil, 0)
	wantValue(t, c, "crashguard_kernel_oom_last_kill_info", map[string]string{"comm": "app", "cgroup": "/kubepods.slice/pod-2.slice"}, 1)
	if n := strings.Count(logs.String(), "problem=seq_beyond_log"); n != 1 {
		t.Errorf("problem logged %d times, want once:\n%s", n, logs)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if st, err := kmsg.LoadState(state); err != nil || st != (kmsg.State{BootID: testBootID, Seq: 6}) {
		t.Fatalf("state not rewritten: %+v, %v", st, err)
	}

	d := newTestKmsg(t, cfg, kmsgOptions{path: stream, statePath: state})
	wantValue(t, d, "crashguard_kmsg_start_mode", map[string]string{"mode": "resume"}, 1)
	wantValue(t, d, "crashguard_kmsg_state_file_ok", nil, 1)
	wantValue(t, d, "crashguard_kernel_oom_kills_all_total", memcg, 0)
}

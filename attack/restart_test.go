package attack

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/crashguard/crashguard_exporter/internal/kmsg"
)

// oomKillRecords renders n memcg OOM kills as /dev/kmsg records numbered
// from seq: the 6.x oom-kill: summary and the "Killed process" line, as in
// testdata/profiles/kmsg-oom/kmsg.stream.
func oomKillRecords(seq uint64, pid, n int) string {
	var b strings.Builder
	for i := range n {
		p := pid + i
		cg := fmt.Sprintf("/kubepods.slice/kubepods-burstable.slice/pod-%d.slice", p%10)
		ts := (seq + 1) * 1000
		fmt.Fprintf(&b, "6,%d,%d,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=%s,task_memcg=%s,task=app,pid=%d,uid=1000\n", seq, ts, cg, cg, p)
		fmt.Fprintf(&b, "3,%d,%d,-;Memory cgroup out of memory: Killed process %d (app) total-vm:1325640kB, anon-rss:259868kB, file-rss:41660kB, shmem-rss:0kB, UID:1000 pgtables:1024kB oom_score_adj:983\n", seq+1, ts+500, p)
		seq += 2
	}
	return b.String()
}

// scrapeRead scrapes until the kmsg follower has read want records (it
// reads a large backlog in the background; a first scrape may come early),
// then returns that scrape.
func scrapeRead(t *testing.T, e *exporter, want float64) map[string]*dto.MetricFamily {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		fams := families(t, e.scrape(t, nil))
		got, _ := value(fams, "crashguard_kmsg_records_read_total", nil)
		if got >= want {
			return fams
		}
		if time.Now().After(deadline) {
			t.Fatalf("the kernel log follower read %v of %v records within 2 minutes", got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// terminate sends SIGTERM and expects a graceful exit: status 0 within 30s.
func terminate(t *testing.T, e *exporter) {
	t.Helper()
	e.Signal(syscall.SIGTERM)
	code, ok := e.Wait(30 * time.Second)
	switch {
	case !ok:
		t.Fatal("the exporter did not exit within 30s of SIGTERM")
	case code != 0:
		t.Errorf("exit status %d after SIGTERM, want 0: the signal was not handled, so collectors were not closed", code)
	}
}

// TestRestartCountsNothingTwice: SIGTERM saves the kernel log position, so
// a restart on the same boot counts no OOM kill twice and then counts
// exactly the kills logged while it was down. The same without the binary:
// collector.TestKmsgCloseRestartCountsNothingTwice.
func TestRestartCountsNothingTwice(t *testing.T) {
	dir := copyProfile(t, "kmsg-oom")
	bootID, err := kmsg.ReadBootID(filepath.Join(dir, "proc"))
	if err != nil {
		t.Fatal(err)
	}
	stream := filepath.Join(t.TempDir(), "kmsg.stream")
	state := filepath.Join(t.TempDir(), "kmsg.state")
	const kills = 10000
	records := float64(1 + 2*kills)
	old := "6,0,0,-;Linux version 6.8.0-45-generic\n" + oomKillRecords(1, 1000, kills)
	if err := os.WriteFile(stream, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	var args []string
	for _, a := range profileArgs(t, dir) {
		if !strings.HasPrefix(a, "--collector.kmsg.") {
			args = append(args, a)
		}
	}
	args = append(args, "--collector.kmsg.path="+stream, "--collector.kmsg.state-file="+state)
	memcg := map[string]string{"constraint": "memcg"}
	want := func(fams map[string]*dto.MetricFamily, name string, labels map[string]string, v float64) {
		t.Helper()
		if got, ok := value(fams, name, labels); !ok || got != v {
			t.Errorf("%s%v = %v (present %v), want %v", name, labels, got, ok, v)
		}
	}

	e := start(t, args...)
	fams := scrapeRead(t, e, records)
	want(fams, "crashguard_kernel_oom_kills_all_total", memcg, kills)
	want(fams, "crashguard_kmsg_state_file_ok", nil, 1)
	terminate(t, e)
	if st, err := kmsg.LoadState(state); err != nil || st != (kmsg.State{BootID: bootID, Seq: 2 * kills}) {
		t.Errorf("state after SIGTERM: %+v, %v; want seq %d", st, err, 2*kills)
	}

	// Same boot, same log: nothing is counted again.
	e = start(t, args...)
	fams = scrapeRead(t, e, records)
	want(fams, "crashguard_kernel_oom_kills_all_total", memcg, 0)
	want(fams, "crashguard_kmsg_records_skipped_total", nil, records)
	want(fams, "crashguard_kmsg_start_mode", map[string]string{"mode": "resume"}, 1)
	terminate(t, e)

	// Kills logged while it was down count exactly once.
	if err := os.WriteFile(stream, []byte(old+oomKillRecords(1+2*kills, 90000, 7)), 0o644); err != nil {
		t.Fatal(err)
	}
	e = start(t, args...)
	fams = scrapeRead(t, e, records+14)
	want(fams, "crashguard_kernel_oom_kills_all_total", memcg, 7)
	want(fams, "crashguard_kmsg_records_skipped_total", nil, records)
	want(fams, "crashguard_kmsg_records_lost_total", nil, 0)
	if f := failed(fams); len(f) > 0 {
		t.Errorf("collectors failed: %v", f)
	}
}

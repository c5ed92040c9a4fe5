package kmsg

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/crashguard/crashguard_exporter/internal/cgroup"
)

const podCgroup = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0a1b2c3d_4e5f_4a6b_8c7d_9e0f1a2b3c4d.slice/cri-containerd-9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08.scope"

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// memcgSummary and memcgKill are the two lines of a 6.x memcg OOM kill
// (testdata/oom_memcg_6x.kmsg).
func memcgSummary(cg string, pid int) string {
	return fmt.Sprintf("oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=%s,task_memcg=%s,task=app,pid=%d,uid=0", cg, cg, pid)
}

func memcgKill(pid int, comm string) string {
	return fmt.Sprintf("Memory cgroup out of memory: Killed process %d (%s) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:0", pid, comm)
}

func forkRejected(cg string) string { return "cgroup: fork rejected by pids controller in " + cg }

// feed hands messages numbered from seq to Handle, all at now.
func feed(t *Tally, seq uint64, now time.Time, msgs ...string) {
	for i, m := range msgs {
		t.Handle(Record{Seq: seq + uint64(i), TimestampUsec: (seq + uint64(i) + 1) * 1e6, Message: m}, now)
	}
}

func snapshot(t *Tally, now time.Time) Snapshot {
	var s Snapshot
	t.Snapshot(now, &s)
	return s
}

func eventCount(s Snapshot, k Kind, sub string) uint64 {
	for _, e := range s.Events {
		if e.Kind == k && e.Sub == sub {
			return e.Count
		}
	}
	return 1 << 63 // absent: never a plausible count
}

func oomAllCount(s Snapshot, c Constraint) uint64 {
	for _, o := range s.OOMKillsAll {
		if o.Constraint == c {
			return o.Count
		}
	}
	return 1 << 63
}

// seriesOf returns the kept series of family f by cgroup.
func seriesOf(s Snapshot, f Family) map[string]Series {
	m := map[string]Series{}
	for _, x := range s.Series {
		if x.Family == f {
			m[x.Cgroup] = x
		}
	}
	return m
}

// TestTallyEveryClassFromZero: every class and constraint is there before
// anything happens, so rate() works at once; nothing per cgroup yet.
func TestTallyEveryClassFromZero(t *testing.T) {
	s := snapshot(NewTally(time.Hour, 10), t0)
	if len(s.Events) != 34 || len(s.Events) != len(EventKeys()) {
		t.Fatalf("%d event classes, want 34", len(s.Events))
	}
	for i, e := range s.Events {
		if e.EventKey != EventKeys()[i] || e.Count != 0 {
			t.Errorf("class %d: %+v", i, e)
		}
	}
	if len(s.OOMKillsAll) != len(Constraints()) {
		t.Errorf("%d constraints", len(s.OOMKillsAll))
	}
	for _, o := range s.OOMKillsAll {
		if o.Count != 0 {
			t.Errorf("%+v", o)
		}
	}
	if len(s.Series) != 0 || s.Evicted != 0 || s.LastKill.Seen {
		t.Errorf("not empty: %+v", s)
	}
}

func TestTallyCounts(t *testing.T) {
	ta := NewTally(time.Hour, 10)
	feed(ta, 0, t0,
		"Linux version 6.8.0",
		memcgSummary(podCgroup, 10), memcgKill(10, "node"),
		"oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/system.slice/java.service,task=java,pid=11,uid=0",
		"Out of memory: Killed process 11 (java) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:0",
		forkRejected("/a"),
		"INFO: task kworker/1:2:123 blocked for more than 120 seconds.",
		"blk_update_request: critical medium error, dev sda, sector 2048 op 0x0:(READ) flags 0x0 phys_seg 1 prio class 0",
		memcgSummary(podCgroup, 12), memcgKill(12, "node"),
	)
	s := snapshot(ta, t0)
	for _, c := range []struct {
		k    Kind
		sub  string
		want uint64
	}{{KindOOMKill, "", 3}, {KindForkRejected, "", 1}, {KindHungTask, "", 1}, {KindIOError, IOStatusMedium, 1}, {KindIOError, IOStatusIO, 0}, {KindPanic, "", 0}} {
		if got := eventCount(s, c.k, c.sub); got != c.want {
			t.Errorf("%s/%s = %d, want %d", c.k, c.sub, got, c.want)
		}
	}
	if oomAllCount(s, ConstraintMemcg) != 2 || oomAllCount(s, ConstraintGlobal) != 1 || oomAllCount(s, ConstraintCpuset) != 0 {
		t.Errorf("by constraint: %+v", s.OOMKillsAll)
	}
	oom := seriesOf(s, FamilyOOMKills)
	want := Series{Family: FamilyOOMKills, Cgroup: podCgroup, Labels: cgroup.Labels(podCgroup), Constraint: ConstraintMemcg, Count: 2}
	if oom[podCgroup] != want {
		t.Errorf("pod series %+v, want %+v", oom[podCgroup], want)
	}
	if l := oom[podCgroup].Labels; l.Runtime != cgroup.RuntimeContainerd || l.PodUID != "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d" {
		t.Errorf("labels %+v", l)
	}
	if j := oom["/system.slice/java.service"]; j.Count != 1 || j.Constraint != ConstraintGlobal {
		t.Errorf("global kill %+v", j)
	}
	if f := seriesOf(s, FamilyForkRejections)["/a"]; f.Count != 1 || f.Constraint != "" {
		t.Errorf("fork rejection %+v", f)
	}
	if len(s.Series) != 3 {
		t.Errorf("%d series: %+v", len(s.Series), s.Series)
	}
	lk := s.LastKill
	if !lk.Seen || lk.Seq != 9 || lk.TimestampUsec != 10e6 || lk.Cgroup != podCgroup || lk.Comm != "node" || lk.Labels != cgroup.Labels(podCgroup) {
		t.Errorf("last kill %+v", lk)
	}
}

// TestTallyRetention: a series goes once its last increment is older than
// the retention, at the next snapshot; the totals stay, and a later
// increment starts it again from 1.
func TestTallyRetention(t *testing.T) {
	ta := NewTally(24*time.Hour, 10)
	feed(ta, 0, t0, forkRejected("/a"), forkRejected("/b"))
	feed(ta, 2, t0.Add(2*time.Hour), forkRejected("/b"))
	if s := seriesOf(snapshot(ta, t0.Add(24*time.Hour)), FamilyForkRejections); len(s) != 2 {
		t.Fatalf("dropped at the retention exactly: %+v", s)
	}
	s := snapshot(ta, t0.Add(25*time.Hour))
	if got := seriesOf(s, FamilyForkRejections); len(got) != 1 || got["/b"].Count != 2 {
		t.Fatalf("after 25h: %+v, want /b (2) only", got)
	}
	if eventCount(s, KindForkRejected, "") != 3 || s.Evicted != 0 {
		t.Errorf("totals changed by retention: %d, evicted %d", eventCount(s, KindForkRejected, ""), s.Evicted)
	}
	feed(ta, 3, t0.Add(26*time.Hour), forkRejected("/a"))
	if got := seriesOf(snapshot(ta, t0.Add(26*time.Hour)), FamilyForkRejections); got["/a"].Count != 1 || got["/b"].Count != 2 {
		t.Errorf("after a new increment: %+v", got)
	}
	if got := seriesOf(snapshot(ta, t0.Add(50*time.Hour)), FamilyForkRejections); len(got) != 1 || got["/a"].Count != 1 {
		t.Errorf("after 50h: %+v, want /a only", got)
	}
}

// TestTallyEvictsLeastRecentlyIncremented: at the cap, the series whose
// last increment is oldest goes, not the one created first.
func TestTallyEvictsLeastRecentlyIncremented(t *testing.T) {
	ta := NewTally(time.Hour, 3)
	feed(ta, 0, t0, forkRejected("/a"), forkRejected("/b"), forkRejected("/c"), forkRejected("/a"))
	feed(ta, 4, t0, forkRejected("/d")) // /b goes
	s := snapshot(ta, t0)
	got := seriesOf(s, FamilyForkRejections)
	if len(got) != 3 || got["/a"].Count != 2 || got["/c"].Count != 1 || got["/d"].Count != 1 {
		t.Fatalf("kept %+v, want /a /c /d", got)
	}
	feed(ta, 5, t0, memcgSummary("/e", 5), memcgKill(5, "e"), forkRejected("/f")) // /c, then /a go
	s = snapshot(ta, t0)
	if got := seriesOf(s, FamilyForkRejections); len(got) != 2 || got["/d"].Count != 1 || got["/f"].Count != 1 {
		t.Errorf("fork rejections kept %+v, want /d /f", got)
	}
	if got := seriesOf(s, FamilyOOMKills); got["/e"].Count != 1 {
		t.Errorf("OOM kills kept %+v", got)
	}
	if s.Evicted != 3 || eventCount(s, KindForkRejected, "") != 6 || oomAllCount(s, ConstraintMemcg) != 1 {
		t.Errorf("evicted %d (want 3), fork rejections %d (6)", s.Evicted, eventCount(s, KindForkRejected, ""))
	}
	// A cap below 1 keeps one.
	one := NewTally(time.Hour, 0)
	feed(one, 0, t0, forkRejected("/a"), forkRejected("/b"))
	if s := snapshot(one, t0); len(s.Series) != 1 || s.Series[0].Cgroup != "/b" || s.Evicted != 1 {
		t.Errorf("cap 0: %+v", s)
	}
}

// TestTallyKeyedByConstraint: one cgroup, two constraints, two series.
func TestTallyKeyedByConstraint(t *testing.T) {
	ta := NewTally(time.Hour, 10)
	feed(ta, 0, t0, memcgSummary("/a", 1), memcgKill(1, "a"),
		"oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/a,task=a,pid=2,uid=0",
		"Out of memory: Killed process 2 (a) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:0",
		forkRejected("/a"))
	s := snapshot(ta, t0)
	n := map[string]int{}
	for _, x := range s.Series {
		n[fmt.Sprint(x.Family, x.Constraint)]++
	}
	if len(s.Series) != 3 || n[fmt.Sprint(FamilyOOMKills, ConstraintMemcg)] != 1 || n[fmt.Sprint(FamilyOOMKills, ConstraintGlobal)] != 1 {
		t.Errorf("series %+v", s.Series)
	}
}

// TestTallyReplay: records counted before a restart count nothing again
// but rebuild the newest kill and a report straddling the resume point;
// Rewind forgets both.
func TestTallyReplay(t *testing.T) {
	ta := NewTally(time.Hour, 10)
	for i, m := range []string{memcgSummary("/a", 1), memcgKill(1, "a"), memcgSummary("/b", 2)} {
		ta.Replay(Record{Seq: uint64(i), TimestampUsec: 5e6, Message: m})
	}
	s := snapshot(ta, t0)
	if eventCount(s, KindOOMKill, "") != 0 || len(s.Series) != 0 || oomAllCount(s, ConstraintMemcg) != 0 {
		t.Fatalf("replay counted: %+v", s)
	}
	if lk := s.LastKill; !lk.Seen || lk.Seq != 1 || lk.Cgroup != "/a" || lk.Comm != "a" || lk.TimestampUsec != 5e6 {
		t.Fatalf("last kill after replay %+v", lk)
	}
	// An older replayed kill does not replace a newer one.
	ta.Replay(Record{Seq: 0, Message: memcgKill(9, "old")})
	if lk := snapshot(ta, t0).LastKill; lk.Comm != "a" {
		t.Errorf("older kill replaced the newest: %+v", lk)
	}
	// The kill line after the resume point finds its summary.
	feed(ta, 3, t0, memcgKill(2, "b"))
	s = snapshot(ta, t0)
	if got := seriesOf(s, FamilyOOMKills); len(got) != 1 || got["/b"].Count != 1 || got["/b"].Constraint != ConstraintMemcg {
		t.Errorf("straddling report: %+v", got)
	}
	if lk := s.LastKill; lk.Seq != 3 || lk.Cgroup != "/b" {
		t.Errorf("last kill %+v", lk)
	}

	ta.Replay(Record{Seq: 4, Message: memcgSummary("/c", 3)})
	ta.Rewind()
	if lk := snapshot(ta, t0).LastKill; lk.Seen {
		t.Errorf("last kill kept by Rewind: %+v", lk)
	}
	feed(ta, 5, t0, memcgKill(3, "c")) // the summary was forgotten
	if got := seriesOf(snapshot(ta, t0), FamilyOOMKills); got[""].Count != 1 || got[""].Constraint != ConstraintMemcg {
		t.Errorf("kill after Rewind attributed from forgotten context: %+v", got)
	}
}

// TestTallyCapsStrings: label strings are valid UTF-8 within their caps,
// and do not keep the record's message alive.
func TestTallyCapsStrings(t *testing.T) {
	ta := NewTally(time.Hour, 10)
	long := "/" + strings.Repeat("é", 400) // 801 bytes
	feed(ta, 0, t0, forkRejected("/x\xff"+long), memcgSummary(long, 1), memcgKill(1, strings.Repeat("ü", 40)))
	s := snapshot(ta, t0)
	for _, x := range s.Series {
		if len(x.Cgroup) > CgroupMax || len(x.Cgroup) < CgroupMax-1 || !utf8.ValidString(x.Cgroup) {
			t.Errorf("cgroup %d bytes, valid %v", len(x.Cgroup), utf8.ValidString(x.Cgroup))
		}
	}
	if f := seriesOf(s, FamilyForkRejections); len(f) != 1 {
		t.Errorf("%+v", f)
	} else {
		for cg := range f {
			if !strings.HasPrefix(cg, "/x\uFFFD/éé") {
				t.Errorf("invalid byte not replaced: %q", cg[:10])
			}
		}
	}
	lk := s.LastKill
	if len(lk.Comm) > CommMax || !utf8.ValidString(lk.Comm) || len(lk.Cgroup) > CgroupMax || !utf8.ValidString(lk.Cgroup) {
		t.Errorf("last kill comm %d bytes, cgroup %d bytes", len(lk.Comm), len(lk.Cgroup))
	}
}

// TestTallySnapshotReusesSlices: a scrape's snapshot allocates nothing once
// its slices have grown.
func TestTallySnapshotReusesSlices(t *testing.T) {
	ta := NewTally(time.Hour, 2000)
	fillSeries(ta, 1000)
	var s Snapshot
	ta.Snapshot(t0, &s)
	if len(s.Series) != 1000 {
		t.Fatalf("%d series", len(s.Series))
	}
	if n := testing.AllocsPerRun(10, func() { ta.Snapshot(t0, &s) }); n != 0 {
		t.Errorf("snapshot allocated %v times", n)
	}
}

// TestTallyConcurrentSnapshot: snapshots run while records are handled
// (run with -race).
func TestTallyConcurrentSnapshot(t *testing.T) {
	ta := NewTally(time.Hour, 50)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var s Snapshot
		for range 200 {
			ta.Snapshot(t0, &s)
		}
	}()
	for i := range 200 {
		feed(ta, uint64(3*i), t0, memcgSummary(fmt.Sprintf("/c%d", i), i+1), memcgKill(i+1, "x"), forkRejected(fmt.Sprintf("/f%d", i)))
	}
	ta.Replay(Record{Seq: 0, Message: memcgKill(1, "x")})
	wg.Wait()
	if s := snapshot(ta, t0); eventCount(s, KindOOMKill, "") != 200 || len(s.Series) != 50 || s.Evicted != 350 {
		t.Errorf("kills %d, series %d, evicted %d", eventCount(s, KindOOMKill, ""), len(s.Series), s.Evicted)
	}
}

// fillSeries adds n memcg OOM kills, each in a cgroup of its own.
func fillSeries(ta *Tally, n int) {
	for i := range n {
		feed(ta, uint64(2*i), t0, memcgSummary(fmt.Sprintf("%s-%d", podCgroup, i), i+1), memcgKill(i+1, "a"))
	}
}

// FuzzTally feeds arbitrary records: label values stay valid UTF-8 within
// their caps, the series cap holds, and every event counts in a known
// class.
func FuzzTally(f *testing.F) {
	for _, file := range []string{"testdata/mixed.kmsg", "testdata/oom_4.14.kmsg", "testdata/io_fs_errors.kmsg"} {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for _, r := range SplitRecords(data) {
			f.Add(r)
		}
	}
	f.Add([]byte("3,1,1,-;cgroup: fork rejected by pids controller in /\xff\xfe" + strings.Repeat("x", 1000)))
	ta := NewTally(time.Hour, 3)
	c := NewClassifier() // a twin of ta's, to know what ta was given
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRecord(b)
		if err != nil {
			return
		}
		before := snapshot(ta, t0)
		_, counted := c.Handle(r)
		ta.Handle(r, t0)
		s := snapshot(ta, t0)
		if len(s.Series) > 3 {
			t.Fatalf("%d series kept, cap 3", len(s.Series))
		}
		if len(s.Events) != len(EventKeys()) || len(s.OOMKillsAll) != len(Constraints()) {
			t.Fatalf("%d event classes, %d constraints", len(s.Events), len(s.OOMKillsAll))
		}
		var total, totalBefore uint64
		for i := range s.Events {
			total += s.Events[i].Count
			totalBefore += before.Events[i].Count
		}
		if counted && total != totalBefore+1 || !counted && total != totalBefore {
			t.Fatalf("events %d → %d for a record counted=%v", totalBefore, total, counted)
		}
		check := func(what, s string, max int) {
			if len(s) > max || !utf8.ValidString(s) {
				t.Fatalf("%s %q: %d bytes or invalid UTF-8", what, s, len(s))
			}
		}
		for _, x := range s.Series {
			check("cgroup", x.Cgroup, CgroupMax)
			check("container_id", x.Labels.ContainerID, 128)
			check("pod_uid", x.Labels.PodUID, 64)
		}
		check("comm", s.LastKill.Comm, CommMax)
		check("last cgroup", s.LastKill.Cgroup, CgroupMax)
	})
}

// BenchmarkTallyRecord measures what the follower spends per record:
// parsing, classifying and counting, on a recorded boot log with OOM
// kills, crashes and noise.
func BenchmarkTallyRecord(b *testing.B) {
	data, err := os.ReadFile("testdata/mixed.kmsg")
	if err != nil {
		b.Fatal(err)
	}
	recs := SplitRecords(data)
	ta := NewTally(24*time.Hour, 1000)
	now := time.Now()
	handle := func() {
		for _, raw := range recs {
			if r, err := ParseRecord(raw); err == nil {
				ta.Handle(r, now)
			}
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		handle()
	}
	b.StopTimer()
	n := float64(b.N) * float64(len(recs))
	b.ReportMetric(n/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(testing.AllocsPerRun(1, handle)/float64(len(recs)), "allocs/record")
}

// BenchmarkTallySnapshot measures a scrape's snapshot of 1,000 series.
func BenchmarkTallySnapshot(b *testing.B) {
	ta := NewTally(24*time.Hour, 1000)
	fillSeries(ta, 1000)
	var s Snapshot
	b.ReportAllocs()
	for b.Loop() {
		ta.Snapshot(t0, &s)
	}
}

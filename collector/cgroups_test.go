package collector

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crashguard/crashguard_exporter/internal/cgroup"
	"github.com/crashguard/crashguard_exporter/internal/cgroup/cgrouptest"
)

const (
	podO     = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod9a3e7c51_2b6d_4e8f_b1c4_7d5a3f2e9c06.slice"
	podOApp  = podO + "/cri-containerd-f0c4a8e2b6d1f5a9c3e7b0d4f8a2c6e1b5d9f3a7c0e4b8d2f6a1c5e9b3d7f0a4.scope"
	podOUID  = "9a3e7c51-2b6d-4e8f-b1c4-7d5a3f2e9c06"
	podOAppI = "f0c4a8e2b6d1f5a9c3e7b0d4f8a2c6e1b5d9f3a7c0e4b8d2f6a1c5e9b3d7f0a4"
)

// A container is OOM-killed and removed with its cgroup: its own counters
// go with it, but the pod's hierarchical memory.events keeps the kills, and
// the pod is exported because of them.
func TestMemcgKillsSurviveDeletedContainer(t *testing.T) {
	cfg := copyProfile(t, "cgroup-k8s-v2")
	c := build(t, "memcg", cfg)
	before := cgSeries(t, c, "crashguard_cgroup_memory_oom_kills_total")
	podLine := `crashguard_cgroup_memory_oom_kills_total{cgroup="` + podO + `",container_id="",pod_uid="` + podOUID + `",runtime="systemd"} 3`
	appLine := `crashguard_cgroup_memory_oom_kills_total{cgroup="` + podOApp + `",container_id="` + podOAppI + `",pod_uid="` + podOUID + `",runtime="containerd"} 3`
	for _, l := range []string{podLine, appLine} {
		if !strings.Contains(before, l+"\n") {
			t.Fatalf("before removal, want %s in:\n%s", l, before)
		}
	}

	// The runtime removes the container; the kernel keeps the pod's
	// hierarchical counters. Drop the pod's limit too, so that only the
	// counters keep it exported.
	if err := os.RemoveAll(filepath.Join(cfg.SysPath, "fs/cgroup", podOApp)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg.SysPath, "fs/cgroup", podO, "memory.max"), []byte("max\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	after := cgSeries(t, c, "crashguard_cgroup_memory_oom_kills_total", "crashguard_cgroup_memory_oom_kills_local_total")
	if !strings.Contains(after, podLine+"\n") {
		t.Errorf("after removal, the pod's hierarchical kills are gone:\n%s", after)
	}
	if strings.Contains(after, podOAppI) {
		t.Errorf("the removed container still has series:\n%s", after)
	}
	// The pod's local counter is 0: the kills were never the pod's own,
	// so summing _local_total never counts them twice.
	if !strings.Contains(after, `crashguard_cgroup_memory_oom_kills_local_total{cgroup="`+podO+`",container_id="",pod_uid="`+podOUID+`",runtime="systemd"} 0`) {
		t.Errorf("want the pod's local kills at 0:\n%s", after)
	}
}

// On v2 one walk serves both collectors; on v1 and hybrid each controller
// has its own tree and walk.
func TestCgroupWalkShared(t *testing.T) {
	for _, tc := range []struct {
		profile string
		same    bool
	}{{"cgroup-k8s-v2", true}, {"cgroup-hybrid", false}, {"cgroup-docker-v1", false}} {
		t.Run(tc.profile, func(t *testing.T) {
			cfg := profileConfig(t, tc.profile)
			p := build(t, "pids", cfg).(*pidsCollector)
			m := build(t, "memcg", cfg).(*memcgCollector)
			ctx := withShared(context.Background())
			wp, ok1, err1 := p.src.walk(ctx, ctrlPids)
			wm, ok2, err2 := m.src.walk(ctx, ctrlMemory)
			if !ok1 || !ok2 || err1 != nil || err2 != nil {
				t.Fatal(ok1, ok2, err1, err2)
			}
			if (wp == wm) != tc.same {
				t.Errorf("shared walk: got same=%v, want %v", wp == wm, tc.same)
			}
			// A later scrape walks again.
			wp2, _, _ := p.src.walk(withShared(context.Background()), ctrlPids)
			if wp2 == wp {
				t.Error("a new scrape reused the previous scrape's walk")
			}
		})
	}
}

func cgGenerate(t *testing.T, n int, shape cgrouptest.Shape) (*cgrouptest.Tree, Config) {
	t.Helper()
	tree, err := cgrouptest.Generate(cgrouptest.TempDir(t), n, shape)
	if err != nil {
		t.Fatal(err)
	}
	return tree, Config{ProcPath: tree.ProcPath, SysPath: tree.SysPath, RootPath: tree.Root}
}

func cgValue(t *testing.T, c Collector, line string) string {
	t.Helper()
	for _, l := range strings.Split(cgSeries(t, c), "\n") {
		if strings.HasPrefix(l, line+" ") {
			return strings.TrimPrefix(l, line+" ")
		}
	}
	t.Fatalf("no %s", line)
	return ""
}

// Beyond the cap the aggregates (slices, pods) are kept first, so that the
// hierarchical counters of deleted containers cannot be crowded out.
func TestCgroupsCapKeepsAggregates(t *testing.T) {
	tree, cfg := cgGenerate(t, 1000, cgrouptest.V2)
	all := build(t, "memcg", cfg)
	selected := cgValue(t, all, `crashguard_cgroups_exported{controller="memory"}`)
	if selected == "0" {
		t.Fatal("nothing selected on the generated tree")
	}
	c := build(t, "memcg", cfg, "--collector.cgroups.max=6")
	out := cgSeries(t, c)
	if got := cgValue(t, c, `crashguard_cgroups_exported{controller="memory"}`); got != "6" {
		t.Errorf("exported %s, want the cap, 6", got)
	}
	var n int
	for _, l := range strings.Split(out, "\n") {
		if !strings.HasPrefix(l, "crashguard_cgroup_memory_oom_kills_total{") {
			continue
		}
		n++
		if !strings.Contains(l, `container_id=""`) {
			t.Errorf("a container was kept before the aggregates: %s", l)
		}
	}
	if n != 6 {
		t.Errorf("%d cgroups with oom_kills_total, want 6:\n%s", n, out)
	}
	for _, want := range []string{`cgroup="/kubepods.slice"`, `cgroup="/kubepods.slice/kubepods-burstable.slice"`} {
		if !strings.Contains(out, `crashguard_cgroup_memory_oom_kills_total{`+want) {
			t.Errorf("aggregate %s left out", want)
		}
	}
	var sel, capped int
	if _, err := fmtSscan(selected, &sel); err != nil {
		t.Fatal(err)
	}
	if _, err := fmtSscan(cgValue(t, c, `crashguard_cgroups_left_out{controller="memory",reason="cap"}`), &capped); err != nil {
		t.Fatal(err)
	}
	if sel-6 != capped {
		t.Errorf("left out for the cap: %d, want %d (selected) - 6", capped, sel)
	}
	if d := cgValue(t, c, `crashguard_cgroups_discovered{controller="memory"}`); d != "1000" {
		t.Errorf("discovered %s, want 1000 (%d generated)", d, len(tree.Cgroups))
	}
}

func TestCgroupsIncludeExclude(t *testing.T) {
	cfg := profileConfig(t, "cgroup-k8s-v2")
	inc := build(t, "pids", cfg, "--collector.cgroups.include=/system\\.slice/.*")
	out := cgSeries(t, inc, "crashguard_cgroup_pids")
	if !strings.Contains(out, `crashguard_cgroup_pids{cgroup="/system.slice/kubelet.service",container_id="",pod_uid="",runtime="systemd"} 24`) {
		t.Errorf("include did not export kubelet.service:\n%s", out)
	}
	if strings.Contains(out, `cgroup="/system.slice"`) {
		t.Error("include is anchored: /system.slice itself does not match /system\\.slice/.*")
	}

	exc := build(t, "memcg", cfg, "--collector.cgroups.exclude=/kubepods\\.slice/.*")
	out = cgSeries(t, exc)
	if strings.Contains(out, `cgroup="/kubepods.slice/`) {
		t.Errorf("excluded cgroups exported:\n%s", out)
	}
	if !strings.Contains(out, `crashguard_cgroup_memory_limit_bytes{cgroup="/kubepods.slice",`) {
		t.Error("/kubepods.slice itself does not match the exclusion and should stay")
	}
	if got := cgValue(t, exc, `crashguard_cgroups_left_out{controller="memory",reason="excluded"}`); got != "7" {
		t.Errorf("excluded %s, want the 7 selected cgroups below /kubepods.slice", got)
	}

	// Exclude wins over include.
	both := build(t, "pids", cfg, "--collector.cgroups.include=.*", "--collector.cgroups.exclude=.*")
	if got := cgValue(t, both, `crashguard_cgroups_exported{controller="pids"}`); got != "0" {
		t.Errorf("exported %s with everything excluded", got)
	}
	// Include everything: every cgroup with pids files gets series.
	all := build(t, "pids", cfg, "--collector.cgroups.include=.*")
	if got := cgValue(t, all, `crashguard_cgroups_exported{controller="pids"}`); got != "27" {
		t.Errorf("exported %s with everything included, want 27", got)
	}
}

func TestCgroupsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--collector.cgroups.include=("},
		{"--collector.cgroups.exclude=[a"},
		{"--collector.cgroups.max=-1"},
		{"--collector.cgroups.max=lots"},
	} {
		sel, err := parseCgroupSelectionArgs(args)
		if err == nil {
			t.Errorf("%v accepted: %+v", args, sel)
		}
	}
}

// Both collectors read the same flag values, whichever declared them.
func TestCgroupsFlagsShared(t *testing.T) {
	cfg := profileConfig(t, "cgroup-k8s-v2")
	for _, name := range []string{"pids", "memcg"} {
		c := build(t, name, cfg, "--collector.cgroups.max=3", "--collector.cgroups.include=/x", "--collector.cgroups.exclude=/y")
		var sel cgroupSelection
		switch c := c.(type) {
		case *pidsCollector:
			sel = c.sel
		case *memcgCollector:
			sel = c.sel
		}
		if sel.max != 3 || sel.include.String() != "^(?:/x)$" || sel.exclude.String() != "^(?:/y)$" {
			t.Errorf("%s: selection %+v", name, sel)
		}
	}
}

// Unusable controller files are reported and skipped; the rest of the
// cgroup and the other cgroups are still exported.
func TestCgroupsHostileFiles(t *testing.T) {
	cfg := copyProfile(t, "cgroup-k8s-v2")
	root := filepath.Join(cfg.SysPath, "fs/cgroup")
	app := filepath.Join(root, podOApp)
	mkfifo(t, filepath.Join(app, "memory.stat"))
	os.Remove(filepath.Join(app, "pids.max"))
	if err := os.Symlink("/etc/passwd", filepath.Join(app, "pids.max")); err != nil {
		t.Fatal(err)
	}
	cgMust(t, os.WriteFile(filepath.Join(app, "memory.events"), []byte("\x00\x01garbage\n"), 0o644))
	cgMust(t, os.WriteFile(filepath.Join(root, podO, "pids.current"), []byte(strings.Repeat("9", 100<<10)), 0o644))
	// A symlink loop and a symlinked directory are not cgroups.
	cgMust(t, os.Symlink("loop", filepath.Join(root, "kubepods.slice", "loop")))
	cgMust(t, os.Symlink("/", filepath.Join(root, "kubepods.slice", "escape")))

	m := build(t, "memcg", cfg)
	errs := fileErrors(t, m)
	// The FIFO is reported for what it is, not as an empty (garbage) file.
	if errs["not_regular"] != 1 || errs["garbage"] != 1 {
		t.Errorf("memcg file errors %v, want the FIFO as not_regular and memory.events as garbage", errs)
	}
	out := cgSeries(t, m)
	if !strings.Contains(out, `crashguard_cgroup_memory_limit_bytes{cgroup="`+podOApp+`"`) {
		t.Errorf("the container's readable files were dropped:\n%s", out)
	}
	if strings.Contains(out, `crashguard_cgroup_memory_slab_bytes{cgroup="`+podOApp+`"`) {
		t.Error("slab exported from a FIFO")
	}
	p := build(t, "pids", cfg)
	errs = fileErrors(t, p)
	if errs["symlink"] != 1 || errs["too_large"] != 1 {
		t.Errorf("pids file errors %v, want one symlink and one too_large", errs)
	}
	if strings.Contains(cgSeries(t, p), "escape") || strings.Contains(cgSeries(t, m), "loop") {
		t.Error("a symlink was walked as a cgroup")
	}
}

// A hierarchy whose directory disappears (unmounted) is no error: the host
// totals stay, the per-cgroup series go, and discovery runs again.
func TestCgroupsHierarchyVanishes(t *testing.T) {
	cfg := copyProfile(t, "cgroup-docker-v1")
	p := build(t, "pids", cfg)
	if got := cgValue(t, p, `crashguard_cgroups_exported{controller="pids"}`); got != "1" {
		t.Fatalf("exported %s before", got)
	}
	dir := filepath.Join(cfg.SysPath, "fs/cgroup/pids")
	cgMust(t, os.Rename(dir, dir+".gone"))
	out := cgSeries(t, p)
	if strings.Contains(out, "crashguard_cgroup_pids") || !strings.Contains(out, "crashguard_pids_in_use 611") {
		t.Errorf("after the hierarchy vanished:\n%s", out)
	}
	if len(fileErrors(t, p)) != 0 {
		t.Error("a vanished hierarchy was reported as a file error")
	}
	cgMust(t, os.Rename(dir+".gone", dir))
	if got := cgValue(t, p, `crashguard_cgroups_exported{controller="pids"}`); got != "1" {
		t.Errorf("exported %s after the hierarchy came back", got)
	}
}

// Without any cgroup mount (an old or stripped kernel, or the wrong
// --path.procfs) only the host totals are exported.
func TestCgroupsNoHierarchy(t *testing.T) {
	cfg := profileConfig(t, "minimal")
	out := cgSeries(t, build(t, "pids", cfg)) + cgSeries(t, build(t, "memcg", cfg))
	if strings.Contains(out, "crashguard_cgroup") {
		t.Errorf("per-cgroup series without cgroup mounts:\n%s", out)
	}
}

func TestCgroupLabelBounded(t *testing.T) {
	long := "/" + strings.Repeat("a", 600)
	a, b := cgroupLabel(long+"x"), cgroupLabel(long+"y")
	if len(a) > maxCgroupLabel || len(b) > maxCgroupLabel || a == b {
		t.Errorf("long labels: %d %d bytes, equal %v", len(a), len(b), a == b)
	}
	if got := cgroupLabel("/bad\xffname"); !strings.Contains(got, "\uFFFD") && !strings.Contains(got, "…") {
		t.Errorf("invalid UTF-8 kept: %q", got)
	}
	if got := cgroupLabel("/system.slice"); got != "/system.slice" {
		t.Errorf("short label changed: %q", got)
	}
}

func TestParseLoadavgThreads(t *testing.T) {
	for in, want := range map[string]uint64{
		"0.12 0.04 0.01 1/81 6824\n":   81,
		"6.06 7.15 5.37 4/109 26056":   109,
		"0.00 0.00 0.00 0/4194304 1\n": 4194304,
	} {
		if got, err := parseLoadavgThreads(in); err != nil || got != want {
			t.Errorf("%q: %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0.1 0.2 0.3", "0.1 0.2 0.3 81 1", "0.1 0.2 0.3 1/x 1", "0.1 0.2 0.3 1/-1 1"} {
		if _, err := parseLoadavgThreads(in); !cgroup.IsGarbage(err) {
			t.Errorf("%q: %v, want garbage", in, err)
		}
	}
}

func TestVmstatWithoutOOMKill(t *testing.T) {
	cfg := copyProfile(t, "cgroup-docker-v1")
	// Kernels before 4.13 have no oom_kill line.
	cgMust(t, os.WriteFile(cfg.Proc("vmstat"), []byte("nr_free_pages 2298424\npgfault 2209716652\n"), 0o644))
	c := build(t, "memcg", cfg)
	if out := cgSeries(t, c, "crashguard_memory_oom_kills_total"); strings.TrimSpace(out) != "" {
		t.Errorf("host kills exported without oom_kill: %q", out)
	}
	cgMust(t, os.WriteFile(cfg.Proc("vmstat"), []byte("nr_free_pages x\n"), 0o644))
	if errs := fileErrors(t, c); errs["garbage"] != 1 {
		t.Errorf("garbage vmstat: %v", errs)
	}
}

// Scrapes leave no file descriptor open.
func TestCgroupsNoFDLeak(t *testing.T) {
	_, cfg := cgGenerate(t, 300, cgrouptest.Hybrid)
	cols := map[string]Collector{"pids": build(t, "pids", cfg), "memcg": build(t, "memcg", cfg)}
	reg := registry(t, cols)
	if _, err := reg.Gather(); err != nil { // warm up pools and caches
		t.Fatal(err)
	}
	before := openFDs(t)
	for i := 0; i < 20; i++ {
		if _, err := reg.Gather(); err != nil {
			t.Fatal(err)
		}
	}
	if after := openFDs(t); after > before {
		t.Errorf("open fds grew from %d to %d over 20 scrapes", before, after)
	}
}

func cgMust(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

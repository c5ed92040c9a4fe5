package collector

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// plantUnusable replaces p with an unusable file of the given kind. Root
// ignores mode bits, so an unreadable file cannot be planted this way.
func plantUnusable(t *testing.T, p, kind string) {
	t.Helper()
	cgMust(t, os.MkdirAll(filepath.Dir(p), 0o755))
	os.RemoveAll(p)
	switch kind {
	case "fifo":
		cgMust(t, syscall.Mkfifo(p, 0o644))
	case "huge":
		// 2 GiB, sparse.
		f, err := os.Create(p)
		cgMust(t, err)
		cgMust(t, f.Truncate(2<<30))
		f.Close()
	case "directory":
		cgMust(t, os.Mkdir(p, 0o755))
	case "symlink-loop":
		cgMust(t, os.Symlink(filepath.Base(p), p))
	case "garbage":
		cgMust(t, os.WriteFile(p, []byte("\x00\x01 not a mount table\n\xff\xfe\n"), 0o644))
	default:
		t.Fatalf("unknown kind %q", kind)
	}
}

var plantReasons = map[string]string{
	"fifo": "not_regular", "huge": "too_large", "directory": "not_regular",
	"symlink-loop": "symlink", "garbage": "garbage",
}

// scrapeErrors gathers c once and returns its file errors by reason and
// its success value.
func scrapeErrors(t *testing.T, c Collector) (map[string]float64, string) {
	t.Helper()
	reg := registry(t, map[string]Collector{"c": c})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	errs := map[string]float64{}
	success := ""
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch mf.GetName() {
			case "crashguard_scrape_collector_file_errors":
				for _, l := range m.GetLabel() {
					if l.GetName() == "reason" {
						errs[l.GetValue()] = m.GetGauge().GetValue()
					}
				}
			case "crashguard_scrape_collector_success":
				success = strconv.FormatFloat(m.GetGauge().GetValue(), 'g', -1, 64)
			}
		}
	}
	return errs, success
}

// TestCgroupsUnusableMountinfo: an unusable mountinfo (FIFO, 2 GiB, a
// directory, a symlink loop, garbage) at <procfs>/1 or at both 1 and self
// is counted in the file errors of pids and memcg with its real reason in
// every scrape, and the collectors still succeed; it never passes for a
// host without cgroups.
func TestCgroupsUnusableMountinfo(t *testing.T) {
	for _, profile := range []string{"cgroup-k8s-v2", "cgroup-docker-v1", "cgroup-hybrid"} {
		for kind, reason := range plantReasons {
			for _, where := range []string{"1", "both"} {
				t.Run(profile+"/"+kind+"/"+where, func(t *testing.T) {
					cfg := copyProfile(t, profile)
					plantUnusable(t, filepath.Join(cfg.ProcPath, "1", "mountinfo"), kind)
					want := 1.0
					if where == "both" {
						plantUnusable(t, filepath.Join(cfg.ProcPath, "self", "mountinfo"), kind)
						want = 2
					}
					for _, name := range []string{"pids", "memcg"} {
						c := build(t, name, cfg)
						for scrape := 1; scrape <= 2; scrape++ {
							errs, success := scrapeErrors(t, c)
							if errs[reason] != want || len(errs) != 1 {
								t.Errorf("%s scrape %d: file errors %v, want %s: %v", name, scrape, errs, reason, want)
							}
							if success != "1" {
								t.Errorf("%s scrape %d: success %q", name, scrape, success)
							}
						}
					}
				})
			}
		}
	}
}

// TestCgroupsNoCgroupMountIsNoError: a well-formed mountinfo without any
// cgroup mount is a host without cgroups, not a file error.
func TestCgroupsNoCgroupMountIsNoError(t *testing.T) {
	cfg := copyProfile(t, "cgroup-k8s-v2")
	for _, who := range []string{"1", "self"} {
		cgMust(t, os.WriteFile(filepath.Join(cfg.ProcPath, who, "mountinfo"),
			[]byte("22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw\n"), 0o644))
	}
	for _, name := range []string{"pids", "memcg"} {
		c := build(t, name, cfg)
		if errs, success := scrapeErrors(t, c); len(errs) != 0 || success != "1" {
			t.Errorf("%s: file errors %v, success %q", name, errs, success)
		}
		if out := cgSeries(t, c); strings.Contains(out, "crashguard_cgroup_") {
			t.Errorf("%s: per-cgroup series without cgroups:\n%s", name, out)
		}
	}
}

// TestCgroupsUnusableControllers: on v2 an unusable cgroup.controllers is
// a file error, not a host whose controllers are all disabled.
func TestCgroupsUnusableControllers(t *testing.T) {
	cfg := copyProfile(t, "cgroup-k8s-v2")
	plantUnusable(t, filepath.Join(cfg.SysPath, "fs", "cgroup", "cgroup.controllers"), "fifo")
	for _, name := range []string{"pids", "memcg"} {
		c := build(t, name, cfg)
		if errs, success := scrapeErrors(t, c); errs["not_regular"] != 1 || success != "1" {
			t.Errorf("%s: file errors %v, success %q", name, errs, success)
		}
	}
}

// TestMemcgMissingKeysAreAbsent: a key missing from memory.events,
// memory.stat or memory.oom_control leaves its series out instead of
// exporting 0.
func TestMemcgMissingKeysAreAbsent(t *testing.T) {
	cfg := copyProfile(t, "cgroup-k8s-v2")
	app := filepath.Join(cfg.SysPath, "fs/cgroup", podOApp)
	// memory.events as a kernel before 4.13 writes it: no oom_kill.
	cgMust(t, os.WriteFile(filepath.Join(app, "memory.events"), []byte("low 0\nhigh 0\nmax 1532\noom 3\n"), 0o644))
	stat, err := os.ReadFile(filepath.Join(app, "memory.stat"))
	cgMust(t, err)
	var kept []string
	for _, l := range strings.Split(string(stat), "\n") {
		if !strings.HasPrefix(l, "slab ") && !strings.HasPrefix(l, "file_dirty ") {
			kept = append(kept, l)
		}
	}
	cgMust(t, os.WriteFile(filepath.Join(app, "memory.stat"), []byte(strings.Join(kept, "\n")), 0o644))
	out := cgSeries(t, build(t, "memcg", cfg))
	sel := `{cgroup="` + podOApp + `"`
	for _, absent := range []string{"oom_kills_total", "oom_group_kills_total", "slab_bytes", "dirty_bytes"} {
		if strings.Contains(out, "crashguard_cgroup_memory_"+absent+sel) {
			t.Errorf("%s exported although the file lacks its key", absent)
		}
	}
	for _, present := range []string{"oom_total", "max_events_total", "anon_bytes", "writeback_bytes", "oom_kills_local_total"} {
		if !strings.Contains(out, "crashguard_cgroup_memory_"+present+sel) {
			t.Errorf("%s missing", present)
		}
	}

	v1 := copyProfile(t, "cgroup-docker-v1")
	ctr := "/docker/61e5a9d3c7f0b4e8a2d6c1f5b9e3a7d0c4f8b2e6a1d5c9f3b7e0a4d8c2f6b1e5"
	cgMust(t, os.WriteFile(filepath.Join(v1.SysPath, "fs/cgroup/memory", ctr, "memory.oom_control"), []byte("oom_kill_disable 0\noom_kill 2\n"), 0o644))
	out = cgSeries(t, build(t, "memcg", v1))
	if strings.Contains(out, `crashguard_cgroup_memory_under_oom{cgroup="`+ctr+`"`) {
		t.Error("under_oom exported although memory.oom_control lacks it")
	}
	if !strings.Contains(out, `crashguard_cgroup_memory_oom_kills_total{cgroup="`+ctr+`"`) {
		t.Error("oom_kill of memory.oom_control missing")
	}
}

package attack

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	dto "github.com/prometheus/client_model/go"
)

// plantKinds are the shapes an unusable file takes, with the reason
// crashguard_scrape_collector_file_errors must give. Root ignores mode
// bits, so an unreadable file is not among them.
var plantKinds = map[string]string{
	"fifo":         "not_regular",
	"huge":         "too_large",
	"directory":    "not_regular",
	"symlink-loop": "symlink",
	"garbage":      "garbage",
}

// plant replaces p with an unusable file of the given kind; garbage is
// the content for kind "garbage".
func plant(t *testing.T, p, kind, garbage string) {
	t.Helper()
	if err := os.RemoveAll(p); err != nil {
		t.Fatal(err)
	}
	var err error
	switch kind {
	case "fifo":
		err = syscall.Mkfifo(p, 0o644)
	case "huge":
		// 2 GiB, sparse.
		var f *os.File
		if f, err = os.Create(p); err == nil {
			err = f.Truncate(2 << 30)
			f.Close()
		}
	case "directory":
		err = os.Mkdir(p, 0o755)
	case "symlink-loop":
		err = os.Symlink(filepath.Base(p), p)
	case "garbage":
		err = os.WriteFile(p, []byte(garbage), 0o644)
	default:
		t.Fatalf("unknown kind %q", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// scrapeTwice scrapes e twice and returns both parsed expositions; every
// collector must succeed in each.
func scrapeTwice(t *testing.T, e *exporter) [2]map[string]*dto.MetricFamily {
	t.Helper()
	var out [2]map[string]*dto.MetricFamily
	for i := range out {
		out[i] = families(t, e.scrape(t, nil))
		if f := failed(out[i]); len(f) > 0 {
			t.Errorf("scrape %d: collectors failed: %v", i+1, f)
		}
	}
	return out
}

// hasFamilyPrefix reports whether any series' family starts with prefix.
func hasFamilyPrefix(fams map[string]*dto.MetricFamily, prefix string) bool {
	for name, f := range fams {
		if strings.HasPrefix(name, prefix) && len(f.GetMetric()) > 0 {
			return true
		}
	}
	return false
}

// TestCgroupDMUnusableMountinfo: a mountinfo that is a FIFO, 2 GiB, a
// directory, a symlink loop or garbage is counted in the file errors of
// both pids and memcg, with its real reason, in every scrape; the
// collectors still succeed, the per-cgroup series are gone (nothing is
// invented from the file) and each path is logged once per collector.
func TestCgroupDMUnusableMountinfo(t *testing.T) {
	for _, profile := range []string{"cgroup-k8s-v2", "cgroup-docker-v1", "cgroup-hybrid", "broken-host"} {
		for kind, reason := range plantKinds {
			t.Run(profile+"/"+kind, func(t *testing.T) {
				dir := copyProfile(t, profile)
				var planted []string
				for _, who := range []string{"1", "self"} {
					p := filepath.Join(dir, "proc", who, "mountinfo")
					if _, err := os.Lstat(p); err != nil {
						continue
					}
					plant(t, p, kind, "\x00\x01\x02 this is not a mount table\n\xff\xfe\n")
					planted = append(planted, p)
				}
				if len(planted) == 0 {
					t.Fatalf("profile %s has no mountinfo", profile)
				}
				e := start(t, profileArgs(t, dir)...)
				for i, fams := range scrapeTwice(t, e) {
					errs := fileErrors(fams)
					for _, c := range []string{"pids", "memcg"} {
						if got := errs[c+"/"+reason]; got != float64(len(planted)) {
							t.Errorf("scrape %d: %s/%s = %v, want %d; all file errors: %v", i+1, c, reason, got, len(planted), errs)
						}
					}
					if hasFamilyPrefix(fams, "crashguard_cgroup_") {
						t.Errorf("scrape %d: per-cgroup series from an unusable mountinfo", i+1)
					}
				}
				logs := e.Logs()
				for _, p := range planted {
					if n := strings.Count(logs, "path="+p+" "); n != 2 {
						t.Errorf("%s logged %d times, want once per collector (2)", p, n)
					}
				}
			})
		}
	}
}

// TestCgroupDMGarbageMountinfoKeepsGoodLines: garbage lines among the real
// ones are reported, while the cgroup mounts in the file are still used.
func TestCgroupDMGarbageMountinfoKeepsGoodLines(t *testing.T) {
	dir := copyProfile(t, "cgroup-k8s-v2")
	p := filepath.Join(dir, "proc", "1", "mountinfo")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, append([]byte("garbage line\n"), b...), 0o644); err != nil {
		t.Fatal(err)
	}
	e := start(t, profileArgs(t, dir)...)
	for i, fams := range scrapeTwice(t, e) {
		errs := fileErrors(fams)
		if errs["pids/garbage"] != 1 || errs["memcg/garbage"] != 1 {
			t.Errorf("scrape %d: file errors %v, want one garbage each for pids and memcg", i+1, errs)
		}
		if !hasFamilyPrefix(fams, "crashguard_cgroup_pids") || !hasFamilyPrefix(fams, "crashguard_cgroup_memory_") {
			t.Errorf("scrape %d: the well-formed cgroup mounts were not used", i+1)
		}
	}
}

// TestCgroupDMFIFOInCgroupTree: a FIFO planted as a controller file is
// not_regular, not garbage, and its value is left out.
func TestCgroupDMFIFOInCgroupTree(t *testing.T) {
	dir := copyProfile(t, "cgroup-k8s-v2")
	app := "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod9a3e7c51_2b6d_4e8f_b1c4_7d5a3f2e9c06.slice/cri-containerd-f0c4a8e2b6d1f5a9c3e7b0d4f8a2c6e1b5d9f3a7c0e4b8d2f6a1c5e9b3d7f0a4.scope"
	plant(t, filepath.Join(dir, "sys", "fs", "cgroup", app, "memory.current"), "fifo", "")
	e := start(t, profileArgs(t, dir)...)
	for i, fams := range scrapeTwice(t, e) {
		errs := fileErrors(fams)
		if errs["memcg/not_regular"] != 1 || errs["memcg/garbage"] != 0 {
			t.Errorf("scrape %d: file errors %v, want memcg/not_regular 1 and no garbage", i+1, errs)
		}
		if _, ok := value(fams, "crashguard_cgroup_memory_usage_bytes", map[string]string{"cgroup": app}); ok {
			t.Errorf("scrape %d: usage exported from a FIFO", i+1)
		}
		if _, ok := value(fams, "crashguard_cgroup_memory_limit_bytes", map[string]string{"cgroup": app}); !ok {
			t.Errorf("scrape %d: the container's readable files were dropped", i+1)
		}
	}
}

// TestCgroupDMThinpoolAttributes: unusable device-mapper sysfs attributes
// are file errors with their real reason, and the series they feed are
// left out, never exported as 0 or with an empty name. A device whose
// suspended state is unknown is not queried.
func TestCgroupDMThinpoolAttributes(t *testing.T) {
	dir := copyProfile(t, "thinpool")
	block := filepath.Join(dir, "sys", "block")
	// vg0-thin1's discard_max_bytes (really 64 MiB) and vg1-full-tpool's
	// suspended state; vg0-thin2's name.
	plant(t, filepath.Join(block, "dm-4", "queue", "discard_max_bytes"), "garbage", "2147450880 bytes\n")
	plant(t, filepath.Join(block, "dm-13", "dm", "suspended"), "fifo", "")
	plant(t, filepath.Join(block, "dm-5", "dm", "name"), "directory", "")
	plant(t, filepath.Join(block, "dm-12", "queue", "discard_granularity"), "huge", "")
	e := start(t, profileArgs(t, dir)...)
	for i, fams := range scrapeTwice(t, e) {
		errs := fileErrors(fams)
		want := map[string]float64{"dmthin/garbage": 1, "dmthin/not_regular": 2, "dmthin/too_large": 1}
		for k, v := range want {
			if errs[k] != v {
				t.Errorf("scrape %d: %s = %v, want %v; all: %v", i+1, k, errs[k], v, errs)
			}
		}
		absent := []struct {
			name   string
			labels map[string]string
		}{
			{"crashguard_dm_device_discard_max_bytes", map[string]string{"device": "dm-4"}},
			{"crashguard_dm_device_discard_granularity_bytes", map[string]string{"device": "dm-12"}},
			{"crashguard_dm_device_suspended", map[string]string{"device": "dm-13"}},
			{"crashguard_dm_thin_pool_mode", map[string]string{"pool": "vg1-full-tpool"}},
			{"crashguard_dm_device_info", map[string]string{"device": "dm-5"}},
			{"crashguard_dm_device_info", map[string]string{"name": ""}},
		}
		for _, a := range absent {
			if v, ok := value(fams, a.name, a.labels); ok {
				t.Errorf("scrape %d: %s%v = %v exported from an unusable attribute", i+1, a.name, a.labels, v)
			}
		}
		present := []struct {
			name   string
			labels map[string]string
		}{
			{"crashguard_dm_device_discard_max_hw_bytes", map[string]string{"device": "dm-4"}},
			{"crashguard_dm_device_discard_max_bytes", map[string]string{"device": "dm-5"}},
			{"crashguard_dm_thin_pool_mode", map[string]string{"pool": "vg0-pool0-tpool"}},
		}
		for _, p := range present {
			if _, ok := value(fams, p.name, p.labels); !ok {
				t.Errorf("scrape %d: %s%v lost", i+1, p.name, p.labels)
			}
		}
	}
}

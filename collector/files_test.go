package collector

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// exporterIn wraps collectors the way the binary does: the configured
// mounts go into every scrape, so files are read only inside them.
func exporterIn(cfg Config, cols map[string]Collector, logger log.Logger) *Exporter {
	return NewExporter(cols, logger, cfg.Trees()...)
}

// buildAll constructs the named collectors the way the binary does, failing
// the test if construction (start-up) does not return.
func buildAll(t *testing.T, cfg Config, names []string, args ...string) map[string]Collector {
	t.Helper()
	app := kingpin.New("test", "")
	sel := AddFlags(app)
	flags := []string{"--collector.disable-defaults"}
	for _, n := range names {
		flags = append(flags, "--collector."+n)
	}
	if _, err := app.Parse(append(flags, args...)); err != nil {
		t.Fatal(err)
	}
	type built struct {
		cols map[string]Collector
		err  error
	}
	done := make(chan built, 1)
	go func() {
		cols, err := sel.Build(cfg, log.NewNopLogger())
		done <- built{cols, err}
	}()
	var b built
	select {
	case b = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("building the collectors (start-up) did not return")
	}
	if b.err != nil {
		t.Fatal(b.err)
	}
	t.Cleanup(func() {
		for _, c := range b.cols {
			if cl, ok := c.(interface{ Close() error }); ok {
				cl.Close()
			}
		}
	})
	return b.cols
}

// scrapeIn runs one scrape of cols with their logs captured, failing the
// test instead of hanging when a read blocks.
func scrapeIn(t *testing.T, cfg Config, cols map[string]Collector) (scraped, string) {
	t.Helper()
	logs := &syncBuffer{}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(exporterIn(cfg, cols, log.NewLogfmtLogger(logs)).Bind(context.Background()))
	type gathered struct {
		mfs []*dto.MetricFamily
		err error
	}
	done := make(chan gathered, 1)
	go func() {
		mfs, err := reg.Gather()
		done <- gathered{mfs, err}
	}()
	var g gathered
	select {
	case g = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the scrape blocked on a file")
	}
	if g.err != nil {
		t.Fatal(g.err)
	}
	s := scraped{}
	for _, mf := range g.mfs {
		for _, m := range mf.GetMetric() {
			var b strings.Builder
			b.WriteString(mf.GetName())
			for _, l := range m.GetLabel() {
				b.WriteString(" " + l.GetName() + "=" + l.GetValue())
			}
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue() + m.GetUntyped().GetValue()
			s[b.String()] = v
		}
	}
	return s, logs.String()
}

// scraped maps "name label=value ..." (labels in exposition order) to values.
type scraped map[string]float64

func (s scraped) has(prefix string) bool {
	for k := range s {
		if k == prefix || strings.HasPrefix(k, prefix+" ") {
			return true
		}
	}
	return false
}

func (s scraped) fileErrors(collector, reason string) float64 {
	return s["crashguard_scrape_collector_file_errors collector="+collector+" reason="+reason]
}

func (s scraped) success(collector string) float64 {
	v, ok := s["crashguard_scrape_collector_success collector="+collector]
	if !ok {
		return -1
	}
	return v
}

func (s scraped) String() string {
	lines := make([]string, 0, len(s))
	for k, v := range s {
		lines = append(lines, fmt.Sprintf("%s %g", k, v))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// A FIFO at /proc/meminfo is refused without blocking the kdump scrape, and
// nothing is derived from the missing MemTotal.
func TestKdumpMeminfoFIFODoesNotBlock(t *testing.T) {
	cfg := copyProfile(t, "rhel9")
	mkfifo(t, cfg.Proc("meminfo"))
	cols := buildAll(t, cfg, []string{"kdump"})
	s, _ := scrapeIn(t, cfg, cols)
	if s.success("kdump") != 1 || s.fileErrors("kdump", "not_regular") != 1 {
		t.Errorf("want success and one not_regular file error:\n%s", s)
	}
	for _, name := range []string{"crashguard_kdump_memory_bytes", "crashguard_kdump_crashkernel_requested_bytes"} {
		if s.has(name) {
			t.Errorf("%s exported without MemTotal", name)
		}
	}
}

// A 2 GiB sparse meminfo is too large, reported, and invents nothing.
func TestKdumpHugeMeminfo(t *testing.T) {
	cfg := copyProfile(t, "rhel9")
	if err := os.Truncate(cfg.Proc("meminfo"), 2<<30); err != nil {
		t.Fatal(err)
	}
	cols := buildAll(t, cfg, []string{"kdump"})
	s, _ := scrapeIn(t, cfg, cols)
	if s.success("kdump") != 1 || s.fileErrors("kdump", "too_large") != 1 {
		t.Errorf("want success and one too_large file error:\n%s", s)
	}
	for _, name := range []string{"crashguard_kdump_memory_bytes", "crashguard_kdump_crashkernel_requested_bytes"} {
		if s.has(name) {
			t.Errorf("%s exported without MemTotal", name)
		}
	}
}

// MemTotal is still found when the kernel adds or garbles other lines, and
// its absence is garbage, not a silent gap.
func TestKdumpMeminfoParsing(t *testing.T) {
	cfg := copyProfile(t, "rhel9")
	os.WriteFile(cfg.Proc("meminfo"), []byte("Weird line\nMemTotal:        8000000 kB\nNewField: x y z\n"), 0o644)
	s, _ := scrapeIn(t, cfg, buildAll(t, cfg, []string{"kdump"}))
	if s["crashguard_kdump_memory_bytes"] != 8000000*1024 {
		t.Errorf("MemTotal not read:\n%s", s)
	}
	os.WriteFile(cfg.Proc("meminfo"), []byte("MemFree: 1 kB\n"), 0o644)
	s, _ = scrapeIn(t, cfg, buildAll(t, cfg, []string{"kdump"}))
	if s.has("crashguard_kdump_memory_bytes") || s.fileErrors("kdump", "garbage") != 1 {
		t.Errorf("want no value and a garbage file error:\n%s", s)
	}
}

// /proc/stat is read when the kmsg collector is built, at start-up: a FIFO
// there must neither block start-up nor go unreported.
func TestKmsgStatFIFODoesNotBlockStartup(t *testing.T) {
	cfg := copyProfile(t, "kmsg-oom")
	mkfifo(t, cfg.Proc("stat"))
	_, args := profileFlags(t, filepath.Join(profilesDir, "kmsg-oom"))
	cols := buildAll(t, cfg, []string{"kmsg"}, args...)
	s, _ := scrapeIn(t, cfg, cols)
	if s.success("kmsg") != 1 || s.fileErrors("kmsg", "not_regular") != 1 {
		t.Errorf("want success and one not_regular file error:\n%s", s)
	}
	if s.has("crashguard_kernel_oom_last_kill_timestamp_seconds") {
		t.Error("a kill timestamp without btime")
	}
}

const outsideSecret = "TOPSECRET-7f3c9a"

// writeSecret puts a file full of a recognisable secret outside every tree.
func writeSecret(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "credentials")
	lines := strings.Repeat(outsideSecret+":$6$saltsalt$hash:19000:0:99999:7:::\n", 30)
	if err := os.WriteFile(p, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func replaceWithSymlink(t *testing.T, target, p string) {
	t.Helper()
	os.RemoveAll(p)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

// Value files that are symlinks out of the mount they were joined below
// are refused: counted as "symlink", logged once with the path, and their
// contents appear neither in the exposition nor in the log.
func TestValueFilesSymlinkedOutOfTree(t *testing.T) {
	cfg := copyProfile(t, "healthy-host")
	secret := writeSecret(t)
	rel, err := filepath.Rel(filepath.Join(cfg.RootPath, "etc/systemd/coredump.conf.d"), secret)
	if err != nil {
		t.Fatal(err)
	}
	links := map[string][]string{
		"coredump": {
			cfg.Proc("sys", "kernel", "core_pattern"),
			cfg.Proc("sys", "kernel", "core_uses_pid"),
			cfg.Proc("1", "limits"),
			cfg.Root("etc/systemd/coredump.conf.d/50-escape.conf"), // relative, climbing out
		},
		"kernel": {
			cfg.Proc("sys", "kernel", "tainted"),
			cfg.Proc("sys", "kernel", "random", "boot_id"),
			cfg.Sys("kernel", "oops_count"),
		},
		"kdump": {
			cfg.Sys("kernel", "kexec_crash_size"),
			cfg.Proc("meminfo"),
			cfg.Proc("cmdline"),
			cfg.Root("etc/kdump.conf"),
		},
		"sysrq": {cfg.Proc("sys", "kernel", "sysrq")},
		"pids":  {cfg.Proc("loadavg")},
	}
	var names []string
	for collector, paths := range links {
		names = append(names, collector)
		for _, p := range paths {
			target := secret
			if strings.HasSuffix(p, "50-escape.conf") {
				target = rel
			}
			replaceWithSymlink(t, target, p)
		}
	}
	cols := buildAll(t, cfg, names)
	s, logs := scrapeIn(t, cfg, cols)
	for collector, paths := range links {
		if s.success(collector) != 1 {
			t.Errorf("%s: success %v", collector, s.success(collector))
		}
		if got := s.fileErrors(collector, "symlink"); got != float64(len(paths)) {
			t.Errorf("%s: %v symlink file errors, want %d", collector, got, len(paths))
		}
		for _, p := range paths {
			if n := strings.Count(logs, "path="+p+" reason=symlink"); n != 1 {
				t.Errorf("%s logged %d times, want once", p, n)
			}
		}
	}
	if strings.Contains(logs, outsideSecret) || strings.Contains(s.String(), outsideSecret) {
		t.Errorf("the secret leaked:\n%s\n%s", logs, s)
	}
	for _, name := range []string{"crashguard_kernel_tainted", "crashguard_kernel_boot_info", "crashguard_coredump_pattern_info",
		"crashguard_kdump_crash_kernel_reserved_bytes", "crashguard_kdump_memory_bytes", "crashguard_coredump_systemd_storage",
		"crashguard_sysrq_mask", "crashguard_pids_in_use"} {
		if s.has(name) {
			t.Errorf("%s exported from a refused file", name)
		}
	}
	// A second scrape counts them again but logs nothing new.
	s2, logs2 := scrapeIn(t, cfg, cols)
	if s2.fileErrors("kernel", "symlink") != 3 || strings.Contains(logs2, outsideSecret) {
		t.Errorf("second scrape:\n%s\n%s", s2, logs2)
	}
}

// Symlinks that stay inside their mount are how sysfs and procfs look and
// keep working, as does a mount reached through a symlink.
func TestSymlinksInsideTreeStillRead(t *testing.T) {
	cfg := copyProfile(t, "healthy-host")
	// Relative, like /sys/block/dm-0 -> ../devices/virtual/block/dm-0.
	real := cfg.Sys("devices", "kernel", "kexec_crash_size")
	os.MkdirAll(filepath.Dir(real), 0o755)
	if err := os.Rename(cfg.Sys("kernel", "kexec_crash_size"), real); err != nil {
		t.Fatal(err)
	}
	replaceWithSymlink(t, "../devices/kernel/kexec_crash_size", cfg.Sys("kernel", "kexec_crash_size"))
	// Absolute, inside.
	if err := os.Rename(cfg.Proc("sys", "kernel", "tainted"), cfg.Proc("tainted.real")); err != nil {
		t.Fatal(err)
	}
	replaceWithSymlink(t, cfg.Proc("tainted.real"), cfg.Proc("sys", "kernel", "tainted"))
	// The whole procfs reached through a link, as a host mount may be.
	alias := filepath.Join(t.TempDir(), "proc")
	if err := os.Symlink(cfg.ProcPath, alias); err != nil {
		t.Fatal(err)
	}
	cfg.ProcPath = alias
	s, logs := scrapeIn(t, cfg, buildAll(t, cfg, []string{"kdump", "kernel"}))
	if !s.has("crashguard_kdump_crash_kernel_reserved_bytes") || !s.has("crashguard_kernel_tainted") || !s.has("crashguard_kdump_memory_bytes") {
		t.Errorf("in-tree symlinks not read:\n%s", s)
	}
	for _, c := range []string{"kdump", "kernel"} {
		for _, r := range []string{"symlink", "io", "missing"} {
			if s.fileErrors(c, r) != 0 {
				t.Errorf("%s: %s file errors:\n%s", c, r, logs)
			}
		}
	}
}

// A crash directory that is a symlink out of --path.rootfs is not read
// from: its logs would put another tree's text into crash_last_info.
func TestCrashfilesDirSymlinkedOutOfRootfs(t *testing.T) {
	outside := t.TempDir()
	dump := filepath.Join(outside, "127.0.0.1-2025-02-02-00:00:00")
	os.MkdirAll(dump, 0o755)
	os.WriteFile(filepath.Join(dump, "vmcore"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dump, "vmcore-dmesg.txt"), []byte("[ 1.0] Kernel panic - not syncing: "+outsideSecret+"\n"), 0o644)
	cfg := cfDumpTree(t, nil)
	replaceWithSymlink(t, outside, filepath.Join(cfg.RootPath, "var/crash"))
	s, logs := scrapeIn(t, cfg, buildAll(t, cfg, []string{"crashfiles"}))
	if strings.Contains(s.String(), outsideSecret) || strings.Contains(logs, outsideSecret) {
		t.Errorf("a log outside the tree was read:\n%s\n%s", s, logs)
	}
	if s.fileErrors("crashfiles", "symlink") != 1 {
		t.Errorf("want one symlink file error:\n%s", s)
	}
}

// A cgroup hierarchy whose directory is a symlink out of --path.sysfs is
// not walked: its cgroup names would become labels.
func TestCgroupHierarchySymlinkedOutOfTree(t *testing.T) {
	// cgroup v1: the pids and memory hierarchies are separate mounts.
	cfg := copyProfile(t, "cgroup-docker-v1")
	outside := t.TempDir()
	for _, ctrl := range []string{"pids", "memory"} {
		if err := os.Rename(cfg.Sys("fs", "cgroup", ctrl), filepath.Join(outside, ctrl)); err != nil {
			t.Fatal(err)
		}
		replaceWithSymlink(t, filepath.Join(outside, ctrl), cfg.Sys("fs", "cgroup", ctrl))
	}
	s, logs := scrapeIn(t, cfg, buildAll(t, cfg, []string{"pids", "memcg"}))
	for _, c := range []string{"pids", "memcg"} {
		if s.success(c) != 1 || s.fileErrors(c, "symlink") != 1 {
			t.Errorf("%s: want success and one symlink file error:\n%s\n%s", c, s, logs)
		}
	}
	if s.has("crashguard_cgroup_pids") || s.has("crashguard_cgroup_memory_usage_bytes") {
		t.Errorf("a hierarchy out of the tree was walked:\n%s", s)
	}

	// cgroup v2: discovery already refuses the root's cgroup.controllers.
	cfg = copyProfile(t, "healthy-host")
	v2 := filepath.Join(t.TempDir(), "cgroup")
	if err := os.Rename(cfg.Sys("fs", "cgroup"), v2); err != nil {
		t.Fatal(err)
	}
	replaceWithSymlink(t, v2, cfg.Sys("fs", "cgroup"))
	s, _ = scrapeIn(t, cfg, buildAll(t, cfg, []string{"pids", "memcg"}))
	if s.success("pids") != 1 || s.success("memcg") != 1 || s.has("crashguard_cgroup_pids") || s.has("crashguard_cgroup_memory_usage_bytes") {
		t.Errorf("v2 hierarchy out of the tree:\n%s", s)
	}
}

package collector

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/crashguard/crashguard_exporter/internal/crash"
)

var cfFamilies = []string{
	"crashguard_crash_dumps", "crashguard_crash_dump_bytes", "crashguard_crash_dump_last_timestamp_seconds",
	"crashguard_crash_last_info", "crashguard_crashfiles_scan_truncated",
	"crashguard_pstore_readable", "crashguard_pstore_records", "crashguard_pstore_last_timestamp_seconds",
	"crashguard_pstore_last_info",
	"crashguard_coredump_files", "crashguard_coredump_bytes", "crashguard_coredump_last_timestamp_seconds",
	"crashguard_coredump_last_info",
}

// cfSeries renders the collector's crashfiles series one per line, sorted,
// as name{label="value",...} value.
func cfSeries(t *testing.T, c Collector, extra ...string) string {
	t.Helper()
	reg := registry(t, map[string]Collector{"c": c})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, f := range slices.Concat(cfFamilies, extra) {
		want[f] = true
	}
	var lines []string
	for _, mf := range mfs {
		if !want[mf.GetName()] {
			continue
		}
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			lines = append(lines, fmt.Sprintf("%s{%s} %v", mf.GetName(), strings.Join(ls, ","), m.GetGauge().GetValue()))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

func cfWantSeries(t *testing.T, got, want string) {
	t.Helper()
	want = strings.TrimLeft(want, "\n")
	if got != want {
		t.Errorf("series differ\n--- got\n%s--- want\n%s", got, want)
	}
}

func TestCrashfilesRHEL9(t *testing.T) {
	c := build(t, "crashfiles", profileConfig(t, "rhel9"))
	compare(t, c, `
# HELP crashguard_crash_dumps Kernel crash dumps in a crash directory (RHEL <ip>-<date>, Debian/Ubuntu <stamp> and <host>-<stamp>, SUSE <date> directories, and Ubuntu apport linux-image-*.crash reports). state is complete (a memory image) or incomplete (an image marked incomplete, or none). Both states are exported for every scanned directory. dir is a host path, one per scanned directory (bounded by configuration).
# TYPE crashguard_crash_dumps gauge
crashguard_crash_dumps{dir="/var/crash",state="complete"} 1
crashguard_crash_dumps{dir="/var/crash",state="incomplete"} 1
`, "crashguard_crash_dumps")
	cfWantSeries(t, cfSeries(t, c), `
crashguard_coredump_bytes{store="apport"} 0
crashguard_coredump_bytes{store="systemd-coredump"} 0
crashguard_coredump_files{store="apport"} 0
crashguard_coredump_files{store="systemd-coredump"} 0
crashguard_crash_dump_bytes{dir="/var/crash",state="complete"} 6403
crashguard_crash_dump_bytes{dir="/var/crash",state="incomplete"} 2498
crashguard_crash_dump_last_timestamp_seconds{dir="/var/crash",state="complete"} 1.715679687e+09
crashguard_crash_dump_last_timestamp_seconds{dir="/var/crash",state="incomplete"} 1.70939911e+09
crashguard_crash_dumps{dir="/var/crash",state="complete"} 1
crashguard_crash_dumps{dir="/var/crash",state="incomplete"} 1
crashguard_crash_last_info{class="thin_metadata_bug",dir="/var/crash",kernel="5.14.0-427.13.1.el9_4.x86_64",panic="Fatal exception",reason="kernel BUG at drivers/md/persistent-data/dm-btree-remove.c:181!"} 1
crashguard_crashfiles_scan_truncated{dir="/sys/fs/pstore"} 0
crashguard_crashfiles_scan_truncated{dir="/var/crash"} 0
crashguard_crashfiles_scan_truncated{dir="/var/lib/systemd/coredump"} 0
crashguard_pstore_last_info{class="thin_metadata_bug",kernel="5.14.0-427.13.1.el9_4.x86_64",reason="kernel BUG at drivers/md/persistent-data/dm-btree-remove.c:181!",source="sysfs"} 1
crashguard_pstore_last_timestamp_seconds{source="sysfs"} 1.715679658e+09
crashguard_pstore_readable{source="sysfs"} 1
crashguard_pstore_records{backend="efi",kind="dmesg",source="sysfs"} 2
`)
	if errs := fileErrors(t, c); len(errs) != 0 {
		t.Errorf("file errors: %v", errs)
	}
}

func TestCrashfilesDebianRemoteTargetScansVarCrash(t *testing.T) {
	// kdump-tools sends dumps over ssh; the local /var/crash still holds an
	// older dump, an incomplete one and kdump-tools' housekeeping files.
	c := build(t, "crashfiles", profileConfig(t, "debian"))
	cfWantSeries(t, cfSeries(t, c), `
crashguard_coredump_bytes{store="apport"} 0
crashguard_coredump_files{store="apport"} 0
crashguard_crash_dump_bytes{dir="/var/crash",state="complete"} 4388
crashguard_crash_dump_bytes{dir="/var/crash",state="incomplete"} 1024
crashguard_crash_dump_last_timestamp_seconds{dir="/var/crash",state="complete"} 1.73082792e+09
crashguard_crash_dump_last_timestamp_seconds{dir="/var/crash",state="incomplete"} 1.71809664e+09
crashguard_crash_dumps{dir="/var/crash",state="complete"} 1
crashguard_crash_dumps{dir="/var/crash",state="incomplete"} 1
crashguard_crash_last_info{class="soft_lockup",dir="/var/crash",kernel="6.1.0-28-amd64",panic="softlockup: hung tasks",reason="BUG: soft lockup - CPU#N stuck for Ns!"} 1
crashguard_crashfiles_scan_truncated{dir="/var/crash"} 0
`)

	// Without /var/crash a remote target leaves nothing local to report.
	cfg := copyProfile(t, "debian")
	os.RemoveAll(filepath.Join(cfg.RootPath, "var/crash"))
	if out := cfSeries(t, build(t, "crashfiles", cfg)); strings.Contains(out, "crashguard_crash_") {
		t.Errorf("dump metrics for a remote target without a local /var/crash:\n%s", out)
	}
}

func TestCrashfilesUbuntuApport(t *testing.T) {
	// The newest kernel crash survives only as apport's report; its log is
	// the gzip+base64 VmCoreDmesg field. The older report pairs with its
	// kdump-tools directory and is counted once.
	c := build(t, "crashfiles", profileConfig(t, "ubuntu"))
	cfWantSeries(t, cfSeries(t, c), `
crashguard_coredump_bytes{store="apport"} 479
crashguard_coredump_bytes{store="systemd-coredump"} 1170
crashguard_coredump_files{store="apport"} 1
crashguard_coredump_files{store="systemd-coredump"} 2
crashguard_coredump_last_info{executable="Web Content",store="systemd-coredump"} 1
crashguard_coredump_last_info{executable="python3.12",store="apport"} 1
crashguard_coredump_last_timestamp_seconds{store="apport"} 1.729074127e+09
crashguard_coredump_last_timestamp_seconds{store="systemd-coredump"} 1.728822133284511e+09
crashguard_crash_dump_bytes{dir="/var/crash",state="complete"} 4749
crashguard_crash_dump_bytes{dir="/var/crash",state="incomplete"} 0
crashguard_crash_dump_last_timestamp_seconds{dir="/var/crash",state="complete"} 1.72839618e+09
crashguard_crash_dumps{dir="/var/crash",state="complete"} 2
crashguard_crash_dumps{dir="/var/crash",state="incomplete"} 0
crashguard_crash_last_info{class="sysrq",dir="/var/crash",kernel="6.8.0-45-generic",panic="sysrq triggered crash",reason="Trigger a crash"} 1
crashguard_crashfiles_scan_truncated{dir="/var/crash"} 0
crashguard_crashfiles_scan_truncated{dir="/var/lib/systemd/coredump"} 0
`)

	// With the newest report gone, the older dump directory's own
	// dmesg.<stamp> is what gets classified.
	cfg := copyProfile(t, "ubuntu")
	os.Remove(filepath.Join(cfg.RootPath, "var/crash/linux-image-6.8.0-45-generic-202410081403.0.crash"))
	out := cfSeries(t, build(t, "crashfiles", cfg))
	if !strings.Contains(out, `crashguard_crash_last_info{class="general_protection_fault",dir="/var/crash",kernel="6.8.0-38-generic",panic="Fatal exception in interrupt"`) {
		t.Errorf("older dump not classified from its directory:\n%s", out)
	}
	if !strings.Contains(out, `crashguard_crash_dumps{dir="/var/crash",state="complete"} 1`) {
		t.Errorf("a report and its dump directory must count once:\n%s", out)
	}
}

func TestCrashfilesSUSE(t *testing.T) {
	// Both SUSE layouts, and a systemd-pstore archive holding an efi group
	// with its reassembled dmesg.txt and ramoops records moved later. The
	// ramoops records' time is their mtime, which git does not keep.
	cfg := copyProfile(t, "suse")
	moved := time.Date(2024, 9, 2, 7, 30, 0, 0, time.UTC)
	for _, n := range []string{"dmesg-ramoops-0", "console-ramoops-0"} {
		if err := os.Chtimes(filepath.Join(cfg.RootPath, "var/lib/systemd/pstore", n), moved, moved); err != nil {
			t.Fatal(err)
		}
	}
	c := build(t, "crashfiles", cfg)
	cfWantSeries(t, cfSeries(t, c), `
crashguard_coredump_bytes{store="apport"} 0
crashguard_coredump_files{store="apport"} 0
crashguard_crash_dump_bytes{dir="/var/crash",state="complete"} 8338
crashguard_crash_dump_bytes{dir="/var/crash",state="incomplete"} 0
crashguard_crash_dump_last_timestamp_seconds{dir="/var/crash",state="complete"} 1.71888972e+09
crashguard_crash_dumps{dir="/var/crash",state="complete"} 2
crashguard_crash_dumps{dir="/var/crash",state="incomplete"} 0
crashguard_crash_last_info{class="null_pointer_dereference",dir="/var/crash",kernel="6.4.0-150600.23.25-default",panic="Fatal exception",reason="BUG: kernel NULL pointer dereference, address: ?"} 1
crashguard_crashfiles_scan_truncated{dir="/var/crash"} 0
crashguard_crashfiles_scan_truncated{dir="/var/lib/systemd/pstore"} 0
crashguard_pstore_last_info{class="hard_lockup",kernel="6.4.0-150600.23.25-default",reason="Watchdog detected hard LOCKUP on cpu N",source="archive"} 1
crashguard_pstore_last_timestamp_seconds{source="archive"} 1.7252622e+09
crashguard_pstore_readable{source="archive"} 1
crashguard_pstore_records{backend="efi",kind="dmesg",source="archive"} 2
crashguard_pstore_records{backend="ramoops",kind="console",source="archive"} 1
crashguard_pstore_records{backend="ramoops",kind="dmesg",source="archive"} 1
`)

	// Without the ramoops records the efi group is the newest: classified
	// from the dmesg.txt systemd-pstore reassembled, timed by its id.
	os.Remove(filepath.Join(cfg.RootPath, "var/lib/systemd/pstore/dmesg-ramoops-0"))
	os.Remove(filepath.Join(cfg.RootPath, "var/lib/systemd/pstore/console-ramoops-0"))
	out := cfSeries(t, build(t, "crashfiles", cfg))
	for _, want := range []string{
		`crashguard_pstore_last_info{class="null_pointer_dereference",kernel="6.4.0-150600.23.25-default",reason="BUG: kernel NULL pointer dereference, address: ?",source="archive"} 1`,
		`crashguard_pstore_last_timestamp_seconds{source="archive"} 1.7188897e+09`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %s in\n%s", want, out)
		}
	}
}

func TestCrashfilesMinimalEmptyDir(t *testing.T) {
	c := build(t, "crashfiles", profileConfig(t, "minimal"))
	cfWantSeries(t, cfSeries(t, c), `
crashguard_coredump_bytes{store="apport"} 0
crashguard_coredump_files{store="apport"} 0
crashguard_crash_dump_bytes{dir="/var/crash",state="complete"} 0
crashguard_crash_dump_bytes{dir="/var/crash",state="incomplete"} 0
crashguard_crash_dumps{dir="/var/crash",state="complete"} 0
crashguard_crash_dumps{dir="/var/crash",state="incomplete"} 0
crashguard_crashfiles_scan_truncated{dir="/var/crash"} 0
`)
}

func TestCrashfilesConfiguredAndExtraDirs(t *testing.T) {
	cfg := copyProfile(t, "rhel9")
	// kdump.conf names a directory kdump has not created yet: zeros, not absence.
	conf := filepath.Join(cfg.RootPath, "etc/kdump.conf")
	b, _ := os.ReadFile(conf)
	os.WriteFile(conf, bytes.Replace(b, []byte("path /var/crash"), []byte("path /srv/crash"), 1), 0o644)
	// A collection directory of an ssh/nfs dump server, with remote
	// kdump-tools and kdump-utils directories.
	srv := filepath.Join(cfg.RootPath, "srv/dumps")
	for _, f := range []string{
		"web-07-202501020304/dump.202501020304",
		"web-07-202501020304/dmesg.202501020304",
		"10.0.0.12-2025-01-05-06:07:08/vmcore.flat",
		"10.0.0.12-2025-01-05-06:07:08/vmcore-dmesg.txt",
		"kdump_lock",
	} {
		os.MkdirAll(filepath.Dir(filepath.Join(srv, f)), 0o755)
		os.WriteFile(filepath.Join(srv, f), []byte("x"), 0o644)
	}
	c := build(t, "crashfiles", cfg, "--collector.crashfiles.dir=/srv/dumps", "--collector.crashfiles.dir=/srv/dumps/")
	out := cfSeries(t, c)
	for _, want := range []string{
		`crashguard_crash_dumps{dir="/srv/crash",state="complete"} 0`,
		`crashguard_crash_dumps{dir="/srv/crash",state="incomplete"} 0`,
		`crashguard_crash_dumps{dir="/var/crash",state="complete"} 1`,
		`crashguard_crash_dumps{dir="/srv/dumps",state="complete"} 2`,
		`crashguard_crash_dump_bytes{dir="/srv/dumps",state="complete"} 4`,
		`crashguard_crash_dump_last_timestamp_seconds{dir="/srv/dumps",state="complete"} 1.736057228e+09`,
		`crashguard_crash_last_info{class="unknown",dir="/srv/dumps",kernel="",panic="",reason=""} 1`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("missing %s in\n%s", want, out)
		}
	}
	if strings.Count(out, `crashguard_crash_dumps{dir="/srv/dumps"`) != 2 {
		t.Errorf("a directory given twice must be scanned once:\n%s", out)
	}
}

func TestCrashfilesFlagValidation(t *testing.T) {
	for _, args := range [][]string{
		{"--collector.crashfiles.dir=var/crash"},
		{"--collector.crashfiles.max-depth=1"},
		{"--collector.crashfiles.max-entries=0"},
		{"--collector.crashfiles.read-bytes=10"},
	} {
		o := crashfilesOptions{maxEntries: crashfilesDefaultEntries, maxDepth: crashfilesDefaultDepth, readBytes: crashfilesDefaultRead}
		switch {
		case strings.HasPrefix(args[0], "--collector.crashfiles.dir="):
			o.dirs = []string{strings.TrimPrefix(args[0], "--collector.crashfiles.dir=")}
		case strings.Contains(args[0], "depth"):
			o.maxDepth = 1
		case strings.Contains(args[0], "entries"):
			o.maxEntries = 0
		default:
			o.readBytes = 10
		}
		if err := o.validate(); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

// Hostile inputs.

// cfDumpTree builds <root>/var/crash with the given files (name → contents).
func cfDumpTree(t *testing.T, files map[string]string) Config {
	t.Helper()
	base := t.TempDir()
	cfg := Config{ProcPath: filepath.Join(base, "proc"), SysPath: filepath.Join(base, "sys"), RootPath: filepath.Join(base, "root")}
	crashDir := filepath.Join(cfg.RootPath, "var/crash")
	if err := os.MkdirAll(crashDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		p := filepath.Join(crashDir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return cfg
}

// cfUpdateWithin runs one Update and fails instead of hanging.
func cfUpdateWithin(t *testing.T, c Collector, ctx context.Context) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		ch := make(chan prometheus.Metric, 1000)
		done <- c.Update(ctx, ch)
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Update did not return")
	}
}

const cfThinBug = "[ 1.000000] kernel BUG at drivers/md/persistent-data/dm-btree-remove.c:181!\n[ 1.000100] invalid opcode: 0000 [#1] SMP PTI\n[ 1.000200] Kernel panic - not syncing: Fatal exception\n"

func TestCrashfilesFIFODmesg(t *testing.T) {
	cfg := cfDumpTree(t, map[string]string{"127.0.0.1-2025-01-01-00:00:00/vmcore": "x"})
	mkfifo(t, filepath.Join(cfg.RootPath, "var/crash/127.0.0.1-2025-01-01-00:00:00/vmcore-dmesg.txt"))
	c := build(t, "crashfiles", cfg)
	var out string
	done := make(chan struct{})
	go func() { out = cfSeries(t, c); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("a FIFO named vmcore-dmesg.txt blocked the scan")
	}
	if !strings.Contains(out, `crashguard_crash_dumps{dir="/var/crash",state="complete"} 1`) ||
		!strings.Contains(out, `crashguard_crash_last_info{class="unknown"`) {
		t.Errorf("unexpected:\n%s", out)
	}
	if errs := fileErrors(t, c); errs["not_regular"] != 1 {
		t.Errorf("FIFO not reported: %v", errs)
	}
}

func TestCrashfilesSymlinks(t *testing.T) {
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte(cfThinBug), 0o644)
	os.MkdirAll(filepath.Join(outside, "dump"), 0o755)
	os.WriteFile(filepath.Join(outside, "dump/vmcore"), []byte("0123456789"), 0o644)
	cfg := cfDumpTree(t, map[string]string{"202501010000/dump.202501010000": "x"})
	crashDir := filepath.Join(cfg.RootPath, "var/crash")
	// The dump's log points out of the tree; a dump directory is a link to
	// a directory outside; another is a link to its own parent (a loop);
	// an apport report links to itself.
	os.Symlink(filepath.Join(outside, "secret"), filepath.Join(crashDir, "202501010000/dmesg.202501010000"))
	os.Symlink(filepath.Join(outside, "dump"), filepath.Join(crashDir, "127.0.0.1-2025-02-02-00:00:00"))
	os.Symlink(".", filepath.Join(crashDir, "2025-03-03-00-00"))
	os.Symlink("_usr_bin_x.0.crash", filepath.Join(crashDir, "_usr_bin_x.0.crash"))

	var reads atomic.Int32
	c := build(t, "crashfiles", cfg).(*crashfilesCollector)
	tail := c.scanner.ReadTail
	c.scanner.ReadTail = func(p string, max int64) ([]byte, error) { reads.Add(1); return tail(p, max) }
	out := cfSeries(t, c)
	for _, want := range []string{
		`crashguard_crash_dumps{dir="/var/crash",state="complete"} 1`,
		`crashguard_crash_dump_bytes{dir="/var/crash",state="complete"} 1`,
		`crashguard_crash_last_info{class="unknown",dir="/var/crash",kernel="",panic="",reason=""} 1`,
		`crashguard_coredump_files{store="apport"} 0`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("missing %s in\n%s", want, out)
		}
	}
	if n := reads.Load(); n != 0 {
		t.Errorf("%d files read through symlinks", n)
	}
	if errs := fileErrors(t, c); errs["symlink"] != 4 {
		t.Errorf("symlinks not reported: %v", errs)
	}
}

func TestCrashfilesSparseDmesgReadAsTail(t *testing.T) {
	cfg := cfDumpTree(t, map[string]string{"127.0.0.1-2025-01-01-00:00:00/vmcore": "x"})
	p := filepath.Join(cfg.RootPath, "var/crash/127.0.0.1-2025-01-01-00:00:00/vmcore-dmesg.txt")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	const size = 1 << 30
	// The tail starts mid-line, as a cut log does; the crash follows.
	if _, err := f.WriteAt([]byte("\n"+cfThinBug), size-int64(len(cfThinBug))-1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	c := build(t, "crashfiles", cfg, "--collector.crashfiles.read-bytes=65536").(*crashfilesCollector)
	var got atomic.Int64
	tail := c.scanner.ReadTail
	c.scanner.ReadTail = func(p string, max int64) ([]byte, error) {
		b, err := tail(p, max)
		got.Add(int64(len(b)))
		return b, err
	}
	out := cfSeries(t, c)
	if !strings.Contains(out, `crashguard_crash_last_info{class="thin_metadata_bug"`) {
		t.Errorf("crash at the end of a 1 GiB log not found:\n%s", out)
	}
	if !strings.Contains(out, fmt.Sprintf(`crashguard_crash_dump_bytes{dir="/var/crash",state="complete"} %v`, float64(size+1))) {
		t.Errorf("apparent size not counted:\n%s", out)
	}
	if n := got.Load(); n != 65536 {
		t.Errorf("read %d bytes, want exactly the 64 KiB cap", n)
	}
}

func TestCrashfilesClassificationCached(t *testing.T) {
	cfg := cfDumpTree(t, map[string]string{
		"127.0.0.1-2025-01-01-00:00:00/vmcore":           "x",
		"127.0.0.1-2025-01-01-00:00:00/vmcore-dmesg.txt": cfThinBug,
	})
	c := build(t, "crashfiles", cfg).(*crashfilesCollector)
	var reads atomic.Int32
	tail := c.scanner.ReadTail
	c.scanner.ReadTail = func(p string, max int64) ([]byte, error) { reads.Add(1); return tail(p, max) }
	for i := 0; i < 3; i++ {
		if out := cfSeries(t, c); !strings.Contains(out, `class="thin_metadata_bug"`) {
			t.Fatalf("scrape %d:\n%s", i, out)
		}
	}
	if n := reads.Load(); n != 1 {
		t.Errorf("unchanged dump read %d times", n)
	}
	p := filepath.Join(cfg.RootPath, "var/crash/127.0.0.1-2025-01-01-00:00:00/vmcore-dmesg.txt")
	os.WriteFile(p, []byte("[ 1.0] sysrq: Trigger a crash\n[ 1.1] Kernel panic - not syncing: sysrq triggered crash\n"), 0o644)
	if out := cfSeries(t, c); !strings.Contains(out, `class="sysrq"`) || reads.Load() != 2 {
		t.Errorf("a changed log must be read again (%d reads):\n%s", reads.Load(), out)
	}
}

// cfHookReader is a DirReader whose calls can be intercepted: readDir
// answers a listing itself when it returns ok (names then go to fn).
type cfHookReader struct {
	crash.DirReader
	readDir func(path string) ([]string, error, bool)
}

func (h *cfHookReader) ReadNames(ctx context.Context, path string, fn func([]string) bool) error {
	if h.readDir != nil {
		if names, err, ok := h.readDir(path); ok {
			if len(names) > 0 {
				fn(names)
			}
			return err
		}
	}
	return h.DirReader.ReadNames(ctx, path, fn)
}

type cfLogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *cfLogBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *cfLogBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestCrashfilesPstorePermissionDenied(t *testing.T) {
	cfg := copyProfile(t, "rhel9")
	c := build(t, "crashfiles", cfg).(*crashfilesCollector)
	var logs cfLogBuffer
	c.logger = log.NewLogfmtLogger(&logs)
	pstore := cfg.Sys("fs", "pstore")
	c.scanner.Reader = &cfHookReader{DirReader: crash.NewOSDirReader(), readDir: func(p string) ([]string, error, bool) {
		if p == pstore {
			return nil, &fs.PathError{Op: "open", Path: p, Err: syscall.EACCES}, true
		}
		return nil, nil, false
	}}
	for i := 0; i < 3; i++ {
		out := cfSeries(t, c)
		if !strings.Contains(out, `crashguard_pstore_readable{source="sysfs"} 0`) || strings.Contains(out, "pstore_records") {
			t.Fatalf("unexpected:\n%s", out)
		}
		if !strings.Contains(out, `crashguard_crash_dumps{dir="/var/crash",state="complete"} 1`) {
			t.Fatalf("the rest of the collector must report:\n%s", out)
		}
	}
	if n := strings.Count(logs.String(), "cannot list the pstore directory"); n != 1 {
		t.Errorf("logged %d times, want once:\n%s", n, logs.String())
	}
	if errs := fileErrors(t, c); len(errs) != 0 {
		t.Errorf("refused pstore is a state, not a file error: %v", errs)
	}
}

func TestCrashfilesUnreadableDumpDir(t *testing.T) {
	cfg := cfDumpTree(t, map[string]string{
		"202501010000/dump.202501010000":  "x",
		"202502020000/dump.202502020000":  "yy",
		"202502020000/dmesg.202502020000": cfThinBug,
	})
	locked := filepath.Join(cfg.RootPath, "var/crash/202502020000")
	c := build(t, "crashfiles", cfg).(*crashfilesCollector)
	c.scanner.Reader = &cfHookReader{DirReader: crash.NewOSDirReader(), readDir: func(p string) ([]string, error, bool) {
		if p == locked {
			return nil, &fs.PathError{Op: "open", Path: p, Err: syscall.EACCES}, true
		}
		return nil, nil, false
	}}
	out := cfSeries(t, c)
	if !strings.Contains(out, `crashguard_crash_dumps{dir="/var/crash",state="complete"} 1`) {
		t.Errorf("unexpected:\n%s", out)
	}
	if errs := fileErrors(t, c); errs["permission"] != 1 {
		t.Errorf("unreadable dump directory not reported: %v", errs)
	}
}

func TestCrashfilesVanishingDumpDir(t *testing.T) {
	cfg := cfDumpTree(t, map[string]string{
		"202501010000/dump.202501010000": "x",
		"202502020000/dump.202502020000": "yy",
	})
	gone := filepath.Join(cfg.RootPath, "var/crash/202502020000")
	c := build(t, "crashfiles", cfg).(*crashfilesCollector)
	c.scanner.Reader = &cfHookReader{DirReader: crash.NewOSDirReader(), readDir: func(p string) ([]string, error, bool) {
		if p == gone {
			os.RemoveAll(gone) // removed between the parent's listing and this one
			return nil, &fs.PathError{Op: "open", Path: p, Err: syscall.ENOENT}, true
		}
		return nil, nil, false
	}}
	out := cfSeries(t, c)
	if !strings.Contains(out, `crashguard_crash_dumps{dir="/var/crash",state="complete"} 1`) ||
		!strings.Contains(out, `crashguard_crash_dump_last_timestamp_seconds{dir="/var/crash",state="complete"} 1.7356896e+09`) {
		t.Errorf("unexpected:\n%s", out)
	}
	if errs := fileErrors(t, c); len(errs) != 0 {
		t.Errorf("a vanished directory is not an error: %v", errs)
	}
}

func TestCrashfilesHungDirHonoursDeadline(t *testing.T) {
	cfg := copyProfile(t, "rhel9")
	c := build(t, "crashfiles", cfg).(*crashfilesCollector)
	release := make(chan struct{})
	var calls atomic.Int32
	hung := cfg.Root("var/crash")
	// A dead NFS server: the call ignores its context and returns only
	// when the server comes back.
	c.scanner.Reader = &cfHookReader{DirReader: crash.NewOSDirReader(), readDir: func(p string) ([]string, error, bool) {
		if p != hung {
			return nil, nil, false
		}
		select {
		case <-release:
			return nil, nil, false // the server is back
		default:
		}
		calls.Add(1)
		<-release
		return nil, &fs.PathError{Op: "readdirent", Path: p, Err: syscall.EIO}, true
	}}
	for i := 0; i < 4; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		cfUpdateWithin(t, c, ctx)
		cancel()
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("later scrapes must wait for the hung scan, not start new ones: %d calls", n)
	}
	if n := c.jobs.running(); n != 1 {
		t.Errorf("%d scans in flight, want the one hung scan", n)
	}

	// The other locations still report, and the hung one is a timeout.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewExporter(map[string]Collector{"c": c}, log.NewNopLogger()).Bind(ctx))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sawPstore, sawTimeout bool
	for _, mf := range mfs {
		switch mf.GetName() {
		case "crashguard_pstore_records":
			sawPstore = true
		case "crashguard_scrape_collector_file_errors":
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "reason" && l.GetValue() == "timeout" {
						sawTimeout = true
					}
				}
			}
		case "crashguard_crash_dumps":
			t.Error("a hung directory must not report counts")
		}
	}
	if !sawPstore || !sawTimeout {
		t.Errorf("pstore reported %v, timeout reported %v", sawPstore, sawTimeout)
	}

	close(release)
	deadline := time.Now().Add(30 * time.Second)
	for c.jobs.running() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the released scan never finished")
		}
		time.Sleep(time.Millisecond)
	}
	if out := cfSeries(t, c); !strings.Contains(out, `crashguard_crash_dumps{dir="/var/crash",state="complete"} 1`) {
		t.Errorf("after the mount recovers the directory reports again:\n%s", out)
	}
}

func TestCrashfilesEntryAndDepthCaps(t *testing.T) {
	files := map[string]string{}
	for i := 0; i < 30; i++ {
		files[fmt.Sprintf("2025010100%02d/dump.2025010100%02d", i, i)] = "x"
	}
	files["202501010000/extra/deeper/file"] = "0123456789"
	cfg := cfDumpTree(t, files)
	out := cfSeries(t, build(t, "crashfiles", cfg, "--collector.crashfiles.max-entries=10"))
	if !strings.Contains(out, `crashguard_crashfiles_scan_truncated{dir="/var/crash"} 1`) ||
		!strings.Contains(out, `crashguard_crash_dumps{dir="/var/crash",state="complete"} 10`) {
		t.Errorf("entry cap:\n%s", out)
	}
	// Sub-directories of a dump are beyond the default depth; deeper
	// limits count their files.
	out = cfSeries(t, build(t, "crashfiles", cfg))
	if !strings.Contains(out, `crashguard_crashfiles_scan_truncated{dir="/var/crash"} 1`) ||
		!strings.Contains(out, `crashguard_crash_dump_bytes{dir="/var/crash",state="complete"} 30`) {
		t.Errorf("depth 2:\n%s", out)
	}
	out = cfSeries(t, build(t, "crashfiles", cfg, "--collector.crashfiles.max-depth=4"))
	if !strings.Contains(out, `crashguard_crashfiles_scan_truncated{dir="/var/crash"} 0`) ||
		!strings.Contains(out, `crashguard_crash_dump_bytes{dir="/var/crash",state="complete"} 40`) {
		t.Errorf("depth 4:\n%s", out)
	}
}

func TestCrashfilesGarbageNames(t *testing.T) {
	cfg := cfDumpTree(t, map[string]string{
		"2025-13-45-99-99/vmcore":       "x", // not a date
		"notadump/vmcore":               "x",
		"127.0.0.1-2025-01-01-00:00:00": "a file where a directory belongs",
		"_usr_bin_x.notauid.crash":      "garbage",
		"linux-image-.0.crash":          "garbage",
		"_usr_bin_y.1000.crash":         "\x00\xff\xfe binary garbage\nDate: not a date\n",
	})
	out := cfSeries(t, build(t, "crashfiles", cfg))
	for _, want := range []string{
		`crashguard_crash_dumps{dir="/var/crash",state="complete"} 0`,
		`crashguard_crash_dumps{dir="/var/crash",state="incomplete"} 0`,
		`crashguard_coredump_files{store="apport"} 1`,
		`crashguard_coredump_last_info{executable="y",store="apport"} 1`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("missing %s in\n%s", want, out)
		}
	}
}

func BenchmarkCrashfilesThousandDumps(b *testing.B) {
	base := b.TempDir()
	cfg := Config{ProcPath: filepath.Join(base, "proc"), SysPath: filepath.Join(base, "sys"), RootPath: filepath.Join(base, "root")}
	crashDir := filepath.Join(cfg.RootPath, "var/crash")
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 1000; i++ {
		d := filepath.Join(crashDir, "127.0.0.1-"+start.Add(time.Duration(i)*time.Hour).Format("2006-01-02-15:04:05"))
		os.MkdirAll(d, 0o755)
		name := "vmcore"
		if i%10 == 0 {
			name = "vmcore-incomplete"
		}
		os.WriteFile(filepath.Join(d, name), []byte("x"), 0o644)
		os.WriteFile(filepath.Join(d, "vmcore-dmesg.txt"), []byte(cfThinBug), 0o644)
	}
	c := build(b, "crashfiles", cfg)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ch := make(chan prometheus.Metric, 64)
		go func() {
			for range ch {
			}
		}()
		if err := c.Update(ctx, ch); err != nil {
			b.Fatal(err)
		}
		close(ch)
	}
}

// A log that is nothing but a hole (a sparse file under a log's name) is
// garbage: reported, never classified into an invented reason. Text after
// zeroed blocks (a file system that crashed while writing) is still read.
func TestCrashfilesNULLogIsGarbage(t *testing.T) {
	cfg := cfDumpTree(t, map[string]string{
		"127.0.0.1-2025-01-01-00:00:00/vmcore":           "x",
		"127.0.0.1-2025-01-01-00:00:00/vmcore-dmesg.txt": strings.Repeat("\x00", 8192),
		"127.0.0.1-2025-02-02-00:00:00/vmcore":           "x",
		"127.0.0.1-2025-02-02-00:00:00/vmcore-dmesg.txt": "[ 0.5] early\x00\x00\x00\x00" + cfThinBug,
	})
	c := build(t, "crashfiles", cfg)
	out := cfSeries(t, c)
	if !strings.Contains(out, `crashguard_crash_last_info{class="thin_metadata_bug"`) {
		t.Errorf("text after zeroed blocks not classified:\n%s", out)
	}
	if errs := fileErrors(t, c); errs["garbage"] != 0 {
		t.Errorf("text after a hole reported as garbage: %v", errs)
	}
	os.RemoveAll(filepath.Join(cfg.RootPath, "var/crash/127.0.0.1-2025-02-02-00:00:00"))
	c = build(t, "crashfiles", cfg)
	out = cfSeries(t, c)
	if strings.Contains(out, `class="thin_metadata_bug"`) {
		t.Errorf("stale reason:\n%s", out)
	}
	if errs := fileErrors(t, c); errs["garbage"] != 1 {
		t.Errorf("a log of NUL bytes not reported as garbage: %v", errs)
	}
}

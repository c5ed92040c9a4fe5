package collector

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// Anyone may write to Ubuntu's /var/crash (mode 3777). What they put there
// must not take the place of real dumps under the entry cap.

const cfSysrqLog = "[ 1.0] sysrq: Trigger a crash\n[ 1.1] Kernel panic - not syncing: sysrq triggered crash\n"

// cfTouch creates empty files in dir.
func cfTouch(tb testing.TB, dir string, names []string) {
	tb.Helper()
	for _, n := range names {
		fd, err := syscall.Open(filepath.Join(dir, n), syscall.O_CREAT|syscall.O_WRONLY|syscall.O_CLOEXEC, 0o644)
		if err != nil {
			tb.Fatalf("%s: %v", n, err)
		}
		syscall.Close(fd)
	}
}

// cfJunk fills dir with empty files of the given names: hard links to a few
// empty files (ext4 allows 65,000 links to one), the same entries to a
// listing and many times quicker to make than as many inodes.
func cfJunk(tb testing.TB, dir string, names []string) {
	tb.Helper()
	srcDir := tb.TempDir()
	var src string
	for i, n := range names {
		if i%60000 == 0 {
			src = filepath.Join(srcDir, fmt.Sprint(i))
			if err := os.WriteFile(src, nil, 0o644); err != nil {
				tb.Fatal(err)
			}
		}
		if err := os.Link(src, filepath.Join(dir, n)); err != nil {
			tb.Fatal(err)
		}
	}
}

// cfJunkNames returns n names no crash tool writes, spread so that they
// sort before, among and after the names of real dumps, some shaped almost
// like dump, apport or core file names.
func cfJunkNames(n int) []string {
	out := make([]string, 0, n)
	for i := 0; i < n; i++ {
		var name string
		switch i % 6 {
		case 0:
			name = fmt.Sprintf("%06d", i) // before every dump name
		case 1:
			name = fmt.Sprintf("127.0.0.1-junk-%d", i) // among the RHEL names
		case 2:
			name = fmt.Sprintf("202501020304-%d", i) // right after a Debian name
		case 3:
			name = fmt.Sprintf("zz-%d", i) // after every dump name
		case 4:
			name = fmt.Sprintf("_usr_bin_junk%d.crash", i) // an apport name without a uid
		default:
			name = fmt.Sprintf("core.junk.%d", i) // a core name without its fields
		}
		out = append(out, name)
	}
	return out
}

// cfLookalikes adds names resembling dumps that are not, and directories,
// to a crash directory; it returns how many top-level entries it made.
func cfLookalikes(t *testing.T, crashDir string) int {
	t.Helper()
	files := []string{
		"127.0.0.1-2024-05-14-09:41:2", // one digit short
		"20250102030",                  // 11 digits
		"2025010203045",                // 13 digits
		"_usr_bin_x.notauid.crash",
		"x.1000.crash.tmp",
		"kdump_lock", "kexec_cmd", // kdump-tools' own, never read
		"_usr_bin_python3.12.1000.upload", // an apport upload marker
	}
	cfTouch(t, crashDir, files)
	dirs := []string{"127.0.0.1-2024-02-30-12:00:00", "2025-13-45-99-99", "junkdir", "lost+found"}
	for _, d := range dirs {
		if err := os.Mkdir(filepath.Join(crashDir, d), 0o755); err != nil {
			t.Fatal(err)
		}
		cfTouch(t, filepath.Join(crashDir, d), []string{"vmcore"})
	}
	return len(files) + len(dirs)
}

func TestCrashfilesJunkDoesNotHideDumps(t *testing.T) {
	cfg := cfDumpTree(t, map[string]string{
		"127.0.0.1-2024-05-14-09:41:27/vmcore":            "KDUMP   ",
		"127.0.0.1-2024-05-14-09:41:27/vmcore-dmesg.txt":  cfThinBug,
		"202501020304/dump.202501020304":                  "x",
		"202501020304/dmesg.202501020304":                 cfSysrqLog,
		"127.0.0.1-2023-11-02-08:00:00/vmcore-incomplete": "KDUMP",
	})
	crashDir := cfg.Root("var/crash")
	const junk = 150000
	cfJunk(t, crashDir, cfJunkNames(junk))
	extra := cfLookalikes(t, crashDir)

	c := build(t, "crashfiles", cfg)
	cfWantSeries(t, cfSeries(t, c, "crashguard_crashfiles_scan_ignored_entries"), fmt.Sprintf(`
crashguard_coredump_bytes{store="apport"} 0
crashguard_coredump_files{store="apport"} 0
crashguard_crash_dump_bytes{dir="/var/crash",state="complete"} %d
crashguard_crash_dump_bytes{dir="/var/crash",state="incomplete"} 5
crashguard_crash_dump_last_timestamp_seconds{dir="/var/crash",state="complete"} 1.73578704e+09
crashguard_crash_dump_last_timestamp_seconds{dir="/var/crash",state="incomplete"} 1.698912e+09
crashguard_crash_dumps{dir="/var/crash",state="complete"} 2
crashguard_crash_dumps{dir="/var/crash",state="incomplete"} 1
crashguard_crash_last_info{class="sysrq",dir="/var/crash",kernel="",panic="sysrq triggered crash",reason="Trigger a crash"} 1
crashguard_crashfiles_scan_ignored_entries{dir="/var/crash"} %d
crashguard_crashfiles_scan_truncated{dir="/var/crash"} 0
`, 8+len(cfThinBug)+1+len(cfSysrqLog), junk+extra))
	if errs := fileErrors(t, c); len(errs) != 0 {
		t.Errorf("file errors: %v", errs)
	}
}

func TestCrashfilesTooManyDumpsKeepsNewest(t *testing.T) {
	// Eight real dumps, a cap of five and a flood of junk: the five newest
	// are counted, the newest is classified, and the scan says it left
	// some out.
	files := map[string]string{}
	for i := 1; i <= 8; i++ {
		stamp := fmt.Sprintf("2025010100%02d", i)
		files[stamp+"/dump."+stamp] = strings.Repeat("x", i)
		files[stamp+"/dmesg."+stamp] = cfThinBug
	}
	files["202501010008/dmesg.202501010008"] = cfSysrqLog
	cfg := cfDumpTree(t, files)
	cfJunk(t, cfg.Root("var/crash"), cfJunkNames(3000))

	out := cfSeries(t, build(t, "crashfiles", cfg, "--collector.crashfiles.max-entries=5"), "crashguard_crashfiles_scan_ignored_entries")
	dumpBytes := 4 + 5 + 6 + 7 + 8 + 4*len(cfThinBug) + len(cfSysrqLog) // dumps 4 to 8
	for _, want := range []string{
		`crashguard_crashfiles_scan_truncated{dir="/var/crash"} 1`,
		`crashguard_crashfiles_scan_ignored_entries{dir="/var/crash"} 3000`,
		`crashguard_crash_dumps{dir="/var/crash",state="complete"} 5`,
		fmt.Sprintf(`crashguard_crash_dump_bytes{dir="/var/crash",state="complete"} %d`, dumpBytes),
		`crashguard_crash_dump_last_timestamp_seconds{dir="/var/crash",state="complete"} 1.73569008e+09`,
		`crashguard_crash_last_info{class="sysrq",dir="/var/crash",kernel="",panic="sysrq triggered crash",reason="Trigger a crash"} 1`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("missing %s in\n%s", want, out)
		}
	}
}

func TestCrashfilesJunkInOtherStores(t *testing.T) {
	// systemd-coredump's store, systemd-pstore's archive and apport's
	// reports in /var/crash: junk takes no place under the cap there
	// either (a cap of three, three real files in each).
	cfg := cfDumpTree(t, map[string]string{
		"_usr_bin_a.1000.crash":    "ExecutablePath: /usr/bin/a\nDate: Mon Jan  6 10:00:00 2025\n",
		"_usr_bin_b.1000.crash":    "ExecutablePath: /usr/bin/b\nDate: Tue Jan  7 10:00:00 2025\n",
		"_usr_bin_b.1000.upload":   "",
		"_usr_bin_b.1000.uploaded": "",
		"_usr_sbin_c.0.crash":      "ExecutablePath: /usr/sbin/c\nDate: Wed Jan  8 10:00:00 2025\n",
	})
	cfJunk(t, cfg.Root("var/crash"), cfJunkNames(500))

	core := cfg.Root(coredumpStoreDir)
	archive := cfg.Root(pstoreArchiveDir)
	group := filepath.Join(archive, "173567965800001") // an efi crash, reassembled
	for _, d := range []string{core, group} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	boot := "0123456789abcdef0123456789abcdef"
	cfTouch(t, core, []string{
		"core.sshd.0." + boot + ".100.1735689600000000.zst",
		"core.nginx.33." + boot + ".200.1735693200000000.zst",
		"core.bash.1000." + boot + ".300.1735696800000000",
		".#core.bash.1000." + boot + ".301.1735696900000000", // still being written
	})
	cfJunk(t, core, cfJunkNames(500))
	// All-digit names are systemd-pstore's per-crash directories and
	// <type>-<backend>-<id> is a record of a type this kernel may not
	// know, so neither is junk there.
	var archiveJunk []string
	for _, n := range cfJunkNames(1000) {
		if strings.Trim(n, "0123456789") != "" && !strings.HasPrefix(n, "127.0.0.1-") {
			archiveJunk = append(archiveJunk, n)
		}
	}
	cfTouch(t, archive, []string{"pmsg-ramoops-0", "console-ramoops-0"})
	cfJunk(t, archive, archiveJunk[:400])
	cfTouch(t, group, []string{"dmesg-efi-173567965801001", "dmesg-efi-173567965802001"})
	if err := os.WriteFile(filepath.Join(group, "dmesg.txt"), []byte(cfThinBug), 0o644); err != nil {
		t.Fatal(err)
	}
	cfJunk(t, group, archiveJunk[400:])

	c := build(t, "crashfiles", cfg, "--collector.crashfiles.max-entries=3")
	out := cfSeries(t, c, "crashguard_crashfiles_scan_ignored_entries")
	for _, want := range []string{
		`crashguard_coredump_files{store="apport"} 3`,
		`crashguard_coredump_last_info{executable="c",store="apport"} 1`,
		`crashguard_crashfiles_scan_truncated{dir="/var/crash"} 0`,
		`crashguard_crashfiles_scan_ignored_entries{dir="/var/crash"} 502`, // and two markers
		`crashguard_coredump_files{store="systemd-coredump"} 3`,
		`crashguard_coredump_last_info{executable="bash",store="systemd-coredump"} 1`,
		`crashguard_crashfiles_scan_truncated{dir="/var/lib/systemd/coredump"} 0`,
		`crashguard_crashfiles_scan_ignored_entries{dir="/var/lib/systemd/coredump"} 501`,
		`crashguard_pstore_records{backend="efi",kind="dmesg",source="archive"} 2`,
		`crashguard_pstore_records{backend="ramoops",kind="console",source="archive"} 1`,
		`crashguard_pstore_records{backend="ramoops",kind="pmsg",source="archive"} 1`,
		`crashguard_pstore_last_info{class="thin_metadata_bug",kernel="",reason="kernel BUG at drivers/md/persistent-data/dm-btree-remove.c:181!",source="archive"} 1`,
		`crashguard_crashfiles_scan_truncated{dir="/var/lib/systemd/pstore"} 0`,
		fmt.Sprintf(`crashguard_crashfiles_scan_ignored_entries{dir="/var/lib/systemd/pstore"} %d`, len(archiveJunk)),
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("missing %s in\n%s", want, out)
		}
	}
	if errs := fileErrors(t, c); len(errs) != 0 {
		t.Errorf("file errors: %v", errs)
	}
}

// BenchmarkCrashfilesJunk150k is a scrape of a /var/crash holding two dumps
// among 150,000 empty files no crash tool wrote.
func BenchmarkCrashfilesJunk150k(b *testing.B) {
	base := b.TempDir()
	cfg := Config{ProcPath: filepath.Join(base, "proc"), SysPath: filepath.Join(base, "sys"), RootPath: filepath.Join(base, "root")}
	crashDir := filepath.Join(cfg.RootPath, "var/crash")
	for _, d := range []string{"127.0.0.1-2024-05-14-09:41:27", "202501020304"} {
		if err := os.MkdirAll(filepath.Join(crashDir, d), 0o755); err != nil {
			b.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(crashDir, "127.0.0.1-2024-05-14-09:41:27/vmcore"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(crashDir, "127.0.0.1-2024-05-14-09:41:27/vmcore-dmesg.txt"), []byte(cfThinBug), 0o644)
	os.WriteFile(filepath.Join(crashDir, "202501020304/dump.202501020304"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(crashDir, "202501020304/dmesg.202501020304"), []byte(cfSysrqLog), 0o644)
	cfJunk(b, crashDir, cfJunkNames(150000))
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

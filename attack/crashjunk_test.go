package attack

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
)

// fillJunk puts n empty files no crash tool writes into dir, named to sort
// before, among and after the RHEL dump directories, plus look-alikes of
// dump and report names and a few directories: what any local user can do
// to Ubuntu's /var/crash (mode 3777). The files are hard links to a few
// empty files (ext4 allows 65,000 links to one): the same entries to a
// listing, made many times quicker. It returns how many entries it made.
func fillJunk(t *testing.T, dir string, n int) int {
	t.Helper()
	src := t.TempDir()
	var s string
	for i := 0; i < n; i++ {
		if i%60000 == 0 {
			s = filepath.Join(src, fmt.Sprint(i))
			if err := os.WriteFile(s, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		var name string
		switch i % 4 {
		case 0:
			name = fmt.Sprintf("%07d", i)
		case 1:
			name = fmt.Sprintf("127.0.0.1-2024-05-14-junk-%d", i)
		case 2:
			name = fmt.Sprintf("linux-image-junk-%d.crash", i)
		default:
			name = fmt.Sprintf("zz-%d", i)
		}
		if err := os.Link(s, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	made := n
	for _, name := range []string{"127.0.0.1-2024-05-14-09:41:2", "127.0.0.1-2099-02-30-00:00:00", "20991231235", "kexec_cmd"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		made++
	}
	for _, name := range []string{"junkdir", "2099-13-01-00-00"} {
		if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name, "vmcore"), []byte("KDUMP   "), 0o644); err != nil {
			t.Fatal(err)
		}
		made++
	}
	return made
}

// crashDirSeries renders the series of a crash directory's dump families,
// with values, one per line.
func crashDirSeries(fams map[string]*dto.MetricFamily, dir string) string {
	var lines []string
	for _, name := range []string{
		"crashguard_crash_dumps", "crashguard_crash_dump_bytes",
		"crashguard_crash_dump_last_timestamp_seconds", "crashguard_crash_last_info",
	} {
		f := fams[name]
		if f == nil {
			continue
		}
		for _, m := range f.GetMetric() {
			l := labelMap(m)
			if l["dir"] != dir {
				continue
			}
			keys := make([]string, 0, len(l))
			for k := range l {
				keys = append(keys, k+"="+l[k])
			}
			sort.Strings(keys)
			lines = append(lines, fmt.Sprintf("%s{%s} %v", name, strings.Join(keys, ","), metricValue(m)))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// TestCrashJunkCannotHideDumps: 150,000 junk entries in the RHEL profile's
// /var/crash change nothing the exporter says about its dumps; they are
// counted as ignored, and the scan is not truncated. With a cap smaller than
// the number of real dumps the scan is truncated and keeps the newest.
func TestCrashJunkCannotHideDumps(t *testing.T) {
	dir := copyProfile(t, "rhel9")
	crashDir := filepath.Join(dir, "root", "var", "crash")
	// Four older dumps beside the profile's complete 2024-05-14 and
	// incomplete 2024-03-02 ones, for the cap below.
	for m := 1; m <= 4; m++ {
		d := filepath.Join(crashDir, fmt.Sprintf("127.0.0.1-2023-%02d-01-00:00:00", m))
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "vmcore"), []byte("KDUMP   "), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e := start(t, profileArgs(t, dir)...)
	fams := families(t, e.scrape(t, nil))
	want := crashDirSeries(fams, "/var/crash")
	if !strings.Contains(want, `crashguard_crash_dumps{dir=/var/crash,state=complete} 5`) ||
		!strings.Contains(want, "crashguard_crash_last_info{") {
		t.Fatalf("the fixture should hold a complete, classified dump:\n%s", want)
	}
	ignoredBefore, _ := value(fams, "crashguard_crashfiles_scan_ignored_entries", map[string]string{"dir": "/var/crash"})
	errsBefore := fileErrors(fams)

	made := fillJunk(t, crashDir, 150000)

	fams = families(t, e.scrape(t, nil))
	if f := failed(fams); len(f) > 0 {
		t.Errorf("collectors failed: %v", f)
	}
	if got := crashDirSeries(fams, "/var/crash"); got != want {
		t.Errorf("junk changed what is reported about the dumps:\n--- got\n%s\n--- want\n%s", got, want)
	}
	if v, ok := value(fams, "crashguard_crashfiles_scan_truncated", map[string]string{"dir": "/var/crash"}); !ok || v != 0 {
		t.Errorf("crashguard_crashfiles_scan_truncated = %v (present %v), want 0", v, ok)
	}
	if v, ok := value(fams, "crashguard_crashfiles_scan_ignored_entries", map[string]string{"dir": "/var/crash"}); !ok || v != ignoredBefore+float64(made) {
		t.Errorf("crashguard_crashfiles_scan_ignored_entries = %v (present %v), want %v", v, ok, ignoredBefore+float64(made))
	}
	if got := fileErrors(fams); fmt.Sprint(got) != fmt.Sprint(errsBefore) {
		t.Errorf("file errors %v, before the junk %v", got, errsBefore)
	}

	// Six real dumps, a cap of three (the most files a dump directory here
	// holds, since the cap bounds every listing): the three newest are
	// kept, the newest dump of each state and its reason are reported as
	// before, and the scan says it left something out.
	e = start(t, append(profileArgs(t, dir), "--collector.crashfiles.max-entries=3")...)
	fams = families(t, e.scrape(t, nil))
	if v, _ := value(fams, "crashguard_crashfiles_scan_truncated", map[string]string{"dir": "/var/crash"}); v != 1 {
		t.Errorf("with a cap of three: crashguard_crashfiles_scan_truncated = %v, want 1", v)
	}
	got := crashDirSeries(fams, "/var/crash")
	for _, line := range strings.Split(want, "\n") {
		if strings.Contains(line, "_last_") && !strings.Contains(got, line) {
			t.Errorf("with a cap of three the newest dumps are kept: missing %s in\n%s", line, got)
		}
	}
	for _, line := range []string{
		"crashguard_crash_dumps{dir=/var/crash,state=complete} 2",
		"crashguard_crash_dumps{dir=/var/crash,state=incomplete} 1",
	} {
		if !strings.Contains(got, line) {
			t.Errorf("with a cap of three: missing %s in\n%s", line, got)
		}
	}
}

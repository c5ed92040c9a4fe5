package crash

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

const thinBugLog = "[ 1.000000] kernel BUG at drivers/md/persistent-data/dm-btree-remove.c:181!\n[ 1.000100] invalid opcode: 0000 [#1] SMP PTI\n[ 1.000200] Kernel panic - not syncing: Fatal exception\n"

func apportField(text []byte) string {
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	zw.Write(text)
	zw.Close()
	b := gz.Bytes()
	var s strings.Builder
	s.WriteString("base64\n")
	for len(b) > 0 { // apport encodes each block on its own line
		n := min(len(b), 40)
		s.WriteString(" " + base64.StdEncoding.EncodeToString(b[:n]) + "\n")
		b = b[n:]
	}
	return s.String()
}

func TestApportKernelLog(t *testing.T) {
	log := []byte(thinBugLog)
	for name, tc := range map[string]struct {
		report string
		want   string
	}{
		"base64 gzip": {"ProblemType: KernelCrash\nVmCoreDmesg: " + apportField(log), thinBugLog},
		"plain text":  {"ProblemType: KernelCrash\nVmCoreDmesg: [ 1.0] first\n [ 1.1] second\nUname: Linux\n", "[ 1.0] first\n[ 1.1] second"},
		"first field": {"VmCoreDmesg: only", "only"},
		"absent":      {"ProblemType: KernelCrash\nUname: Linux\n", ""},
		"bad base64":  {"VmCoreDmesg: base64\n !!!!\n", ""},
		"cut stream":  {"VmCoreDmesg: " + apportField(log)[:60], ""},
	} {
		got := string(apportKernelLog([]byte(tc.report)))
		if name == "cut stream" {
			if len(got) > len(thinBugLog) || !strings.HasPrefix(thinBugLog, got) {
				t.Errorf("%s: %q", name, got)
			}
			continue
		}
		if got != tc.want {
			t.Errorf("%s: got %q want %q", name, got, tc.want)
		}
	}
	// A compression bomb inflates to at most maxInflate and keeps the end.
	bomb := append(bytes.Repeat([]byte{'A'}, 40<<20), []byte("END")...)
	got := apportKernelLog([]byte("VmCoreDmesg: " + apportField(bomb)))
	if len(got) != maxEmbeddedLog || bytes.HasSuffix(got, []byte("END")) {
		t.Errorf("bomb: %d bytes, suffix %q", len(got), got[len(got)-3:])
	}
}

func FuzzApportKernelLog(f *testing.F) {
	f.Add([]byte("VmCoreDmesg: " + apportField([]byte(thinBugLog))))
	f.Add([]byte("VmCoreDmesg: x\n y\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if out := apportKernelLog(b); len(out) > maxEmbeddedLog {
			t.Fatalf("%d bytes", len(out))
		}
	})
}

func TestPstoreEfiTime(t *testing.T) {
	p, _ := ParsePstoreName("dmesg-efi-171567965802001")
	if got := pstoreTime(p, time.Time{}); got.Unix() != 1715679658 {
		t.Errorf("efi time %v", got)
	}
	g1, part, _ := efiGroup(p)
	p1, _ := ParsePstoreName("dmesg-efi-171567965801001")
	g2, part1, _ := efiGroup(p1)
	if g1 != g2 || part != 2 || part1 != 1 {
		t.Errorf("groups %d %d parts %d %d", g1, g2, part, part1)
	}
	mt := time.Unix(42, 0)
	for _, n := range []string{"dmesg-ramoops-0", "dmesg-erst-7312465811259981825", "dmesg-efi-1"} {
		p, _ := ParsePstoreName(n)
		if got := pstoreTime(p, mt); !got.Equal(mt) {
			t.Errorf("%s: %v", n, got)
		}
	}
}

const sysrqLog = "[ 1.0] sysrq: Trigger a crash\n[ 1.1] Kernel panic - not syncing: sysrq triggered crash\n"

// tree writes files (name → contents) below dir.
func tree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mkfile(t, p, content)
	}
}

// countingTail is a Scanner.ReadTail that records the files it read.
type countingTail struct {
	n     atomic.Int32
	paths []string
}

func (c *countingTail) read(p string, max int64) ([]byte, error) {
	c.n.Add(1)
	c.paths = append(c.paths, filepath.Base(p))
	return ReadTail(p, max)
}

func TestScanCrashDir(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, map[string]string{
		"127.0.0.1-2025-01-01-00:00:00/vmcore":            "KDUMP",
		"127.0.0.1-2025-01-01-00:00:00/vmcore-dmesg.txt":  thinBugLog,
		"127.0.0.1-2024-06-01-00:00:00/vmcore-incomplete": "KD",
		// The newest: a kdump-tools directory without its log, and the
		// apport report made from it, which stands in for the log and is
		// not counted again.
		"202502020000/dump.202502020000":                    "x",
		"linux-image-6.8.0-45-generic-202502020000.0.crash": "ProblemType: KernelCrash\nVmCoreDmesg: " + apportField([]byte(sysrqLog)),
		"_usr_bin_python3.12.1000.crash":                    "ExecutablePath: /usr/bin/python3.12\nDate: Mon Jan  6 10:00:00 2025\n",
		"_usr_bin_python3.12.1000.upload":                   "",
		"kdump_lock":                                        "",
		"lost+found/x":                                      "",
	})
	inv, err := (&Scanner{}).Scan(context.Background(), Location{Store: StoreCrashDir, Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	if !inv.Listed || inv.Missing || inv.Truncated || inv.Ignored != 3 || len(inv.Problems) != 0 {
		t.Errorf("listed %v missing %v truncated %v ignored %d problems %v", inv.Listed, inv.Missing, inv.Truncated, inv.Ignored, inv.Problems)
	}
	d := inv.Dumps
	if d.Complete.Count != 2 || d.Complete.Bytes != float64(5+len(thinBugLog)+1) || !d.Complete.Newest.Equal(time.Date(2025, 2, 2, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("complete %+v", d.Complete)
	}
	if d.Incomplete.Count != 1 || d.Incomplete.Bytes != 2 || !d.Incomplete.Newest.Equal(time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("incomplete %+v", d.Incomplete)
	}
	want := Reason{Class: ClassSysrq, Summary: "Trigger a crash", Panic: "sysrq triggered crash", Kernel: "6.8.0-45-generic"}
	if d.Last == nil || *d.Last != want {
		t.Errorf("last %+v, want %+v", d.Last, want)
	}
	a := inv.Apport
	if a.Count != 1 || a.Executable != "python3.12" || !a.Newest.Equal(time.Date(2025, 1, 6, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("apport %+v", a)
	}
}

func TestScanCacheReadsUnchangedLogsOnce(t *testing.T) {
	dir := t.TempDir()
	dump := "127.0.0.1-2025-01-01-00:00:00"
	files := map[string]string{dump + "/vmcore": "x", dump + "/vmcore-dmesg.txt": thinBugLog}
	tree(t, dir, files)
	var tail countingTail
	s := &Scanner{ReadTail: tail.read, Cache: &Cache{}}
	loc := Location{Store: StoreCrashDir, Path: dir}
	scan := func() *Inventory {
		t.Helper()
		inv, err := s.Scan(context.Background(), loc)
		if err != nil {
			t.Fatal(err)
		}
		return inv
	}
	for i := 0; i < 3; i++ {
		if inv := scan(); inv.Dumps.Last == nil || inv.Dumps.Last.Class != ClassThinMetadataBug {
			t.Fatalf("scan %d: %+v", i, inv.Dumps.Last)
		}
	}
	if n := tail.n.Load(); n != 1 {
		t.Errorf("an unchanged log read %d times", n)
	}

	// A scan that does not finish keeps nothing.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if inv, err := s.Scan(ctx, loc); inv != nil || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled scan: %v, %v", inv, err)
	}

	// Once the dump is gone the cache forgets its log: the same file put
	// back unchanged is read again.
	log := filepath.Join(dir, dump, "vmcore-dmesg.txt")
	fi, err := os.Stat(log)
	if err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(filepath.Join(dir, dump))
	if inv := scan(); inv.Dumps.Last != nil || inv.Dumps.Complete.Count != 0 {
		t.Fatalf("removed dump still there: %+v", inv.Dumps)
	}
	tree(t, dir, files)
	os.Chtimes(log, fi.ModTime(), fi.ModTime())
	scan()
	if n := tail.n.Load(); n != 2 {
		t.Errorf("a log put back was read %d times in all, want 2", n)
	}
}

func TestScanPstoreJoinsEfiParts(t *testing.T) {
	dir := t.TempDir()
	// efi_pstore splits one crash into parts, part 1 holding the end of
	// the log; a compressed record is counted but never read.
	tree(t, dir, map[string]string{
		"dmesg-efi-171567965801001":       "Panic#1 Part1\n[ 1.000200] Kernel panic - not syncing: Fatal exception\n",
		"dmesg-efi-171567965802001":       "Panic#1 Part2\n[ 1.000000] kernel BUG at drivers/md/persistent-data/dm-btree-remove.c:181!\n",
		"dmesg-efi-171567965803001.enc.z": "\x78\x9c",
		"console-ramoops-0":               "",
		"junk":                            "",
	})
	// The kernel stamps a ramoops record with the record's time.
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(dir, "console-ramoops-0"), old, old); err != nil {
		t.Fatal(err)
	}
	var tail countingTail
	inv, err := (&Scanner{ReadTail: tail.read}).Scan(context.Background(), Location{Store: StorePstore, Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	p := inv.Pstore
	want := []RecordCount{{"efi", "dmesg", 3}, {"ramoops", "console", 1}}
	if !slices.Equal(p.Counts, want) || inv.Ignored != 1 {
		t.Errorf("counts %v ignored %d, want %v and 1", p.Counts, inv.Ignored, want)
	}
	if !p.Newest.Equal(time.Unix(1715679658, 0)) {
		t.Errorf("newest %v", p.Newest)
	}
	if !slices.Equal(tail.paths, []string{"dmesg-efi-171567965802001", "dmesg-efi-171567965801001"}) {
		t.Errorf("read %v, want the oldest part first and no compressed record", tail.paths)
	}
	if p.Last == nil || p.Last.Class != ClassThinMetadataBug || p.Last.Panic != "Fatal exception" {
		t.Errorf("last %+v", p.Last)
	}
}

// refusingReader refuses to list one directory.
type refusingReader struct {
	DirReader
	path string
}

func (r refusingReader) ReadNames(ctx context.Context, path string, fn func([]string) bool) error {
	if path == r.path {
		return &fs.PathError{Op: "open", Path: path, Err: syscall.EACCES}
	}
	return r.DirReader.ReadNames(ctx, path, fn)
}

func TestScanMissingAndRefused(t *testing.T) {
	dir := t.TempDir()
	s := &Scanner{Reader: refusingReader{NewOSDirReader(), dir}}
	for _, tc := range []struct {
		loc                    Location
		missing, refused, prob bool
	}{
		{Location{StoreCrashDir, filepath.Join(dir, "absent")}, true, false, false},
		{Location{StorePstore, filepath.Join(dir, "absent")}, true, false, false},
		// /sys/fs/pstore is mode 0750 root: a state, not a problem.
		{Location{StorePstore, dir}, false, true, false},
		{Location{StorePstoreArchive, dir}, false, true, false},
		{Location{StoreCrashDir, dir}, false, false, true},
		{Location{StoreCoredump, dir}, false, false, true},
	} {
		inv, err := s.Scan(context.Background(), tc.loc)
		if err != nil {
			t.Fatal(err)
		}
		if inv.Listed || inv.Missing != tc.missing || (inv.Refused != nil) != tc.refused || (len(inv.Problems) > 0) != tc.prob {
			t.Errorf("%v: listed %v missing %v refused %v problems %v", tc.loc, inv.Listed, inv.Missing, inv.Refused, inv.Problems)
		}
		for _, p := range inv.Problems {
			if fsutil.Reason(p.Err) != "permission" || p.Path != dir {
				t.Errorf("%v: problem %v", tc.loc, p)
			}
		}
	}
}

func TestCoreFilesMerge(t *testing.T) {
	at := func(sec int64) time.Time { return time.Unix(sec, 0) }
	var all CoreFiles
	all.Merge(CoreFiles{})
	if all.Count != 0 || all.Executable != "" {
		t.Fatalf("merging nothing: %+v", all)
	}
	for _, f := range []CoreFiles{
		{Tally: Tally{Count: 2, Bytes: 10, Newest: at(20)}, Executable: "a"},
		{Tally: Tally{Count: 1, Bytes: 5, Newest: at(30)}, Executable: "b"},
		{Tally: Tally{Count: 1, Bytes: 1, Newest: at(30)}, Executable: "c"}, // equal time: the first stays
		{Tally: Tally{Count: 4, Bytes: 4, Newest: at(10)}, Executable: "d"},
	} {
		all.Merge(f)
	}
	if all.Count != 8 || all.Bytes != 20 || !all.Newest.Equal(at(30)) || all.Executable != "b" {
		t.Errorf("merged %+v", all)
	}
}

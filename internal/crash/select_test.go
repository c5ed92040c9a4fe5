package crash

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestSelectors(t *testing.T) {
	for _, tc := range []struct {
		sel  func(string) (int64, bool)
		name string
		ok   bool
	}{
		{SelectCrashDirEntry, "127.0.0.1-2024-05-14-09:41:27", true},
		{SelectCrashDirEntry, "202501020304", true},
		{SelectCrashDirEntry, "web-01-202501020304", true},
		{SelectCrashDirEntry, "2024-06-20-13-22", true},
		{SelectCrashDirEntry, "2023-11-03-08:15", true},
		{SelectCrashDirEntry, "linux-image-6.8.0-45-generic-202410081403.0.crash", true},
		{SelectCrashDirEntry, "linux-image-6.8.0-45-generic.0.crash", true},
		{SelectCrashDirEntry, "_usr_bin_python3.12.1000.crash", true},
		{SelectCrashDirEntry, "apt.0.crash", true},
		{SelectCrashDirEntry, "_usr_bin_python3.12.1000.upload", false},
		{SelectCrashDirEntry, "linux-image-6.8.0-38-generic-202407190855.0.uploaded", false},
		{SelectCrashDirEntry, "kdump_lock", false},
		{SelectCrashDirEntry, "kexec_cmd", false},
		{SelectCrashDirEntry, ".keep", false},
		{SelectCrashDirEntry, "127.0.0.1-2024-02-30-12:00:00", false},
		{SelectCrashDirEntry, "20250102030", false},
		{SelectCrashDirEntry, "_usr_bin_x.crash", false},
		{SelectPstoreEntry, "dmesg-efi-171567965802001", true},
		{SelectPstoreEntry, "console-ramoops", true},
		{SelectPstoreEntry, "173567965800001", false},
		{SelectPstoreEntry, "junk", false},
		{SelectPstoreArchiveEntry, "173567965800001", true},
		{SelectPstoreArchiveEntry, "dmesg.txt", true},
		{SelectPstoreArchiveEntry, "dmesg-ramoops-0", true},
		{SelectPstoreArchiveEntry, "junk", false},
		{SelectCoredumpEntry, "core.sshd.0.0123456789abcdef0123456789abcdef.100.1735689600000000.zst", true},
		{SelectCoredumpEntry, ".#core.sshd.0.0123456789abcdef0123456789abcdef.100.1735689600000000", false},
		{SelectCoredumpEntry, "core.junk.1", false},
	} {
		if _, ok := tc.sel(tc.name); ok != tc.ok {
			t.Errorf("%q: selected %v, want %v", tc.name, ok, tc.ok)
		}
	}

	// Newer kernel dumps outrank older ones, every kernel dump outranks a
	// kernel report without a stamp, which outranks user-space reports.
	order := []string{
		"_usr_bin_python3.12.1000.crash",
		"linux-image-6.8.0-45-generic.0.crash",
		"2019-07-22-09:41",
		"127.0.0.1-2024-05-14-09:41:27",
		"linux-image-6.8.0-45-generic-202410081403.0.crash",
		"202501020304",
	}
	for i := 1; i < len(order); i++ {
		a, _ := SelectCrashDirEntry(order[i-1])
		b, _ := SelectCrashDirEntry(order[i])
		if a >= b {
			t.Errorf("%s ranks %d, not below %s at %d", order[i-1], a, order[i], b)
		}
	}
	a, _ := SelectCoredumpEntry("core.a.0.0123456789abcdef0123456789abcdef.1.1735689600000000")
	b, _ := SelectCoredumpEntry("core.a.0.0123456789abcdef0123456789abcdef.1.1735689600000001")
	if a >= b {
		t.Errorf("core ranks %d, %d", a, b)
	}
}

// countingReader counts what ScanDir asks of the operating system.
type countingReader struct {
	*OSDirReader
	lstats            atomic.Int64
	batches, maxBatch int
}

func (c *countingReader) ReadNames(ctx context.Context, path string, fn func([]string) bool) error {
	return c.OSDirReader.ReadNames(ctx, path, func(names []string) bool {
		c.batches++
		c.maxBatch = max(c.maxBatch, len(names))
		return fn(names)
	})
}

func (c *countingReader) Lstat(ctx context.Context, path string) (fs.FileInfo, error) {
	c.lstats.Add(1)
	return c.OSDirReader.Lstat(ctx, path)
}

// linkJunk makes n empty files in dir as hard links to a few files (ext4
// allows 65,000 links to one), much quicker than as many inodes.
func linkJunk(t *testing.T, dir string, n int, name func(int) string) {
	t.Helper()
	src := t.TempDir()
	for i := 0; i < n; i++ {
		s := filepath.Join(src, fmt.Sprint(i/60000))
		if i%60000 == 0 {
			mkfile(t, s, "")
		}
		if err := os.Link(s, filepath.Join(dir, name(i))); err != nil {
			t.Fatal(err)
		}
	}
}

func TestScanDirSkipsJunkByName(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"127.0.0.1-2024-05-14-09:41:27", "202501020304", "127.0.0.1-2023-11-02-08:00:00"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	const junk = 20000
	linkJunk(t, dir, junk, func(i int) string { return fmt.Sprintf("%d-junk", i) })
	r := &countingReader{OSDirReader: NewOSDirReader()}
	entries, st, err := ScanDir(context.Background(), r, dir, Limits{MaxEntries: 3, Select: SelectCrashDirEntry})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name)
		if e.Kind != KindDir {
			t.Errorf("%s: %v", e.Name, e.Kind)
		}
	}
	if got := strings.Join(names, " "); got != "127.0.0.1-2023-11-02-08:00:00 127.0.0.1-2024-05-14-09:41:27 202501020304" {
		t.Errorf("entries %s", got)
	}
	if st != (ScanStats{Ignored: junk}) {
		t.Errorf("stats %+v", st)
	}
	if n := r.lstats.Load(); n != 3 {
		t.Errorf("%d lstat calls, want one per dump", n)
	}
	if r.batches < 2 || r.maxBatch >= junk/2 {
		t.Errorf("names came in %d batches of at most %d", r.batches, r.maxBatch)
	}
}

func TestScanDirCapKeepsHighestRank(t *testing.T) {
	r := &fakeReader{names: []string{"d", "junk1", "a", "e", "junk2", "c", "b"}}
	rank := map[string]int64{"a": 5, "b": 4, "c": 3, "d": 3, "e": 1}
	sel := func(n string) (int64, bool) { v, ok := rank[n]; return v, ok }
	entries, st, err := ScanDir(context.Background(), r, "/d", Limits{MaxEntries: 3, Select: sel})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name)
	}
	// Highest ranks a (5) and b (4), then d over c on equal rank by name.
	if got := strings.Join(names, " "); got != "a b d" || st != (ScanStats{Truncated: true, Ignored: 2}) {
		t.Errorf("entries %s, stats %+v", got, st)
	}
}

func TestScanDirMaxNames(t *testing.T) {
	names := []string{"a", "b", "c", "d", "e", "f"}
	entries, st, err := ScanDir(context.Background(), &fakeReader{names: names}, "/d", Limits{MaxNames: 4})
	if err != nil || len(entries) != 4 || !st.Truncated {
		t.Errorf("%d entries, %+v, %v", len(entries), st, err)
	}
	entries, st, err = ScanDir(context.Background(), &fakeReader{names: names}, "/d", Limits{MaxNames: 6})
	if err != nil || len(entries) != 6 || st.Truncated {
		t.Errorf("exact cap: %d entries, %+v, %v", len(entries), st, err)
	}
}

func TestOSDirReaderNeverCallsBackAfterReturn(t *testing.T) {
	// A listing hung in the kernel comes back after the caller gave up:
	// the caller's callback must not run then.
	release := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	var lateCall atomic.Bool
	r := NewOSDirReader()
	r.readNames = func(path string, fn func([]string) bool) error {
		defer wg.Done()
		<-release
		lateCall.Store(fn([]string{"202501020304"}))
		return nil
	}
	var selected atomic.Int32
	sel := func(n string) (int64, bool) { selected.Add(1); return 0, true }
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, _, err := ScanDir(ctx, r, "/hung", Limits{Select: sel}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	close(release)
	wg.Wait()
	if lateCall.Load() || selected.Load() != 0 {
		t.Errorf("the callback ran after ScanDir returned (continue %v, %d names selected)", lateCall.Load(), selected.Load())
	}
}

// dirent encodes one linux_dirent64 record, padded to 8 bytes.
func dirent(ino uint64, name string) []byte {
	n := (19 + len(name) + 1 + 7) &^ 7
	b := make([]byte, n)
	binary.NativeEndian.PutUint64(b[0:], ino)
	binary.NativeEndian.PutUint16(b[16:], uint16(n))
	copy(b[19:], name)
	return b
}

func TestParseDirents(t *testing.T) {
	var b []byte
	for _, d := range []struct {
		ino  uint64
		name string
	}{{2, "."}, {1, ".."}, {12, "202501020304"}, {0, "deleted"}, {13, "kdump_lock"}, {14, "x"}} {
		b = append(b, dirent(d.ino, d.name)...)
	}
	got := parseDirents(b, nil)
	if strings.Join(got, " ") != "202501020304 kdump_lock x" {
		t.Errorf("names %q", got)
	}
	// A record cut short or with a bad length ends the batch.
	if got := parseDirents(b[:len(b)-3], nil); len(got) != 2 {
		t.Errorf("cut: %q", got)
	}
	bad := dirent(5, "y")
	binary.NativeEndian.PutUint16(bad[16:], 3)
	if got := parseDirents(bad, nil); len(got) != 0 {
		t.Errorf("bad reclen: %q", got)
	}
}

func FuzzParseDirents(f *testing.F) {
	f.Add(append(dirent(3, "202501020304"), dirent(4, "kdump_lock")...))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, n := range parseDirents(b, nil) {
			if n == "" || n == "." || n == ".." || strings.IndexByte(n, 0) >= 0 || len(n) > len(b) {
				t.Fatalf("name %q", n)
			}
		}
	})
}

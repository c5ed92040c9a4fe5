package crash

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

func mkfile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestScanDirHostileTree(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	mkfile(t, filepath.Join(outside, "secret"), "not ours")
	mkfile(t, filepath.Join(dir, "kdump_lock"), "")
	dump := filepath.Join(dir, "127.0.0.1-2024-02-16-15:55:31")
	if err := os.Mkdir(dump, 0o700); err != nil {
		t.Fatal(err)
	}
	mkfile(t, filepath.Join(dump, "vmcore"), "KDUMP   ")
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("loop-b", filepath.Join(dir, "loop-a")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("loop-a", filepath.Join(dir, "loop-b")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "escape")); err != nil {
		t.Fatal(err)
	}

	entries, st, err := ScanDir(context.Background(), nil, dir, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Kind{}
	for _, e := range entries {
		got[e.Name] = e.Kind
		if e.Path != filepath.Join(dir, e.Name) {
			t.Errorf("path %q", e.Path)
		}
	}
	want := map[string]Kind{
		"kdump_lock": KindRegular, "127.0.0.1-2024-02-16-15:55:31": KindDir, "fifo": KindFIFO,
		"loop-a": KindSymlink, "loop-b": KindSymlink, "escape": KindSymlink,
	}
	if len(got) != len(want) {
		t.Errorf("entries %v, want %v", got, want)
	}
	for n, k := range want {
		if got[n] != k {
			t.Errorf("%s: kind %v, want %v", n, got[n], k)
		}
	}
	if st != (ScanStats{}) {
		t.Errorf("stats %+v", st)
	}
	for i := 1; i < len(entries); i++ {
		if entries[i-1].Name >= entries[i].Name {
			t.Error("entries not sorted")
		}
	}

	// Reading refuses everything but the regular file, without blocking on the FIFO.
	for name, want := range map[string]error{
		"fifo":   fsutil.ErrNotRegular,
		"loop-a": fsutil.ErrSymlink,
		"escape": fsutil.ErrSymlink,
	} {
		if _, err := ReadTail(filepath.Join(dir, name), 1024); !errors.Is(err, want) {
			t.Errorf("ReadTail(%s) = %v, want %v", name, err, want)
		}
	}
	if _, err := ReadTail(dump, 1024); !errors.Is(err, fsutil.ErrNotRegular) {
		t.Errorf("ReadTail(dir) = %v", err)
	}
}

func TestScanDirCap(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		mkfile(t, filepath.Join(dir, n), n)
	}
	entries, st, err := ScanDir(context.Background(), nil, dir, Limits{MaxEntries: 3})
	if err != nil || len(entries) != 3 || !st.Truncated {
		t.Errorf("got %d entries, %+v, %v", len(entries), st, err)
	}
	entries, st, err = ScanDir(context.Background(), nil, dir, Limits{MaxEntries: 5})
	if err != nil || len(entries) != 5 || st.Truncated {
		t.Errorf("exact cap: got %d entries, %+v, %v", len(entries), st, err)
	}
}

func TestScanDirMissing(t *testing.T) {
	_, _, err := ScanDir(context.Background(), nil, filepath.Join(t.TempDir(), "nope"), Limits{})
	if !fsutil.IsNotExist(err) {
		t.Errorf("err = %v", err)
	}
}

// fakeReader lets a test decide what the file system says.
type fakeReader struct {
	names    []string
	readErr  error
	lstatErr map[string]error
	block    chan struct{} // ReadNames waits on it when non-nil
	onLstat  func()
}

type fakeInfo string

func (i fakeInfo) Name() string       { return string(i) }
func (i fakeInfo) Size() int64        { return 1 }
func (i fakeInfo) Mode() fs.FileMode  { return 0o644 }
func (i fakeInfo) ModTime() time.Time { return time.Unix(1, 0) }
func (i fakeInfo) IsDir() bool        { return false }
func (i fakeInfo) Sys() any           { return nil }

func (f *fakeReader) ReadNames(ctx context.Context, path string, fn func([]string) bool) error {
	if f.block != nil {
		<-f.block
	}
	if len(f.names) > 0 {
		fn(f.names)
	}
	return f.readErr
}

func (f *fakeReader) Lstat(ctx context.Context, path string) (fs.FileInfo, error) {
	if f.onLstat != nil {
		f.onLstat()
	}
	if err := f.lstatErr[filepath.Base(path)]; err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: path, Err: err}
	}
	return fakeInfo(filepath.Base(path)), nil
}

func TestScanDirUnreadableAndVanishing(t *testing.T) {
	r := &fakeReader{
		names:    []string{"ok", "gone", "denied", "io", "../escape"},
		lstatErr: map[string]error{"gone": syscall.ENOENT, "denied": syscall.EACCES, "io": syscall.EIO},
	}
	entries, st, err := ScanDir(context.Background(), r, "/var/crash", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name != "ok" || entries[0].Kind != KindRegular {
		t.Errorf("entries %+v", entries)
	}
	if st.Vanished != 1 || st.Unreadable != 3 {
		t.Errorf("stats %+v", st)
	}

	// The directory itself unreadable (root is not stopped by chmod, so
	// the refusal is injected).
	r = &fakeReader{readErr: &fs.PathError{Op: "open", Path: "/var/crash", Err: syscall.EACCES}}
	_, _, err = ScanDir(context.Background(), r, "/var/crash", Limits{})
	if !errors.Is(err, fs.ErrPermission) || fsutil.Reason(err) != "permission" {
		t.Errorf("err = %v", err)
	}

	// A read error after some entries returns both.
	r = &fakeReader{names: []string{"a"}, readErr: syscall.EIO}
	entries, _, err = ScanDir(context.Background(), r, "/var/crash", Limits{})
	if len(entries) != 1 || !errors.Is(err, syscall.EIO) {
		t.Errorf("partial read: %d entries, %v", len(entries), err)
	}
}

func TestScanDirVanishingReal(t *testing.T) {
	dir := t.TempDir()
	mkfile(t, filepath.Join(dir, "stay"), "")
	mkfile(t, filepath.Join(dir, "go"), "")
	r := &removingReader{OSDirReader: NewOSDirReader(), victim: filepath.Join(dir, "go")}
	entries, st, err := ScanDir(context.Background(), r, dir, Limits{})
	if err != nil || len(entries) != 1 || entries[0].Name != "stay" || st.Vanished != 1 {
		t.Errorf("entries %+v stats %+v err %v", entries, st, err)
	}
}

// removingReader deletes a file right after the directory was read.
type removingReader struct {
	*OSDirReader
	victim string
}

func (r *removingReader) ReadNames(ctx context.Context, path string, fn func([]string) bool) error {
	err := r.OSDirReader.ReadNames(ctx, path, fn)
	os.Remove(r.victim)
	return err
}

func TestScanDirChecksContextBetweenEntries(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := &fakeReader{names: []string{"a", "b", "c"}, onLstat: cancel}
	_, _, err := ScanDir(ctx, r, "/d", Limits{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
}

func TestScanDirHungReader(t *testing.T) {
	// An injected reader that never returns (a dead NFS server): the
	// default OS reader's goroutine keeps the caller to its deadline.
	release := make(chan struct{})
	defer close(release)
	r := NewOSDirReader()
	var calls atomic.Int32
	r.readNames = func(path string, fn func([]string) bool) error {
		if path != "/mnt/nfs/crash" {
			return osReadNames(path, fn)
		}
		calls.Add(1)
		<-release
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, _, err := ScanDir(ctx, r, "/mnt/nfs/crash", Limits{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}

	// Later scrapes of the same directory wait for the lane, not the
	// kernel, and never start a second call while the first is hung.
	var wg sync.WaitGroup
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			defer cancel()
			if _, _, err := ScanDir(ctx, r, "/mnt/nfs/crash", Limits{}); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("err = %v", err)
			}
		}()
	}
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Errorf("%d calls started on a hung directory, want 1", n)
	}
	// Another directory is not held up by the hung one.
	dir := t.TempDir()
	mkfile(t, filepath.Join(dir, "x"), "")
	entries, _, err := ScanDir(context.Background(), r, dir, Limits{})
	if err != nil || len(entries) != 1 {
		t.Errorf("other dir: %v %v", entries, err)
	}
	if n := r.lanesInUse(); n != 1 {
		t.Errorf("%d lanes in use, want 1 (the hung directory)", n)
	}
}

func TestOSDirReaderLaneReleased(t *testing.T) {
	release := make(chan struct{})
	r := NewOSDirReader()
	r.lstat = func(path string) (fs.FileInfo, error) {
		<-release
		return fakeInfo(filepath.Base(path)), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := r.Lstat(ctx, "/hung/x"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	close(release)
	// Once the hung call returns its lane is dropped and calls work again.
	deadline := time.Now().Add(5 * time.Second)
	for r.lanesInUse() != 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := r.lanesInUse(); n != 0 {
		t.Fatalf("%d lanes left", n)
	}
	fi, err := r.Lstat(context.Background(), "/hung/y")
	if err != nil || fi.Name() != "y" {
		t.Errorf("after release: %v %v", fi, err)
	}
}

func TestScanDirBlockingFakeReader(t *testing.T) {
	// A DirReader that ignores its context entirely still cannot make
	// ScanDir report success after the deadline.
	block := make(chan struct{})
	r := &fakeReader{names: []string{"a"}, block: block}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	go func() { time.Sleep(60 * time.Millisecond); close(block) }()
	if _, _, err := ScanDir(ctx, r, "/d", Limits{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v", err)
	}
}

func TestReadTail(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "vmcore-dmesg.txt")
	mkfile(t, small, "line1\nline2\n")
	b, err := ReadTail(small, 1024)
	if err != nil || string(b) != "line1\nline2\n" {
		t.Errorf("small: %q %v", b, err)
	}
	b, err = ReadTail(small, 6)
	if err != nil || string(b) != "line2\n" {
		t.Errorf("tail: %q %v", b, err)
	}
	if _, err := ReadTail(small, 0); err == nil {
		t.Error("zero cap accepted")
	}
	empty := filepath.Join(dir, "empty")
	mkfile(t, empty, "")
	if b, err := ReadTail(empty, 10); err != nil || len(b) != 0 {
		t.Errorf("empty: %q %v", b, err)
	}
}

func TestReadTailSparseGiB(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vmcore")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	const size = 1 << 30
	marker := []byte("\n[ 1.0] Kernel panic - not syncing: Fatal exception\n")
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(marker, size-int64(len(marker))); err != nil {
		t.Fatal(err)
	}
	f.Close()
	b, err := ReadTail(path, 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 64<<10 || !bytes.HasSuffix(b, marker) {
		t.Fatalf("got %d bytes", len(b))
	}
	if r := Classify(b); r.Class != ClassOops || r.Panic != "Fatal exception" {
		t.Errorf("classified %+v", r)
	}
}

func TestKindString(t *testing.T) {
	if KindFIFO.String() != "fifo" || Kind(42).String() != "other" {
		t.Error("Kind.String")
	}
}

// A FIFO where a crash directory should be is refused at once: opening it
// for listing must not wait for a writer.
func TestOSReadNamesRefusesFIFO(t *testing.T) {
	p := filepath.Join(t.TempDir(), "crash")
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- osReadNames(p, func([]string) bool { return true }) }()
	select {
	case err := <-done:
		if fsutil.Reason(err) != "not_regular" {
			t.Errorf("FIFO listed: %v (reason %q), want not_regular", err, fsutil.Reason(err))
		}
	case <-time.After(30 * time.Second):
		t.Fatal("listing a FIFO blocked")
	}
}

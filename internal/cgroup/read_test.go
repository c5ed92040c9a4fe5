package cgroup

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

func readFixture(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReader(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "kubepods.slice")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dir, "memory.stat"), "anon 1\n")
	write(filepath.Join(sub, "pids.max"), "max\n")
	write(filepath.Join(sub, "exact"), strings.Repeat("x", 16))
	write(filepath.Join(sub, "big"), strings.Repeat("x", 17))
	if err := os.Symlink(filepath.Join(sub, "pids.max"), filepath.Join(sub, "link")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(sub, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}

	r := NewReader(16)
	if b, err := r.ReadFile(dir, "/", "memory.stat"); err != nil || string(b) != "anon 1\n" {
		t.Errorf("root file: %q, %v", b, err)
	}
	if b, err := r.ReadFile(dir, "/kubepods.slice", "pids.max"); err != nil || string(b) != "max\n" {
		t.Errorf("child file: %q, %v", b, err)
	}
	if b, err := r.Read(filepath.Join(sub, "exact")); err != nil || len(b) != 16 {
		t.Errorf("file of exactly the cap: %d bytes, %v", len(b), err)
	}
	if _, err := r.Read(filepath.Join(sub, "big")); !errors.Is(err, fsutil.ErrTooLarge) {
		t.Errorf("file over the cap: %v", err)
	}
	if _, err := r.ReadFile(dir, "/gone", "pids.max"); !fsutil.IsNotExist(err) || fsutil.Reason(err) != "missing" {
		t.Errorf("missing file: %v", err)
	}
	if _, err := r.ReadFile(dir, "/kubepods.slice", "link"); fsutil.Reason(err) != "symlink" {
		t.Errorf("symlink: %v (reason %q)", err, fsutil.Reason(err))
	}
	// A FIFO without writer reads as empty instead of blocking; it is
	// refused as not regular, not passed on as an empty (garbage) file.
	if b, err := r.ReadFile(dir, "/kubepods.slice", "fifo"); fsutil.Reason(err) != "not_regular" {
		t.Errorf("fifo: %q, %v (reason %q)", b, err, fsutil.Reason(err))
	}
	// With a writer holding it open and nothing written, the read says
	// EAGAIN: still not regular, not an I/O error.
	w, err := os.OpenFile(filepath.Join(sub, "fifo"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := r.ReadFile(dir, "/kubepods.slice", "fifo"); fsutil.Reason(err) != "not_regular" {
		t.Errorf("fifo with a writer: %q, %v (reason %q)", b, err, fsutil.Reason(err))
	}
	w.Close()
	// An empty regular file is read as empty: the parsers judge it.
	write(filepath.Join(sub, "empty"), "")
	if b, err := r.ReadFile(dir, "/kubepods.slice", "empty"); err != nil || len(b) != 0 {
		t.Errorf("empty file: %q, %v", b, err)
	}
	if _, err := r.ReadFile(dir, "/", "kubepods.slice"); fsutil.Reason(err) != "not_regular" {
		t.Errorf("directory: %v", err)
	}
	if _, err := r.Read(dir + "/memory.stat\x00x"); err == nil {
		t.Error("path with NUL accepted")
	}
	// The buffer is reused: the earlier result must not have been copied.
	a, _ := r.ReadFile(dir, "/", "memory.stat")
	_, _ = r.ReadFile(dir, "/kubepods.slice", "pids.max")
	if string(a[:4]) != "max\n" {
		t.Errorf("buffer not reused: %q", a)
	}
}

func TestReaderDoesNotAllocate(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pids.current"), []byte("12\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := GetReader()
	defer PutReader(r)
	n := testing.AllocsPerRun(100, func() {
		b, err := r.ReadFile(dir, "/", "pids.current")
		if err != nil || len(b) != 3 {
			t.Fatal(b, err)
		}
	})
	if n != 0 {
		t.Errorf("ReadFile allocates %v times per read", n)
	}
}

func TestReaderReadIn(t *testing.T) {
	root := t.TempDir()
	mkTree(t, root, "a")
	if err := os.WriteFile(filepath.Join(root, "a", "pids.max"), []byte("64\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := NewReader(0)
	got := map[string]string{}
	allocs := 0.0
	_, err := Walker{}.WalkDirs(context.Background(), root, func(d *Dir) error {
		b, err := r.ReadIn(d, "pids.max")
		if fsutil.IsNotExist(err) {
			got[d.Rel] = "missing"
			return nil
		}
		if err != nil {
			return err
		}
		got[d.Rel] = string(b)
		if _, err := r.ReadIn(d, "../pids.max"); err == nil {
			t.Error("ReadIn followed a path")
		}
		allocs = testing.AllocsPerRun(50, func() { _, _ = r.ReadIn(d, "pids.max") })
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, map[string]string{"/": "missing", "/a": "64\n"}) {
		t.Errorf("got %q", got)
	}
	if allocs != 0 {
		t.Errorf("ReadIn allocates %v times per read", allocs)
	}
}

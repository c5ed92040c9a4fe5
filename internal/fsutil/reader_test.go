package fsutil

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestTreeStat(t *testing.T) {
	host, outside := treeFixture(t)
	root := filepath.Join(host, "proc")
	tree := NewTree(root)
	dir := filepath.Join(root, "sys/kernel")
	img := filepath.Join(dir, "image")
	if err := os.WriteFile(img, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	when := time.Date(2024, 5, 14, 9, 41, 27, 0, time.UTC)
	if err := os.Chtimes(img, when, when); err != nil {
		t.Fatal(err)
	}
	symlink(t, "image", filepath.Join(dir, "link"))
	symlink(t, filepath.Join(outside, "shadow"), filepath.Join(dir, "out"))
	symlink(t, "loop", filepath.Join(dir, "loop"))
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}

	for _, name := range []string{"image", "link"} {
		fi, err := tree.Stat(filepath.Join(dir, name))
		if err != nil || !fi.ModTime().Equal(when) || !fi.Mode().IsRegular() {
			t.Errorf("%s: %v %v", name, fi, err)
		}
	}
	// The FIFO is stat'ed, not opened for reading: no blocking.
	done := make(chan error, 1)
	go func() {
		fi, err := tree.Stat(filepath.Join(dir, "fifo"))
		if err == nil && fi.Mode()&os.ModeNamedPipe == 0 {
			err = fmt.Errorf("mode %v", fi.Mode())
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("fifo: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Stat blocked on a FIFO")
	}
	for _, name := range []string{"out", "loop"} {
		if _, err := tree.Stat(filepath.Join(dir, name)); Reason(err) != "symlink" {
			t.Errorf("%s: got %v, want a symlink refusal", name, err)
		}
	}
	if _, err := tree.Stat(filepath.Join(dir, "absent")); !IsNotExist(err) {
		t.Errorf("absent: %v", err)
	}
}

func TestTreeReadDirNames(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 5; i++ {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d", 4-i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tree := NewTree(dir)
	names, err := tree.ReadDirNames(dir, 10)
	if err != nil || fmt.Sprint(names) != "[f0 f1 f2 f3 f4]" {
		t.Errorf("got %v %v", names, err)
	}
	names, err = tree.ReadDirNames(dir, 3)
	if !errors.Is(err, ErrTooLarge) || len(names) != 3 {
		t.Errorf("capped: got %v %v", names, err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := tree.ReadDirNames(fifo, 10); Reason(err) != "not_regular" {
		t.Errorf("fifo as directory: %v", err)
	}
}

func TestTreeReadlink(t *testing.T) {
	host, outside := treeFixture(t)
	root := filepath.Join(host, "proc")
	tree := NewTree(root)
	symlink(t, "/boot/vmlinuz-6.4.0-150600.23.25-default", filepath.Join(root, "kernel"))
	if got, err := tree.Readlink(filepath.Join(root, "kernel")); err != nil || got != "/boot/vmlinuz-6.4.0-150600.23.25-default" {
		t.Errorf("got %q %v", got, err)
	}
	if _, err := tree.Readlink(filepath.Join(root, "4242/mounts")); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("regular file: %v", err)
	}
	// A directory on the way that leads out of the tree is refused.
	symlink(t, outside, filepath.Join(root, "away"))
	symlink(t, "x", filepath.Join(outside, "link"))
	if _, err := tree.Readlink(filepath.Join(root, "away/link")); Reason(err) != "symlink" {
		t.Errorf("via a directory out of the tree: %v", err)
	}
}

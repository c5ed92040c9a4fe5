package fsutil

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestReadFileAndValues(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if v, err := ReadInt(write("neg", "-1\n")); err != nil || v != -1 {
		t.Errorf("ReadInt: %v %v", v, err)
	}
	if v, err := ReadUint(write("big", "18446744073709551615\n")); err != nil || v != 1<<64-1 {
		t.Errorf("ReadUint: %v %v", v, err)
	}
	if s, err := ReadString(write("s", "  core\n")); err != nil || s != "core" {
		t.Errorf("ReadString: %q %v", s, err)
	}
	for _, garbage := range []string{"", "12abc", "\x00\xff", "1 2"} {
		_, err := ReadInt(write("g", garbage))
		if !errors.Is(err, ErrGarbage) || Reason(err) != "garbage" {
			t.Errorf("%q: want garbage, got %v", garbage, err)
		}
	}
	p := write("large", strings.Repeat("x", 100))
	if _, err := ReadFile(p, 99); !errors.Is(err, ErrTooLarge) || Reason(err) != "too_large" {
		t.Errorf("cap: %v", err)
	}
	if b, err := ReadFile(p, 100); err != nil || len(b) != 100 {
		t.Errorf("exactly the cap must be read: %d %v", len(b), err)
	}
}

func TestRefusesSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := ReadFile(fifo, 10); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrNotRegular) || Reason(err) != "not_regular" {
			t.Errorf("FIFO: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("opening a FIFO blocked")
	}
	if _, err := ReadFile(dir, 10); !errors.Is(err, ErrNotRegular) {
		t.Errorf("directory: %v", err)
	}
	loop := filepath.Join(dir, "loop")
	os.Symlink(loop, loop)
	if _, err := ReadFile(loop, 10); Reason(err) != "symlink" {
		t.Errorf("symlink loop: %v (%s)", err, Reason(err))
	}
	target := filepath.Join(dir, "target")
	os.WriteFile(target, []byte("1"), 0o644)
	link := filepath.Join(dir, "link")
	os.Symlink(target, link)
	if _, _, err := Open(link, true); !errors.Is(err, ErrSymlink) {
		t.Errorf("nofollow must refuse a symlink: %v", err)
	}
	if f, _, err := Open(link, false); err != nil {
		t.Errorf("following a symlink when allowed: %v", err)
	} else {
		f.Close()
	}
}

func TestAbsenceIsNotAnError(t *testing.T) {
	dir := t.TempDir()
	_, err := ReadFile(filepath.Join(dir, "missing"), 10)
	if !IsNotExist(err) || Reason(err) != "missing" {
		t.Errorf("missing: %v", err)
	}
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	if _, err := ReadFile(filepath.Join(file, "below"), 10); !IsNotExist(err) {
		t.Errorf("a path below a file (ENOTDIR) means absent: %v", err)
	}
	if Reason(&fs.PathError{Err: fs.ErrPermission}) != "permission" || Reason(nil) != "" || Reason(errors.New("x")) != "io" {
		t.Error("reason mapping")
	}
}

package kmsg

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

func sparse(t *testing.T, path string, size int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
}

// readAll reads a source to its end, one record per read.
func readAll(t *testing.T, s Source) []string {
	t.Helper()
	var out []string
	buf := make([]byte, 256)
	for {
		n, err := s.Read(buf)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(buf[:n]))
	}
}

// TestPathOpenerReplaysRegularFile: a regular file is served one record per
// read from its start, or from its end; a record larger than the buffer is
// EINVAL, as from the device.
func TestPathOpenerReplaysRegularFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stream")
	recs := "6,0,1,-;one\n6,1,2,-;two\n"
	if err := os.WriteFile(path, []byte(recs), 0o644); err != nil {
		t.Fatal(err)
	}
	p := NewPathOpener(path)
	if !p.Recorded() {
		t.Fatal("a regular file not taken for a recorded stream")
	}
	s, err := p.Open(FromBeginning)
	if err != nil || p.Problem() != nil {
		t.Fatal(err, p.Problem())
	}
	if got := readAll(t, s); strings.Join(got, "") != recs || len(got) != 2 {
		t.Fatalf("read %q", got)
	}
	s, _ = p.Open(FromBeginning)
	if _, err := s.Read(make([]byte, 4)); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("short buffer: %v", err)
	}
	s, _ = p.Open(FromEnd)
	if got := readAll(t, s); len(got) != 0 {
		t.Fatalf("from the end: %q", got)
	}
	if NewPathOpener("/dev/null").Recorded() || NewPathOpener(filepath.Join(t.TempDir(), "absent")).Recorded() {
		t.Error("a device or a missing path taken for a recorded stream")
	}
}

// TestPathOpenerOverCapNotRead: the cap is enforced by the file's size
// before reading it. Reading 64 MiB first (at start and at every retry)
// took long enough under load for the collector's first scrape to give up
// waiting and see the follower still "starting".
func TestPathOpenerOverCapNotRead(t *testing.T) {
	huge := filepath.Join(t.TempDir(), "huge")
	sparse(t, huge, ReplayMax+1)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := NewPathOpener(huge).Open(FromBeginning)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, fsutil.ErrTooLarge) || fsutil.Reason(err) != "too_large" {
		t.Fatalf("err = %v, want too large", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 8<<20 {
		t.Errorf("refusing an over-cap file allocated %d bytes: it was read first", got)
	}
	// At the cap exactly, it is read; one byte more is refused.
	small := filepath.Join(t.TempDir(), "small")
	if err := os.WriteFile(small, []byte(strings.Repeat("x", 100)), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := readReplay(small, 100); err != nil || len(b) != 100 {
		t.Fatalf("a file of exactly the cap: %d bytes, %v", len(b), err)
	}
	if _, err := readReplay(small, 99); !errors.Is(err, fsutil.ErrTooLarge) {
		t.Fatalf("a file one byte over the cap: %v", err)
	}
}

// TestPathOpenerProblem: Problem names an unusable recorded stream until
// an open succeeds; a vanished file or a device is no file problem.
func TestPathOpenerProblem(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "stream")
	sparse(t, path, ReplayMax+1)
	p := NewPathOpener(path)
	if _, err := p.Open(FromBeginning); err == nil || fsutil.Reason(p.Problem()) != "too_large" {
		t.Fatalf("open %v, problem %v", err, p.Problem())
	}
	if err := os.WriteFile(path, []byte("6,0,1,-;one\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Open(FromBeginning); err != nil || p.Problem() != nil {
		t.Fatalf("usable again: open %v, problem %v", err, p.Problem())
	}
	sparse(t, path, ReplayMax+1)
	p.Open(FromBeginning)
	os.Remove(path)
	if _, err := p.Open(FromBeginning); reasonOf(err) != ReasonNotFound || p.Problem() != nil {
		t.Fatalf("vanished: open %v (%s), problem %v", err, reasonOf(err), p.Problem())
	}
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
	// A directory is opened as a device (its reads fail): no file problem.
	if s, err := p.Open(FromBeginning); err == nil {
		s.Close()
	}
	if p.Problem() != nil {
		t.Fatalf("a directory: problem %v", p.Problem())
	}
}

package kmsg

import (
	"bytes"
	"io"
	"io/fs"
	"os"
	"sync/atomic"
	"syscall"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

// ReplayMax caps a recorded stream replayed from a regular file.
const ReplayMax = 64 << 20

// PathOpener opens the kernel log named by a path: a device is followed
// (DeviceOpener), a regular file is replayed as a recorded stream of
// /dev/kmsg records (for tests and fixture hosts) and read again at every
// open. It is safe for concurrent use.
type PathOpener struct {
	path     string
	device   Opener
	recorded bool
	problem  atomic.Pointer[error]
}

// NewPathOpener returns the opener of path.
func NewPathOpener(path string) *PathOpener {
	fi, err := os.Stat(path)
	return &PathOpener{path: path, device: DeviceOpener(path), recorded: err == nil && fi.Mode().IsRegular()}
}

// Recorded reports whether the path was a regular file, a recorded stream,
// when the opener was made.
func (p *PathOpener) Recorded() bool { return p.recorded }

// Problem is why the last open could not use the path as a recorded
// stream (unreadable, larger than ReplayMax, ...): a problem of a file
// rather than of the device. It is nil when that open succeeded, found a
// device, or found the file gone.
func (p *PathOpener) Problem() error {
	if e := p.problem.Load(); e != nil {
		return *e
	}
	return nil
}

// Open opens the path at pos; a recorded stream ends with io.EOF.
func (p *PathOpener) Open(pos Position) (Source, error) {
	fi, err := os.Stat(p.path)
	if err != nil || !fi.Mode().IsRegular() {
		p.problem.Store(nil)
		return p.device(pos)
	}
	b, err := readReplay(p.path, ReplayMax)
	if err != nil && !fsutil.IsNotExist(err) {
		p.problem.Store(&err)
	} else {
		p.problem.Store(nil)
	}
	if err != nil {
		return nil, err
	}
	s := &replaySource{recs: SplitRecords(b)}
	if pos == FromEnd {
		s.next = len(s.recs)
	}
	return s, nil
}

// readReplay reads a recorded stream of at most max bytes. A larger file
// is refused by its size before any of it is read: reading 64 MiB to find
// out (again at every retry) took seconds under load.
func readReplay(path string, max int64) ([]byte, error) {
	f, fi, err := fsutil.Open(path, false)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi.Size() > max {
		return nil, &fs.PathError{Op: "read", Path: path, Err: fsutil.ErrTooLarge}
	}
	// The cap also holds for a file that grows after the fstat.
	buf := bytes.NewBuffer(make([]byte, 0, fi.Size()+bytes.MinRead))
	if _, err := buf.ReadFrom(io.LimitReader(f, max+1)); err != nil {
		return nil, &fs.PathError{Op: "read", Path: path, Err: err}
	}
	if int64(buf.Len()) > max {
		return nil, &fs.PathError{Op: "read", Path: path, Err: fsutil.ErrTooLarge}
	}
	return buf.Bytes(), nil
}

// replaySource serves a recorded stream one record per read, like the
// device; at its end it reports EOF (the follower then polls, and a reopen
// reads the file again).
type replaySource struct {
	recs [][]byte
	next int
}

func (s *replaySource) Read(b []byte) (int, error) {
	if s.next >= len(s.recs) {
		return 0, io.EOF
	}
	r := s.recs[s.next]
	if len(b) < len(r) {
		return 0, syscall.EINVAL
	}
	s.next++
	return copy(b, r), nil
}

func (s *replaySource) Close() error { return nil }

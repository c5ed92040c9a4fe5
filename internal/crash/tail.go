package crash

import (
	"errors"
	"io"
	"io/fs"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

// ReadTail returns at most the last max bytes of a regular file. It opens
// without following a final symlink and refuses FIFOs, sockets, devices and
// directories (fsutil.Open), and seeks rather than reads past the start, so
// a huge or sparse vmcore costs one read of max bytes. A file reporting size
// 0 (a pseudo file) is read from its start, up to max bytes.
func ReadTail(path string, max int64) ([]byte, error) { return ReadTailIn(nil, path, max) }

// ReadTailIn is ReadTail for a file that must lie inside tree t.
func ReadTailIn(t *fsutil.Tree, path string, max int64) ([]byte, error) {
	if max <= 0 {
		return nil, &fs.PathError{Op: "read", Path: path, Err: errors.New("non-positive read cap")}
	}
	f, fi, err := t.Open(path, true)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size := fi.Size()
	n := max
	if size > max {
		if _, err := f.Seek(size-max, io.SeekStart); err != nil {
			return nil, &fs.PathError{Op: "seek", Path: path, Err: err}
		}
	} else if size > 0 {
		n = size
	}
	buf := make([]byte, n)
	got, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, &fs.PathError{Op: "read", Path: path, Err: err}
	}
	return buf[:got], nil
}

package crash

import (
	"bytes"
	"errors"
	"fmt"
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

// ReadHead returns at most the first max bytes of a regular file, opened as
// ReadTail opens it.
func ReadHead(path string, max int64) ([]byte, error) { return ReadHeadIn(nil, path, max) }

// ReadHeadIn is ReadHead for a file that must lie inside tree t.
func ReadHeadIn(t *fsutil.Tree, path string, max int64) ([]byte, error) {
	f, _, err := t.Open(path, true)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max))
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: path, Err: err}
	}
	return b, nil
}

// TextTail returns the part of a kernel log tail read from path that
// follows its last NUL byte. A kernel never writes NULs into
// vmcore-dmesg.txt, dmesg.<stamp>, an apport report or an uncompressed
// pstore record; a file system that crashed while the log was written
// leaves zeroed blocks (holes) before the text that did reach the disk.
// A tail with no text after its last NUL is garbage (a sparse or binary
// file under a log's name), not a log without a reason.
func TextTail(path string, b []byte) ([]byte, error) {
	i := bytes.LastIndexByte(b, 0)
	if i < 0 {
		return b, nil
	}
	if rest := b[i+1:]; len(bytes.TrimSpace(rest)) > 0 {
		return rest, nil
	}
	return nil, &fs.PathError{Op: "parse", Path: path, Err: fmt.Errorf("%w: only NUL bytes at the end of a kernel log", fsutil.ErrGarbage)}
}

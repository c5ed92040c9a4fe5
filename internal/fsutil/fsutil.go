// Package fsutil reads kernel and configuration files defensively: files are
// opened without following a final symlink and without blocking on FIFOs,
// only regular files (or the pseudo files of /proc and /sys) are read, and
// never more than a byte cap.
package fsutil

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// DefaultMax is the cap for small kernel and configuration files.
const DefaultMax = 1 << 20

// ErrNotRegular is returned for FIFOs, sockets, devices and directories.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is returned when a file holds more than the cap allows.
var ErrTooLarge = errors.New("file larger than read cap")

// ErrGarbage is returned by the value parsers for contents that do not parse.
var ErrGarbage = errors.New("unparsable contents")

// Open opens path read-only for reading, refusing anything that is not a
// regular file. O_NONBLOCK keeps a FIFO planted in a scanned tree from
// blocking the open; O_NOFOLLOW refuses a final symlink when nofollow is set.
func Open(path string, nofollow bool) (*os.File, fs.FileInfo, error) {
	flags := os.O_RDONLY | syscall.O_NONBLOCK | syscall.O_CLOEXEC
	if nofollow {
		flags |= syscall.O_NOFOLLOW
	}
	f, err := os.OpenFile(path, flags, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, nil, &fs.PathError{Op: "open", Path: path, Err: ErrSymlink}
		}
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, &fs.PathError{Op: "open", Path: path, Err: ErrNotRegular}
	}
	return f, fi, nil
}

// ErrSymlink is returned when a symlink is refused.
var ErrSymlink = errors.New("refusing to follow symlink")

// ReadFile reads at most max bytes of a regular file. A file longer than max
// yields ErrTooLarge; the kernel's pseudo files report size 0 or 4096, so the
// cap is enforced on what is read, not on the reported size.
func ReadFile(path string, max int64) ([]byte, error) {
	f, _, err := Open(path, false)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: path, Err: err}
	}
	if int64(len(buf)) > max {
		return nil, &fs.PathError{Op: "read", Path: path, Err: ErrTooLarge}
	}
	return buf, nil
}

// ReadString reads a small file and trims surrounding whitespace.
func ReadString(path string) (string, error) {
	b, err := ReadFile(path, DefaultMax)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// ReadInt reads a file holding one signed decimal integer.
func ReadInt(path string) (int64, error) {
	s, err := ReadString(path)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, &fs.PathError{Op: "parse", Path: path, Err: fmt.Errorf("%w: %q", ErrGarbage, truncate(s, 40))}
	}
	return v, nil
}

// ReadUint reads a file holding one unsigned decimal integer.
func ReadUint(path string) (uint64, error) {
	s, err := ReadString(path)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, &fs.PathError{Op: "parse", Path: path, Err: fmt.Errorf("%w: %q", ErrGarbage, truncate(s, 40))}
	}
	return v, nil
}

// IsNotExist reports whether err means the file (or a directory above it)
// is absent: the host lacks the feature, which is not a failure.
func IsNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// Reason maps an error to a short, bounded label value for error metrics.
func Reason(err error) string {
	switch {
	case err == nil:
		return ""
	case IsNotExist(err):
		return "missing"
	case errors.Is(err, fs.ErrPermission):
		return "permission"
	case errors.Is(err, ErrTooLarge):
		return "too_large"
	case errors.Is(err, ErrNotRegular):
		return "not_regular"
	case errors.Is(err, ErrSymlink), errors.Is(err, syscall.ELOOP):
		return "symlink"
	case errors.Is(err, ErrGarbage):
		return "garbage"
	default:
		return "io"
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

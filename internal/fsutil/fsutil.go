// Package fsutil reads kernel and configuration files defensively: a path is
// first opened with O_PATH, which opens nothing, so a FIFO cannot block and
// a device node is never really opened; only a regular file (or a pseudo
// file of /proc and /sys) is then opened for reading, never more than a byte
// cap is read, and a file opened through a Tree must lie inside it.
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

	"golang.org/x/sys/unix"
)

// DefaultMax is the cap for small kernel and configuration files.
const DefaultMax = 1 << 20

// ErrNotRegular is returned for FIFOs, sockets, devices and directories.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is returned when a file holds more than the cap allows.
var ErrTooLarge = errors.New("file larger than read cap")

// ErrGarbage is returned by the value parsers for contents that do not parse.
var ErrGarbage = errors.New("unparsable contents")

// ErrSymlink is returned when a symlink is refused: a final symlink where
// none is allowed, a symlink loop, or a path that leads out of its Tree.
var ErrSymlink = errors.New("refusing to follow symlink")

// Open opens path read-only, refusing anything that is not a regular file.
// When nofollow is set a final symlink is refused too. It checks no Tree.
func Open(path string, nofollow bool) (*os.File, fs.FileInfo, error) {
	return (*Tree)(nil).Open(path, nofollow)
}

// ReadFile reads at most max bytes of a regular file. It checks no Tree.
func ReadFile(path string, max int64) ([]byte, error) {
	return (*Tree)(nil).ReadFile(path, max)
}

// ReadString reads a small file and trims surrounding whitespace.
func ReadString(path string) (string, error) { return (*Tree)(nil).ReadString(path) }

// ReadInt reads a file holding one signed decimal integer.
func ReadInt(path string) (int64, error) { return (*Tree)(nil).ReadInt(path) }

// ReadUint reads a file holding one unsigned decimal integer.
func ReadUint(path string) (uint64, error) { return (*Tree)(nil).ReadUint(path) }

// Open opens path read-only, refusing anything that is not a regular file
// and, unless t is nil, anything that resolves outside t.
//
// The path is opened with O_PATH first: that opens neither a FIFO (which
// would block) nor a device (whose open may act, as /dev/watchdog's does),
// and it lets the file's type and real location be checked before anything
// is read. The file is then reopened through /proc/self/fd, which reaches
// exactly the inode checked, so nothing can be swapped in between.
func (t *Tree) Open(path string, nofollow bool) (*os.File, fs.FileInfo, error) {
	flags := unix.O_PATH | unix.O_CLOEXEC
	if nofollow {
		flags |= unix.O_NOFOLLOW
	}
	pfd, err := openRetry(path, flags)
	if err != nil {
		if err == unix.ELOOP {
			return nil, nil, &fs.PathError{Op: "open", Path: path, Err: ErrSymlink}
		}
		return nil, nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(pfd)
	var st unix.Stat_t
	if err := unix.Fstat(pfd, &st); err != nil {
		return nil, nil, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
	case unix.S_IFLNK: // O_PATH|O_NOFOLLOW opens the link itself
		return nil, nil, &fs.PathError{Op: "open", Path: path, Err: ErrSymlink}
	default:
		return nil, nil, &fs.PathError{Op: "open", Path: path, Err: ErrNotRegular}
	}
	if err := t.contains(pfd, path); err != nil {
		return nil, nil, err
	}
	f, err := reopen(pfd, path, flags&unix.O_NOFOLLOW, &st)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// reopen opens the file an O_PATH descriptor refers to for reading. Without
// /proc in the exporter's mount namespace the path is opened again, with
// O_NONBLOCK, and must still name the same inode.
func reopen(pfd int, path string, nofollow int, want *unix.Stat_t) (*os.File, error) {
	rd := unix.O_RDONLY | unix.O_NONBLOCK | unix.O_CLOEXEC
	fd, err := openRetry(fdLink(pfd), rd)
	if err != nil {
		// No /proc here, or the reopen refused: an open by path fails the
		// same way when the file is unreadable.
		fd, err = openRetry(path, rd|nofollow)
		if err == nil {
			var st unix.Stat_t
			if err = unix.Fstat(fd, &st); err == nil && (st.Dev != want.Dev || st.Ino != want.Ino) {
				err = unix.ENOENT // replaced since it was checked: gone
			}
			if err != nil {
				unix.Close(fd)
			}
		}
	}
	if err != nil {
		if err == unix.ELOOP {
			err = ErrSymlink
		}
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

func openRetry(path string, flags int) (int, error) {
	for {
		fd, err := unix.Open(path, flags, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

func fdLink(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// ReadFile reads at most max bytes of a regular file below t. A file longer
// than max yields ErrTooLarge; the kernel's pseudo files report size 0 or a
// page, so the cap is enforced on what is read, not on the reported size.
func (t *Tree) ReadFile(path string, max int64) ([]byte, error) {
	f, _, err := t.Open(path, false)
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

// ReadString reads a small file below t and trims surrounding whitespace.
func (t *Tree) ReadString(path string) (string, error) {
	b, err := t.ReadFile(path, DefaultMax)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// ReadInt reads a file below t holding one signed decimal integer.
func (t *Tree) ReadInt(path string) (int64, error) {
	s, err := t.ReadString(path)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, Garbage(path, "want a decimal integer, got "+Excerpt(s))
	}
	return v, nil
}

// ReadUint reads a file below t holding one unsigned decimal integer.
func (t *Tree) ReadUint(path string) (uint64, error) {
	s, err := t.ReadString(path)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, Garbage(path, "want an unsigned decimal integer, got "+Excerpt(s))
	}
	return v, nil
}

// Garbage is the error for a file at path whose contents do not parse; what
// says what was wrong and quotes at most an Excerpt of the contents.
func Garbage(path, what string) error {
	return &fs.PathError{Op: "parse", Path: path, Err: fmt.Errorf("%w: %s", ErrGarbage, what)}
}

// ExcerptMax is the most bytes of a file's contents an error message quotes.
const ExcerptMax = 16

// Excerpt quotes the start of contents that failed to parse, for an error
// message: at most ExcerptMax bytes, control and non-ASCII bytes escaped,
// and the full length when it was cut. Nothing else of a file's contents
// ever goes into an error or a log line: the file may not be what it claims
// to be.
func Excerpt(s string) string {
	if len(s) <= ExcerptMax {
		return strconv.QuoteToASCII(s)
	}
	return strconv.QuoteToASCII(s[:ExcerptMax]) + "… (" + strconv.Itoa(len(s)) + " bytes)"
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

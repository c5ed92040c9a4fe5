package fsutil

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"golang.org/x/sys/unix"
)

// Reader is what domain packages read the host through: files, directory
// listings, metadata and symlink targets below the configured trees. Trees
// implements it (each path is checked against the tree it was joined
// below); tests may pass nil Trees, which check nothing.
type Reader interface {
	ReadFile(path string, max int64) ([]byte, error)
	// ReadDirNames lists at most max entries of dir, sorted. With more,
	// it returns the first max it saw together with an ErrTooLarge error.
	ReadDirNames(dir string, max int) ([]string, error)
	// Stat follows symlinks like os.Stat but opens nothing (a FIFO cannot
	// block, a device is not opened) and refuses what leads out of the tree.
	Stat(path string) (fs.FileInfo, error)
	// Readlink returns a symlink's target without following it.
	Readlink(path string) (string, error)
}

var _ Reader = Trees(nil)

// ReadFile reads path below the tree it was joined below.
func (ts Trees) ReadFile(path string, max int64) ([]byte, error) {
	return ts.Find(path).ReadFile(path, max)
}

// ReadDirNames lists dir below the tree it was joined below.
func (ts Trees) ReadDirNames(dir string, max int) ([]string, error) {
	return ts.Find(dir).ReadDirNames(dir, max)
}

// Stat stats path below the tree it was joined below.
func (ts Trees) Stat(path string) (fs.FileInfo, error) { return ts.Find(path).Stat(path) }

// Readlink reads the symlink path below the tree it was joined below.
func (ts Trees) Readlink(path string) (string, error) { return ts.Find(path).Readlink(path) }

// Stat returns the metadata of path, following symlinks. It opens the path
// with O_PATH only: no read permission is needed (a 0600 initramfs can be
// stat'ed by an unprivileged exporter), a FIFO cannot block and a device's
// open routine never runs. A path that resolves outside t is refused with
// ErrSymlink, a symlink loop too.
func (t *Tree) Stat(path string) (fs.FileInfo, error) {
	pfd, err := openRetry(path, unix.O_PATH|unix.O_CLOEXEC)
	if err != nil {
		if err == unix.ELOOP {
			err = ErrSymlink
		}
		return nil, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(pfd), path)
	defer f.Close()
	if err := t.contains(pfd, path); err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	return fi, nil
}

// ReadDirNames lists at most max entries of the directory dir below t,
// sorted. A FIFO in the directory's place is refused instead of blocking.
// A directory with more than max entries yields the first max read and an
// error wrapping ErrTooLarge.
func (t *Tree) ReadDirNames(dir string, max int) ([]string, error) {
	f, err := t.OpenDir(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var names []string
	for len(names) <= max {
		batch, err := f.Readdirnames(256)
		names = append(names, batch...)
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, &fs.PathError{Op: "readdir", Path: dir, Err: err}
		}
	}
	var tooMany error
	if len(names) > max {
		names = names[:max]
		tooMany = &fs.PathError{Op: "readdir", Path: dir, Err: fmt.Errorf("%w: more than %d entries", ErrTooLarge, max)}
	}
	sort.Strings(names)
	return names, tooMany
}

// Readlink returns the target of the symlink path without following it.
// The directory holding it must lie inside t; the target is returned as
// written (an absolute target names a path of the inspected system, to be
// resolved below its root by the caller). A path that is not a symlink
// yields EINVAL, as readlink(2) does.
func (t *Tree) Readlink(path string) (string, error) {
	d, err := t.OpenDir(filepath.Dir(path))
	if err != nil {
		return "", err
	}
	defer d.Close()
	buf := make([]byte, 256)
	for {
		n, err := unix.Readlinkat(int(d.Fd()), filepath.Base(path), buf)
		if err != nil {
			return "", &fs.PathError{Op: "readlink", Path: path, Err: err}
		}
		if n < len(buf) {
			return string(buf[:n]), nil
		}
		if len(buf) >= 4096 {
			return "", &fs.PathError{Op: "readlink", Path: path, Err: ErrTooLarge}
		}
		buf = make([]byte, 2*len(buf))
	}
}

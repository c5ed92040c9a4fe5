package fsutil

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Tree is a directory the exporter reads below: the --path.procfs,
// --path.sysfs or --path.rootfs mount. A file read through a Tree must lie
// inside it once every symlink on the way is followed. Symlinks that stay
// inside are normal (/sys/block/dm-0 -> ../devices/virtual/block/dm-0,
// /proc/self -> <pid>); one that leads out is refused with ErrSymlink, so a
// value file planted as a link to /etc/shadow is never read.
//
// A nil *Tree checks nothing.
type Tree struct {
	dir      string // as configured, cleaned: paths are joined below it
	abs      string
	resolved atomic.Pointer[string]
}

// NewTree returns the tree rooted at dir. Its symlinks are resolved on
// first use, so dir need not exist yet.
func NewTree(dir string) *Tree {
	dir = filepath.Clean(dir)
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	return &Tree{dir: dir, abs: abs}
}

// Dir is the tree's directory as configured.
func (t *Tree) Dir() string { return t.dir }

// holds reports whether path is written below the tree's directory.
func (t *Tree) holds(path string) bool {
	switch t.dir {
	case "/":
		return strings.HasPrefix(path, "/")
	case ".":
		return !strings.HasPrefix(path, "/") && path != ".." && !strings.HasPrefix(path, "../")
	}
	return path == t.dir || strings.HasPrefix(path, t.dir) && path[len(t.dir)] == '/'
}

// root is the tree's directory with its own symlinks resolved.
func (t *Tree) root() (string, error) {
	if r := t.resolved.Load(); r != nil {
		return *r, nil
	}
	r, err := filepath.EvalSymlinks(t.abs)
	if err != nil {
		return "", err
	}
	t.resolved.Store(&r)
	return r, nil
}

// contains refuses an open descriptor fd (opened as path) that does not lie
// inside t: the kernel's own name for it, read back from /proc/self/fd, must
// be below the resolved tree. Without /proc the path's symlinks are resolved
// instead.
func (t *Tree) contains(fd int, path string) error {
	if t == nil {
		return nil
	}
	root, err := t.root()
	if err != nil {
		return &fs.PathError{Op: "open", Path: path, Err: err}
	}
	if root == "/" {
		return nil
	}
	real, err := readlink(fdLink(fd))
	if err != nil {
		if real, err = filepath.EvalSymlinks(path); err == nil {
			real, err = filepath.Abs(real)
		}
		if err != nil {
			return &fs.PathError{Op: "open", Path: path, Err: err}
		}
	}
	if real == root || strings.HasPrefix(real, root) && real[len(root)] == '/' {
		return nil
	}
	return &fs.PathError{Op: "open", Path: path, Err: fmt.Errorf("%w: it leads to %s, outside %s", ErrSymlink, real, root)}
}

func readlink(p string) (string, error) {
	buf := make([]byte, 256)
	for {
		n, err := unix.Readlink(p, buf)
		if err != nil {
			return "", err
		}
		if n < len(buf) {
			return string(buf[:n]), nil
		}
		if len(buf) >= 1<<16 {
			return "", unix.ENAMETOOLONG
		}
		buf = make([]byte, 2*len(buf))
	}
}

// Trees are the trees a process reads below, longest directory first.
type Trees []*Tree

// NewTrees returns the trees rooted at dirs; empty and repeated ones are
// dropped.
func NewTrees(dirs ...string) Trees {
	var ts Trees
	seen := map[string]bool{}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		t := NewTree(d)
		if seen[t.dir] {
			continue
		}
		seen[t.dir] = true
		ts = append(ts, t)
	}
	sort.SliceStable(ts, func(i, j int) bool { return len(ts[i].dir) > len(ts[j].dir) })
	return ts
}

// Find returns the tree whose directory is the longest prefix of path: the
// mount path was joined below. It is nil when no tree holds path.
func (ts Trees) Find(path string) *Tree {
	for _, t := range ts {
		if t.holds(path) {
			return t
		}
	}
	return nil
}

// OpenDir opens a directory below t for listing. O_DIRECTORY refuses any
// other kind of file before opening it, so a FIFO in a directory's place
// cannot block; such a file is reported as ErrNotRegular.
func (t *Tree) OpenDir(path string) (*os.File, error) {
	fd, err := openRetry(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NONBLOCK|unix.O_CLOEXEC)
	if err != nil {
		if err == unix.ENOTDIR {
			// The final component, or one above it, is not a directory.
			if fi, serr := os.Stat(path); serr == nil && !fi.IsDir() {
				err = ErrNotRegular
			}
		}
		if err == unix.ELOOP {
			err = ErrSymlink
		}
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	if err := t.contains(fd, path); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), path), nil
}

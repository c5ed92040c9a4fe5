package cgroup

import (
	"context"
	"encoding/binary"
	"errors"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"syscall"
)

// DefaultMaxDepth bounds how deep Walk descends; systemd plus Kubernetes
// nest about eight levels, nested container setups a few more.
const DefaultMaxDepth = 64

// SkipDir, returned by a Walk callback, skips the directory's children.
var SkipDir = fs.SkipDir

// Walker walks a cgroup hierarchy.
type Walker struct {
	// MaxDepth is the deepest level visited, the root being 0
	// (DefaultMaxDepth when <= 0).
	MaxDepth int
	// MaxCgroups stops the walk after that many cgroups (no cap when <= 0).
	MaxCgroups int
}

// WalkStats says what a walk saw.
type WalkStats struct {
	// Visited counts callback invocations, the root included.
	Visited int
	// Vanished counts directories removed between being listed (or
	// visited) and being read: containers come and go during a scrape.
	Vanished int
	// Errors counts directories that could not be read for another reason;
	// Err is the first such error.
	Errors int
	Err    error
	// Capped is set when MaxCgroups stopped the walk early.
	Capped bool
	// DepthCapped counts directories left out below MaxDepth.
	DepthCapped int
}

// Walk visits every cgroup directory below dir with default limits; see
// Walker.Walk.
func Walk(ctx context.Context, dir string, fn func(rel string) error) error {
	_, err := Walker{}.Walk(ctx, dir, fn)
	return err
}

// ctxCheckEvery is how many directories pass between context checks.
const ctxCheckEvery = 64

// Walk calls fn for dir itself (rel "/") and every directory below it
// (rel "/a", "/a/b", …), depth first, parents before children, siblings in
// byte order. Only directories are cgroups; files and symlinks are passed
// over, and symlinks are never followed below dir. A directory that
// vanishes mid-walk is counted and skipped quietly; one that cannot be read
// is counted in Errors and skipped. fn returning SkipDir skips the
// children; any other error ends the walk and is returned, as is the
// context's error when it is done. A missing or unreadable dir is an error.
//
// Directories are read with getdents64 into a pooled buffer and classified
// by the entry's type byte, so no file is stat'ed; the one allocation per
// cgroup is its rel string.
func (w Walker) Walk(ctx context.Context, dir string, fn func(rel string) error) (WalkStats, error) {
	var st WalkStats
	maxDepth := w.MaxDepth
	if maxDepth <= 0 {
		maxDepth = DefaultMaxDepth
	}
	bufp := direntPool.Get().(*[]byte)
	defer direntPool.Put(bufp)
	dir = strings.TrimRight(dir, "/")
	if dir == "" {
		dir = "/"
	}
	d := dirReader{buf: *bufp, path: make([]byte, 0, 512)}

	type item struct {
		rel   string
		depth int
	}
	stack := []item{{rel: "/"}}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if st.Visited%ctxCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return st, err
			}
		}
		if w.MaxCgroups > 0 && st.Visited >= w.MaxCgroups {
			st.Capped = true
			break
		}
		st.Visited++
		if err := fn(it.rel); err != nil {
			if errors.Is(err, SkipDir) {
				continue
			}
			return st, err
		}
		start := len(stack)
		err := d.subdirs(dir, it.rel, it.depth == 0, func(rel string) {
			stack = append(stack, item{rel: rel, depth: it.depth + 1})
		})
		if err != nil {
			if it.depth == 0 {
				return st, err
			}
			if isVanished(err) {
				st.Vanished++
			} else {
				st.Errors++
				if st.Err == nil {
					st.Err = err
				}
			}
			stack = stack[:start]
			continue
		}
		if it.depth+1 > maxDepth {
			st.DepthCapped += len(stack) - start
			stack = stack[:start]
			continue
		}
		// Reverse order on the stack pops in byte order.
		slices.SortFunc(stack[start:], func(a, b item) int { return strings.Compare(b.rel, a.rel) })
	}
	return st, nil
}

func isVanished(err error) bool {
	return errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ENOTDIR)
}

var direntPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

type dirReader struct {
	buf  []byte
	path []byte
}

// subdirs lists the subdirectories of dir+rel, calling add with each one's
// rel path.
func (d *dirReader) subdirs(dir, rel string, root bool, add func(rel string)) error {
	d.path = append(d.path[:0], dir...)
	if rel != "/" {
		d.path = append(d.path, rel...)
	}
	if strings.IndexByte(string(d.path), 0) >= 0 {
		return &fs.PathError{Op: "open", Path: dir + rel, Err: syscall.EINVAL}
	}
	d.path = append(d.path, 0)
	flags := syscall.O_RDONLY | syscall.O_DIRECTORY | syscall.O_CLOEXEC
	if !root {
		// The root may be a configured path that is a symlink (a host
		// mount point); below it nothing is followed.
		flags |= syscall.O_NOFOLLOW
	}
	fd, err := openat(atFDCWD, &d.path[0], flags)
	if err != nil {
		return &fs.PathError{Op: "open", Path: string(d.path[:len(d.path)-1]), Err: err}
	}
	defer syscall.Close(fd)
	prefix := rel
	if rel == "/" {
		prefix = ""
	}
	for {
		n, err := syscall.Getdents(fd, d.buf)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return &fs.PathError{Op: "getdents", Path: string(d.path[:len(d.path)-1]), Err: err}
		}
		if n <= 0 {
			return nil
		}
		b := d.buf[:n]
		for len(b) >= direntNameOff {
			reclen := int(binary.NativeEndian.Uint16(b[direntReclenOff:]))
			if reclen < direntNameOff || reclen > len(b) {
				break
			}
			typ := b[direntTypeOff]
			name := b[direntNameOff:reclen]
			if i := indexNUL(name); i >= 0 {
				name = name[:i]
			}
			b = b[reclen:]
			if len(name) == 0 || string(name) == "." || string(name) == ".." {
				continue
			}
			switch typ {
			case syscall.DT_DIR:
			case syscall.DT_UNKNOWN:
				// Filesystems without d_type (none on cgroupfs) need a
				// stat; lstat keeps symlinks unfollowed.
				var s syscall.Stat_t
				p := string(d.path[:len(d.path)-1]) + "/" + string(name)
				if syscall.Lstat(p, &s) != nil || s.Mode&syscall.S_IFMT != syscall.S_IFDIR {
					continue
				}
			default:
				continue
			}
			add(prefix + "/" + string(name))
		}
	}
}

// linux_dirent64: d_ino u64, d_off s64, d_reclen u16, d_type u8, d_name.
const (
	direntReclenOff = 16
	direntTypeOff   = 18
	direntNameOff   = 19
)

func indexNUL(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return -1
}

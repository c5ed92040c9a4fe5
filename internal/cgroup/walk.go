package cgroup

import (
	"bytes"
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
	// Vanished counts directories removed after their parent was listed,
	// before they could be opened or listed themselves: containers come
	// and go during a scrape.
	Vanished int
	// Errors counts directories that could not be read for another reason;
	// Err is the first such error, Errs the first MaxWalkErrors of them
	// (each names its directory and cause).
	Errors int
	Err    error
	Errs   []error
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

// Dir is the cgroup directory being visited. It holds the directory open,
// so Reader.ReadIn opens its files relative to it without walking the
// whole path again. It is valid only during the callback.
type Dir struct {
	// Rel is the path below the walked root: "/" for the root itself,
	// "/a", "/a/b" below it.
	Rel string
	fd  int
}

// Walk calls fn with the rel path of dir itself ("/") and of every
// directory below it; see WalkDirs.
func (w Walker) Walk(ctx context.Context, dir string, fn func(rel string) error) (WalkStats, error) {
	return w.WalkDirs(ctx, dir, func(d *Dir) error { return fn(d.Rel) })
}

// WalkDirs calls fn for dir itself and every directory below it, depth
// first, parents before children, siblings in byte order. Only directories
// are cgroups; files and symlinks are passed over, and symlinks are never
// followed below dir.
//
// Each directory is opened once: fn runs while it is open (and can read its
// files through Reader.ReadIn), then its entries are listed. A directory
// that vanishes mid-walk — gone before it is opened, or removed before it
// is listed — is counted in Vanished and skipped quietly; fn is not called
// for one already gone. One that cannot be read for another reason is
// counted in Errors and skipped. fn returning SkipDir skips the children;
// any other error ends the walk and is returned, as is the context's error
// when it is done. A missing or unreadable dir is an error.
//
// Directories are read with getdents64 into a pooled buffer and classified
// by the entry's type byte, so nothing is stat'ed; the one allocation per
// cgroup is its rel string.
func (w Walker) WalkDirs(ctx context.Context, dir string, fn func(d *Dir) error) (WalkStats, error) {
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
	dr := dirReader{buf: *bufp, path: make([]byte, 0, 512)}

	type item struct {
		rel   string
		depth int
	}
	stack := []item{{rel: "/"}}
	// One Dir serves every callback; it is valid only during the call.
	d := &Dir{}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if (st.Visited+st.Vanished+st.Errors)%ctxCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return st, err
			}
		}
		if w.MaxCgroups > 0 && st.Visited >= w.MaxCgroups {
			st.Capped = true
			break
		}
		fd, err := dr.open(dir, it.rel, it.depth == 0)
		if err != nil {
			if it.depth == 0 {
				return st, err
			}
			st.count(err)
			continue
		}
		st.Visited++
		d.Rel, d.fd = it.rel, fd
		if err := fn(d); err != nil {
			syscall.Close(fd)
			if errors.Is(err, SkipDir) {
				continue
			}
			return st, err
		}
		start := len(stack)
		err = dr.subdirs(fd, it.rel, func(rel string) {
			stack = append(stack, item{rel: rel, depth: it.depth + 1})
		})
		syscall.Close(fd)
		if err != nil {
			stack = stack[:start]
			if it.depth == 0 && !isVanished(err) {
				return st, err
			}
			st.count(err)
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

func (st *WalkStats) count(err error) {
	if isVanished(err) {
		st.Vanished++
		return
	}
	st.Errors++
	if st.Err == nil {
		st.Err = err
	}
	if len(st.Errs) < MaxWalkErrors {
		st.Errs = append(st.Errs, err)
	}
}

// MaxWalkErrors bounds the errors a WalkStats keeps.
const MaxWalkErrors = 64

func isVanished(err error) bool {
	return errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ENOTDIR)
}

var direntPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

type dirReader struct {
	buf  []byte
	path []byte
}

// open opens dir+rel as a directory.
func (d *dirReader) open(dir, rel string, root bool) (int, error) {
	d.path = append(d.path[:0], dir...)
	if rel != "/" {
		d.path = append(d.path, rel...)
	}
	if bytes.IndexByte(d.path, 0) >= 0 {
		return -1, &fs.PathError{Op: "open", Path: dir + rel, Err: syscall.EINVAL}
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
		if err == syscall.ELOOP {
			// A directory replaced by a symlink is no longer the cgroup.
			err = syscall.ENOTDIR
		}
		return -1, &fs.PathError{Op: "open", Path: string(d.path[:len(d.path)-1]), Err: err}
	}
	return fd, nil
}

// subdirs lists the subdirectories of the open directory fd (at rel),
// calling add with each one's rel path.
func (d *dirReader) subdirs(fd int, rel string, add func(rel string)) error {
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
			if i := bytes.IndexByte(name, 0); i >= 0 {
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

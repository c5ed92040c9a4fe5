package cgroup

import (
	"bytes"
	"io/fs"
	"strings"
	"sync"
	"syscall"
	"unsafe"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

// MaxFileSize is the default read cap: a 6.x memory.stat is about 2 KiB,
// and no controller file the exporter reads comes close to 64 KiB.
const MaxFileSize = 64 << 10

// Reader reads small controller files into one reusable buffer: open, read
// until EOF, close, and nothing else — no stat, no allocation on success.
// The slice a read returns is valid until the next read. A Reader is not
// safe for concurrent use; take one per goroutine from GetReader.
//
// Files are opened with O_NOFOLLOW (a symlink is refused) and O_NONBLOCK (a
// FIFO cannot block the scrape). Unlike fsutil.Open there is no fstat on
// every file: the cgroup filesystem cannot hold device nodes or FIFOs, and
// the byte cap bounds what any other file could yield. Only a read that
// returns nothing (or EAGAIN) is checked with fstat, which is what a FIFO
// or a device planted in a tree does: it is then refused as not regular
// instead of passing for an empty (garbage) controller file.
type Reader struct {
	buf  []byte
	path []byte
}

// NewReader returns a Reader whose reads fail with fsutil.ErrTooLarge
// beyond max bytes (MaxFileSize when max <= 0).
func NewReader(max int) *Reader {
	if max <= 0 {
		max = MaxFileSize
	}
	// One spare byte tells "exactly max" from "more than max".
	return &Reader{buf: make([]byte, max+1), path: make([]byte, 0, 256)}
}

var readerPool = sync.Pool{New: func() any { return NewReader(MaxFileSize) }}

// GetReader takes a Reader with the default cap from a pool.
func GetReader() *Reader { return readerPool.Get().(*Reader) }

// PutReader returns a Reader taken with GetReader.
func PutReader(r *Reader) {
	if r != nil && len(r.buf) == MaxFileSize+1 {
		readerPool.Put(r)
	}
}

// Read reads the file at path.
func (r *Reader) Read(path string) ([]byte, error) {
	r.path = append(r.path[:0], path...)
	return r.read()
}

// ReadFile reads dir + rel + "/" + name without building the path as a
// string: dir is a hierarchy directory, rel a path from Walk ("/" for the
// root), name a controller file such as "memory.stat".
func (r *Reader) ReadFile(dir, rel, name string) ([]byte, error) {
	r.path = append(r.path[:0], dir...)
	if rel != "/" {
		r.path = append(r.path, rel...)
	}
	r.path = append(r.path, '/')
	r.path = append(r.path, name...)
	return r.read()
}

// ReadIn reads the file name in the directory a walk is visiting, opening
// it relative to the open directory: the kernel resolves one component
// instead of the whole path. name must be a plain file name.
func (r *Reader) ReadIn(d *Dir, name string) ([]byte, error) {
	r.path = append(r.path[:0], name...)
	if strings.IndexByte(name, '/') >= 0 {
		r.path = append(r.path, 0)
		return nil, r.pathErr("open", syscall.EINVAL)
	}
	return r.readAt(d.fd)
}

const atFDCWD = -100

func (r *Reader) read() ([]byte, error) { return r.readAt(atFDCWD) }

func (r *Reader) readAt(dirfd int) ([]byte, error) {
	r.path = append(r.path, 0)
	// A NUL inside the path would silently shorten it.
	if bytes.IndexByte(r.path[:len(r.path)-1], 0) >= 0 {
		return nil, r.pathErr("open", syscall.EINVAL)
	}
	fd, err := openat(dirfd, &r.path[0], syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NOFOLLOW|syscall.O_NONBLOCK)
	if err != nil {
		if err == syscall.ELOOP {
			return nil, r.pathErr("open", fsutil.ErrSymlink)
		}
		return nil, r.pathErr("open", err)
	}
	n := 0
	for {
		m, err := syscall.Read(fd, r.buf[n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			if err == syscall.EISDIR || (err == syscall.EAGAIN && !isRegular(fd)) {
				err = fsutil.ErrNotRegular
			}
			syscall.Close(fd)
			return nil, r.pathErr("read", err)
		}
		if m <= 0 {
			if n == 0 && !isRegular(fd) {
				syscall.Close(fd)
				return nil, r.pathErr("read", fsutil.ErrNotRegular)
			}
			break
		}
		n += m
		if n == len(r.buf) {
			syscall.Close(fd)
			return nil, r.pathErr("read", fsutil.ErrTooLarge)
		}
	}
	syscall.Close(fd)
	return r.buf[:n], nil
}

// isRegular reports whether the open fd is a regular file; a failed fstat
// counts as not regular.
func isRegular(fd int) bool {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return false
	}
	return st.Mode&syscall.S_IFMT == syscall.S_IFREG
}

func (r *Reader) pathErr(op string, err error) error {
	return &fs.PathError{Op: op, Path: string(r.path[:len(r.path)-1]), Err: err}
}

// openat takes a NUL-terminated path so that no string conversion (and no
// allocation) happens per file.
func openat(dirfd int, path *byte, flags int) (int, error) {
	for {
		fd, _, e := syscall.Syscall6(syscall.SYS_OPENAT, uintptr(dirfd), uintptr(unsafe.Pointer(path)), uintptr(flags), 0, 0, 0)
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			return -1, e
		}
		return int(fd), nil
	}
}

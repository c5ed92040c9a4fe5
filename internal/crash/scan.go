package crash

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

// DirReader is how ScanDir touches the file system. The calls take a
// context so that an implementation can give up on a hung mount.
type DirReader interface {
	// ReadNames passes the names of the directory's entries to fn a batch
	// at a time, in directory order, until every name was passed or fn
	// returns false. A batch and its names are valid only during that call
	// of fn (the operating-system reader lends them from its buffer): fn
	// copies what it keeps. fn is never called once ReadNames has returned.
	// An error may come after some batches were passed.
	ReadNames(ctx context.Context, path string, fn func(names []string) bool) error
	// Lstat describes path without following a final symlink.
	Lstat(ctx context.Context, path string) (fs.FileInfo, error)
}

// Kind is the file type of a listed entry.
type Kind int

const (
	KindOther Kind = iota
	KindRegular
	KindDir
	KindSymlink
	KindFIFO
	KindSocket
	KindDevice
)

var kindNames = [...]string{"other", "regular", "dir", "symlink", "fifo", "socket", "device"}

func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "other"
}

func kindOf(m fs.FileMode) Kind {
	switch {
	case m.IsRegular():
		return KindRegular
	case m.IsDir():
		return KindDir
	case m&fs.ModeSymlink != 0:
		return KindSymlink
	case m&fs.ModeNamedPipe != 0:
		return KindFIFO
	case m&fs.ModeSocket != 0:
		return KindSocket
	case m&fs.ModeDevice != 0:
		return KindDevice
	}
	return KindOther
}

// Entry is one listed directory entry, described by lstat: a symlink is
// reported as a symlink (its own size and time), never followed.
type Entry struct {
	Name    string
	Path    string
	Kind    Kind
	Size    int64
	ModTime time.Time
}

// Limits bound one ScanDir call.
type Limits struct {
	// MaxEntries caps how many selected entries are described; 0 means
	// DefaultMaxEntries.
	MaxEntries int
	// MaxNames caps how many names are read from the directory, selected
	// or not; 0 means DefaultMaxNames. It bounds the work a flood of names
	// can cause.
	MaxNames int
	// Select decides from a name alone whether an entry may be what the
	// caller looks for, and ranks it. Names it refuses are counted in
	// ScanStats.Ignored and never described, so they neither cost an lstat
	// nor take a place under MaxEntries. When more than MaxEntries names
	// are selected, those with the highest rank are kept (the higher name
	// on equal rank). It must not keep the name it is given. nil selects
	// every name at rank 0.
	Select func(name string) (rank int64, ok bool)
}

// DefaultMaxEntries is the listing cap when Limits.MaxEntries is 0.
const DefaultMaxEntries = 4096

// DefaultMaxNames is the name cap when Limits.MaxNames is 0: a quarter of a
// second of getdents on ext4, and far more entries than a crash directory
// holds unless something floods it.
const DefaultMaxNames = 1 << 20

// ScanStats reports what a ScanDir call left out.
type ScanStats struct {
	// Truncated is set when more than MaxEntries names were selected (the
	// lowest ranked were left out) or the directory held more than
	// MaxNames names (the rest, in directory order, were not read).
	Truncated bool
	// Ignored counts names Select refused.
	Ignored int
	// Vanished counts entries removed between listing and lstat.
	Vanished int
	// Unreadable counts entries whose lstat failed otherwise, and names
	// that cannot be a directory entry's.
	Unreadable int
}

// ScanDir lists one level of dir with lstat information, sorted by name. It
// reads the names in batches, keeps at most MaxEntries of those Select
// accepts, and describes only those: it never follows symlinks, opens
// nothing but the directory itself, and checks ctx between batches and
// entries, returning ctx.Err() once it is done. Entries that vanish after
// the listing are skipped quietly; other lstat failures are counted. A nil
// reader means the operating system (NewOSDirReader).
func ScanDir(ctx context.Context, r DirReader, dir string, lim Limits) ([]Entry, ScanStats, error) {
	if r == nil {
		r = defaultReader
	}
	if err := ctx.Err(); err != nil {
		return nil, ScanStats{}, err
	}
	l := &listing{ctx: ctx, sel: lim.Select, maxNames: lim.MaxNames, top: topNames{max: lim.MaxEntries}}
	if l.maxNames <= 0 {
		l.maxNames = DefaultMaxNames
	}
	if l.top.max <= 0 {
		l.top.max = DefaultMaxEntries
	}
	defer l.top.release()
	readErr := r.ReadNames(ctx, dir, l.names)
	st := &l.st
	if err := ctx.Err(); err != nil {
		return nil, *st, err
	}
	if l.top.dropped {
		st.Truncated = true
	}
	if readErr != nil && len(l.top.h) == 0 {
		return nil, *st, readErr
	}
	out := make([]Entry, 0, len(l.top.h))
	for _, c := range l.top.h {
		if err := ctx.Err(); err != nil {
			return nil, *st, err
		}
		p := filepath.Join(dir, c.name)
		fi, err := r.Lstat(ctx, p)
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return nil, *st, cerr
			}
			if errors.Is(err, fs.ErrNotExist) {
				st.Vanished++
			} else {
				st.Unreadable++
			}
			continue
		}
		out = append(out, Entry{Name: c.name, Path: p, Kind: kindOf(fi.Mode()), Size: fi.Size(), ModTime: fi.ModTime()})
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) })
	if readErr != nil && !errors.Is(readErr, io.EOF) {
		return out, *st, readErr
	}
	return out, *st, nil
}

// listing is what ScanDir keeps while names are read: one allocation,
// since the DirReader holds on to it.
type listing struct {
	ctx      context.Context
	sel      func(name string) (rank int64, ok bool)
	maxNames int
	read     int
	st       ScanStats
	top      topNames
}

// names takes one batch of names from ReadNames.
func (l *listing) names(names []string) bool {
	for _, name := range names {
		if l.read == l.maxNames {
			l.st.Truncated = true
			return false
		}
		l.read++
		if name == "" || name == "." || name == ".." || strings.IndexByte(name, '/') >= 0 {
			l.st.Unreadable++
			continue
		}
		var rank int64
		if l.sel != nil {
			var ok bool
			if rank, ok = l.sel(name); !ok {
				l.st.Ignored++
				continue
			}
		}
		l.top.offer(name, rank)
	}
	return l.ctx.Err() == nil
}

// topNames keeps the max highest-ranked names offered to it, as a min-heap
// on (rank, name), copying only the names it keeps.
type topNames struct {
	max     int
	h       []rankedName
	hp      *[]rankedName // h's array, from heaps
	dropped bool
}

type rankedName struct {
	rank int64
	name string
}

func (a rankedName) less(b rankedName) bool {
	return a.rank < b.rank || a.rank == b.rank && a.name < b.name
}

// heaps are topNames' backing arrays, reused: every dump directory of a
// crash directory is listed on every scrape.
var heaps = sync.Pool{New: func() any { return new([]rankedName) }}

// release hands the heap back for reuse; the names in it stay valid.
func (t *topNames) release() {
	if t.hp == nil {
		return
	}
	clear(t.h)
	*t.hp = t.h[:0]
	heaps.Put(t.hp)
	t.hp, t.h = nil, nil
}

func (t *topNames) offer(name string, rank int64) {
	c := rankedName{rank, name}
	if t.hp == nil {
		t.hp = heaps.Get().(*[]rankedName)
		t.h = (*t.hp)[:0]
	}
	if len(t.h) < t.max {
		c.name = strings.Clone(name)
		t.h = append(t.h, c)
		for i := len(t.h) - 1; i > 0; {
			p := (i - 1) / 2
			if !t.h[i].less(t.h[p]) {
				break
			}
			t.h[i], t.h[p] = t.h[p], t.h[i]
			i = p
		}
		return
	}
	t.dropped = true
	if !t.h[0].less(c) {
		return
	}
	c.name = strings.Clone(name)
	t.h[0] = c
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < len(t.h) && t.h[l].less(t.h[m]) {
			m = l
		}
		if l+1 < len(t.h) && t.h[l+1].less(t.h[m]) {
			m = l + 1
		}
		if m == i {
			break
		}
		t.h[i], t.h[m] = t.h[m], t.h[i]
		i = m
	}
}

var defaultReader = NewOSDirReader()

// OSDirReader reads directories with the operating system's calls, each run
// in its own goroutine so that a call hung in the kernel (a dead NFS server
// in getdents or lstat) does not hold the caller past its context.
//
// A hung call cannot be cancelled, so its goroutine lives on until the
// kernel returns. To keep that from piling up scrape after scrape, calls on
// one directory (reading it, or lstat of an entry in it) go through a lane
// that admits one call at a time: while a call is outstanding, later callers
// for the same directory wait for the lane only as long as their own context
// allows and then give up without starting a call. So at most one goroutine
// per directory is ever blocked in the kernel. A lane is dropped when no one
// holds or waits for it.
type OSDirReader struct {
	mu    sync.Mutex
	lanes map[string]*lane

	// Overridable in tests to simulate a hung file system.
	readNames func(path string, fn func(names []string) bool) error
	lstat     func(path string) (fs.FileInfo, error)
}

type lane struct {
	sem  chan struct{}
	refs int
}

// freeLanes are lanes no one holds: a scrape makes a call on a lane for
// every dump directory and file, each lane used and dropped at once.
var freeLanes = sync.Pool{New: func() any { return &lane{sem: make(chan struct{}, 1)} }}

// NewOSDirReader returns a reader over the real file system.
func NewOSDirReader() *OSDirReader {
	return &OSDirReader{lanes: map[string]*lane{}, readNames: osReadNames, lstat: os.Lstat}
}

// direntBufs holds getdents buffers: a scrape lists every dump directory,
// and a fresh 32 KiB each time would dominate its allocations.
var direntBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// osReadNames reads a directory with getdents64 into a pooled buffer and
// lends fn the names in place, so a name costs no allocation unless fn
// keeps it.
func osReadNames(path string, fn func(names []string) bool) error {
	// Opened as a directory, non-blocking: a FIFO planted in its place is
	// refused instead of blocking the scan.
	var anywhere *fsutil.Tree
	f, err := anywhere.OpenDir(path)
	if err != nil {
		return err
	}
	defer f.Close()
	bp := direntBufs.Get().(*[]byte)
	defer direntBufs.Put(bp)
	buf := *bp
	var names []string
	for {
		n, err := unix.Getdents(int(f.Fd()), buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return &fs.PathError{Op: "getdents", Path: path, Err: err}
		}
		if n <= 0 {
			return nil
		}
		names = parseDirents(buf[:n], names[:0])
		if len(names) > 0 && !fn(names) {
			return nil
		}
	}
}

// parseDirents appends the names of the linux_dirent64 records in b
// (u64 ino, s64 off, u16 reclen, u8 type, NUL-terminated name), skipping
// "." and "..". The names alias b.
func parseDirents(b []byte, names []string) []string {
	const nameOff = 19
	for len(b) >= nameOff {
		reclen := int(binary.NativeEndian.Uint16(b[16:18]))
		if reclen < nameOff || reclen > len(b) {
			break
		}
		ino := binary.NativeEndian.Uint64(b[0:8])
		name := b[nameOff:reclen]
		b = b[reclen:]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		if ino == 0 || len(name) == 0 || string(name) == "." || string(name) == ".." {
			continue
		}
		names = append(names, unsafe.String(&name[0], len(name)))
	}
	return names
}

// ReadNames implements DirReader. The whole listing is one call on the
// directory's lane; fn runs on that call's goroutine, but never after
// ReadNames has returned, and the call stops at the next batch once ctx
// has ended.
func (r *OSDirReader) ReadNames(ctx context.Context, path string, fn func(names []string) bool) error {
	var mu sync.Mutex // held while fn runs
	var err error
	cerr := r.run(ctx, filepath.Clean(path), func() {
		err = r.readNames(path, func(names []string) bool {
			mu.Lock()
			defer mu.Unlock()
			if ctx.Err() != nil {
				return false
			}
			return fn(names)
		})
	})
	if cerr != nil {
		// ctx has ended: wait out a batch in progress; later ones see it.
		mu.Lock()
		mu.Unlock()
		return cerr
	}
	return err
}

// Lstat implements DirReader.
func (r *OSDirReader) Lstat(ctx context.Context, path string) (fs.FileInfo, error) {
	res := new(struct {
		fi  fs.FileInfo
		err error
	})
	if cerr := r.run(ctx, filepath.Dir(filepath.Clean(path)), func() { res.fi, res.err = r.lstat(path) }); cerr != nil {
		return nil, cerr
	}
	return res.fi, res.err
}

func (r *OSDirReader) acquireRef(key string) *lane {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.lanes[key]
	if l == nil {
		l = freeLanes.Get().(*lane)
		r.lanes[key] = l
	}
	l.refs++
	return l
}

func (r *OSDirReader) releaseRef(key string, l *lane) {
	r.mu.Lock()
	defer r.mu.Unlock()
	l.refs--
	if l.refs == 0 {
		// No one holds or waits for it, so its semaphore is free.
		delete(r.lanes, key)
		freeLanes.Put(l)
	}
}

// run executes fn on the directory's lane. It returns ctx.Err() when the
// context ends first; fn's results must then not be read.
func (r *OSDirReader) run(ctx context.Context, key string, fn func()) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l := r.acquireRef(key)
	select {
	case l.sem <- struct{}{}:
	case <-ctx.Done():
		r.releaseRef(key, l)
		return ctx.Err()
	}
	// The worker inherits this caller's reference and releases the lane
	// only when the call has returned, however long that takes.
	done := make(chan struct{})
	go func() {
		defer func() {
			<-l.sem
			r.releaseRef(key, l)
			close(done)
		}()
		fn()
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// lanesInUse reports how many directories have a call outstanding or waiting.
func (r *OSDirReader) lanesInUse() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.lanes)
}

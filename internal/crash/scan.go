package crash

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// DirReader is how ScanDir touches the file system. The calls take a
// context so that an implementation can give up on a hung mount.
type DirReader interface {
	// ReadDir returns up to max entries of the directory, in directory
	// order. With an error it may also return the entries read before it.
	ReadDir(ctx context.Context, path string, max int) ([]fs.DirEntry, error)
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
	// MaxEntries caps how many entries are listed; 0 means DefaultMaxEntries.
	MaxEntries int
}

// DefaultMaxEntries is the listing cap when Limits.MaxEntries is 0.
const DefaultMaxEntries = 4096

// ScanStats reports what a ScanDir call left out.
type ScanStats struct {
	// Truncated is set when the directory held more than MaxEntries
	// entries; which ones were listed then depends on directory order.
	Truncated bool
	// Vanished counts entries removed between listing and lstat.
	Vanished int
	// Unreadable counts entries whose lstat failed otherwise.
	Unreadable int
}

// ScanDir lists one level of dir with lstat information, sorted by name. It
// never follows symlinks, opens nothing but the directory itself, and checks
// ctx between entries, returning ctx.Err() once it is done. Entries that
// vanish after the listing are skipped quietly; other lstat failures are
// counted. A nil reader means the operating system (NewOSDirReader).
func ScanDir(ctx context.Context, r DirReader, dir string, lim Limits) ([]Entry, ScanStats, error) {
	var st ScanStats
	if r == nil {
		r = defaultReader
	}
	max := lim.MaxEntries
	if max <= 0 {
		max = DefaultMaxEntries
	}
	if err := ctx.Err(); err != nil {
		return nil, st, err
	}
	des, readErr := r.ReadDir(ctx, dir, max+1)
	if err := ctx.Err(); err != nil {
		return nil, st, err
	}
	if readErr != nil && len(des) == 0 {
		return nil, st, readErr
	}
	if len(des) > max {
		des = des[:max]
		st.Truncated = true
	}
	out := make([]Entry, 0, len(des))
	for _, de := range des {
		if err := ctx.Err(); err != nil {
			return nil, st, err
		}
		name := de.Name()
		if name == "" || name == "." || name == ".." || filepath.Base(name) != name {
			st.Unreadable++
			continue
		}
		p := filepath.Join(dir, name)
		fi, err := r.Lstat(ctx, p)
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return nil, st, cerr
			}
			if errors.Is(err, fs.ErrNotExist) {
				st.Vanished++
			} else {
				st.Unreadable++
			}
			continue
		}
		out = append(out, Entry{Name: name, Path: p, Kind: kindOf(fi.Mode()), Size: fi.Size(), ModTime: fi.ModTime()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	if readErr != nil && !errors.Is(readErr, io.EOF) {
		return out, st, readErr
	}
	return out, st, nil
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
	readDir func(path string, max int) ([]fs.DirEntry, error)
	lstat   func(path string) (fs.FileInfo, error)
}

type lane struct {
	sem  chan struct{}
	refs int
}

// NewOSDirReader returns a reader over the real file system.
func NewOSDirReader() *OSDirReader {
	return &OSDirReader{lanes: map[string]*lane{}, readDir: osReadDir, lstat: os.Lstat}
}

func osReadDir(path string, max int) ([]fs.DirEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	des, err := f.ReadDir(max)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return des, err
}

// ReadDir implements DirReader.
func (r *OSDirReader) ReadDir(ctx context.Context, path string, max int) ([]fs.DirEntry, error) {
	var des []fs.DirEntry
	var err error
	if cerr := r.run(ctx, filepath.Clean(path), func() { des, err = r.readDir(path, max) }); cerr != nil {
		return nil, cerr
	}
	return des, err
}

// Lstat implements DirReader.
func (r *OSDirReader) Lstat(ctx context.Context, path string) (fs.FileInfo, error) {
	var fi fs.FileInfo
	var err error
	if cerr := r.run(ctx, filepath.Dir(filepath.Clean(path)), func() { fi, err = r.lstat(path) }); cerr != nil {
		return nil, cerr
	}
	return fi, err
}

func (r *OSDirReader) acquireRef(key string) *lane {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.lanes[key]
	if l == nil {
		l = &lane{sem: make(chan struct{}, 1)}
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
		delete(r.lanes, key)
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

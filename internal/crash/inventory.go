package crash

import (
	"context"
	"errors"
	"io/fs"
	"sync"
	"time"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

// Store is the kind of crash evidence a directory holds; it decides which
// names are read there and how.
type Store int

const (
	// StoreCrashDir is a crash directory (/var/crash, a kdump target): kdump
	// dump directories of every layout ParseDumpDirName knows, and apport
	// reports of kernel and user-space crashes.
	StoreCrashDir Store = iota
	// StorePstore is the pstore file system (/sys/fs/pstore).
	StorePstore
	// StorePstoreArchive is where systemd-pstore moves records
	// (/var/lib/systemd/pstore), efi records in one sub-directory per crash.
	StorePstoreArchive
	// StoreCoredump is systemd-coredump's store (/var/lib/systemd/coredump).
	StoreCoredump
)

// Location is one directory to inventory.
type Location struct {
	Store Store
	Path  string
}

// Default limits of a Scanner whose fields are zero.
const (
	DefaultMaxDepth  = 2
	DefaultReadBytes = 256 << 10
)

// Scanner inventories crash locations. Its fields must not change while a
// scan runs; one Scanner may scan several locations at once.
type Scanner struct {
	// Reader lists directories; nil means the operating system's reader.
	Reader DirReader
	// ReadTail reads at most max bytes from the end of a regular file,
	// without following a final symlink; nil means ReadTail.
	ReadTail func(path string, max int64) ([]byte, error)
	// ReadHead reads at most max bytes from the start of a regular file,
	// likewise; nil means ReadHead.
	ReadHead func(path string, max int64) ([]byte, error)
	// MaxEntries caps the entries described per listing (Limits.MaxEntries).
	MaxEntries int
	// MaxDepth is how many directory levels are listed: 2 lists a crash
	// directory and each dump directory in it, more also adds up the files
	// in sub-directories of a dump directory. 0 means DefaultMaxDepth.
	MaxDepth int
	// ReadBytes caps how much of the end of a kernel log is read to
	// classify it. 0 means DefaultReadBytes.
	ReadBytes int64
	// Cache, when set, keeps what was read from files between scans.
	Cache *Cache
}

// Inventory is what one scan of one Location found. Which of Dumps,
// Apport, Pstore and Cores is filled depends on the Location's Store.
type Inventory struct {
	// Listed is set when the directory was listed; the counts below mean
	// nothing otherwise.
	Listed bool
	// Missing is set when the directory does not exist: the feature is
	// absent, which is not a Problem.
	Missing bool
	// Refused is the error of a pstore directory whose listing was refused
	// (/sys/fs/pstore is mode 0750 root): a state, not a Problem.
	Refused error
	// Truncated is set when entries were left out, so counts and bytes may
	// be low: a listing held more than MaxEntries selected names (the
	// newest by the time in their names were kept) or more than
	// DefaultMaxNames names, or a dump directory went deeper than MaxDepth.
	Truncated bool
	// Ignored counts entries skipped by name alone, never looked at:
	// names no crash tool gives a dump, report or record.
	Ignored int
	// Problems are the files and directories that could not be used.
	Problems []Problem

	// Dumps are the kernel crash dumps of a StoreCrashDir.
	Dumps KernelDumps
	// Apport are the apport reports of user-space crashes in a
	// StoreCrashDir.
	Apport CoreFiles
	// Pstore are the records of a StorePstore or StorePstoreArchive.
	Pstore PstoreRecords
	// Cores are the core files of a StoreCoredump.
	Cores CoreFiles
}

// Problem is a file or directory a scan could not use: unreadable, a
// symlink or special file where evidence belongs, garbage. A file that
// vanished while the scan ran is not a Problem. Err never carries the
// file's contents; fsutil.Reason names its kind.
type Problem struct {
	Path string
	Err  error
}

// errUnreadableEntry stands for an entry ScanDir counted as unreadable.
var errUnreadableEntry = errors.New("an entry could not be described (lstat failed)")

// Tally counts files and remembers the newest of them.
type Tally struct {
	Count int
	// Bytes is the sum of the files' apparent sizes; a float, so that
	// sparse files of absurd sizes cannot overflow it.
	Bytes float64
	// Newest is the time of the newest file; zero when Count is 0.
	Newest time.Time
	// newestName breaks ties on Newest: the higher name wins.
	newestName string
}

// add counts a file and reports whether it is now the newest.
func (t *Tally) add(size int64, at time.Time, name string) bool {
	t.Count++
	t.Bytes += float64(size)
	if t.Count == 1 || at.After(t.Newest) || at.Equal(t.Newest) && name > t.newestName {
		t.Newest, t.newestName = at, name
		return true
	}
	return false
}

// KernelDumps are the kernel crash dumps of a crash directory, by state: a
// dump is complete when it holds a memory image, incomplete when its image
// is marked incomplete or missing.
type KernelDumps struct {
	Complete, Incomplete Tally
	// Last is the classified reason of the newest dump of either state
	// (ClassUnknown when it has no readable log); nil when there is none.
	Last *Reason
}

// CoreFiles are user-space core dumps (or apport reports of user-space
// crashes) kept in a store.
type CoreFiles struct {
	Tally
	// Executable names the program of the newest: the process name for
	// systemd-coredump, the executable's base name for apport. Not capped
	// beyond what the parsers cap.
	Executable string
}

// Merge adds o's files to f, as one store kept in several directories; on
// equal newest times f's newest stays.
func (f *CoreFiles) Merge(o CoreFiles) {
	if o.Count == 0 {
		return
	}
	if f.Count == 0 || o.Newest.After(f.Newest) {
		f.Newest, f.newestName, f.Executable = o.Newest, o.newestName, o.Executable
	}
	f.Count += o.Count
	f.Bytes += o.Bytes
}

// PstoreRecords are the records of a pstore directory.
type PstoreRecords struct {
	// Counts are the records by backend and kind, sorted; only kinds
	// present are listed. In the archive they count the part files
	// systemd-pstore moved there.
	Counts []RecordCount
	// Newest is the time of the newest record: decoded from the record id
	// for the efi backends, else the file's modification time.
	Newest time.Time
	// Last is the classified reason of the newest uncompressed dmesg
	// record (with the other parts of the same crash); nil when there is
	// none.
	Last *Reason
}

// RecordCount counts pstore records of one backend and kind (see Pstore).
type RecordCount struct {
	Backend, Kind string
	Count         int
}

// Cache keeps what scans read from files (a kernel log's classified
// reason, an apport report's executable and date) and hands it back while
// a file's size and modification time are unchanged, so an unchanged dump
// is read once rather than on every scan. For each location it holds what
// the last finished scan used, so it forgets removed files. The zero value
// is ready; it is safe for concurrent scans.
type Cache struct {
	mu    sync.Mutex
	byLoc map[Location]map[string]cachedFile
}

// cachedFile is what was read from one file (or, for pstore, from the
// parts of one crash, keyed by the last part).
type cachedFile struct {
	size   int64
	mtime  time.Time
	reason Reason
	exe    string
	date   time.Time
}

func (c *Cache) get(path string, size int64, mtime time.Time) (cachedFile, bool) {
	if c == nil {
		return cachedFile{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.byLoc {
		if f, ok := m[path]; ok && f.size == size && f.mtime.Equal(mtime) {
			return f, true
		}
	}
	return cachedFile{}, false
}

// set replaces what is kept for loc.
func (c *Cache) set(loc Location, files map[string]cachedFile) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(files) == 0 {
		delete(c.byLoc, loc)
		return
	}
	if c.byLoc == nil {
		c.byLoc = map[Location]map[string]cachedFile{}
	}
	c.byLoc[loc] = files
}

// Scan inventories one location. It returns ctx's error, and no
// inventory, when ctx ended before the scan finished; what the scan read
// is then not kept in the Cache either.
func (s *Scanner) Scan(ctx context.Context, loc Location) (*Inventory, error) {
	sc := scan{Scanner: s, ctx: ctx, loc: loc, inv: &Inventory{}}
	switch loc.Store {
	case StoreCrashDir:
		sc.crashDir()
	case StorePstore, StorePstoreArchive:
		sc.pstore()
	case StoreCoredump:
		sc.coredumps()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.Cache.set(loc, sc.used)
	return sc.inv, nil
}

// scan is the state of one Scan.
type scan struct {
	*Scanner
	ctx context.Context
	loc Location
	inv *Inventory
	// used is what this scan read or took from the cache: the location's
	// cache once the scan finishes.
	used map[string]cachedFile
}

func (sc *scan) report(path string, err error) {
	sc.inv.Problems = append(sc.inv.Problems, Problem{Path: path, Err: err})
}

// refuse reports an entry that is not a regular file where a dump, report,
// record or core file belongs: it is neither followed nor opened.
func (sc *scan) refuse(e Entry, err error) {
	sc.report(e.Path, &fs.PathError{Op: "scan", Path: e.Path, Err: err})
}

// reportKind refuses a symlink or special file, saying which it is.
func (sc *scan) reportKind(e Entry) {
	if e.Kind == KindSymlink {
		sc.refuse(e, fsutil.ErrSymlink)
	} else {
		sc.refuse(e, fsutil.ErrNotRegular)
	}
}

func (sc *scan) cached(path string, size int64, mtime time.Time) (cachedFile, bool) {
	f, ok := sc.Cache.get(path, size, mtime)
	if ok {
		sc.keep(path, f)
	}
	return f, ok
}

func (sc *scan) keep(path string, f cachedFile) {
	if sc.Cache == nil {
		return
	}
	if sc.used == nil {
		sc.used = map[string]cachedFile{}
	}
	sc.used[path] = f
}

func (sc *scan) maxDepth() int {
	if sc.MaxDepth > 0 {
		return sc.MaxDepth
	}
	return DefaultMaxDepth
}

func (sc *scan) readBytes() int64 {
	if sc.ReadBytes > 0 {
		return sc.ReadBytes
	}
	return DefaultReadBytes
}

func (sc *scan) readTail(path string) ([]byte, error) {
	if sc.ReadTail != nil {
		return sc.ReadTail(path, sc.readBytes())
	}
	return ReadTail(path, sc.readBytes())
}

// readLog reads the end of a kernel log for classification. A log that
// cannot be used is a Problem; one that vanished is not.
func (sc *scan) readLog(path string) ([]byte, bool) {
	b, err := sc.readTail(path)
	if err == nil {
		b, err = TextTail(path, b)
	}
	if err != nil {
		if !fsutil.IsNotExist(err) {
			sc.report(path, err)
		}
		return nil, false
	}
	return b, true
}

func (sc *scan) readHead(path string, max int64) ([]byte, error) {
	if sc.ReadHead != nil {
		return sc.ReadHead(path, max)
	}
	return ReadHead(path, max)
}

// selectors say, by name alone, which entries of a store's directory are
// worth describing.
var selectors = [...]func(string) (int64, bool){
	StoreCrashDir:      SelectCrashDirEntry,
	StorePstore:        SelectPstoreEntry,
	StorePstoreArchive: SelectPstoreArchiveEntry,
	StoreCoredump:      SelectCoredumpEntry,
}

// listTop lists the location's directory and records whether it exists.
func (sc *scan) listTop() ([]Entry, bool) {
	var sel func(string) (int64, bool)
	if s := sc.loc.Store; s >= 0 && int(s) < len(selectors) {
		sel = selectors[s]
	}
	return sc.list(sc.loc.Path, sel, true)
}

// list lists one directory, describing the entries sel selects (nil: all).
// An absent directory is not a problem; at the top it is Missing.
func (sc *scan) list(dir string, sel func(string) (int64, bool), top bool) ([]Entry, bool) {
	entries, st, err := ScanDir(sc.ctx, sc.Reader, dir, Limits{MaxEntries: sc.MaxEntries, Select: sel})
	if sc.ctx.Err() != nil {
		return nil, false
	}
	failed := err != nil && len(entries) == 0
	if failed && top {
		switch {
		case fsutil.IsNotExist(err):
			sc.inv.Missing = true
		case errors.Is(err, fs.ErrPermission) && (sc.loc.Store == StorePstore || sc.loc.Store == StorePstoreArchive):
			sc.inv.Refused = err
		default:
			sc.report(dir, err)
		}
		return nil, false
	}
	sc.inv.Truncated = sc.inv.Truncated || st.Truncated
	sc.inv.Ignored += st.Ignored
	for i := 0; i < st.Unreadable; i++ {
		sc.report(dir, errUnreadableEntry)
	}
	if failed {
		if !fsutil.IsNotExist(err) {
			sc.report(dir, err)
		}
		return nil, false
	}
	if err != nil {
		sc.report(dir, err)
	}
	if top {
		sc.inv.Listed = true
	}
	return entries, true
}

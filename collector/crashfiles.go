package collector

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/crashguard/crashguard_exporter/internal/crash"
	"github.com/crashguard/crashguard_exporter/internal/fsutil"
	"github.com/crashguard/crashguard_exporter/internal/kdump"
)

const (
	crashfilesDefaultEntries = 10000
	crashfilesDefaultDepth   = 2
	crashfilesDefaultRead    = 256 << 10

	// apportHeadBytes is how much of a user-space apport report is read for
	// its ExecutablePath: and Date: fields, which come first.
	apportHeadBytes = 8 << 10
	// maxEmbeddedLog caps the decompressed kernel log taken from an apport
	// kernel report; only its end is kept, where the crash is.
	maxEmbeddedLog = crash.MaxClassifyBytes
	// maxInflate bounds how much a compressed embedded log may inflate to.
	maxInflate = 16 << 20
	// coredumpLabelLen caps the executable label.
	coredumpLabelLen = 64

	pstoreSysfsDir   = "/sys/fs/pstore"
	pstoreArchiveDir = "/var/lib/systemd/pstore"
	coredumpStoreDir = "/var/lib/systemd/coredump"

	storeSystemd = "systemd-coredump"
	storeApport  = "apport"
)

func init() {
	registerCollector("crashfiles", true, func(app FlagGroup) Factory {
		dirs := app.Flag("collector.crashfiles.dir",
			"Extra crash dump directory to inventory, as an absolute host path below --path.rootfs (repeatable). The directory named by the kdump configuration and /var/crash are always scanned.").Strings()
		entries := app.Flag("collector.crashfiles.max-entries",
			"Most entries described per directory listing. In a crash, pstore or core dump directory only names of dumps, reports and records count and the newest by the time in their names are kept; other names are only counted (crashguard_crashfiles_scan_ignored_entries). In a dump directory every file counts. Beyond it crashguard_crashfiles_scan_truncated is 1.").
			Default(strconv.Itoa(crashfilesDefaultEntries)).Int()
		depth := app.Flag("collector.crashfiles.max-depth",
			"Directory levels listed below a crash directory: 2 lists the crash directory and each dump directory in it; more also counts files in sub-directories of a dump directory.").
			Default(strconv.Itoa(crashfilesDefaultDepth)).Int()
		readBytes := app.Flag("collector.crashfiles.read-bytes",
			"Most bytes read from the end of a crash log (vmcore-dmesg.txt, dmesg.<stamp>, a pstore record, an apport kernel report) to classify the crash.").
			Default(strconv.Itoa(crashfilesDefaultRead)).Int64()
		return func(cfg Config, logger log.Logger) (Collector, error) {
			o := crashfilesOptions{dirs: *dirs, maxEntries: *entries, maxDepth: *depth, readBytes: *readBytes}
			if err := o.validate(); err != nil {
				return nil, err
			}
			return newCrashfilesCollector(cfg, logger, o), nil
		}
	})
}

type crashfilesOptions struct {
	dirs       []string
	maxEntries int
	maxDepth   int
	readBytes  int64
}

func (o *crashfilesOptions) validate() error {
	if o.maxEntries < 1 {
		return fmt.Errorf("--collector.crashfiles.max-entries must be at least 1, got %d", o.maxEntries)
	}
	if o.maxDepth < 2 {
		return fmt.Errorf("--collector.crashfiles.max-depth must be at least 2 (a crash directory and its dump directories), got %d", o.maxDepth)
	}
	if o.readBytes < 4096 {
		return fmt.Errorf("--collector.crashfiles.read-bytes must be at least 4096, got %d", o.readBytes)
	}
	for i, d := range o.dirs {
		if !path.IsAbs(d) {
			return fmt.Errorf("--collector.crashfiles.dir %q is not an absolute path", d)
		}
		o.dirs[i] = path.Clean(d)
	}
	return nil
}

type crashfilesCollector struct {
	cfg    Config
	logger log.Logger
	opts   crashfilesOptions

	// reader lists directories; readTail and readHead read files. Tests
	// replace them to simulate hung mounts and permissions.
	reader   crash.DirReader
	readTail func(path string, max int64) ([]byte, error)
	readHead func(path string, max int64) ([]byte, error)

	// jobs keeps at most one scan per location running: a scan stuck on a
	// hung file system outlives its scrape, and later scrapes wait for it.
	jobs callGroup[string, *scanResult]

	mu     sync.Mutex
	caches map[string]map[string]cachedFile

	pstoreDeniedLogged atomic.Bool

	dumps, dumpBytes, dumpLast, lastInfo    *prometheus.Desc
	truncated, ignored                      *prometheus.Desc
	pstoreReadable, pstoreRecords           *prometheus.Desc
	pstoreLast, pstoreInfo                  *prometheus.Desc
	coreFiles, coreBytes, coreLast, coreInf *prometheus.Desc
}

func newCrashfilesCollector(cfg Config, logger log.Logger, o crashfilesOptions) *crashfilesCollector {
	d := func(sub, name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, sub, name), help, labels, nil)
	}
	const dirBound = " dir is a host path, one per scanned directory (bounded by configuration)."
	// Files read must lie inside the mount their directory was joined
	// below: a crash directory that is a symlink out of --path.rootfs is
	// not read from.
	trees := fsutil.NewTrees(cfg.Trees()...)
	return &crashfilesCollector{
		cfg:    cfg,
		logger: logger,
		opts:   o,
		reader: crash.NewOSDirReader(),
		readTail: func(p string, max int64) ([]byte, error) {
			return crash.ReadTailIn(trees.Find(p), p, max)
		},
		readHead: func(p string, max int64) ([]byte, error) {
			return readHead(trees.Find(p), p, max)
		},
		caches: map[string]map[string]cachedFile{},

		dumps: d("crash", "dumps",
			"Kernel crash dumps in a crash directory (RHEL <ip>-<date>, Debian/Ubuntu <stamp> and <host>-<stamp>, SUSE <date> directories, and Ubuntu apport linux-image-*.crash reports). state is complete (a memory image) or incomplete (an image marked incomplete, or none). Both states are exported for every scanned directory."+dirBound,
			"dir", "state"),
		dumpBytes: d("crash", "dump_bytes",
			"Total size of the regular files of the kernel crash dumps in a crash directory, by state."+dirBound,
			"dir", "state"),
		dumpLast: d("crash", "dump_last_timestamp_seconds",
			"Time of the newest kernel crash dump in a crash directory, by state: from the directory or report name where it carries one (the capture kernel's local time, read as UTC), else the modification time. Absent when there is none."+dirBound,
			"dir", "state"),
		lastInfo: d("crash", "last_info",
			"Always 1; the classified reason of the newest kernel crash dump in a crash directory, read from the end of its vmcore-dmesg.txt, dmesg.<stamp>, dmesg(.txt) or the kernel log embedded in an apport report. class is one of a fixed set (unknown when there is no readable log); reason and panic are normalised lines of at most 120 bytes; kernel is the crashed kernel's release."+dirBound,
			"dir", "class", "reason", "panic", "kernel"),
		truncated: d("crashfiles", "scan_truncated",
			"1 when a scan of this directory left entries out, so dump counts and bytes may be low: a listing held more than --collector.crashfiles.max-entries entries named like dumps, reports or records (the newest by the time in their names were kept), or more than "+strconv.Itoa(crash.DefaultMaxNames)+" names in all (the rest were not read), or a dump directory had sub-directories deeper than --collector.crashfiles.max-depth."+dirBound,
			"dir"),
		ignored: d("crashfiles", "scan_ignored_entries",
			"Entries of this directory (and of systemd-pstore's per-crash sub-directories) that the last scan skipped by name alone, without looking at them: names no crash tool gives a dump, report or record (kdump-tools' kdump_lock and kexec_cmd, apport's upload markers, anything else). They take no place under --collector.crashfiles.max-entries; thousands mean something floods the directory."+dirBound,
			"dir"),
		pstoreReadable: d("pstore", "readable",
			"1 when the pstore directory could be listed, 0 when listing it was refused (/sys/fs/pstore is mode 0750 root). source is sysfs (/sys/fs/pstore) or archive (systemd-pstore's /var/lib/systemd/pstore). Absent when the directory does not exist.",
			"source"),
		pstoreRecords: d("pstore", "records",
			"pstore records by backend (ramoops, efi, efi_pstore, erst, nvram, other) and kind (the record type: dmesg, console, ftrace, pmsg, mce, rtas, powerpc-*, other). source is sysfs or archive; the archive counts the part files systemd-pstore moved there. Only kinds present are exported.",
			"source", "backend", "kind"),
		pstoreLast: d("pstore", "last_timestamp_seconds",
			"Time of the newest pstore record: decoded from the record id for the efi backends, else the file's modification time (which the kernel sets to the record time in /sys/fs/pstore, and systemd-pstore to the time it moved the record).",
			"source"),
		pstoreInfo: d("pstore", "last_info",
			"Always 1; the classified reason of the newest pstore dmesg record (for efi and erst the parts of one crash, or the dmesg.txt systemd-pstore reassembled). class is one of a fixed set; reason is a normalised line of at most 120 bytes; kernel is the crashed kernel's release.",
			"source", "class", "reason", "kernel"),
		coreFiles: d("coredump", "files",
			"User-space core dumps kept on disk: store is systemd-coredump (core.* files in /var/lib/systemd/coredump) or apport (reports of user-space crashes, _<path>.<uid>.crash, in the scanned crash directories).",
			"store"),
		coreBytes: d("coredump", "bytes",
			"Total size of the user-space core dumps kept in a store.",
			"store"),
		coreLast: d("coredump", "last_timestamp_seconds",
			"Time of the newest user-space core dump in a store: the file name's microsecond field for systemd-coredump, the report's Date: (local time, read as UTC) for apport, else the modification time. Absent when the store is empty.",
			"store"),
		coreInf: d("coredump", "last_info",
			"Always 1; executable is the name of the program of the newest user-space core dump in a store (the process name for systemd-coredump, the executable's base name for apport), capped at 64 bytes.",
			"store", "executable"),
	}
}

func (c *crashfilesCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.dumps, c.dumpBytes, c.dumpLast, c.lastInfo, c.truncated, c.ignored,
		c.pstoreReadable, c.pstoreRecords, c.pstoreLast, c.pstoreInfo,
		c.coreFiles, c.coreBytes, c.coreLast, c.coreInf} {
		ch <- d
	}
}

// Locations and results.

type locKind int

const (
	locDumps locKind = iota
	locPstoreSysfs
	locPstoreArchive
	locCoredump
)

type location struct {
	kind locKind
	host string // the label: a host path
	path string // where it is read, below --path.rootfs or --path.sysfs
	// always: export zero counts even when the directory does not exist
	// (a configured dump directory that kdump has not created yet).
	always bool
}

func (l location) key() string { return strconv.Itoa(int(l.kind)) + "\x00" + l.path }

type problem struct {
	path, reason string
	err          error
}

type agg struct {
	n     int
	bytes float64
	last  time.Time
	name  string // tie-break and label source of the newest
}

func (a *agg) add(size int64, t time.Time, name string) bool {
	a.n++
	a.bytes += float64(size)
	if a.n == 1 || t.After(a.last) || (t.Equal(a.last) && name > a.name) {
		a.last, a.name = t, name
		return true
	}
	return false
}

type scanResult struct {
	err       error // the scan did not finish (deadline)
	exists    bool  // the directory was listed
	missing   bool  // the directory does not exist
	denied    bool  // listing it was refused
	truncated bool
	ignored   int // names skipped as not dumps, reports or records
	problems  []problem
	cache     map[string]cachedFile

	// dump directories
	states    [2]agg // complete, incomplete
	newest    *crash.Reason
	apport    agg
	apportExe string

	// pstore
	records    map[[2]string]int
	pstoreLast time.Time
	pstoreInfo *crash.Reason

	// systemd-coredump
	cores   agg
	coreExe string
}

func (r *scanResult) report(p string, err error) {
	r.problems = append(r.problems, problem{path: p, reason: fsutil.Reason(err), err: err})
}

// cachedFile remembers what was read from a file, valid while its size and
// modification time are unchanged.
type cachedFile struct {
	size   int64
	mtime  time.Time
	reason crash.Reason
	exe    string
	date   time.Time
}

func (c *crashfilesCollector) locations(ctx context.Context) []location {
	var locs []location
	seen := map[string]int{}
	addDir := func(host string, always bool) {
		host = path.Clean(host)
		if i, ok := seen[host]; ok {
			locs[i].always = locs[i].always || always
			return
		}
		seen[host] = len(locs)
		locs = append(locs, location{kind: locDumps, host: host, path: c.cfg.Root(host), always: always})
	}
	// A local target's directory is exported even before kdump creates it.
	// Remote targets (ssh, nfs, a device that is not mounted) write nowhere
	// that can be listed here; /var/crash is still scanned when it exists,
	// since it keeps dumps saved before, kdump-tools' housekeeping files and
	// apport's reports.
	t, err := loadTarget(ctx, c.cfg)
	if err != nil {
		check(ctx, c.cfg.Root(t.ConfigPath), err)
	} else if t.Configured && t.Enabled && t.Type == kdump.TypeLocal && path.IsAbs(t.Path) {
		addDir(t.Path, true)
	}
	addDir(kdump.DefaultDumpDir, false)
	for _, d := range c.opts.dirs {
		addDir(d, true)
	}
	locs = append(locs,
		location{kind: locPstoreSysfs, host: pstoreSysfsDir, path: c.cfg.Sys("fs", "pstore")},
		location{kind: locPstoreArchive, host: pstoreArchiveDir, path: c.cfg.Root(pstoreArchiveDir)},
		location{kind: locCoredump, host: coredumpStoreDir, path: c.cfg.Root(coredumpStoreDir)},
	)
	return locs
}

// scanContext leaves part of the scrape's time for sending what was found:
// a directory on a hung mount is reported as a timeout while the others
// still report.
func scanContext(ctx context.Context) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	rem := time.Until(dl)
	return context.WithDeadline(ctx, time.Now().Add(rem-rem/5)) // never overflows, unlike rem*4/5
}

func (c *crashfilesCollector) Update(ctx context.Context, ch chan<- prometheus.Metric) error {
	locs := c.locations(ctx)
	sctx, cancel := scanContext(ctx)
	defer cancel()

	results := make([]*scanResult, len(locs))
	var wg sync.WaitGroup
	for i, l := range locs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := c.jobs.do(sctx, l.key(), func() (*scanResult, error) { return c.scan(sctx, l), nil })
			if err != nil && sctx.Err() == nil {
				r = &scanResult{err: err} // the scan panicked
			}
			results[i] = r
		}()
	}
	wg.Wait()

	var apport agg
	var apportExe string
	apportSeen := false
	for i, l := range locs {
		r := results[i]
		if r == nil || r.err != nil {
			err := fmt.Errorf("scan of %s did not finish before the scrape deadline", l.path)
			if r != nil {
				err = fmt.Errorf("%w: %v", err, r.err)
			}
			reportFileError(ctx, l.path, "timeout", err)
			continue
		}
		for _, p := range r.problems {
			reportFileError(ctx, p.path, p.reason, p.err)
		}
		if r.exists {
			ch <- prometheus.MustNewConstMetric(c.truncated, prometheus.GaugeValue, boolFloat(r.truncated), l.host)
			ch <- prometheus.MustNewConstMetric(c.ignored, prometheus.GaugeValue, float64(r.ignored), l.host)
		}
		switch l.kind {
		case locDumps:
			if !r.exists && !(l.always && r.missing) {
				continue
			}
			for s, state := range []string{"complete", "incomplete"} {
				a := r.states[s]
				ch <- prometheus.MustNewConstMetric(c.dumps, prometheus.GaugeValue, float64(a.n), l.host, state)
				ch <- prometheus.MustNewConstMetric(c.dumpBytes, prometheus.GaugeValue, a.bytes, l.host, state)
				if a.n > 0 {
					ch <- prometheus.MustNewConstMetric(c.dumpLast, prometheus.GaugeValue, unixSeconds(a.last), l.host, state)
				}
			}
			if r.newest != nil {
				ch <- prometheus.MustNewConstMetric(c.lastInfo, prometheus.GaugeValue, 1, l.host,
					string(r.newest.Class), r.newest.Summary, r.newest.Panic, capLabel(r.newest.Kernel, 128))
			}
			if r.exists {
				apportSeen = true
				if r.apport.n > 0 {
					if apport.n == 0 || r.apport.last.After(apport.last) {
						apport.last, apportExe = r.apport.last, r.apportExe
					}
					apport.n += r.apport.n
					apport.bytes += r.apport.bytes
				}
			}
		case locPstoreSysfs, locPstoreArchive:
			source := "sysfs"
			if l.kind == locPstoreArchive {
				source = "archive"
			}
			if r.denied {
				ch <- prometheus.MustNewConstMetric(c.pstoreReadable, prometheus.GaugeValue, 0, source)
				continue
			}
			if !r.exists {
				continue
			}
			ch <- prometheus.MustNewConstMetric(c.pstoreReadable, prometheus.GaugeValue, 1, source)
			keys := make([][2]string, 0, len(r.records))
			for k := range r.records {
				keys = append(keys, k)
			}
			sort.Slice(keys, func(i, j int) bool {
				return keys[i][0] < keys[j][0] || keys[i][0] == keys[j][0] && keys[i][1] < keys[j][1]
			})
			for _, k := range keys {
				ch <- prometheus.MustNewConstMetric(c.pstoreRecords, prometheus.GaugeValue, float64(r.records[k]), source, k[0], k[1])
			}
			if len(r.records) > 0 {
				ch <- prometheus.MustNewConstMetric(c.pstoreLast, prometheus.GaugeValue, unixSeconds(r.pstoreLast), source)
			}
			if r.pstoreInfo != nil {
				ch <- prometheus.MustNewConstMetric(c.pstoreInfo, prometheus.GaugeValue, 1, source,
					string(r.pstoreInfo.Class), r.pstoreInfo.Summary, capLabel(r.pstoreInfo.Kernel, 128))
			}
		case locCoredump:
			if r.exists {
				c.sendStore(ch, storeSystemd, r.cores, r.coreExe)
			}
		}
	}
	if apportSeen {
		c.sendStore(ch, storeApport, apport, apportExe)
	}
	return nil
}

func (c *crashfilesCollector) sendStore(ch chan<- prometheus.Metric, store string, a agg, exe string) {
	ch <- prometheus.MustNewConstMetric(c.coreFiles, prometheus.GaugeValue, float64(a.n), store)
	ch <- prometheus.MustNewConstMetric(c.coreBytes, prometheus.GaugeValue, a.bytes, store)
	if a.n > 0 {
		ch <- prometheus.MustNewConstMetric(c.coreLast, prometheus.GaugeValue, unixSeconds(a.last), store)
		ch <- prometheus.MustNewConstMetric(c.coreInf, prometheus.GaugeValue, 1, store, capLabel(exe, coredumpLabelLen))
	}
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// Scanning.

func (c *crashfilesCollector) scan(ctx context.Context, l location) *scanResult {
	r := &scanResult{cache: map[string]cachedFile{}}
	switch l.kind {
	case locDumps:
		c.scanDumps(ctx, l, r)
	case locPstoreSysfs, locPstoreArchive:
		c.scanPstore(ctx, l, r)
	case locCoredump:
		c.scanCoredumps(ctx, l, r)
	}
	if r.err == nil {
		if err := ctx.Err(); err != nil {
			r.err = err
		}
	}
	if r.err == nil {
		c.mu.Lock()
		c.caches[l.key()] = r.cache
		c.mu.Unlock()
	}
	return r
}

// selectors say, by name alone, which entries of a location's directory
// are worth describing; nil describes every entry (a dump directory, whose
// files all count towards its bytes).
var selectors = map[locKind]func(string) (int64, bool){
	locDumps:         crash.SelectCrashDirEntry,
	locPstoreSysfs:   crash.SelectPstoreEntry,
	locPstoreArchive: crash.SelectPstoreArchiveEntry,
	locCoredump:      crash.SelectCoredumpEntry,
}

// list lists one directory, describing the entries sel selects; absent
// directories are not problems.
func (c *crashfilesCollector) list(ctx context.Context, dir string, sel func(string) (int64, bool), r *scanResult) ([]crash.Entry, bool) {
	entries, st, err := crash.ScanDir(ctx, c.reader, dir, crash.Limits{MaxEntries: c.opts.maxEntries, Select: sel})
	if cerr := ctx.Err(); cerr != nil {
		r.err = cerr
		return nil, false
	}
	if st.Truncated {
		r.truncated = true
	}
	r.ignored += st.Ignored
	for i := 0; i < st.Unreadable; i++ {
		r.problems = append(r.problems, problem{path: dir, reason: "io", err: errors.New("an entry could not be described (lstat failed)")})
	}
	if err != nil && len(entries) == 0 {
		if !fsutil.IsNotExist(err) {
			r.report(dir, err)
		}
		return nil, false
	}
	if err != nil {
		r.report(dir, err)
	}
	return entries, true
}

// listTop lists a location's directory and records whether it exists.
func (c *crashfilesCollector) listTop(ctx context.Context, l location, r *scanResult) ([]crash.Entry, bool) {
	entries, st, err := crash.ScanDir(ctx, c.reader, l.path, crash.Limits{MaxEntries: c.opts.maxEntries, Select: selectors[l.kind]})
	if cerr := ctx.Err(); cerr != nil {
		r.err = cerr
		return nil, false
	}
	if err != nil && len(entries) == 0 {
		switch {
		case fsutil.IsNotExist(err):
			r.missing = true
		case errors.Is(err, fs.ErrPermission) && (l.kind == locPstoreSysfs || l.kind == locPstoreArchive):
			r.denied = true
			if c.pstoreDeniedLogged.CompareAndSwap(false, true) {
				level.Warn(c.logger).Log("msg", "cannot list the pstore directory (mode 0750 root; needs root or CAP_DAC_READ_SEARCH); pstore records are not reported and crashguard_pstore_readable is 0", "path", l.path, "err", err)
			}
		default:
			r.report(l.path, err)
		}
		return nil, false
	}
	if err != nil {
		r.report(l.path, err)
	}
	for i := 0; i < st.Unreadable; i++ {
		r.problems = append(r.problems, problem{path: l.path, reason: "io", err: errors.New("an entry could not be described (lstat failed)")})
	}
	r.exists = true
	r.truncated = r.truncated || st.Truncated
	r.ignored += st.Ignored
	return entries, true
}

func (c *crashfilesCollector) cached(e crash.Entry) (cachedFile, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.caches {
		if f, ok := m[e.Path]; ok && f.size == e.Size && f.mtime.Equal(e.ModTime) {
			return f, true
		}
	}
	return cachedFile{}, false
}

type dumpCandidate struct {
	t    time.Time
	name string
	// log is the file to classify; apport is set when it is an apport
	// kernel report with the log embedded.
	log    *crash.Entry
	apport bool
	// release is the kernel release a report's name carries.
	release string
}

func newer(a *dumpCandidate, t time.Time, name string) bool {
	return a == nil || t.After(a.t) || t.Equal(a.t) && name > a.name
}

func (c *crashfilesCollector) scanDumps(ctx context.Context, l location, r *scanResult) {
	entries, ok := c.listTop(ctx, l, r)
	if !ok {
		return
	}
	var best *dumpCandidate
	// Debian dump directories by stamp, to pair them with apport reports.
	type stamped struct {
		hasLog bool
		cand   *dumpCandidate
	}
	debian := map[time.Time]*stamped{}
	var kernelReports []crash.Entry
	for i := range entries {
		if ctx.Err() != nil {
			r.err = ctx.Err()
			return
		}
		e := entries[i]
		if crash.IsKdumpHousekeeping(e.Name) {
			continue
		}
		dd, isDump := crash.ParseDumpDirName(e.Name)
		ap, isApport := crash.ParseApportName(e.Name)
		if !isDump && !isApport {
			continue
		}
		if isDump && e.Kind == crash.KindDir {
			state, size, log, ok := c.scanDumpDir(ctx, e.Path, 2, r)
			if !ok {
				continue
			}
			t := dd.Time
			if !dd.HasTime {
				t = e.ModTime
			}
			r.states[state].add(size, t, e.Name)
			cand := &dumpCandidate{t: t, name: e.Name, log: log}
			if dd.Layout == crash.LayoutDebian && dd.Host == "" {
				debian[t] = &stamped{hasLog: log != nil, cand: cand}
			}
			if newer(best, t, e.Name) {
				best = cand
			}
			continue
		}
		if isApport && ap.Marker == "" && e.Kind == crash.KindRegular {
			switch {
			case ap.Kernel:
				kernelReports = append(kernelReports, e)
			case ap.Executable != "":
				c.apportReport(e, ap, r)
			}
			continue
		}
		if isApport && ap.Marker != "" {
			continue
		}
		// A symlink or special file where a dump or report belongs is
		// neither followed nor opened.
		switch e.Kind {
		case crash.KindSymlink:
			r.report(e.Path, &fs.PathError{Op: "scan", Path: e.Path, Err: fsutil.ErrSymlink})
		case crash.KindRegular:
		default:
			r.report(e.Path, &fs.PathError{Op: "scan", Path: e.Path, Err: fsutil.ErrNotRegular})
		}
	}
	// An apport kernel report is made from a kdump-tools dump directory of
	// the same stamp; while that directory is still there the crash is
	// counted once, and the report's embedded log stands in for a missing
	// dmesg.<stamp>.
	for i := range kernelReports {
		e := kernelReports[i]
		ap, _ := crash.ParseApportName(e.Name)
		if ap.HasTime {
			if d, ok := debian[ap.Time]; ok {
				if !d.hasLog {
					d.cand.log, d.cand.apport, d.cand.release, d.hasLog = &e, true, ap.Release, true
				}
				continue
			}
		}
		t := ap.Time
		if !ap.HasTime {
			t = e.ModTime
		}
		r.states[0].add(e.Size, t, e.Name)
		if newer(best, t, e.Name) {
			best = &dumpCandidate{t: t, name: e.Name, log: &e, apport: true, release: ap.Release}
		}
	}
	if best != nil {
		reason := c.classifyDump(ctx, best, r)
		r.newest = &reason
	}
}

// scanDumpDir lists one dump directory: its state (0 complete, 1
// incomplete), the size of its regular files and the log to classify.
func (c *crashfilesCollector) scanDumpDir(ctx context.Context, dir string, depth int, r *scanResult) (state int, size int64, log *crash.Entry, ok bool) {
	files, ok := c.list(ctx, dir, nil, r)
	if !ok {
		return 0, 0, nil, false
	}
	names := make([]string, 0, len(files))
	byName := map[string]int{}
	for i, f := range files {
		switch f.Kind {
		case crash.KindRegular:
			names = append(names, f.Name)
			byName[f.Name] = i
			size += f.Size
		case crash.KindDir:
			size += c.subdirBytes(ctx, f.Path, depth+1, r)
		default:
			if crash.ClassifyDumpFile(f.Name) != crash.RoleIgnore {
				err := fsutil.ErrNotRegular
				if f.Kind == crash.KindSymlink {
					err = fsutil.ErrSymlink
				}
				r.report(f.Path, &fs.PathError{Op: "scan", Path: f.Path, Err: err})
			}
		}
	}
	sum := crash.SummarizeDump(names)
	state = 1
	if sum.State == crash.DumpComplete {
		state = 0
	}
	if sum.Dmesg != "" {
		e := files[byName[sum.Dmesg]]
		log = &e
	}
	return state, size, log, true
}

// subdirBytes adds up regular files below a dump directory, as deep as
// --collector.crashfiles.max-depth allows.
func (c *crashfilesCollector) subdirBytes(ctx context.Context, dir string, depth int, r *scanResult) int64 {
	if depth > c.opts.maxDepth {
		r.truncated = true
		return 0
	}
	files, ok := c.list(ctx, dir, nil, r)
	if !ok {
		return 0
	}
	var n int64
	for _, f := range files {
		switch f.Kind {
		case crash.KindRegular:
			n += f.Size
		case crash.KindDir:
			n += c.subdirBytes(ctx, f.Path, depth+1, r)
		}
	}
	return n
}

func (c *crashfilesCollector) apportReport(e crash.Entry, ap crash.Apport, r *scanResult) {
	f, ok := c.cached(e)
	if !ok {
		f = cachedFile{size: e.Size, mtime: e.ModTime}
		b, err := c.readHead(e.Path, apportHeadBytes)
		if err != nil {
			if !fsutil.IsNotExist(err) {
				r.report(e.Path, err)
			}
		} else {
			exe, date := crash.ParseApportHeader(b)
			f.exe = exe
			if t, err := time.ParseInLocation(time.ANSIC, date, time.UTC); err == nil {
				f.date = t
			}
		}
	}
	r.cache[e.Path] = f
	exe := f.exe
	if exe == "" {
		exe = ap.Executable
	}
	t := f.date
	if t.IsZero() {
		t = e.ModTime
	}
	if r.apport.add(e.Size, t, e.Name) {
		r.apportExe = path.Base(exe)
	}
}

func (c *crashfilesCollector) classifyDump(ctx context.Context, d *dumpCandidate, r *scanResult) crash.Reason {
	if d.log == nil {
		return crash.Reason{Class: crash.ClassUnknown}
	}
	e := *d.log
	if f, ok := c.cached(e); ok {
		r.cache[e.Path] = f
		return f.reason
	}
	if ctx.Err() != nil {
		return crash.Reason{Class: crash.ClassUnknown}
	}
	reason := crash.Reason{Class: crash.ClassUnknown}
	b, err := c.readTail(e.Path, c.opts.readBytes)
	if err == nil {
		b, err = crash.TextTail(e.Path, b)
	}
	switch {
	case err != nil:
		if !fsutil.IsNotExist(err) {
			r.report(e.Path, err)
		}
		return reason
	case d.apport:
		if log := apportKernelLog(b); log != nil {
			reason = crash.Classify(log)
		}
		if reason.Kernel == "" {
			reason.Kernel = d.release
		}
	default:
		reason = crash.Classify(b)
	}
	r.cache[e.Path] = cachedFile{size: e.Size, mtime: e.ModTime, reason: reason}
	return reason
}

// apportKernelLog returns the kernel log embedded in (the end of) an apport
// kernel report: the VmCoreDmesg: field, either plain text on indented
// continuation lines or, as apport writes file contents, "base64" followed
// by one independently encoded block per line that together form a gzip
// stream. Only the last maxEmbeddedLog bytes are kept.
func apportKernelLog(b []byte) []byte {
	const key = "VmCoreDmesg:"
	i := bytes.Index(b, []byte("\n"+key))
	switch {
	case i >= 0:
		b = b[i+1+len(key):]
	case bytes.HasPrefix(b, []byte(key)):
		b = b[len(key):]
	default:
		return nil
	}
	first, rest, _ := bytes.Cut(b, []byte("\n"))
	var lines [][]byte
	for len(rest) > 0 && rest[0] == ' ' {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte("\n"))
		lines = append(lines, line[1:])
	}
	if string(bytes.TrimSpace(first)) != "base64" {
		out := append([]byte(nil), bytes.TrimSpace(first)...)
		for _, l := range lines {
			out = append(out, '\n')
			out = append(out, l...)
		}
		return lastBytes(out, maxEmbeddedLog)
	}
	var gz []byte
	for _, l := range lines {
		dec, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(l)))
		if err != nil {
			break
		}
		gz = append(gz, dec...)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil
	}
	// A ring of the last maxEmbeddedLog bytes, inflating no more than
	// maxInflate in all; a cut or corrupt stream keeps what came out.
	var out []byte
	buf := make([]byte, 32<<10)
	total := 0
	for total < maxInflate {
		n, err := zr.Read(buf)
		total += n
		out = lastBytes(append(out, buf[:n]...), maxEmbeddedLog)
		if err != nil {
			break
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func lastBytes(b []byte, n int) []byte {
	if len(b) > n {
		return append(b[:0], b[len(b)-n:]...)
	}
	return b
}

// readHead reads at most max bytes from the start of a regular file inside
// t, without following a final symlink or blocking on a FIFO.
func readHead(t *fsutil.Tree, p string, max int64) ([]byte, error) {
	f, _, err := t.Open(p, true)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max))
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: p, Err: err}
	}
	return b, nil
}

// pstore

type pstoreRecord struct {
	e   crash.Entry
	p   crash.Pstore
	t   time.Time
	dir string // the archive sub-directory holding it, "" at the top
}

// pstoreTime is the record's time: efi ids are (seconds*100+part)*1000+count
// (efi_pstore's generic_id); other backends' ids carry no time, and the
// kernel stamps the file with the record's time instead.
func pstoreTime(p crash.Pstore, mtime time.Time) time.Time {
	if (p.Backend == "efi" || p.Backend == "efi_pstore") && len(p.ID) > 5 {
		if id, err := strconv.ParseUint(p.ID, 10, 64); err == nil && id/100000 > 0 {
			return time.Unix(int64(id/100000), 0).UTC()
		}
	}
	return mtime
}

// efiGroup says which crash and part an efi record belongs to.
func efiGroup(p crash.Pstore) (group uint64, part int, ok bool) {
	if p.Backend != "efi" && p.Backend != "efi_pstore" {
		return 0, 0, false
	}
	id, err := strconv.ParseUint(p.ID, 10, 64)
	if err != nil || id < 100000 {
		return 0, 0, false
	}
	return (id/100000)*1000 + id%1000, int(id / 1000 % 100), true
}

func (c *crashfilesCollector) scanPstore(ctx context.Context, l location, r *scanResult) {
	entries, ok := c.listTop(ctx, l, r)
	if !ok {
		return
	}
	r.records = map[[2]string]int{}
	var recs []pstoreRecord
	dmesgTxt := map[string]crash.Entry{}
	add := func(e crash.Entry, dir string) {
		p, ok := crash.ParsePstoreName(e.Name)
		if !ok {
			return
		}
		if e.Kind != crash.KindRegular {
			r.report(e.Path, &fs.PathError{Op: "scan", Path: e.Path, Err: fsutil.ErrNotRegular})
			return
		}
		recs = append(recs, pstoreRecord{e: e, p: p, t: pstoreTime(p, e.ModTime), dir: dir})
		r.records[[2]string{p.Backend, p.Type}]++
	}
	for _, e := range entries {
		if l.kind == locPstoreArchive && e.Kind == crash.KindDir {
			if _, ok := crash.ParsePstoreArchiveDir(e.Name); !ok {
				continue
			}
			if c.opts.maxDepth < 2 {
				r.truncated = true
				continue
			}
			sub, ok := c.list(ctx, e.Path, crash.SelectPstoreArchiveEntry, r)
			if !ok {
				continue
			}
			for _, s := range sub {
				if s.Name == crash.PstoreArchiveDmesg && s.Kind == crash.KindRegular {
					dmesgTxt[e.Name] = s
					continue
				}
				add(s, e.Name)
			}
			continue
		}
		add(e, "")
	}
	var newest *pstoreRecord
	var newestDmesg *pstoreRecord
	for i := range recs {
		rec := &recs[i]
		if newest == nil || rec.t.After(newest.t) {
			newest = rec
		}
		if rec.p.Type != "dmesg" || rec.p.Compressed {
			continue
		}
		if newestDmesg == nil || rec.t.After(newestDmesg.t) || rec.t.Equal(newestDmesg.t) && rec.e.Path < newestDmesg.e.Path {
			newestDmesg = rec
		}
	}
	if newest != nil {
		r.pstoreLast = newest.t
	}
	if newestDmesg == nil {
		return
	}
	// What to classify: the reassembled dmesg.txt of an archived group, or
	// the record with every other part of the same crash, oldest part (the
	// highest number) first, as systemd-pstore joins them.
	var parts []crash.Entry
	if txt, ok := dmesgTxt[newestDmesg.dir]; ok && newestDmesg.dir != "" {
		parts = []crash.Entry{txt}
	} else if g, _, ok := efiGroup(newestDmesg.p); ok {
		type part struct {
			n int
			e crash.Entry
		}
		var ps []part
		for _, rec := range recs {
			if rec.dir != newestDmesg.dir || rec.p.Type != "dmesg" || rec.p.Compressed {
				continue
			}
			if g2, n, ok := efiGroup(rec.p); ok && g2 == g {
				ps = append(ps, part{n, rec.e})
			}
		}
		sort.Slice(ps, func(i, j int) bool { return ps[i].n > ps[j].n })
		for _, p := range ps {
			parts = append(parts, p.e)
		}
	} else {
		parts = []crash.Entry{newestDmesg.e}
	}
	reason := c.classifyParts(ctx, parts, r)
	r.pstoreInfo = &reason
}

// classifyParts classifies the concatenation of files (at most the read cap
// from the end), cached under the last file while none has changed.
func (c *crashfilesCollector) classifyParts(ctx context.Context, parts []crash.Entry, r *scanResult) crash.Reason {
	key := parts[len(parts)-1]
	var size int64
	mtime := key.ModTime
	for _, p := range parts {
		size += p.Size
		if p.ModTime.After(mtime) {
			mtime = p.ModTime
		}
	}
	sig := crash.Entry{Path: key.Path, Size: size, ModTime: mtime}
	if f, ok := c.cached(sig); ok {
		r.cache[sig.Path] = f
		return f.reason
	}
	var text []byte
	for _, p := range parts {
		if ctx.Err() != nil {
			return crash.Reason{Class: crash.ClassUnknown}
		}
		b, err := c.readTail(p.Path, c.opts.readBytes)
		if err == nil {
			b, err = crash.TextTail(p.Path, b)
		}
		if err != nil {
			if !fsutil.IsNotExist(err) {
				r.report(p.Path, err)
			}
			continue
		}
		text = lastBytes(append(text, b...), int(c.opts.readBytes))
	}
	reason := crash.Classify(text)
	r.cache[sig.Path] = cachedFile{size: size, mtime: mtime, reason: reason}
	return reason
}

// systemd-coredump

func (c *crashfilesCollector) scanCoredumps(ctx context.Context, l location, r *scanResult) {
	entries, ok := c.listTop(ctx, l, r)
	if !ok {
		return
	}
	for _, e := range entries {
		cd, ok := crash.ParseCoredumpName(e.Name)
		if !ok {
			continue
		}
		if e.Kind != crash.KindRegular {
			r.report(e.Path, &fs.PathError{Op: "scan", Path: e.Path, Err: fsutil.ErrNotRegular})
			continue
		}
		if r.cores.add(e.Size, cd.Time, e.Name) {
			r.coreExe = cd.Comm
		}
	}
}

package collector

import (
	"context"
	"fmt"
	"path"
	"slices"
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
	crashfilesDefaultRead    = crash.DefaultReadBytes

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
	dirs                 []string
	maxEntries, maxDepth int
	readBytes            int64
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
	// static are the locations scanned on every scrape; the kdump target's
	// directory is added in front when the configuration names one.
	static []crashLocation
	// scanner reads the locations; tests replace its Reader and ReadTail
	// to simulate hung mounts and permissions. Its Cache keeps what was
	// read from unchanged files between scrapes.
	scanner crash.Scanner

	// jobs keeps at most one scan per location running: a scan stuck on a
	// hung file system outlives its scrape, and later scrapes wait for it.
	jobs callGroup[crash.Location, *crash.Inventory]

	pstoreDeniedLogged atomic.Bool

	dumps, dumpBytes, dumpLast, lastInfo    *prometheus.Desc
	truncated, ignored                      *prometheus.Desc
	pstoreReadable, pstoreRecords           *prometheus.Desc
	pstoreLast, pstoreInfo                  *prometheus.Desc
	coreFiles, coreBytes, coreLast, coreInf *prometheus.Desc
}

// crashLocation is a location and how it is labelled.
type crashLocation struct {
	crash.Location
	host string // the dir label: a host path
	// always: export zero counts even when the directory does not exist
	// (a configured dump directory that kdump has not created yet).
	always bool
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
		static: staticLocations(cfg, o.dirs),
		scanner: crash.Scanner{
			Reader:     crash.NewOSDirReader(),
			ReadTail:   func(p string, max int64) ([]byte, error) { return crash.ReadTailIn(trees.Find(p), p, max) },
			ReadHead:   func(p string, max int64) ([]byte, error) { return crash.ReadHeadIn(trees.Find(p), p, max) },
			MaxEntries: o.maxEntries,
			MaxDepth:   o.maxDepth,
			ReadBytes:  o.readBytes,
			Cache:      &crash.Cache{},
		},

		dumps:          d("crash", "dumps", "Kernel crash dumps in a crash directory (RHEL <ip>-<date>, Debian/Ubuntu <stamp> and <host>-<stamp>, SUSE <date> directories, and Ubuntu apport linux-image-*.crash reports). state is complete (a memory image) or incomplete (an image marked incomplete, or none). Both states are exported for every scanned directory."+dirBound, "dir", "state"),
		dumpBytes:      d("crash", "dump_bytes", "Total size of the regular files of the kernel crash dumps in a crash directory, by state."+dirBound, "dir", "state"),
		dumpLast:       d("crash", "dump_last_timestamp_seconds", "Time of the newest kernel crash dump in a crash directory, by state: from the directory or report name where it carries one (the capture kernel's local time, read as UTC), else the modification time. Absent when there is none."+dirBound, "dir", "state"),
		lastInfo:       d("crash", "last_info", "Always 1; the classified reason of the newest kernel crash dump in a crash directory, read from the end of its vmcore-dmesg.txt, dmesg.<stamp>, dmesg(.txt) or the kernel log embedded in an apport report. class is one of a fixed set (unknown when there is no readable log); reason and panic are normalised lines of at most 120 bytes; kernel is the crashed kernel's release."+dirBound, "dir", "class", "reason", "panic", "kernel"),
		truncated:      d("crashfiles", "scan_truncated", "1 when a scan of this directory left entries out, so dump counts and bytes may be low: a listing held more than --collector.crashfiles.max-entries entries named like dumps, reports or records (the newest by the time in their names were kept), or more than "+strconv.Itoa(crash.DefaultMaxNames)+" names in all (the rest were not read), or a dump directory had sub-directories deeper than --collector.crashfiles.max-depth."+dirBound, "dir"),
		ignored:        d("crashfiles", "scan_ignored_entries", "Entries of this directory (and of systemd-pstore's per-crash sub-directories) that the last scan skipped by name alone, without looking at them: names no crash tool gives a dump, report or record (kdump-tools' kdump_lock and kexec_cmd, apport's upload markers, anything else). They take no place under --collector.crashfiles.max-entries; thousands mean something floods the directory."+dirBound, "dir"),
		pstoreReadable: d("pstore", "readable", "1 when the pstore directory could be listed, 0 when listing it was refused (/sys/fs/pstore is mode 0750 root). source is sysfs (/sys/fs/pstore) or archive (systemd-pstore's /var/lib/systemd/pstore). Absent when the directory does not exist.", "source"),
		pstoreRecords:  d("pstore", "records", "pstore records by backend (ramoops, efi, efi_pstore, erst, nvram, other) and kind (the record type: dmesg, console, ftrace, pmsg, mce, rtas, powerpc-*, other). source is sysfs or archive; the archive counts the part files systemd-pstore moved there. Only kinds present are exported.", "source", "backend", "kind"),
		pstoreLast:     d("pstore", "last_timestamp_seconds", "Time of the newest pstore record: decoded from the record id for the efi backends, else the file's modification time (which the kernel sets to the record time in /sys/fs/pstore, and systemd-pstore to the time it moved the record).", "source"),
		pstoreInfo:     d("pstore", "last_info", "Always 1; the classified reason of the newest pstore dmesg record (for efi and erst the parts of one crash, or the dmesg.txt systemd-pstore reassembled). class is one of a fixed set; reason is a normalised line of at most 120 bytes; kernel is the crashed kernel's release.", "source", "class", "reason", "kernel"),
		coreFiles:      d("coredump", "files", "User-space core dumps kept on disk: store is systemd-coredump (core.* files in /var/lib/systemd/coredump) or apport (reports of user-space crashes, _<path>.<uid>.crash, in the scanned crash directories).", "store"),
		coreBytes:      d("coredump", "bytes", "Total size of the user-space core dumps kept in a store.", "store"),
		coreLast:       d("coredump", "last_timestamp_seconds", "Time of the newest user-space core dump in a store: the file name's microsecond field for systemd-coredump, the report's Date: (local time, read as UTC) for apport, else the modification time. Absent when the store is empty.", "store"),
		coreInf:        d("coredump", "last_info", "Always 1; executable is the name of the program of the newest user-space core dump in a store (the process name for systemd-coredump, the executable's base name for apport), capped at 64 bytes.", "store", "executable"),
	}
}

func (c *crashfilesCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.dumps, c.dumpBytes, c.dumpLast, c.lastInfo, c.truncated, c.ignored,
		c.pstoreReadable, c.pstoreRecords, c.pstoreLast, c.pstoreInfo,
		c.coreFiles, c.coreBytes, c.coreLast, c.coreInf} {
		ch <- d
	}
}

// staticLocations are the locations every scrape scans: /var/crash and the
// extra directories (each once), the pstore directories and
// systemd-coredump's store.
func staticLocations(cfg Config, dirs []string) []crashLocation {
	locs := []crashLocation{dumpLocation(cfg, kdump.DefaultDumpDir, false)}
	for _, dir := range dirs {
		if i := slices.IndexFunc(locs, func(l crashLocation) bool { return l.host == dir }); i >= 0 {
			locs[i].always = true
		} else {
			locs = append(locs, dumpLocation(cfg, dir, true))
		}
	}
	return append(locs,
		crashLocation{Location: crash.Location{Store: crash.StorePstore, Path: cfg.Sys("fs", "pstore")}, host: pstoreSysfsDir},
		crashLocation{Location: crash.Location{Store: crash.StorePstoreArchive, Path: cfg.Root(pstoreArchiveDir)}, host: pstoreArchiveDir},
		crashLocation{Location: crash.Location{Store: crash.StoreCoredump, Path: cfg.Root(coredumpStoreDir)}, host: coredumpStoreDir})
}

func dumpLocation(cfg Config, host string, always bool) crashLocation {
	return crashLocation{Location: crash.Location{Store: crash.StoreCrashDir, Path: cfg.Root(host)}, host: host, always: always}
}

// locations are the static locations with the kdump target's directory in
// front. A local target's directory is exported even before kdump creates
// it. Remote targets (ssh, nfs, a device that is not mounted) write nowhere
// that can be listed here; /var/crash is still scanned when it exists,
// since it keeps dumps saved before, kdump-tools' housekeeping files and
// apport's reports.
func (c *crashfilesCollector) locations(ctx context.Context) []crashLocation {
	t, err := loadTarget(ctx, c.cfg)
	if err != nil {
		check(ctx, c.cfg.Root(t.ConfigPath), err)
		return c.static
	}
	if !t.Configured || !t.Enabled || t.Type != kdump.TypeLocal || !path.IsAbs(t.Path) {
		return c.static
	}
	target := dumpLocation(c.cfg, path.Clean(t.Path), true)
	locs := append(make([]crashLocation, 0, len(c.static)+1), target)
	for _, l := range c.static {
		if l.Store != crash.StoreCrashDir || l.host != target.host {
			locs = append(locs, l)
		}
	}
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
	scans := make([]struct {
		inv *crash.Inventory
		err error
	}, len(locs))
	var wg sync.WaitGroup
	for i, l := range locs {
		wg.Go(func() {
			scans[i].inv, scans[i].err = c.jobs.do(sctx, l.Location, func() (*crash.Inventory, error) {
				return c.scanner.Scan(sctx, l.Location)
			})
		})
	}
	wg.Wait()

	var apport crash.CoreFiles
	apportSeen := false
	for i, l := range locs {
		inv, err := scans[i].inv, scans[i].err
		if err != nil {
			reportFileError(ctx, l.Path, "timeout", fmt.Errorf("scan of %s did not finish before the scrape deadline: %w", l.Path, err))
			continue
		}
		for _, p := range inv.Problems {
			reportFileError(ctx, p.Path, fsutil.Reason(p.Err), p.Err)
		}
		if inv.Listed {
			ch <- prometheus.MustNewConstMetric(c.truncated, prometheus.GaugeValue, boolFloat(inv.Truncated), l.host)
			ch <- prometheus.MustNewConstMetric(c.ignored, prometheus.GaugeValue, float64(inv.Ignored), l.host)
		}
		switch l.Store {
		case crash.StoreCrashDir:
			if inv.Listed || l.always && inv.Missing {
				c.sendDumps(ch, l.host, &inv.Dumps)
			}
			if inv.Listed {
				apportSeen = true
				apport.Merge(inv.Apport)
			}
		case crash.StorePstore, crash.StorePstoreArchive:
			c.sendPstore(ch, l, inv)
		case crash.StoreCoredump:
			if inv.Listed {
				c.sendStore(ch, storeSystemd, &inv.Cores)
			}
		}
	}
	if apportSeen {
		c.sendStore(ch, storeApport, &apport)
	}
	return nil
}

func (c *crashfilesCollector) sendDumps(ch chan<- prometheus.Metric, dir string, d *crash.KernelDumps) {
	for _, s := range [...]struct {
		state string
		t     *crash.Tally
	}{{"complete", &d.Complete}, {"incomplete", &d.Incomplete}} {
		ch <- prometheus.MustNewConstMetric(c.dumps, prometheus.GaugeValue, float64(s.t.Count), dir, s.state)
		ch <- prometheus.MustNewConstMetric(c.dumpBytes, prometheus.GaugeValue, s.t.Bytes, dir, s.state)
		if s.t.Count > 0 {
			ch <- prometheus.MustNewConstMetric(c.dumpLast, prometheus.GaugeValue, unixSeconds(s.t.Newest), dir, s.state)
		}
	}
	if r := d.Last; r != nil {
		ch <- prometheus.MustNewConstMetric(c.lastInfo, prometheus.GaugeValue, 1, dir,
			string(r.Class), r.Summary, r.Panic, capLabel(r.Kernel, 128))
	}
}

func (c *crashfilesCollector) sendPstore(ch chan<- prometheus.Metric, l crashLocation, inv *crash.Inventory) {
	source := "sysfs"
	if l.Store == crash.StorePstoreArchive {
		source = "archive"
	}
	if inv.Refused != nil {
		if c.pstoreDeniedLogged.CompareAndSwap(false, true) {
			level.Warn(c.logger).Log("msg", "cannot list the pstore directory (mode 0750 root; needs root or CAP_DAC_READ_SEARCH); pstore records are not reported and crashguard_pstore_readable is 0", "path", l.Path, "err", inv.Refused)
		}
		ch <- prometheus.MustNewConstMetric(c.pstoreReadable, prometheus.GaugeValue, 0, source)
		return
	}
	if !inv.Listed {
		return
	}
	p := &inv.Pstore
	ch <- prometheus.MustNewConstMetric(c.pstoreReadable, prometheus.GaugeValue, 1, source)
	for _, r := range p.Counts {
		ch <- prometheus.MustNewConstMetric(c.pstoreRecords, prometheus.GaugeValue, float64(r.Count), source, r.Backend, r.Kind)
	}
	if len(p.Counts) > 0 {
		ch <- prometheus.MustNewConstMetric(c.pstoreLast, prometheus.GaugeValue, unixSeconds(p.Newest), source)
	}
	if r := p.Last; r != nil {
		ch <- prometheus.MustNewConstMetric(c.pstoreInfo, prometheus.GaugeValue, 1, source,
			string(r.Class), r.Summary, capLabel(r.Kernel, 128))
	}
}

func (c *crashfilesCollector) sendStore(ch chan<- prometheus.Metric, store string, f *crash.CoreFiles) {
	ch <- prometheus.MustNewConstMetric(c.coreFiles, prometheus.GaugeValue, float64(f.Count), store)
	ch <- prometheus.MustNewConstMetric(c.coreBytes, prometheus.GaugeValue, f.Bytes, store)
	if f.Count > 0 {
		ch <- prometheus.MustNewConstMetric(c.coreLast, prometheus.GaugeValue, unixSeconds(f.Newest), store)
		ch <- prometheus.MustNewConstMetric(c.coreInf, prometheus.GaugeValue, 1, store, capLabel(f.Executable, coredumpLabelLen))
	}
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

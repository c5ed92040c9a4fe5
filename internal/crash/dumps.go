package crash

import (
	"path"
	"time"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

// apportHeadBytes is how much of a user-space apport report is read for its
// ExecutablePath: and Date: fields, which come first.
const apportHeadBytes = 8 << 10

// dumpCandidate is a kernel dump that may be the newest.
type dumpCandidate struct {
	t    time.Time
	name string
	// log is the file to classify (Path "" when none); apport is set when
	// it is an apport kernel report with the log embedded.
	log    Entry
	apport bool
	// release is the kernel release a report's name carries.
	release string
	// debian is set for a kdump-tools directory named by its stamp alone,
	// which an apport kernel report of the same stamp pairs with.
	debian bool
}

func (d *dumpCandidate) olderThan(t time.Time, name string) bool {
	return d.name == "" || t.After(d.t) || t.Equal(d.t) && name > d.name
}

// crashDir inventories a crash directory: kernel dump directories, apport
// kernel reports (one crash with the kdump-tools directory of the same
// stamp while both are there) and apport reports of user-space crashes.
func (sc *scan) crashDir() {
	entries, ok := sc.listTop()
	if !ok {
		return
	}
	inv := sc.inv
	var best dumpCandidate
	// kdump-tools directories named by their stamp alone, to pair them with
	// apport kernel reports.
	var debian map[time.Time]dumpCandidate
	var kernelReports []int
	for i := range entries {
		if sc.ctx.Err() != nil {
			return
		}
		e := &entries[i]
		if IsKdumpHousekeeping(e.Name) {
			continue
		}
		dd, isDump := ParseDumpDirName(e.Name)
		ap, isApport := ParseApportName(e.Name)
		switch {
		case isDump && e.Kind == KindDir:
			complete, size, log, ok := sc.dumpDir(e.Path)
			if !ok {
				continue
			}
			t := dd.Time
			if !dd.HasTime {
				t = e.ModTime
			}
			if complete {
				inv.Dumps.Complete.add(size, t, e.Name)
			} else {
				inv.Dumps.Incomplete.add(size, t, e.Name)
			}
			cand := dumpCandidate{t: t, name: e.Name, log: log, debian: dd.Layout == LayoutDebian && dd.Host == ""}
			if cand.debian {
				if debian == nil {
					debian = map[time.Time]dumpCandidate{}
				}
				debian[t] = cand
			}
			if best.olderThan(t, e.Name) {
				best = cand
			}
		case isApport && ap.Marker == "" && e.Kind == KindRegular:
			switch {
			case ap.Kernel:
				kernelReports = append(kernelReports, i)
			case ap.Executable != "":
				sc.apportReport(e, ap)
			}
		case isApport && ap.Marker != "":
		case !isDump && !isApport:
		case e.Kind != KindRegular:
			// A symlink or special file where a dump or report belongs
			// is neither followed nor opened.
			sc.reportKind(*e)
		}
	}
	// An apport kernel report is made from a kdump-tools dump directory of
	// the same stamp; while that directory is still there the crash is
	// counted once, and the report's embedded log stands in for a missing
	// dmesg.<stamp>.
	for _, i := range kernelReports {
		e := entries[i]
		ap, _ := ParseApportName(e.Name)
		if ap.HasTime {
			if d, ok := debian[ap.Time]; ok {
				if d.log.Path == "" {
					d.log, d.apport, d.release = e, true, ap.Release
					debian[ap.Time] = d
					if best.debian && best.name == d.name {
						best = d
					}
				}
				continue
			}
		}
		t := ap.Time
		if !ap.HasTime {
			t = e.ModTime
		}
		inv.Dumps.Complete.add(e.Size, t, e.Name)
		if best.olderThan(t, e.Name) {
			best = dumpCandidate{t: t, name: e.Name, log: e, apport: true, release: ap.Release}
		}
	}
	if best.name != "" {
		reason := sc.classifyDump(&best)
		inv.Dumps.Last = &reason
	}
}

// dumpDir lists one dump directory: whether it holds a complete image, the
// size of its regular files and the log to classify (Path "" when none).
func (sc *scan) dumpDir(dir string) (complete bool, size int64, log Entry, ok bool) {
	files, ok := sc.list(dir, nil, false)
	if !ok {
		return false, 0, Entry{}, false
	}
	names := make([]string, 0, 8)
	for _, f := range files {
		switch f.Kind {
		case KindRegular:
			names = append(names, f.Name)
			size += f.Size
		case KindDir:
			size += sc.subdirBytes(f.Path, 3)
		default:
			if ClassifyDumpFile(f.Name) != RoleIgnore {
				sc.reportKind(f)
			}
		}
	}
	sum := SummarizeDump(names)
	if sum.Dmesg != "" {
		for _, f := range files {
			if f.Kind == KindRegular && f.Name == sum.Dmesg {
				log = f
				break
			}
		}
	}
	return sum.State == DumpComplete, size, log, true
}

// subdirBytes adds up the regular files below a dump directory, as deep as
// MaxDepth allows; depth is the level dir is at.
func (sc *scan) subdirBytes(dir string, depth int) int64 {
	if depth > sc.maxDepth() {
		sc.inv.Truncated = true
		return 0
	}
	files, ok := sc.list(dir, nil, false)
	if !ok {
		return 0
	}
	var n int64
	for _, f := range files {
		switch f.Kind {
		case KindRegular:
			n += f.Size
		case KindDir:
			n += sc.subdirBytes(f.Path, depth+1)
		}
	}
	return n
}

// apportReport counts a report of a user-space crash, timed and named by
// its Date: and ExecutablePath: fields where it has them.
func (sc *scan) apportReport(e *Entry, ap Apport) {
	f, ok := sc.cached(e.Path, e.Size, e.ModTime)
	if !ok {
		f = cachedFile{size: e.Size, mtime: e.ModTime}
		b, err := sc.readHead(e.Path, apportHeadBytes)
		if err != nil {
			if !fsutil.IsNotExist(err) {
				sc.report(e.Path, err)
			}
		} else {
			exe, date := ParseApportHeader(b)
			f.exe = exe
			if t, err := time.ParseInLocation(time.ANSIC, date, time.UTC); err == nil {
				f.date = t
			}
		}
		sc.keep(e.Path, f)
	}
	exe := f.exe
	if exe == "" {
		exe = ap.Executable
	}
	t := f.date
	if t.IsZero() {
		t = e.ModTime
	}
	if sc.inv.Apport.add(e.Size, t, e.Name) {
		sc.inv.Apport.Executable = path.Base(exe)
	}
}

// classifyDump classifies the newest dump from the end of its log.
func (sc *scan) classifyDump(d *dumpCandidate) Reason {
	unknown := Reason{Class: ClassUnknown}
	e := d.log
	if e.Path == "" {
		return unknown
	}
	if f, ok := sc.cached(e.Path, e.Size, e.ModTime); ok {
		return f.reason
	}
	if sc.ctx.Err() != nil {
		return unknown
	}
	b, ok := sc.readLog(e.Path)
	if !ok {
		return unknown
	}
	reason := unknown
	if d.apport {
		if log := apportKernelLog(b); log != nil {
			reason = Classify(log)
		}
		if reason.Kernel == "" {
			reason.Kernel = d.release
		}
	} else {
		reason = Classify(b)
	}
	sc.keep(e.Path, cachedFile{size: e.Size, mtime: e.ModTime, reason: reason})
	return reason
}

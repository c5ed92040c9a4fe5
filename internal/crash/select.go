package crash

import "math"

// Selectors for ScanDir's Limits.Select, one per kind of store. Each accepts
// the names the tools write there, judged by the name alone, so that
// anything else in a directory others can write to (Ubuntu ships /var/crash
// mode 3777) is counted and skipped without an lstat and never takes the
// place of a dump under the entry cap. The rank keeps the newest when the
// cap is exceeded: the time a name carries, where it carries one.

const (
	// A user-space or package apport report ranks below every kernel dump.
	rankUserReport = math.MinInt64 + iota
	// An apport kernel report whose name has no stamp.
	rankUntimedKernelReport
)

// SelectCrashDirEntry selects, in a crash directory, kernel dump directories
// of every layout ParseDumpDirName knows and apport reports (not their upload
// markers); kdump-tools' kdump_lock and kexec_cmd are refused, as they are
// never read. Kernel dumps and reports rank by the capture time in their
// names, above user-space reports.
func SelectCrashDirEntry(name string) (rank int64, ok bool) {
	if d, ok := ParseDumpDirName(name); ok {
		return d.Time.Unix(), true
	}
	a, ok := ParseApportName(name)
	switch {
	case !ok || a.Marker != "":
		return 0, false
	case a.Kernel && a.HasTime:
		return a.Time.Unix(), true
	case a.Kernel:
		return rankUntimedKernelReport, true
	}
	return rankUserReport, true
}

// SelectPstoreEntry selects pstore record names in /sys/fs/pstore. Records
// rank equally, so the cap keeps the names that sort last (for the efi
// backends' equally long ids, the newest).
func SelectPstoreEntry(name string) (rank int64, ok bool) {
	_, ok = ParsePstoreName(name)
	return 0, ok
}

// SelectPstoreArchiveEntry selects, in systemd-pstore's archive and in its
// per-crash sub-directories, record names, the sub-directories themselves
// and the reassembled PstoreArchiveDmesg.
func SelectPstoreArchiveEntry(name string) (rank int64, ok bool) {
	if name == PstoreArchiveDmesg {
		return 0, true
	}
	if _, ok := ParsePstoreArchiveDir(name); ok {
		return 0, true
	}
	return SelectPstoreEntry(name)
}

// SelectCoredumpEntry selects systemd-coredump's core files, ranked by the
// crash time in their names.
func SelectCoredumpEntry(name string) (rank int64, ok bool) {
	c, ok := ParseCoredumpName(name)
	if !ok {
		return 0, false
	}
	return c.Time.UnixMicro(), true
}

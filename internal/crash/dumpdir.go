package crash

import (
	"strings"
	"time"
)

// Layout names the tool that wrote a kernel dump directory.
type Layout string

const (
	// LayoutRHEL is kdump-utils (RHEL, Fedora, CentOS): <ip>-YYYY-MM-DD-HH:MM:SS.
	LayoutRHEL Layout = "rhel"
	// LayoutDebian is kdump-tools (Debian, Ubuntu): YYYYMMDDHHMM or <host>-YYYYMMDDHHMM.
	LayoutDebian Layout = "debian"
	// LayoutSUSE is openSUSE/SLES kdump: YYYY-MM-DD-HH-MM (kdump-save) or YYYY-MM-DD-HH:MM (kdumptool).
	LayoutSUSE Layout = "suse"
)

// DumpDir is what a kernel dump directory's name says.
type DumpDir struct {
	Layout Layout
	// Host is the IP address or host name in a remote (or RHEL local,
	// 127.0.0.1) dump directory name; empty when the name has none.
	Host string
	// Time is the capture time from the name, read as UTC: the tools write
	// the capture kernel's local time and the zone it used is not recorded.
	Time    time.Time
	HasTime bool
}

const (
	rhelStamp   = "2006-01-02-15:04:05"
	debianStamp = "200601021504"
	suseStamp   = "2006-01-02-15-04"
	suseOld     = "2006-01-02-15:04"
)

// ParseDumpDirName recognises the name of a kernel dump directory directly
// under a crash directory. Anything else (kdump-tools' kdump_lock and
// kexec_cmd, apport reports, stray directories) is not a dump directory.
func ParseDumpDirName(name string) (DumpDir, bool) {
	if len(name) > 255 {
		return DumpDir{}, false
	}
	if t, ok := parseStamp(suseStamp, name); ok {
		return DumpDir{Layout: LayoutSUSE, Time: t, HasTime: true}, true
	}
	if t, ok := parseStamp(suseOld, name); ok {
		return DumpDir{Layout: LayoutSUSE, Time: t, HasTime: true}, true
	}
	if t, ok := parseStamp(debianStamp, name); ok {
		return DumpDir{Layout: LayoutDebian, Time: t, HasTime: true}, true
	}
	if host, stamp, ok := splitHostStamp(name, len(rhelStamp)); ok {
		if t, ok := parseStamp(rhelStamp, stamp); ok {
			return DumpDir{Layout: LayoutRHEL, Host: host, Time: t, HasTime: true}, true
		}
	}
	if host, stamp, ok := splitHostStamp(name, len(debianStamp)); ok {
		if t, ok := parseStamp(debianStamp, stamp); ok {
			return DumpDir{Layout: LayoutDebian, Host: host, Time: t, HasTime: true}, true
		}
	}
	return DumpDir{}, false
}

// parseStamp parses s only when it has exactly the layout's shape: digits
// where the layout has digits and the same separators, so time.Parse's
// leniency (single-digit fields, trailing text) does not widen what matches.
func parseStamp(layout, s string) (time.Time, bool) {
	if len(s) != len(layout) {
		return time.Time{}, false
	}
	for i := 0; i < len(s); i++ {
		l, c := layout[i], s[i]
		if l >= '0' && l <= '9' {
			if c < '0' || c > '9' {
				return time.Time{}, false
			}
		} else if c != l {
			return time.Time{}, false
		}
	}
	t, err := time.ParseInLocation(layout, s, time.UTC)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

// splitHostStamp splits "<host>-<stamp>" where the stamp has n bytes.
func splitHostStamp(name string, n int) (host, stamp string, ok bool) {
	if len(name) < n+2 || name[len(name)-n-1] != '-' {
		return "", "", false
	}
	host = name[:len(name)-n-1]
	if !validHost(host) {
		return "", "", false
	}
	return host, name[len(name)-n:], true
}

// validHost accepts IPv4, IPv6 (optionally bracketed, with a zone) and host
// names as the dump tools write them.
func validHost(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.', c == ':', c == '-', c == '_', c == '%', c == '[', c == ']':
		default:
			return false
		}
	}
	return true
}

// IsKdumpHousekeeping reports the files kdump-tools keeps at the top of its
// crash directory that are not dumps.
func IsKdumpHousekeeping(name string) bool {
	return name == "kdump_lock" || name == "kexec_cmd"
}

// FileRole is what a file inside a kernel dump directory is.
type FileRole int

const (
	RoleIgnore FileRole = iota
	// RoleVmcore is a complete memory image.
	RoleVmcore
	// RoleVmcoreIncomplete is an image still being written, or left behind
	// when writing failed.
	RoleVmcoreIncomplete
	// RoleDmesg is the crashed kernel's log extracted from the image.
	RoleDmesg
	// RoleDmesgIncomplete is a log extraction that did not finish.
	RoleDmesgIncomplete
	// RoleReadme is SUSE's README.txt describing the dump.
	RoleReadme
	// RoleCaptureLog is kdump-utils' kexec-dmesg.log: the capture kernel's
	// own log, useful when the dump failed, not the crashed kernel's.
	RoleCaptureLog
)

var roleNames = [...]string{"ignore", "vmcore", "vmcore_incomplete", "dmesg", "dmesg_incomplete", "readme", "capture_log"}

func (r FileRole) String() string {
	if r >= 0 && int(r) < len(roleNames) {
		return roleNames[r]
	}
	return "ignore"
}

var compressionSuffixes = []string{".bz2", ".gz", ".lz4", ".xz", ".zst"}

func trimCompression(name string) string {
	for _, s := range compressionSuffixes {
		if strings.HasSuffix(name, s) {
			return name[:len(name)-len(s)]
		}
	}
	return name
}

// ClassifyDumpFile says what a file in a kernel dump directory is, for the
// names kdump-utils, kdump-tools and SUSE kdump write.
func ClassifyDumpFile(name string) FileRole {
	switch name {
	case "vmcore", "vmcore.flat":
		return RoleVmcore
	case "vmcore-incomplete", "dump-incomplete":
		return RoleVmcoreIncomplete
	case "vmcore-dmesg.txt", "dmesg", "dmesg.txt":
		return RoleDmesg
	case "vmcore-dmesg-incomplete.txt":
		return RoleDmesgIncomplete
	case "README.txt":
		return RoleReadme
	case "kexec-dmesg.log":
		return RoleCaptureLog
	}
	base := trimCompression(name)
	if base == "vmcore" {
		return RoleVmcore
	}
	if stamp, ok := strings.CutPrefix(base, "dump."); ok && isDebianStamp(stamp) {
		return RoleVmcore
	}
	if stamp, ok := strings.CutPrefix(name, "vmcore."); ok && isDebianStamp(stamp) {
		return RoleVmcore
	}
	if stamp, ok := strings.CutPrefix(name, "dmesg."); ok && isDebianStamp(stamp) {
		return RoleDmesg
	}
	return RoleIgnore
}

func isDebianStamp(s string) bool {
	_, ok := parseStamp(debianStamp, s)
	return ok
}

// DumpState says whether a dump directory holds a usable memory image.
type DumpState int

const (
	// DumpNone: no image and no marker of one (e.g. only a log).
	DumpNone DumpState = iota
	DumpComplete
	// DumpIncomplete: an incomplete-image marker and no complete image.
	DumpIncomplete
)

func (s DumpState) String() string {
	switch s {
	case DumpComplete:
		return "complete"
	case DumpIncomplete:
		return "incomplete"
	}
	return "none"
}

// DumpContents summarises the files of one dump directory.
type DumpContents struct {
	State DumpState
	// Vmcore is the name of the image file ("" when none).
	Vmcore string
	// Dmesg is the best kernel-log file to classify: a complete one before
	// an incomplete one ("" when none).
	Dmesg string
}

// SummarizeDump decides a dump directory's state from its file names. A dump
// is incomplete when it holds an incomplete-image marker and no complete
// image; a complete image wins because kdump-utils renames the marker once
// the copy succeeds, so both seen together means a racing listing.
func SummarizeDump(names []string) DumpContents {
	var c DumpContents
	var incomplete, dmesgPartial string
	for _, n := range names {
		switch ClassifyDumpFile(n) {
		case RoleVmcore:
			if c.Vmcore == "" || n < c.Vmcore {
				c.Vmcore = n
			}
		case RoleVmcoreIncomplete:
			incomplete = n
		case RoleDmesg:
			if c.Dmesg == "" || n < c.Dmesg {
				c.Dmesg = n
			}
		case RoleDmesgIncomplete:
			dmesgPartial = n
		}
	}
	switch {
	case c.Vmcore != "":
		c.State = DumpComplete
	case incomplete != "":
		c.State = DumpIncomplete
	}
	if c.Dmesg == "" {
		c.Dmesg = dmesgPartial
	}
	return c
}

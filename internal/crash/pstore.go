package crash

import "strings"

// Pstore is what a pstore record's file name says.
type Pstore struct {
	// Type is one of dmesg, console, ftrace, pmsg, mce, rtas,
	// powerpc-ofw, powerpc-common, powerpc-opal, or "other".
	Type string
	// Backend is one of ramoops, efi, efi_pstore, erst, nvram, or "other".
	Backend string
	// ID is the record id, "" for the id-less names of old kernels
	// (console-ramoops, ftrace-ramoops).
	ID string
	// Compressed is set for records the kernel could not decompress
	// (the .enc.z suffix).
	Compressed bool
}

// Types are listed longest first so that a backend is never mistaken for
// part of a dashed type.
var pstoreTypes = []string{
	"powerpc-common", "powerpc-opal", "powerpc-ofw",
	"console", "ftrace", "dmesg", "pmsg", "rtas", "mce",
}

var pstoreBackends = map[string]bool{
	"ramoops": true, "efi": true, "efi_pstore": true, "erst": true, "nvram": true,
}

// ParsePstoreName recognises "<type>-<backend>-<id>[.enc.z]", the names
// fs/pstore/inode.c gives records, and the id-less "<type>-<backend>" of
// 3.x ramoops console and ftrace records. The same names are kept by
// systemd-pstore when it moves records to /var/lib/systemd/pstore.
func ParsePstoreName(name string) (Pstore, bool) {
	var p Pstore
	if len(name) > 255 {
		return p, false
	}
	rest, compressed := strings.CutSuffix(name, ".enc.z")
	p.Compressed = compressed
	if i := strings.LastIndexByte(rest, '-'); i > 0 && isDigits(rest[i+1:], 20) {
		p.ID = rest[i+1:]
		rest = rest[:i]
	}
	for _, t := range pstoreTypes {
		if b, ok := strings.CutPrefix(rest, t+"-"); ok {
			p.Type, rest = t, b
			break
		}
	}
	if p.Type == "" {
		// Unknown types ("unknown", "type12" on old kernels) precede the
		// backend, which has no dash.
		i := strings.LastIndexByte(rest, '-')
		if i <= 0 {
			return Pstore{}, false
		}
		p.Type, rest = "other", rest[i+1:]
	}
	if rest == "" || !isNameToken(rest) {
		return Pstore{}, false
	}
	if p.ID == "" && (p.Compressed || (p.Type != "console" && p.Type != "ftrace")) {
		return Pstore{}, false
	}
	p.Backend = "other"
	if pstoreBackends[rest] {
		p.Backend = rest
	}
	return p, true
}

func isDigits(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isNameToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// PstoreArchiveDmesg is the log systemd-pstore reassembles from the parts of
// one EFI or ERST dmesg record inside the record's archive sub-directory.
const PstoreArchiveDmesg = "dmesg.txt"

// ParsePstoreArchiveDir recognises a sub-directory of /var/lib/systemd/pstore.
// systemd-pstore moves every record there under its own name; dmesg records
// of the efi, efi_pstore and erst backends are grouped per crash in a
// directory named by the record id (all digits), which holds the original
// part files and PstoreArchiveDmesg.
func ParsePstoreArchiveDir(name string) (id string, ok bool) {
	if isDigits(name, 32) {
		return name, true
	}
	return "", false
}

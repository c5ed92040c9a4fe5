package crash

import (
	"strconv"
	"strings"
	"time"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
	"github.com/crashguard/crashguard_exporter/internal/ident"
)

// Coredump is what a systemd-coredump file name says.
type Coredump struct {
	// Comm is the process name with systemd's \xNN escapes decoded; bytes
	// that are not printable UTF-8 become '?', and it is capped at
	// MaxCommLen bytes.
	Comm   string
	UID    int
	BootID string
	PID    int
	// Time is the crash time from the name's microsecond field.
	Time time.Time
	// Compression is "zst", "xz", "lz4" or "" for an uncompressed core.
	Compression string
}

// MaxCommLen caps Coredump.Comm; the kernel's comm is at most 15 bytes, so
// anything longer is not a real name.
const MaxCommLen = 64

// ParseCoredumpName recognises core.<comm>.<uid>.<boot_id>.<pid>.<usec>[.zst|.xz|.lz4],
// the names systemd-coredump stores in /var/lib/systemd/coredump. It matches
// what ^core\.(.+)\.(\d+)\.([0-9a-f]{32})\.(\d+)\.(\d+)(\.(zst|xz|lz4))?$
// matches (comm may contain dots, so the fixed fields are taken from the
// right), except that numbers that overflow are refused. Files still being
// written (".#core...") are not recognised.
func ParseCoredumpName(name string) (Coredump, bool) {
	var c Coredump
	if len(name) > 1024 {
		return c, false
	}
	rest, ok := strings.CutPrefix(name, "core.")
	if !ok {
		return c, false
	}
	for _, comp := range []string{"zst", "xz", "lz4"} {
		if r, ok := strings.CutSuffix(rest, "."+comp); ok {
			rest, c.Compression = r, comp
			break
		}
	}
	var fields [4]string
	for i := 3; i >= 0; i-- {
		j := strings.LastIndexByte(rest, '.')
		if j < 0 {
			return Coredump{}, false
		}
		fields[i], rest = rest[j+1:], rest[:j]
	}
	if rest == "" || !ident.IsLowerHex(fields[1], 32) {
		return Coredump{}, false
	}
	uid, ok1 := parseDecimal(fields[0], 1<<32-1)
	pid, ok2 := parseDecimal(fields[2], 1<<31-1)
	usec, ok3 := parseDecimal(fields[3], 1<<63-1)
	if !ok1 || !ok2 || !ok3 {
		return Coredump{}, false
	}
	c.UID, c.PID = int(uid), int(pid)
	c.BootID = fields[1]
	c.Time = time.UnixMicro(int64(usec)).UTC()
	c.Comm = decodeComm(rest)
	return c, true
}

func parseDecimal(s string, max uint64) (uint64, bool) {
	if !isDigits(s, 20) {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v > max {
		return 0, false
	}
	return v, true
}

// decodeComm undoes systemd's xescape of the comm ('\xNN' for unsafe bytes)
// and makes the result printable UTF-8.
func decodeComm(s string) string {
	b := make([]byte, 0, min(len(s), MaxCommLen*4))
	for i := 0; i < len(s) && len(b) < MaxCommLen*4; i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			if v, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
				b = append(b, byte(v))
				i += 3
				continue
			}
		}
		b = append(b, s[i])
	}
	out := strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == 0xFFFD {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(string(b), "\uFFFD"))
	return capString(out, MaxCommLen)
}

// coredumps inventories systemd-coredump's store.
func (sc *scan) coredumps() {
	entries, ok := sc.listTop()
	if !ok {
		return
	}
	for _, e := range entries {
		cd, ok := ParseCoredumpName(e.Name)
		if !ok {
			continue
		}
		if e.Kind != KindRegular {
			sc.refuse(e, fsutil.ErrNotRegular)
			continue
		}
		if sc.inv.Cores.add(e.Size, cd.Time, e.Name) {
			sc.inv.Cores.Executable = cd.Comm
		}
	}
}

package evidence

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

// MaxConsoles bounds the consoles taken from /proc/consoles; a host has a
// handful.
const MaxConsoles = 32

// Kinds of console, a bounded label value. serial is a UART (ttyS, ttyAMA,
// ...): what captures an oops through a serial concentrator or a BMC's
// serial-over-LAN when nothing else works. hypervisor is a console the
// hypervisor or the mainframe's management console records (hvc, hvsi,
// ttysclp). vt is the local screen, lost with the reboot. netconsole sends
// over UDP; pstore writes to persistent storage.
const (
	KindSerial     = "serial"
	KindHypervisor = "hypervisor"
	KindVT         = "vt"
	KindNetconsole = "netconsole"
	KindPstore     = "pstore"
	KindOther      = "other"
)

// Kinds lists every Kind, for state sets.
var Kinds = []string{KindSerial, KindHypervisor, KindVT, KindNetconsole, KindPstore, KindOther}

// Flags of a console (fs/proc/consoles.c), by the letter the kernel prints.
var Flags = []struct {
	Letter byte
	Name   string
}{
	{'E', "enabled"},     // CON_ENABLED: prints (dropped from the output in the newest kernels: every console listed prints)
	{'C', "preferred"},   // CON_CONSDEV: backs /dev/console
	{'B', "boot"},        // CON_BOOT: an early console, replaced once the real one registers
	{'N', "nbcon"},       // CON_NBCON: a non-blocking console (6.7+)
	{'p', "printbuffer"}, // CON_PRINTBUFFER: replayed the log buffer when it registered
	{'b', "braille"},     // CON_BRL
	{'a', "anytime"},     // CON_ANYTIME: usable while a CPU is offline
}

// Console is one line of /proc/consoles.
type Console struct {
	Name    string // name and index as the kernel prints them: "ttyS0", "ramoops-1"
	Kind    string
	Flags   map[string]bool // by Flags name; every known flag is present
	Device  string          // "major:minor", empty for consoles without a tty
	Enabled bool            // prints: flag E, or listed by a kernel that no longer prints E
}

// ParseConsoles reads /proc/consoles. Each line is the name and index
// padded to 20 columns, the operations R (read), W (write), U (unblank) or
// '-', the flag letters in parentheses, one column per flag the kernel
// knows (a space for a flag not set), and an optional "major:minor". The
// flag set changed over time (5.x: E C B p b a; 6.7+: E C B N p b a; the
// newest drop E), so letters are matched, not positions. pstoreBackend is
// the registered pstore backend, whose console is named after it.
func ParseConsoles(b []byte, pstoreBackend string) ([]Console, error) {
	var out []Console
	layout := layoutUndecided
	for n, line := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if len(out) == MaxConsoles {
			return out, fmt.Errorf("%w: more than %d consoles", fsutil.ErrTooLarge, MaxConsoles)
		}
		c, flags, err := parseConsoleLine(string(line))
		if err != nil {
			return out, fmt.Errorf("line %d: %w", n+1, err)
		}
		c.Kind = Kind(c.Name, pstoreBackend)
		if l := flagLayout(flags); l != layoutUndecided {
			layout = l
		}
		out = append(out, c)
	}
	for i := range out {
		// Without an E column every listed console prints. Undecided
		// (only p, b, a set anywhere) takes the older layout: the newest
		// kernels mark the preferred console C, which decides it.
		out[i].Enabled = out[i].Flags["enabled"] || layout == layoutNoE
	}
	return out, nil
}

func parseConsoleLine(line string) (Console, string, error) {
	open, close := strings.IndexByte(line, '('), strings.LastIndexByte(line, ')')
	if open < 0 || close < open {
		return Console{}, "", fmt.Errorf("%w: no (flags) in %s", fsutil.ErrGarbage, fsutil.Excerpt(line))
	}
	head := strings.Fields(line[:open])
	if len(head) != 2 || len(head[1]) != 3 || !ops(head[1]) {
		return Console{}, "", fmt.Errorf("%w: want \"<name> <RWU> (<flags>)\", got %s", fsutil.ErrGarbage, fsutil.Excerpt(line))
	}
	name, flags := head[0], line[open+1:close]
	if !consoleName(name) {
		return Console{}, "", fmt.Errorf("%w: bad console name %s", fsutil.ErrGarbage, fsutil.Excerpt(name))
	}
	c := Console{Name: name, Flags: make(map[string]bool, len(Flags))}
	for _, f := range Flags {
		c.Flags[f.Name] = false
	}
	for i := 0; i < len(flags); i++ {
		if flags[i] == ' ' {
			continue
		}
		known := false
		for _, f := range Flags {
			if f.Letter == flags[i] {
				c.Flags[f.Name], known = true, true
			}
		}
		if !known {
			return Console{}, "", fmt.Errorf("%w: unknown console flag %s", fsutil.ErrGarbage, fsutil.Excerpt(flags[i:i+1]))
		}
	}
	if len(flags) > len(Flags) {
		return Console{}, "", fmt.Errorf("%w: flags %s", fsutil.ErrGarbage, fsutil.Excerpt(flags))
	}
	switch rest := strings.Fields(line[close+1:]); len(rest) {
	case 0:
	case 1:
		maj, min, ok := strings.Cut(rest[0], ":")
		if _, err := strconv.ParseUint(maj, 10, 32); err != nil || !ok {
			return Console{}, "", fmt.Errorf("%w: device %s", fsutil.ErrGarbage, fsutil.Excerpt(rest[0]))
		}
		if _, err := strconv.ParseUint(min, 10, 32); err != nil {
			return Console{}, "", fmt.Errorf("%w: device %s", fsutil.ErrGarbage, fsutil.Excerpt(rest[0]))
		}
		c.Device = rest[0]
	default:
		return Console{}, "", fmt.Errorf("%w: trailing %s", fsutil.ErrGarbage, fsutil.Excerpt(line[close+1:]))
	}
	return c, flags, nil
}

type layout int

const (
	layoutUndecided layout = iota
	layoutE                // the kernel prints an E column
	layoutNoE              // the newest kernels: no E column
)

// flagLayout tells from one line's flag columns whether the kernel prints
// the E column: 7 columns (E C B N p b a) always do; 6 are either the old
// E C B p b a or the newest C B N p b a, told apart by the letters set.
func flagLayout(flags string) layout {
	switch {
	case len(flags) == 7 || strings.IndexByte(flags, 'E') >= 0:
		return layoutE
	case len(flags) == 6 && (flags[0] == 'C' || flags[1] == 'B' || flags[2] == 'N'):
		return layoutNoE
	case len(flags) == 6 && (flags[1] == 'C' || flags[2] == 'B'):
		return layoutE
	}
	return layoutUndecided
}

func ops(s string) bool {
	return (s[0] == 'R' || s[0] == '-') && (s[1] == 'W' || s[1] == '-') && (s[2] == 'U' || s[2] == '-')
}

// consoleName accepts what "%s%d" of a console name (at most 15 characters
// of [a-zA-Z0-9_-]) and its index prints.
func consoleName(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// pstoreBackends are the names pstore backends register with; the pstore
// console takes the backend's name and index -1 ("ramoops-1").
var pstoreBackends = []string{"ramoops", "efi_pstore", "efi", "erst", "nvram", "pstore_blk", "mtdpstore", "chromeos_pstore"}

// Kind classifies a console by its name (with index).
func Kind(name, pstoreBackend string) string {
	base := strings.TrimRight(name, "0123456789")
	if strings.HasSuffix(base, "-") { // index -1
		b := strings.TrimSuffix(base, "-")
		if b == pstoreBackend || contains(pstoreBackends, b) {
			return KindPstore
		}
	}
	switch {
	case base == "netcon" || base == "netcon_ext":
		return KindNetconsole
	case base == "tty":
		return KindVT
	case strings.HasPrefix(base, "hvc") || strings.HasPrefix(base, "hvsi") || base == "ttysclp" || base == "xvc":
		return KindHypervisor
	case base == "ttynull" || base == "ttyprintk":
		return KindOther
	case strings.HasPrefix(base, "tty") && len(base) > 3:
		// ttyS, ttyAMA, ttyUSB, ttyPS, ttymxc, ttySAC, ttyMSM, ...
		return KindSerial
	case strings.HasPrefix(base, "uart") || strings.HasPrefix(base, "pl011") || strings.HasPrefix(base, "ns16550"):
		return KindSerial // earlycon boot consoles
	}
	return KindOther
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

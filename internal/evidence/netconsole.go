package evidence

import (
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

// MaxTargets bounds the netconsole targets read from configfs and from the
// command line.
const MaxTargets = 32

// Netconsole's defaults (drivers/net/netconsole.c alloc_and_init).
const (
	DefaultLocalPort  = 6665
	DefaultRemotePort = 6666
	DefaultDevice     = "eth0"
)

// Target is one netconsole target.
type Target struct {
	Name string // configfs directory name, or "cmdline<N>" as the kernel names boot targets
	// Enabled is the configfs enabled attribute; boot targets are enabled
	// when the kernel could set them up, which only /proc/consoles shows.
	Enabled    bool
	HasEnabled bool
	Extended   bool   // '+' or extended: the /dev/kmsg record format
	Release    bool   // 'r' or release: the kernel release prepended
	Device     string // interface name, or its MAC address (6.x); empty in configfs when a MAC selects it
	LocalIP    string // empty when not set: the interface's address is used
	RemoteIP   string
	LocalPort  uint16
	RemotePort uint16
	RemoteMAC  string // empty for the broadcast default
}

// ParseNetconsoleParam reads the value of a netconsole= parameter:
// targets separated by ';', each
// [+][r][src-port]@[src-ip]/[<dev>],[tgt-port]@<tgt-ip>/[tgt-macaddr]
// (Documentation/networking/netconsole.rst), parsed the way
// alloc_param_target and netpoll_parse_options do: 'r' needs '+', the two
// addresses must be of one IP version, an empty field takes its default.
// A malformed entry sets up no target and is returned as an error; the
// well-formed ones are named cmdline0, cmdline1, ... in order, as the
// kernel names the targets it sets up.
func ParseNetconsoleParam(value string) (targets []Target, malformed []error) {
	for i, cfg := range strings.Split(value, ";") {
		if i == MaxTargets {
			malformed = append(malformed, fmt.Errorf("%w: more than %d netconsole targets", fsutil.ErrTooLarge, MaxTargets))
			break
		}
		t, err := parseTarget(cfg)
		if err != nil {
			malformed = append(malformed, fmt.Errorf("netconsole entry %d %s: %w", i, fsutil.Excerpt(cfg), err))
			continue
		}
		t.Name = "cmdline" + strconv.Itoa(len(targets))
		targets = append(targets, t)
	}
	return targets, malformed
}

func parseTarget(s string) (Target, error) {
	t := Target{LocalPort: DefaultLocalPort, RemotePort: DefaultRemotePort, Device: DefaultDevice}
	if strings.HasPrefix(s, "+") {
		t.Extended, s = true, s[1:]
	}
	if strings.HasPrefix(s, "r") {
		if !t.Extended {
			return t, fmt.Errorf("%w: release ('r') needs extended ('+')", fsutil.ErrGarbage)
		}
		t.Release, s = true, s[1:]
	}
	// [src-port]@
	port, rest, ok := strings.Cut(s, "@")
	if !ok {
		return t, fmt.Errorf("%w: no '@' after the source port", fsutil.ErrGarbage)
	}
	if port != "" {
		p, err := parsePort(port)
		if err != nil {
			return t, err
		}
		t.LocalPort = p
	}
	// [src-ip]/
	ip, rest, ok := strings.Cut(rest, "/")
	if !ok {
		return t, fmt.Errorf("%w: no '/' after the source address", fsutil.ErrGarbage)
	}
	var localV6 *bool
	if ip != "" {
		a, err := parseIP(ip)
		if err != nil {
			return t, err
		}
		t.LocalIP, localV6 = a.String(), ptr(a.Is6())
	}
	// [<dev>],
	dev, rest, ok := strings.Cut(rest, ",")
	if !ok {
		return t, fmt.Errorf("%w: no ',' after the interface", fsutil.ErrGarbage)
	}
	if dev != "" {
		if strings.Contains(dev, ":") {
			mac, err := net.ParseMAC(dev)
			if err != nil || len(mac) != 6 {
				return t, fmt.Errorf("%w: interface MAC %s", fsutil.ErrGarbage, fsutil.Excerpt(dev))
			}
			t.Device = mac.String()
		} else {
			if !ifName(dev) {
				return t, fmt.Errorf("%w: interface %s", fsutil.ErrGarbage, fsutil.Excerpt(dev))
			}
			t.Device = dev
		}
	}
	// [tgt-port]@
	port, rest, ok = strings.Cut(rest, "@")
	if !ok {
		return t, fmt.Errorf("%w: no '@' after the target port", fsutil.ErrGarbage)
	}
	if port != "" {
		p, err := parsePort(port)
		if err != nil {
			return t, err
		}
		t.RemotePort = p
	}
	// <tgt-ip>/[tgt-macaddr]
	ip, mac, ok := strings.Cut(rest, "/")
	if !ok {
		return t, fmt.Errorf("%w: no '/' after the target address", fsutil.ErrGarbage)
	}
	a, err := parseIP(ip)
	if err != nil {
		return t, err
	}
	if localV6 != nil && *localV6 != a.Is6() {
		return t, fmt.Errorf("%w: source and target addresses of different IP versions", fsutil.ErrGarbage)
	}
	t.RemoteIP = a.String()
	if mac != "" {
		m, err := net.ParseMAC(mac)
		if err != nil || len(m) != 6 {
			return t, fmt.Errorf("%w: target MAC %s", fsutil.ErrGarbage, fsutil.Excerpt(mac))
		}
		t.RemoteMAC = m.String()
	}
	return t, nil
}

func ptr(b bool) *bool { return &b }

func parsePort(s string) (uint16, error) {
	p, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("%w: port %s", fsutil.ErrGarbage, fsutil.Excerpt(s))
	}
	return uint16(p), nil
}

// parseIP accepts what netpoll_parse_ip_addr does: IPv4 dotted quad, or
// IPv6 when the text holds a ':'.
func parseIP(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" || a.Is4In6() || (a.Is6() != strings.Contains(s, ":")) {
		return netip.Addr{}, fmt.Errorf("%w: address %s", fsutil.ErrGarbage, fsutil.Excerpt(s))
	}
	return a, nil
}

// ifName accepts a Linux interface name: 1 to 15 bytes, no '/', ':' or
// whitespace (dev_valid_name); printable ASCII here, since it may become a
// label.
func ifName(s string) bool {
	if s == "" || len(s) > 15 || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' || s[i] == '/' || s[i] == ':' {
			return false
		}
	}
	return true
}

// CmdlineTargets returns the targets of the netconsole= parameter of a
// kernel command line (the built-in driver's) or of netconsole.netconsole=
// (the module's parameter, which modprobe takes from the command line).
// As for any parameter, the last one given counts. malformed lists the
// entries that set up nothing.
func CmdlineTargets(cmdline string) (targets []Target, malformed []error) {
	var value string
	found := false
	for rest := cmdline; ; {
		var name, val string
		name, val, rest = nextParam(rest)
		if name == "" && rest == "" {
			break
		}
		if name == "netconsole" || name == "netconsole.netconsole" {
			value, found = val, true
		}
	}
	if !found {
		return nil, nil
	}
	return ParseNetconsoleParam(value)
}

// nextParam splits off one parameter as the kernel's next_arg does:
// whitespace ends it outside double quotes, the name ends at the first
// '=', and quotes around the value (or the whole parameter) are dropped.
func nextParam(s string) (name, value, rest string) {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	if s == "" {
		return "", "", ""
	}
	quoted := false
	if s[0] == '"' {
		s, quoted = s[1:], true
	}
	inQuote := quoted
	end := 0
	for ; end < len(s); end++ {
		if strings.IndexByte(" \t\n\v\f\r", s[end]) >= 0 && !inQuote {
			break
		}
		if s[end] == '"' {
			inQuote = !inQuote
		}
	}
	param, rest := s[:end], s[end:]
	name, value, _ = strings.Cut(param, "=")
	if strings.HasPrefix(value, `"`) {
		value = value[1:]
		quoted = true
	}
	if quoted {
		value = strings.TrimSuffix(value, `"`)
		if value == "" {
			name = strings.TrimSuffix(name, `"`)
		}
	}
	return name, value, rest
}

// Configfs is what ReadConfigfs found below /sys/kernel/config/netconsole.
type Configfs struct {
	Present  bool // the netconsole directory exists (CONFIG_NETCONSOLE_DYNAMIC, configfs mounted)
	Targets  []Target
	Problems []error
}

var targetName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// ReadConfigfs reads the netconsole targets of configfs
// (Documentation/networking/netconsole.rst, "Dynamic reconfiguration"):
// one directory per target with enabled, extended, release (6.5+),
// dev_name, local_ip, remote_ip, local_port, remote_port, remote_mac.
// Boot targets appear there too, as cmdline<N>, on kernels that attach them
// (6.7+). A directory whose name could not be a label is skipped as garbage.
func ReadConfigfs(r fsutil.Reader, dir string) Configfs {
	var c Configfs
	names, err := r.ReadDirNames(dir, MaxTargets)
	if err != nil && names == nil {
		if !fsutil.IsNotExist(err) {
			c.Problems = append(c.Problems, err)
		}
		return c
	}
	if err != nil {
		c.Problems = append(c.Problems, err)
	}
	c.Present = true
	for _, n := range names {
		p := filepath.Join(dir, n)
		fi, err := r.Stat(p)
		switch {
		case err != nil:
			if !fsutil.IsNotExist(err) {
				c.Problems = append(c.Problems, err)
			}
			continue
		case !fi.IsDir():
			continue // not a target
		case !targetName.MatchString(n):
			c.Problems = append(c.Problems, fsutil.Garbage(p, "unusable target name "+fsutil.Excerpt(n)))
			continue
		}
		if t, ok := readTarget(r, p, n, &c.Problems); ok {
			c.Targets = append(c.Targets, t)
		}
	}
	return c
}

// readTarget reads one target directory; ok is false when an attribute it
// needs (enabled, remote_ip) is missing or unusable.
func readTarget(r fsutil.Reader, dir, name string, problems *[]error) (Target, bool) {
	t := Target{Name: name}
	ok := true
	attr := func(file string, required bool, parse func(p, s string) error) {
		p := filepath.Join(dir, file)
		b, err := r.ReadFile(p, 4096)
		if err == nil {
			err = parse(p, strings.TrimRight(string(b), "\n"))
		}
		if err != nil {
			if !fsutil.IsNotExist(err) {
				*problems = append(*problems, err)
			}
			ok = ok && !required
		}
	}
	flag := func(dst *bool) func(p, s string) error {
		return func(p, s string) error {
			if s != "0" && s != "1" {
				return fsutil.Garbage(p, "want 0 or 1, got "+fsutil.Excerpt(s))
			}
			*dst = s == "1"
			return nil
		}
	}
	attr("enabled", true, flag(&t.Enabled))
	t.HasEnabled = ok
	attr("extended", false, flag(&t.Extended))
	attr("release", false, flag(&t.Release))
	attr("dev_name", false, func(p, s string) error {
		if s != "" && !ifName(s) {
			return fsutil.Garbage(p, "interface name "+fsutil.Excerpt(s))
		}
		t.Device = s
		return nil
	})
	ip := func(dst *string) func(p, s string) error {
		return func(p, s string) error {
			a, err := netip.ParseAddr(s)
			if err != nil || a.Zone() != "" {
				return fsutil.Garbage(p, "want an IP address, got "+fsutil.Excerpt(s))
			}
			*dst = a.String()
			return nil
		}
	}
	attr("local_ip", false, ip(&t.LocalIP))
	attr("remote_ip", true, ip(&t.RemoteIP))
	port := func(dst *uint16) func(p, s string) error {
		return func(p, s string) error {
			v, err := parsePort(s)
			if err != nil {
				return fsutil.Garbage(p, "want a port, got "+fsutil.Excerpt(s))
			}
			*dst = v
			return nil
		}
	}
	attr("local_port", false, port(&t.LocalPort))
	attr("remote_port", false, port(&t.RemotePort))
	if t.LocalIP == "0.0.0.0" || t.LocalIP == "::" {
		t.LocalIP = "" // unset: the interface's address is used
	}
	return t, ok
}

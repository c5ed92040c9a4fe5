package watchdog

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

// MaxDevices bounds the devices read from /sys/class/watchdog; real hosts
// have one or two.
const MaxDevices = 32

// Attr is one sysfs attribute of a watchdog device.
type Attr uint16

// The attributes ReadDevices reads (Documentation/ABI/testing/
// sysfs-class-watchdog). pretimeout exists only for devices that support
// one; pretimeout_governor only with CONFIG_WATCHDOG_PRETIMEOUT_GOV too.
const (
	AttrIdentity Attr = 1 << iota
	AttrState
	AttrTimeout
	AttrPretimeout
	AttrGovernor
	AttrNowayout
	AttrBootStatus
)

// Device is one /sys/class/watchdog/watchdogN. A field is meaningful only
// when Has holds its attribute.
type Device struct {
	Name       string // "watchdog0"
	Identity   string // the driver's identity, e.g. "iTCO_wdt"; at most 32 bytes
	Active     bool   // state "active": the timer runs and must be pinged
	Timeout    uint64 // seconds
	Pretimeout uint64 // seconds before the timeout the pretimeout fires; 0 is off
	// Governor is the pretimeout governor ("noop", "panic"); empty when
	// none is assigned.
	Governor   string
	Nowayout   bool   // once started, the timer cannot be stopped
	BootStatus uint64 // WDIOF_* bits describing the last reset
	Has        Attr
}

// Scan is what ReadDevices found. Problems are the files that exist but
// could not be used (each an *fs.PathError; fsutil.Reason names why).
type Scan struct {
	Present  bool // the class directory exists (the watchdog core is loaded)
	Devices  []Device
	Problems []error
}

var deviceName = regexp.MustCompile(`^watchdog[0-9]{1,5}$`)

// ReadDevices reads every watchdogN device below classDir
// (/sys/class/watchdog). A missing directory means the watchdog core is
// absent: Present is false and nothing is a problem.
func ReadDevices(r fsutil.Reader, classDir string) Scan {
	var s Scan
	names, err := r.ReadDirNames(classDir, 4*MaxDevices)
	if err != nil && names == nil {
		if !fsutil.IsNotExist(err) {
			s.Problems = append(s.Problems, err)
		}
		return s
	}
	if err != nil {
		s.Problems = append(s.Problems, err)
	}
	s.Present = true
	for _, n := range names {
		if !deviceName.MatchString(n) {
			continue
		}
		if len(s.Devices) == MaxDevices {
			s.Problems = append(s.Problems, fsutil.Garbage(classDir, "more than "+strconv.Itoa(MaxDevices)+" watchdog devices"))
			break
		}
		s.Devices = append(s.Devices, readDevice(r, filepath.Join(classDir, n), n, &s.Problems))
	}
	return s
}

func readDevice(r fsutil.Reader, dir, name string, problems *[]error) Device {
	d := Device{Name: name}
	read := func(attr string, a Attr, parse func(path, s string) error) {
		p := filepath.Join(dir, attr)
		b, err := r.ReadFile(p, 4096)
		if err == nil {
			err = parse(p, strings.TrimRight(string(b), "\n"))
		}
		switch {
		case err == nil:
			d.Has |= a
		case !fsutil.IsNotExist(err):
			*problems = append(*problems, err)
		}
	}
	read("identity", AttrIdentity, func(p, s string) (err error) {
		d.Identity, err = text(p, s, 32)
		return err
	})
	read("state", AttrState, func(p, s string) error {
		switch s {
		case "active", "inactive":
			d.Active = s == "active"
			return nil
		}
		return fsutil.Garbage(p, "want active or inactive, got "+fsutil.Excerpt(s))
	})
	read("timeout", AttrTimeout, func(p, s string) (err error) {
		d.Timeout, err = number(p, s)
		return err
	})
	read("pretimeout", AttrPretimeout, func(p, s string) (err error) {
		d.Pretimeout, err = number(p, s)
		return err
	})
	read("pretimeout_governor", AttrGovernor, func(p, s string) (err error) {
		// Empty when the device has no governor assigned.
		d.Governor, err = text(p, s, 20)
		if err == nil && strings.ContainsAny(d.Governor, " \t") {
			err = fsutil.Garbage(p, "a governor name has no spaces, got "+fsutil.Excerpt(s))
		}
		return err
	})
	read("nowayout", AttrNowayout, func(p, s string) error {
		n, err := number(p, s)
		if err == nil && n > 1 {
			err = fsutil.Garbage(p, "want 0 or 1, got "+fsutil.Excerpt(s))
		}
		d.Nowayout = n == 1
		return err
	})
	read("bootstatus", AttrBootStatus, func(p, s string) (err error) {
		d.BootStatus, err = number(p, s)
		return err
	})
	// "status" is never read: the kernel clears the device's keepalive bit
	// on every read (watchdog_get_status), so reading it would change what
	// wdctl and the watchdog daemon see.
	return d
}

// number parses a value the kernel printed with %u.
func number(path, s string) (uint64, error) {
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil || s == "" || s[0] == '+' {
		return 0, fsutil.Garbage(path, "want an unsigned number, got "+fsutil.Excerpt(s))
	}
	return v, nil
}

// text accepts a short printable ASCII string, which may become a label.
func text(path, s string, max int) (string, error) {
	if len(s) > max {
		return "", fsutil.Garbage(path, "longer than "+strconv.Itoa(max)+" bytes: "+fsutil.Excerpt(s))
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return "", fsutil.Garbage(path, "want printable text, got "+fsutil.Excerpt(s))
		}
	}
	return s, nil
}

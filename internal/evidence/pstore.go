package evidence

import (
	"path/filepath"
	"strconv"
	"strings"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

// Ramoops regions, in the order of the module's size parameters.
var RamoopsRegions = []struct{ Region, Param string }{
	{"total", "mem_size"},       // the reserved RAM, shared by the others
	{"record", "record_size"},   // each oops/panic dump
	{"console", "console_size"}, // the console log of the previous boot
	{"ftrace", "ftrace_size"},   // function trace
	{"pmsg", "pmsg_size"},       // user-space messages (/dev/pmsg0)
}

// Pstore is what /sys/module/{pstore,ramoops,efi_pstore}/parameters say.
// A field is meaningful only when its Has flag is set.
type Pstore struct {
	Present bool // /sys/module/pstore/parameters/backend exists (CONFIG_PSTORE)
	// Backend is the registered backend ("erst", "efi_pstore", "ramoops",
	// ...); empty when none is, which the kernel prints as "(null)". Only
	// one backend registers at a time.
	Backend string

	KmsgBytes    uint64 // how much of the kernel log a dump keeps
	HasKmsgBytes bool

	EFIDisabled    bool // efi_pstore.pstore_disable: the EFI backend was switched off
	HasEFIDisabled bool

	// Ramoops sizes in bytes by region (RamoopsRegions), read only when
	// ramoops is the backend: its parameters are 0400 (root only), and a
	// built-in ramoops that found no memory still shows its defaults.
	Ramoops      map[string]uint64
	RamoopsECC   int64 // ecc: ECC bytes per block; 0 is off, 1 means 16
	HasECC       bool
	MaxReason    int64 // max_reason: 1 panics, 2 oopses too (default), 3+ also emergency reboots and shutdowns
	HasMaxReason bool

	Problems []error
}

// ReadPstore reads the pstore module parameters below moduleDir
// (/sys/module).
func ReadPstore(r fsutil.Reader, moduleDir string) Pstore {
	var p Pstore
	read := func(module, param string, parse func(path, s string) error) bool {
		path := filepath.Join(moduleDir, module, "parameters", param)
		b, err := r.ReadFile(path, 4096)
		if err == nil {
			err = parse(path, strings.TrimRight(string(b), "\n"))
		}
		if err != nil && !fsutil.IsNotExist(err) {
			p.Problems = append(p.Problems, err)
		}
		return err == nil
	}
	p.Present = read("pstore", "backend", func(path, s string) error {
		if s == "(null)" {
			return nil
		}
		if !backendName(s) {
			return fsutil.Garbage(path, "want a backend name or (null), got "+fsutil.Excerpt(s))
		}
		p.Backend = s
		return nil
	})
	if !p.Present {
		return p
	}
	p.HasKmsgBytes = read("pstore", "kmsg_bytes", func(path, s string) (err error) {
		p.KmsgBytes, err = parseUint(path, s)
		return err
	})
	p.HasEFIDisabled = read("efi_pstore", "pstore_disable", func(path, s string) error {
		if s != "Y" && s != "N" {
			return fsutil.Garbage(path, "want Y or N, got "+fsutil.Excerpt(s))
		}
		p.EFIDisabled = s == "Y"
		return nil
	})
	if p.Backend != "ramoops" {
		return p
	}
	p.Ramoops = map[string]uint64{}
	for _, rr := range RamoopsRegions {
		read("ramoops", rr.Param, func(path, s string) error {
			v, err := parseUint(path, s)
			if err == nil {
				p.Ramoops[rr.Region] = v
			}
			return err
		})
	}
	p.HasECC = read("ramoops", "ecc", func(path, s string) (err error) {
		p.RamoopsECC, err = parseInt(path, s)
		return err
	})
	p.HasMaxReason = read("ramoops", "max_reason", func(path, s string) (err error) {
		p.MaxReason, err = parseInt(path, s)
		return err
	})
	return p
}

// backendName accepts a pstore_info name (a C identifier-like string).
func backendName(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func parseUint(path, s string) (uint64, error) {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fsutil.Garbage(path, "want an unsigned decimal integer, got "+fsutil.Excerpt(s))
	}
	return v, nil
}

func parseInt(path, s string) (int64, error) {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fsutil.Garbage(path, "want a decimal integer, got "+fsutil.Excerpt(s))
	}
	return v, nil
}

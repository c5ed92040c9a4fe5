package kdump

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

// Target types. "local" is a directory on the running system's mounted
// filesystems; "device" is a filesystem on a named device, LABEL= or UUID=
// (or a virtiofs tag) that need not be mounted now.
const (
	TypeLocal  = "local"
	TypeDevice = "device"
	TypeRaw    = "raw"
	TypeNFS    = "nfs"
	TypeSSH    = "ssh" // also SUSE's sftp:// (scp://), which runs over ssh
	TypeFTP    = "ftp" // Debian FTP=, SUSE ftp://
	TypeCIFS   = "cifs"
)

// Distributions, and where each keeps its kdump configuration.
const (
	DistroRHEL   = "rhel"
	DistroDebian = "debian"
	DistroSUSE   = "suse"

	RHELConfigPath   = "/etc/kdump.conf"
	DebianConfigPath = "/etc/default/kdump-tools"
	SUSEConfigPath   = "/etc/sysconfig/kdump"
)

// DefaultDumpDir is every distribution's default dump directory.
const DefaultDumpDir = "/var/crash"

const (
	maxConfigSize = 128 << 10 // shipped files are about 10 KiB
	maxValueLen   = 256       // config-derived strings may become label values
	maxWarnings   = 16
)

// ErrMultipleTargets means /etc/kdump.conf names more than one dump target;
// kdumpctl refuses to start with such a file.
var ErrMultipleTargets = errors.New("more than one dump target")

// Target is where the configured kdump would write a vmcore. String fields
// derived from the configuration are valid UTF-8 and at most 256 bytes;
// passwords in URLs are never kept.
type Target struct {
	Configured bool   // a kdump configuration file exists
	Distro     string // DistroRHEL, DistroDebian or DistroSUSE
	ConfigPath string // the file as named on the host, e.g. /etc/kdump.conf
	// Enabled is false when the file itself switches kdump off (Debian's
	// USE_KDUMP unset or 0). Whether the service is enabled is not here.
	Enabled bool
	Type    string // one of the Type constants
	FSType  string // for TypeDevice: ext4, xfs, btrfs, virtiofs, ...
	// Path is the dump directory as an absolute path: on the running system
	// for TypeLocal, inside the target filesystem, export or remote host
	// otherwise; empty for TypeRaw.
	Path string
	// Location is the device, LABEL=/UUID=, "host:/export" (NFS), or
	// "[user@]host[:port]" (ssh, ftp, cifs); empty for TypeLocal.
	Location string
	// FreeDiskSizeBytes is SUSE's KDUMP_FREE_DISK_SIZE (default 64 MiB):
	// kdump deletes a saved dump that leaves less than this free. Only set
	// for local SUSE targets, the only ones the check applies to.
	FreeDiskSizeBytes uint64
	CoreCollector     string // RHEL core_collector, as written
	FailureAction     string // RHEL failure_action (or obsolete default)
	Compression       string // Debian KDUMP_COMPRESSION, SUSE KDUMP_DUMPFORMAT
	HostTag           string // Debian HOSTTAG
	SSHKey            string // key for ssh targets
	// Warnings name things that were ignored or could not be interpreted.
	Warnings []string
}

func (t *Target) warn(format string, args ...any) {
	if len(t.Warnings) < maxWarnings {
		t.Warnings = append(t.Warnings, bound(fmt.Sprintf(format, args...)))
	}
}

// LoadTarget reads whichever kdump configuration exists under rootfs ("/"
// or e.g. "/host"), trying /etc/kdump.conf, /etc/default/kdump-tools and
// /etc/sysconfig/kdump in that order. A host with none of them yields a
// Target with Configured false and no error. A file that exists but cannot
// be read, or that resolves outside rootfs, yields a Target naming it, with
// the error.
func LoadTarget(rootfs string) (Target, error) {
	configs := []struct {
		distro, path string
		parse        func(string) (Target, error)
	}{
		{DistroRHEL, RHELConfigPath, ParseRHEL},
		{DistroDebian, DebianConfigPath, ParseDebian},
		{DistroSUSE, SUSEConfigPath, ParseSUSE},
	}
	tree := fsutil.NewTree(rootfs)
	for _, c := range configs {
		b, err := tree.ReadFile(filepath.Join(rootfs, c.path), maxConfigSize)
		if err != nil {
			if fsutil.IsNotExist(err) {
				continue
			}
			return Target{Configured: true, Distro: c.distro, ConfigPath: c.path}, err
		}
		return c.parse(string(b))
	}
	return Target{}, nil
}

// bound makes s safe as a label value: at most maxValueLen bytes, cut on a
// rune boundary, with invalid UTF-8 replaced.
func bound(s string) string {
	if len(s) > maxValueLen {
		// Back up to the start of a split rune; invalid bytes are
		// replaced below anyway, so never more than a rune's length.
		cut := maxValueLen
		for i := 0; i < utf8.UTFMax-1 && !utf8.RuneStart(s[cut]); i++ {
			cut--
		}
		if !utf8.RuneStart(s[cut]) {
			cut = maxValueLen
		}
		s = s[:cut]
	}
	if !utf8.ValidString(s) {
		// A one-byte replacement cannot push the length past the bound.
		s = strings.ToValidUTF8(s, "?")
	}
	return s
}

// dumpPath cleans a configured directory into an absolute path, falling back
// to def when empty. Relative paths are taken from the root, which is where
// every distribution's tool runs.
func dumpPath(p, def string) string {
	if strings.TrimSpace(p) == "" {
		p = def
	}
	return bound(path.Clean("/" + p))
}

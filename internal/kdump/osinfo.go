package kdump

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

// OSRelease is the part of os-release(5) that picks a distribution's
// defaults.
type OSRelease struct {
	ID        string   // "rhel", "debian", "ubuntu", ...
	IDLike    []string // ID_LIKE words
	VersionID string   // "9.4", "12", "24.04"
}

// ParseOSRelease reads an os-release file, a shell-compatible list of
// assignments.
func ParseOSRelease(content string) (OSRelease, error) {
	vars, _, err := shellVars(content)
	if err != nil {
		return OSRelease{}, err
	}
	return OSRelease{ID: bound(vars["ID"]), IDLike: strings.Fields(bound(vars["ID_LIKE"])), VersionID: bound(vars["VERSION_ID"])}, nil
}

// LoadOSRelease reads /etc/os-release below rootfs, or /usr/lib/os-release
// when the first does not exist, as os-release(5) prescribes. ok is false
// when neither exists.
func LoadOSRelease(r fsutil.Reader, rootfs string) (osr OSRelease, ok bool, err error) {
	for _, p := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		path := filepath.Join(rootfs, p)
		b, err := r.ReadFile(path, 64<<10)
		if fsutil.IsNotExist(err) {
			continue
		}
		if err != nil {
			return OSRelease{}, false, err
		}
		osr, err := ParseOSRelease(string(b))
		if err != nil {
			return OSRelease{}, false, fsutil.Garbage(path, err.Error())
		}
		return osr, true, nil
	}
	return OSRelease{}, false, nil
}

// like reports whether the release is id or derives from it.
func (o OSRelease) like(id string) bool {
	if o.ID == id {
		return true
	}
	for _, l := range o.IDLike {
		if l == id {
			return true
		}
	}
	return false
}

// version splits VERSION_ID into major and minor numbers; ok is false
// when it is not "N" or "N.M".
func (o OSRelease) version() (major, minor int, ok bool) {
	maj, min, hasMinor := strings.Cut(o.VersionID, ".")
	var err error
	if major, err = strconv.Atoi(maj); err != nil || major < 0 {
		return 0, 0, false
	}
	if hasMinor {
		if minor, err = strconv.Atoi(min); err != nil || minor < 0 {
			return 0, 0, false
		}
	}
	return major, minor, true
}

// ValidRelease checks a kernel release (/proc/sys/kernel/osrelease) before
// it goes into paths and labels: at most 64 bytes (the utsname field) of
// letters, digits and ._+~- only, so it can neither climb directories nor
// carry control characters.
func ValidRelease(s string) error {
	if s == "" || len(s) > 64 || s == "." || s == ".." {
		return fmt.Errorf("%w: kernel release %s", fsutil.ErrGarbage, fsutil.Excerpt(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._+~-", c) >= 0) {
			return fmt.Errorf("%w: kernel release %s", fsutil.ErrGarbage, fsutil.Excerpt(s))
		}
	}
	return nil
}

// KernelArch names the machine architecture as uname -m does: from
// /proc/sys/kernel/arch (Linux 6.1+; pass "" when absent), else from the
// architecture suffix distributions put on the kernel release
// (".x86_64"/"+debug" on RHEL, "-amd64" on Debian). Empty when neither
// tells.
func KernelArch(archFile, release string) string {
	if a := strings.TrimSpace(archFile); a != "" {
		return a
	}
	rel := strings.TrimSuffix(strings.TrimSuffix(release, "+debug"), "+64k")
	for _, s := range []struct{ suffix, arch string }{
		{".x86_64", "x86_64"}, {".aarch64", "aarch64"}, {".ppc64le", "ppc64le"}, {".s390x", "s390x"},
		{"-amd64", "x86_64"}, {"-arm64", "aarch64"}, {"-powerpc64le", "ppc64le"}, {"-s390x", "s390x"},
	} {
		if strings.HasSuffix(rel, s.suffix) {
			return s.arch
		}
	}
	return ""
}

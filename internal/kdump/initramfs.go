package kdump

import (
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"time"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

// Verdicts on the kdump initramfs of the running kernel, a bounded label.
const (
	InitramfsOK = "ok"
	// InitramfsMissing: no kdump initramfs for the running kernel, while
	// the kernel image is visible (so /boot is).
	InitramfsMissing = "missing"
	// InitramfsOlderThanConfig: the kdump configuration changed after the
	// initramfs was built; the loaded crash kernel still uses the old one
	// until the kdump service rebuilds it (kdumpctl and mkdumprd check this
	// at start).
	InitramfsOlderThanConfig = "older_than_config"
	// InitramfsOlderThanKernel: the kernel image is newer than the
	// initramfs built for it.
	InitramfsOlderThanKernel = "older_than_kernel"
	// InitramfsOtherKernel: SUSE's version-less /var/lib/kdump/initrd was
	// built for a kernel that is no longer installed, or none is recorded
	// (no /var/lib/kdump/kernel link): mkdumprd rebuilds it at start.
	InitramfsOtherKernel = "other_kernel"
	// InitramfsUnknown: neither the initramfs nor the kernel image is
	// visible (a container without the host's /boot), or a file that
	// would decide is unusable.
	InitramfsUnknown = "unknown"
)

// InitramfsStates lists every verdict, for state sets.
var InitramfsStates = []string{InitramfsOK, InitramfsMissing, InitramfsOlderThanConfig, InitramfsOlderThanKernel, InitramfsOtherKernel, InitramfsUnknown}

// File is a file the verdict looked at, as a path on the inspected host.
type File struct {
	Path    string
	Found   bool
	ModTime time.Time
}

// Initramfs is the state of the kdump initramfs for the running kernel.
type Initramfs struct {
	Release string
	// Initramfs is the image found, or the first place looked at when
	// none was.
	Initramfs File
	Config    File // the kdump configuration
	Kernel    File // the running kernel's image
	State     string
	Problems  []error // files that exist but could not be used
}

// kernelImages are where distributions keep the kernel image of a release:
// /boot (vmlinuz on x86_64, Image/image on arm64 and s390x SUSE, vmlinux
// on ppc64) and the copy under the modules directory.
var kernelImages = []string{
	"/boot/vmlinuz-%s", "/boot/Image-%s", "/boot/image-%s", "/boot/vmlinux-%s",
	"/usr/lib/modules/%s/vmlinuz", "/lib/modules/%s/vmlinuz",
}

// suseKernelLink is kdump 2.x's link to the kernel its initrd was built
// for (mkdumprd, openSUSE kdump since 2023-06).
const suseKernelLink = "/var/lib/kdump/kernel"

// initramfsPaths are the places each distribution's tool builds the kdump
// initramfs of a release, in the order the tool prefers them:
//   - RHEL/Fedora (kdump-utils prepare_kdump_bootinfo): next to the
//     default initramfs in /boot, or /var/lib/kdump when /boot is not
//     writable or has no default initramfs (image mode, UKIs).
//   - Debian/Ubuntu (kdump-tools' kernel postinst hook):
//     /var/lib/kdump/initrd.img-<release>.
//   - SUSE: kdump 2.x (2023+) builds one /var/lib/kdump/initrd for the
//     kernel /var/lib/kdump/kernel points to; kdump 1.x built
//     /boot/initrd-<release>-kdump.
func initramfsPaths(distro, release string) []string {
	switch distro {
	case DistroRHEL:
		return []string{"/boot/initramfs-" + release + "kdump.img", "/var/lib/kdump/initramfs-" + release + "kdump.img"}
	case DistroDebian:
		return []string{"/var/lib/kdump/initrd.img-" + release}
	case DistroSUSE:
		return []string{"/var/lib/kdump/initrd", "/boot/initrd-" + release + "-kdump"}
	}
	return nil
}

// CheckInitramfs judges the kdump initramfs of the running kernel
// (release, already checked with ValidRelease) the way the distribution's
// tool does before deciding to rebuild it: present, and newer than the
// kdump configuration and the kernel image. RHEL's kdumpctl compares whole
// seconds and rebuilds when a file is newer; SUSE's mkdumprd rebuilds
// unless the file is strictly older (test -ot). Debian's initrd does not
// embed /etc/default/kdump-tools (the capture kernel reads it from the
// root filesystem), so only the kernel is compared there. rootfs is where
// the host's / is mounted.
func CheckInitramfs(r fsutil.Reader, rootfs string, t Target, release string) Initramfs {
	in := Initramfs{Release: release, State: InitramfsUnknown}
	// stat looks at one file; bad is set when it exists but cannot be used.
	stat := func(hostPath string) (f File, bad bool) {
		f.Path = hostPath
		p := filepath.Join(rootfs, hostPath)
		fi, err := r.Stat(p)
		switch {
		case err == nil && fi.Mode().IsRegular():
			f.Found, f.ModTime = true, fi.ModTime()
		case err == nil:
			in.Problems = append(in.Problems, &fs.PathError{Op: "stat", Path: p, Err: fsutil.ErrNotRegular})
			bad = true
		case !fsutil.IsNotExist(err):
			in.Problems = append(in.Problems, err)
			bad = true
		}
		return f, bad
	}
	for _, p := range kernelImages {
		// An unusable image leaves the kernel unknown: not compared.
		if f, bad := stat(fmt.Sprintf(p, release)); f.Found || bad {
			in.Kernel = f
			break
		}
	}
	initramfsBad := false
	for _, p := range initramfsPaths(t.Distro, release) {
		f, bad := stat(p)
		if in.Initramfs.Path == "" || f.Found {
			in.Initramfs = f
		}
		if f.Found || bad {
			initramfsBad = bad
			break
		}
	}
	var configBad bool
	in.Config, configBad = stat(t.ConfigPath)
	switch {
	case initramfsBad || configBad:
		// A file that exists but cannot be used decides nothing.
		return in
	case !in.Initramfs.Found:
		if in.Kernel.Found {
			in.State = InitramfsMissing
		}
		return in
	case !in.Config.Found:
		return in // the configuration vanished since it was read
	}
	img, conf, kern := in.Initramfs.ModTime, in.Config.ModTime, in.Kernel.ModTime
	switch t.Distro {
	case DistroRHEL:
		switch {
		case conf.Unix() > img.Unix():
			in.State = InitramfsOlderThanConfig
		case in.Kernel.Found && kern.Unix() > img.Unix():
			in.State = InitramfsOlderThanKernel
		default:
			in.State = InitramfsOK
		}
	case DistroDebian:
		in.State = InitramfsOK
		if in.Kernel.Found && kern.Unix() > img.Unix() {
			in.State = InitramfsOlderThanKernel
		}
	case DistroSUSE:
		switch {
		case !conf.Before(img):
			in.State = InitramfsOlderThanConfig
		case in.Initramfs.Path == "/var/lib/kdump/initrd":
			switch ok, bad := suseKernelInstalled(r, rootfs, &in); {
			case bad:
			case ok:
				in.State = InitramfsOK
			default:
				in.State = InitramfsOtherKernel
			}
		case in.Kernel.Found && !kern.Before(img):
			in.State = InitramfsOlderThanKernel
		default:
			in.State = InitramfsOK
		}
	}
	return in
}

// suseKernelInstalled reports whether kdump 2.x's kernel link names a
// kernel image that is installed. The capture kernel is the boot loader's
// default kernel, not necessarily the running one (after an update, before
// the reboot), so the release is not compared. bad is set when the link
// exists but cannot be read.
func suseKernelInstalled(r fsutil.Reader, rootfs string, in *Initramfs) (ok, bad bool) {
	link := filepath.Join(rootfs, suseKernelLink)
	target, err := r.Readlink(link)
	if err != nil {
		if !fsutil.IsNotExist(err) {
			in.Problems = append(in.Problems, err)
			return false, true
		}
		return false, false
	}
	if !path.IsAbs(target) {
		target = path.Join(path.Dir(suseKernelLink), target)
	}
	// Resolved below rootfs: an absolute target names the inspected host's
	// path, not the exporter's.
	fi, err := r.Stat(filepath.Join(rootfs, path.Clean("/"+target)))
	switch {
	case err == nil:
		return fi.Mode().IsRegular(), false
	case fsutil.IsNotExist(err):
		return false, false
	}
	in.Problems = append(in.Problems, err)
	return false, true
}

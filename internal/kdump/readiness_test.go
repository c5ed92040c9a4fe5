package kdump

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

func TestParseOSRelease(t *testing.T) {
	osr, err := ParseOSRelease("NAME=\"Rocky Linux\"\nID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.5\"\n")
	if err != nil || osr.ID != "rocky" || !osr.like("rhel") || osr.like("debian") {
		t.Fatalf("got %+v %v", osr, err)
	}
	if maj, min, ok := osr.version(); !ok || maj != 9 || min != 5 {
		t.Errorf("version %d.%d %v", maj, min, ok)
	}
	for _, v := range []string{"", "x", "9.x", "-1", "9."} {
		if _, _, ok := (OSRelease{VersionID: v}).version(); ok {
			t.Errorf("VERSION_ID %q accepted", v)
		}
	}
	if _, err := ParseOSRelease("ID=\"unterminated\n"); err == nil {
		t.Error("an unterminated quote must fail, as it does for sh")
	}
}

func TestLoadOSRelease(t *testing.T) {
	root := t.TempDir()
	if _, ok, err := LoadOSRelease(fsutil.Trees(nil), root); ok || err != nil {
		t.Fatalf("none: %v %v", ok, err)
	}
	os.MkdirAll(filepath.Join(root, "usr/lib"), 0o755)
	os.WriteFile(filepath.Join(root, "usr/lib/os-release"), []byte("ID=debian\nVERSION_ID=\"12\"\n"), 0o644)
	if osr, ok, err := LoadOSRelease(fsutil.Trees(nil), root); !ok || err != nil || osr.ID != "debian" {
		t.Errorf("/usr/lib fallback: %+v %v %v", osr, ok, err)
	}
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	if err := syscall.Mkfifo(filepath.Join(root, "etc/os-release"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := LoadOSRelease(fsutil.Trees(nil), root); ok || fsutil.Reason(err) != "not_regular" {
		t.Errorf("a FIFO in /etc/os-release: %v %v", ok, err)
	}
}

func TestValidReleaseAndArch(t *testing.T) {
	for _, r := range []string{"5.14.0-427.13.1.el9_4.x86_64", "6.1.0-28-amd64", "6.8.0-1016-aws", "5.14.0-284.el9.aarch64+64k", "6.4.0-150600.23.25-default"} {
		if err := ValidRelease(r); err != nil {
			t.Errorf("%s: %v", r, err)
		}
	}
	for _, r := range []string{"", "..", "6.1/../../etc", "6.1 amd64", "6.1\x00", string(make([]byte, 65))} {
		if err := ValidRelease(r); !errors.Is(err, fsutil.ErrGarbage) {
			t.Errorf("%q accepted", r)
		}
	}
	for _, c := range []struct{ file, release, want string }{
		{"x86_64\n", "6.8.0-1016-aws", "x86_64"},
		{"", "5.14.0-427.13.1.el9_4.x86_64", "x86_64"},
		{"", "5.14.0-284.el9.aarch64+64k", "aarch64"},
		{"", "5.14.0-427.el9.x86_64+debug", "x86_64"},
		{"", "6.1.0-28-amd64", "x86_64"},
		{"", "6.1.0-28-cloud-amd64", "x86_64"},
		{"", "6.1.0-28-arm64", "aarch64"},
		{"", "6.8.0-45-generic", ""},
	} {
		if got := KernelArch(c.file, c.release); got != c.want {
			t.Errorf("KernelArch(%q, %q) = %q, want %q", c.file, c.release, got, c.want)
		}
	}
}

func TestRecommendedTable(t *testing.T) {
	rhel := func(v string) OSRelease { return OSRelease{ID: "rhel", IDLike: []string{"fedora"}, VersionID: v} }
	for _, c := range []struct {
		distro string
		osr    OSRelease
		arch   string
		source string
		ram    uint64 // MemTotal
		want   uint64
	}{
		{DistroRHEL, rhel("9.4"), "x86_64", "rhel9", 125 * GiB, 512 * MiB},
		{DistroRHEL, rhel("9.4"), "x86_64", "rhel9", 15 * GiB, 256 * MiB},
		{DistroRHEL, rhel("9.4"), "s390x", "rhel9", 3 * GiB, 192 * MiB},
		{DistroRHEL, rhel("10.0"), "x86_64", "rhel10", 3 * GiB, 256 * MiB},
		{DistroRHEL, rhel("10.0"), "x86_64", "rhel10", 1 * GiB, 0}, // no default reservation below 2 GiB
		{DistroRHEL, OSRelease{ID: "almalinux", IDLike: []string{"rhel", "centos", "fedora"}, VersionID: "9.5"}, "x86_64", "rhel9", 8 * GiB, 256 * MiB},
		{DistroRHEL, OSRelease{ID: "centos", IDLike: []string{"rhel", "fedora"}, VersionID: "9"}, "x86_64", "rhel9", 8 * GiB, 256 * MiB},
		{DistroRHEL, rhel("8.10"), "x86_64", "", 0, 0},                                                      // crashkernel=auto era
		{DistroRHEL, rhel("9.4"), "aarch64", "", 0, 0},                                                      // size depends on page size, SMMU, NICs
		{DistroRHEL, rhel("9.4"), "", "", 0, 0},                                                             // architecture unknown
		{DistroRHEL, OSRelease{ID: "fedora", VersionID: "41"}, "x86_64", "", 0, 0},                          // Fedora follows kdump-utils releases
		{DistroRHEL, OSRelease{ID: "ol", IDLike: []string{"fedora"}, VersionID: "9.4"}, "x86_64", "", 0, 0}, // Oracle's own kexec-tools
		{DistroDebian, OSRelease{ID: "debian", VersionID: "12"}, "", "debian", 2878412 * 1024, 128 * MiB},
		{DistroDebian, OSRelease{ID: "debian", VersionID: "12"}, "", "debian", 200 * MiB, 0},
		{DistroDebian, OSRelease{ID: "ubuntu", IDLike: []string{"debian"}, VersionID: "22.04"}, "", "ubuntu20.04", 2 * 1024 * GiB, 192 * MiB},
		{DistroDebian, OSRelease{ID: "ubuntu", IDLike: []string{"debian"}, VersionID: "24.04"}, "", "ubuntu24.04", 7 * GiB, 512 * MiB},
		{DistroDebian, OSRelease{ID: "ubuntu", IDLike: []string{"debian"}, VersionID: "24.04"}, "", "ubuntu24.04", 3 * GiB, 320 * MiB},
		{DistroDebian, OSRelease{ID: "ubuntu", IDLike: []string{"debian"}, VersionID: "23.04"}, "", "", 0, 0},
		{DistroDebian, OSRelease{ID: "linuxmint", IDLike: []string{"ubuntu", "debian"}, VersionID: "21.3"}, "", "", 0, 0},
		{DistroSUSE, OSRelease{ID: "sles", VersionID: "15.6"}, "x86_64", "", 0, 0}, // kdumptool calibrate
	} {
		table, ok := RecommendedTable(c.distro, c.osr, c.arch)
		if ok != (c.source != "") || table.Source != c.source {
			t.Errorf("%s %+v %s: got %+v %v, want %s", c.distro, c.osr, c.arch, table, ok, c.source)
			continue
		}
		if ok && table.Size(c.ram) != c.want {
			t.Errorf("%s on %d bytes: %d, want %d", table.Source, c.ram, table.Size(c.ram), c.want)
		}
	}
	for _, tbl := range []Table{tableRHEL9, tableRHEL10, tableDebian, tableUbuntu2004, tableUbuntu2404} {
		if ck, err := ParseCmdline("crashkernel=" + tbl.Crashkernel); err != nil || ck.Main == nil || len(ck.Main.Ranges) == 0 {
			t.Errorf("%s does not parse as a range list: %v", tbl.Source, err)
		}
	}
}

// host writes files below a temporary root with the given times.
func host(t *testing.T, files map[string]time.Time) string {
	t.Helper()
	root := t.TempDir()
	for p, when := range files {
		full := filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(full, when, when); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestCheckInitramfs(t *testing.T) {
	const rel = "5.14.0-427.13.1.el9_4.x86_64"
	day := func(d int) time.Time { return time.Date(2024, 5, d, 10, 0, 0, 0, time.UTC) }
	rhel := Target{Configured: true, Enabled: true, Distro: DistroRHEL, ConfigPath: RHELConfigPath}
	deb := Target{Configured: true, Enabled: true, Distro: DistroDebian, ConfigPath: DebianConfigPath}
	suse := Target{Configured: true, Enabled: true, Distro: DistroSUSE, ConfigPath: SUSEConfigPath}
	const (
		kernel  = "/boot/vmlinuz-" + rel
		rhelImg = "/boot/initramfs-" + rel + "kdump.img"
		varImg  = "/var/lib/kdump/initramfs-" + rel + "kdump.img"
		debImg  = "/var/lib/kdump/initrd.img-" + rel
		suseOld = "/boot/initrd-" + rel + "-kdump"
	)
	for _, c := range []struct {
		name  string
		t     Target
		files map[string]time.Time
		state string
		path  string
	}{
		{"rhel ok", rhel, map[string]time.Time{kernel: day(1), rhelImg: day(3), RHELConfigPath: day(2)}, InitramfsOK, rhelImg},
		{"rhel config edited after the build", rhel, map[string]time.Time{kernel: day(1), rhelImg: day(2), RHELConfigPath: day(3)}, InitramfsOlderThanConfig, rhelImg},
		// kdumpctl compares whole seconds: the same second is current.
		{"rhel same second", rhel, map[string]time.Time{kernel: day(1), rhelImg: day(2), RHELConfigPath: day(2).Add(500 * time.Millisecond)}, InitramfsOK, rhelImg},
		{"rhel kernel newer", rhel, map[string]time.Time{kernel: day(4), rhelImg: day(3), RHELConfigPath: day(2)}, InitramfsOlderThanKernel, rhelImg},
		{"rhel /var/lib/kdump (read-only /boot)", rhel, map[string]time.Time{kernel: day(1), varImg: day(3), RHELConfigPath: day(2)}, InitramfsOK, varImg},
		{"rhel missing", rhel, map[string]time.Time{kernel: day(1), RHELConfigPath: day(2)}, InitramfsMissing, rhelImg},
		{"rhel /boot not visible", rhel, map[string]time.Time{RHELConfigPath: day(2)}, InitramfsUnknown, rhelImg},
		{"rhel kernel only below /usr/lib/modules", rhel, map[string]time.Time{"/usr/lib/modules/" + rel + "/vmlinuz": day(1), RHELConfigPath: day(2)}, InitramfsMissing, rhelImg},
		// Debian's initrd does not embed /etc/default/kdump-tools.
		{"debian config newer is fine", deb, map[string]time.Time{kernel: day(1), debImg: day(2), DebianConfigPath: day(3)}, InitramfsOK, debImg},
		{"debian kernel newer", deb, map[string]time.Time{kernel: day(3), debImg: day(2), DebianConfigPath: day(1)}, InitramfsOlderThanKernel, debImg},
		{"suse 1.x ok", suse, map[string]time.Time{kernel: day(1), suseOld: day(3), SUSEConfigPath: day(2)}, InitramfsOK, suseOld},
		// mkdumprd rebuilds unless the file is strictly older (-ot).
		{"suse 1.x same time", suse, map[string]time.Time{kernel: day(1), suseOld: day(2), SUSEConfigPath: day(2)}, InitramfsOlderThanConfig, suseOld},
		{"suse 1.x kernel newer", suse, map[string]time.Time{kernel: day(4), suseOld: day(3), SUSEConfigPath: day(2)}, InitramfsOlderThanKernel, suseOld},
		{"suse 2.x without kernel link", suse, map[string]time.Time{kernel: day(1), "/var/lib/kdump/initrd": day(3), SUSEConfigPath: day(2)}, InitramfsOtherKernel, "/var/lib/kdump/initrd"},
	} {
		root := host(t, c.files)
		in := CheckInitramfs(fsutil.Trees(nil), root, c.t, rel)
		if in.State != c.state || in.Initramfs.Path != c.path || len(in.Problems) != 0 {
			t.Errorf("%s: got %s %s %v, want %s %s", c.name, in.State, in.Initramfs.Path, in.Problems, c.state, c.path)
		}
	}

	// SUSE 2.x: the link names the kernel the initrd was built for.
	root := host(t, map[string]time.Time{kernel: day(1), "/var/lib/kdump/initrd": day(3), SUSEConfigPath: day(2)})
	os.Symlink(kernel, filepath.Join(root, "var/lib/kdump/kernel")) // absolute: resolved below root
	if in := CheckInitramfs(fsutil.Trees(nil), root, suse, rel); in.State != InitramfsOK {
		t.Errorf("suse 2.x with link: %s %v", in.State, in.Problems)
	}
	os.Remove(filepath.Join(root, kernel[1:]))
	if in := CheckInitramfs(fsutil.Trees(nil), root, suse, rel); in.State != InitramfsOtherKernel {
		t.Errorf("suse 2.x, kernel removed: %s", in.State)
	}

	// Unusable files are reported and decide nothing.
	root = host(t, map[string]time.Time{kernel: day(1), RHELConfigPath: day(2)})
	os.MkdirAll(filepath.Join(root, rhelImg[1:]), 0o755)
	in := CheckInitramfs(fsutil.Trees(nil), root, rhel, rel)
	if in.State != InitramfsUnknown || len(in.Problems) != 1 || fsutil.Reason(in.Problems[0]) != "not_regular" {
		t.Errorf("directory in place of the initramfs: %s %v", in.State, in.Problems)
	}
	root = host(t, map[string]time.Time{RHELConfigPath: day(2), rhelImg: day(3)})
	os.MkdirAll(filepath.Join(root, "boot"), 0o755)
	if err := syscall.Mkfifo(filepath.Join(root, kernel[1:]), 0o644); err != nil {
		t.Fatal(err)
	}
	in = CheckInitramfs(fsutil.Trees(nil), root, rhel, rel)
	if in.State != InitramfsOK || in.Kernel.Found || len(in.Problems) != 1 {
		t.Errorf("FIFO kernel image: not compared, reported: %s %+v %v", in.State, in.Kernel, in.Problems)
	}
	// A 0600 image is stat'ed without being opened.
	root = host(t, map[string]time.Time{kernel: day(1), rhelImg: day(3), RHELConfigPath: day(2)})
	os.Chmod(filepath.Join(root, rhelImg[1:]), 0)
	if in := CheckInitramfs(fsutil.NewTrees(root), root, rhel, rel); in.State != InitramfsOK || !in.Initramfs.ModTime.Equal(day(3)) {
		t.Errorf("mode 000 image: %s %v", in.State, in.Problems)
	}
}

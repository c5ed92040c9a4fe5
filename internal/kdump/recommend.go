package kdump

// Table is a distribution's default crashkernel= value: what its tools
// write to the boot loader configuration when kdump is set up.
type Table struct {
	// Source names the table (a bounded label value): rhel9, rhel10,
	// debian, ubuntu20.04, ubuntu24.04.
	Source string
	// Crashkernel is the value as the distribution writes it.
	Crashkernel string
}

// The tables, and where each comes from.
var (
	// kexec-tools kdump-lib.sh kdump_get_arch_recommend_crashkernel for
	// x86_64 and s390x since "update default crashkernel value"
	// (34d27c4, 2021-11, kexec-tools 2.0.23): RHEL 9 and its rebuilds.
	tableRHEL9 = Table{"rhel9", "1G-4G:192M,4G-64G:256M,64G-:512M"}
	// kdump-utils kdump-lib.sh, "Adjust default crashkernel reservation
	// for x86_64 and s390x" (fe18f93, 2025-03, v1.0.53): RHEL 10. Hosts
	// below 2 GiB get no reservation by default.
	tableRHEL10 = Table{"rhel10", "2G-64G:256M,64G-:512M"}
	// kdump-tools' /etc/default/grub.d/kdump-tools.cfg in Debian (all
	// architectures).
	tableDebian = Table{"debian", "384M-:128M"}
	// kdump-tools' /etc/default/grub.d/kdump-tools.cfg in Ubuntu 20.04 and
	// 22.04.
	tableUbuntu2004 = Table{"ubuntu20.04", "512M-:192M"}
	// kdump-tools' /etc/default/grub.d/kdump-tools.cfg in Ubuntu 24.04 and
	// later (kdump-tools 1:1.10.x).
	tableUbuntu2404 = Table{"ubuntu24.04", "2G-4G:320M,4G-32G:512M,32G-64G:1024M,64G-128G:2048M,128G-:4096M"}
)

// RecommendedTable returns the default crashkernel= of the distribution
// whose kdump configuration was found (distro, one of the Distro
// constants), given its os-release and the machine architecture (uname -m).
// ok is false where no documented table applies: SUSE (kdumptool
// calibrate computes the size per host), RHEL 8 and older (crashkernel=auto
// and a table built into the kernel), RHEL on aarch64 and ppc64le (the
// size there depends on page size, SMMU, network drivers and the number of
// CPUs), Ubuntu releases between the LTS ones known here, and any
// derivative not named.
//
// On x86_64 kdump-utils adds 64 MiB when AMD SME/SEV is active, which is
// not visible from here: the recommendation is then a floor.
func RecommendedTable(distro string, osr OSRelease, arch string) (Table, bool) {
	major, minor, ok := osr.version()
	if !ok {
		return Table{}, false
	}
	switch distro {
	case DistroRHEL:
		rhelLike := osr.ID == "rhel" || osr.ID == "centos" || osr.ID == "rocky" || osr.ID == "almalinux" || osr.like("rhel")
		if !rhelLike || (arch != "x86_64" && arch != "s390x") {
			return Table{}, false
		}
		switch {
		case major == 9:
			return tableRHEL9, true
		case major >= 10:
			return tableRHEL10, true
		}
	case DistroDebian:
		switch {
		case osr.ID == "debian":
			return tableDebian, true
		case osr.ID == "ubuntu" && (major == 20 || major == 22) && minor == 4:
			return tableUbuntu2004, true
		case osr.ID == "ubuntu" && major >= 24:
			return tableUbuntu2404, true
		}
	}
	return Table{}, false
}

// Size is what the table reserves on a host with ramBytes of memory,
// resolved the way the kernel resolves a crashkernel= range list (and
// crashguard_kdump_crashkernel_requested_bytes is): 0 when no range
// matches.
func (t Table) Size(ramBytes uint64) uint64 {
	ck, err := ParseCmdline("crashkernel=" + t.Crashkernel)
	if err != nil {
		return 0 // the tables are constants; tested to parse
	}
	n, _ := ck.Requested(ramBytes)
	return n
}

package kdump

import (
	"fmt"
	"strings"
)

// rhelFSTypes are the "<fstype> <device>" targets kdumpctl accepts.
var rhelFSTypes = map[string]bool{
	"ext2": true, "ext3": true, "ext4": true, "xfs": true,
	"btrfs": true, "minix": true, "virtiofs": true,
}

// ParseRHEL reads /etc/kdump.conf (kdump-utils, formerly kexec-tools) on
// RHEL, Fedora, CentOS and their rebuilds. As kdumpctl does, everything
// from '#' to the end of a line is a comment and each line is a directive
// followed by its value. Without a target directive the dump goes to the
// local directory named by "path" (default /var/crash); with one, "path" is
// relative to that target's root (and ignored for raw). Unknown directives
// are ignored. Two target directives return the last one together with an
// error wrapping ErrMultipleTargets, since kdumpctl then refuses to start; a
// target directive without a value is an error for the same reason.
func ParseRHEL(content string) (Target, error) {
	t := Target{
		Configured: true,
		Distro:     DistroRHEL,
		ConfigPath: RHELConfigPath,
		Enabled:    true,
		Type:       TypeLocal,
	}
	var dumpDir string
	var nTargets int
	var firstTarget, lastTarget string
	lineNo := 0
	for len(content) > 0 {
		var line string
		if i := strings.IndexByte(content, '\n'); i >= 0 {
			line, content = content[:i], content[i+1:]
		} else {
			line, content = content, ""
		}
		lineNo++
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		opt, val := line, ""
		if i := strings.IndexAny(line, " \t"); i >= 0 {
			opt, val = line[:i], strings.TrimSpace(line[i+1:])
		}
		isTarget := opt == "raw" || opt == "nfs" || opt == "ssh" || rhelFSTypes[opt]
		if isTarget {
			if val == "" {
				return t, fmt.Errorf("%s line %d: %q without a value", RHELConfigPath, lineNo, bound(opt))
			}
			if nTargets == 0 {
				firstTarget = opt
			}
			nTargets++
			lastTarget = opt
			t.Location = bound(val)
			t.FSType = ""
			switch {
			case opt == "raw":
				t.Type = TypeRaw
			case opt == "nfs":
				t.Type = TypeNFS
			case opt == "ssh":
				t.Type = TypeSSH
			default:
				t.Type = TypeDevice
				t.FSType = opt
			}
			continue
		}
		switch opt {
		case "path":
			dumpDir = val
		case "sshkey":
			t.SSHKey = bound(val)
		case "core_collector":
			t.CoreCollector = bound(val)
		case "failure_action", "default":
			t.FailureAction = bound(val)
		case "dracut_args":
			if strings.Contains(val, "--mount") {
				t.warn("line %d: dump target given through dracut_args --mount is not interpreted", lineNo)
			}
		}
	}
	switch t.Type {
	case TypeRaw:
		// "path" means nothing for a raw partition.
	default:
		t.Path = dumpPath(dumpDir, DefaultDumpDir)
	}
	if t.Type == TypeSSH && t.SSHKey == "" {
		t.SSHKey = "/root/.ssh/kdump_id_rsa"
	}
	if nTargets > 1 {
		return t, fmt.Errorf("%s: %w (%d, first %q, last %q)", RHELConfigPath, ErrMultipleTargets,
			nTargets, bound(firstTarget), bound(lastTarget))
	}
	return t, nil
}

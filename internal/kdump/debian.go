package kdump

import (
	"fmt"
	"slices"
	"strings"
)

// ParseDebian reads /etc/default/kdump-tools (Debian and Ubuntu), a shell
// fragment sourced by kdump-config. As there, kdump is enabled only when
// USE_KDUMP is set and not 0, KDUMP_COREDIR defaults to /var/crash, and the
// remote targets run in the order savecore runs them: FTP=, then SSH=, then
// NFS= (mounted on KDUMP_COREDIR, so dumps land in the export's root). When
// several are set kdump-config writes to each; the first is reported with a
// warning. An unterminated quote is an error, since sourcing the file fails,
// and so is an FTP= without a host.
func ParseDebian(content string) (Target, error) {
	t := Target{Configured: true, Distro: DistroDebian, ConfigPath: DebianConfigPath}
	vars, expanded, err := shellVars(content)
	if err != nil {
		return t, fmt.Errorf("%s: %w", DebianConfigPath, err)
	}
	warnExpanded(&t, expanded, "USE_KDUMP", "KDUMP_COREDIR", "FTP", "SSH", "NFS", "SSH_KEY")

	use := vars["USE_KDUMP"]
	t.Enabled = use != "" && use != "0"
	coreDir := dumpPath(vars["KDUMP_COREDIR"], DefaultDumpDir)
	t.Compression = bound(vars["KDUMP_COMPRESSION"])
	t.HostTag = bound(vars["HOSTTAG"])

	ftp, ssh, nfs := vars["FTP"], vars["SSH"], vars["NFS"]
	switch {
	case ftp != "":
		// FTP="host[:path]", path defaulting to /.
		host, dir, _ := strings.Cut(ftp, ":")
		t.Type, t.Location, t.Path = TypeFTP, bound(host), dumpPath(dir, "/")
		if host == "" {
			return t, fmt.Errorf("%s: FTP names no host", DebianConfigPath)
		}
	case ssh != "":
		t.Type, t.Location, t.Path = TypeSSH, bound(ssh), coreDir
		t.SSHKey = bound(vars["SSH_KEY"])
		if t.SSHKey == "" {
			t.SSHKey = "/root/.ssh/kdump_id_rsa"
		}
	case nfs != "":
		t.Type, t.Location, t.Path = TypeNFS, bound(nfs), "/"
	default:
		t.Type, t.Path = TypeLocal, coreDir
	}
	var remotes []string
	for _, r := range []struct{ name, val string }{{"FTP", ftp}, {"SSH", ssh}, {"NFS", nfs}} {
		if r.val != "" {
			remotes = append(remotes, r.name)
		}
	}
	if len(remotes) > 1 {
		t.warn("%s all set; dumps go to each, %s reported", strings.Join(remotes, ", "), remotes[0])
	}
	return t, nil
}

// warnExpanded notes the used variables whose values hold shell expansions,
// which are kept as written. Only names are reported: values may be secret.
func warnExpanded(t *Target, names []string, used ...string) {
	seen := make(map[string]bool)
	for _, n := range names {
		if !seen[n] && slices.Contains(used, n) {
			seen[n] = true
			t.warn("%s uses shell expansion; taken as written", n)
		}
	}
}

package kdump

import (
	"fmt"
	"strconv"
	"strings"
)

// defaultFreeDiskMiB is KDUMP_FREE_DISK_SIZE's default; kdumptool compares
// it with free space converted to MiB.
const defaultFreeDiskMiB = 64

// ParseSUSE reads /etc/sysconfig/kdump (SLES and openSUSE), a shell
// fragment. KDUMP_SAVEDIR (default /var/crash) is a plain absolute path or
// a URL: file://, ftp://, sftp:// (alias scp://), ssh://, nfs://, cifs://
// (alias smb://). It may list several targets separated by spaces, over
// which kdump splits the dump; the first is reported with a warning.
// Passwords in URLs are dropped. A KDUMP_SAVEDIR that is neither an
// absolute path nor a known URL is an error, as it is for kdumptool.
func ParseSUSE(content string) (Target, error) {
	t := Target{Configured: true, Distro: DistroSUSE, ConfigPath: SUSEConfigPath, Enabled: true}
	vars, expanded, err := shellVars(content)
	if err != nil {
		return t, fmt.Errorf("%s: %w", SUSEConfigPath, err)
	}
	warnExpanded(&t, expanded, "KDUMP_SAVEDIR", "KDUMP_FREE_DISK_SIZE", "KDUMP_SSH_IDENTITY")
	t.Compression = bound(vars["KDUMP_DUMPFORMAT"])

	dirs := strings.Fields(vars["KDUMP_SAVEDIR"])
	if len(dirs) == 0 {
		dirs = []string{DefaultDumpDir}
	}
	if len(dirs) > 1 {
		t.warn("KDUMP_SAVEDIR lists %d targets; the dump is split over them, the first reported", len(dirs))
	}
	if err := parseSaveDir(&t, dirs[0]); err != nil {
		return t, fmt.Errorf("%s: KDUMP_SAVEDIR: %w", SUSEConfigPath, err)
	}
	if t.Type == TypeSSH {
		t.SSHKey = bound(vars["KDUMP_SSH_IDENTITY"])
	}
	if t.Type == TypeLocal {
		mib := uint64(defaultFreeDiskMiB)
		if v := vars["KDUMP_FREE_DISK_SIZE"]; v != "" {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil || n > ^uint64(0)>>20 {
				t.warn("KDUMP_FREE_DISK_SIZE %q is not a number of MiB; using %d", cut(v), defaultFreeDiskMiB)
			} else {
				mib = n
			}
		}
		t.FreeDiskSizeBytes = mib << 20
	}
	return t, nil
}

// parseSaveDir interprets one KDUMP_SAVEDIR entry as kdump's URL parser
// does: protocol://[user[:password]@]host[:port]/path. Error messages never
// quote the entry, which may hold a password.
func parseSaveDir(t *Target, dir string) error {
	if strings.HasPrefix(dir, "/") {
		t.Type, t.Path = TypeLocal, dumpPath(dir, DefaultDumpDir)
		return nil
	}
	scheme, rest, ok := strings.Cut(dir, "://")
	if !ok {
		return fmt.Errorf("neither an absolute path nor a URL")
	}
	scheme = strings.ToLower(scheme)
	if scheme == "file" {
		if !strings.HasPrefix(rest, "/") {
			return fmt.Errorf("file URL without an absolute path")
		}
		t.Type, t.Path = TypeLocal, dumpPath(rest, DefaultDumpDir)
		return nil
	}
	switch scheme {
	case "ftp":
		t.Type = TypeFTP
	case "sftp", "scp", "ssh":
		t.Type = TypeSSH
	case "nfs":
		t.Type = TypeNFS
	case "cifs", "smb":
		t.Type = TypeCIFS
	default:
		if !isWord(scheme) {
			return fmt.Errorf("unknown protocol")
		}
		return fmt.Errorf("unknown protocol %q", cut(scheme))
	}
	authority, p := rest, ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		authority, p = rest[:i], rest[i:]
	}
	user, hostPort := "", authority
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		user, _, _ = strings.Cut(authority[:i], ":") // drop the password
		hostPort = authority[i+1:]
	}
	host, port := splitHostPort(hostPort)
	if host == "" {
		return fmt.Errorf("%s URL without a host", scheme)
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if t.Type == TypeNFS {
		// kdump mounts host:/path itself; the dumps go to its root.
		t.Location, t.Path = bound(host+":"+dumpPath(p, "/")), "/"
		return nil
	}
	loc := host
	if port != "" {
		loc += ":" + port
	}
	if user != "" {
		loc = user + "@" + loc
	}
	t.Location, t.Path = bound(loc), dumpPath(p, "/")
	return nil
}

// splitHostPort separates "host", "host:port", "host:" and "[v6]:port".
func splitHostPort(s string) (host, port string) {
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", ""
		}
		host, rest := s[1:end], s[end+1:]
		return host, strings.TrimPrefix(rest, ":")
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}

// isWord reports whether s looks like a URL scheme, so that quoting it in an
// error cannot reveal anything else from the line.
func isWord(s string) bool {
	if s == "" || len(s) > 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

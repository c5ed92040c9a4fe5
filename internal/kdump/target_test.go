package kdump

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"unicode/utf8"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

func readFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func rhel(t Target) Target {
	t.Configured, t.Distro, t.ConfigPath, t.Enabled = true, DistroRHEL, RHELConfigPath, true
	return t
}

func debian(t Target) Target {
	t.Configured, t.Distro, t.ConfigPath = true, DistroDebian, DebianConfigPath
	return t
}

func suse(t Target) Target {
	t.Configured, t.Distro, t.ConfigPath, t.Enabled = true, DistroSUSE, SUSEConfigPath, true
	return t
}

const collector = "makedumpfile -l --message-level 7 -d 31"
const flatCollector = "makedumpfile -F -l --message-level 7 -d 31"

func TestParseRHELFixtures(t *testing.T) {
	tests := []struct {
		file string
		want Target
	}{
		{"rhel9-local.conf", rhel(Target{Type: TypeLocal, Path: "/var/crash", CoreCollector: collector})},
		{"rhel7-default.conf", rhel(Target{Type: TypeLocal, Path: "/var/crash",
			CoreCollector: "makedumpfile -l --message-level 1 -d 31", FailureAction: "reboot"})},
		{"rhel-ssh.conf", rhel(Target{Type: TypeSSH, Location: "kdump@10.0.0.5", Path: "/srv/crash",
			SSHKey: "/root/.ssh/kdump_id_rsa", CoreCollector: flatCollector, FailureAction: "dump_to_rootfs"})},
		{"rhel-nfs.conf", rhel(Target{Type: TypeNFS, Location: "my.server.com:/export/tmp", Path: "/var/crash",
			CoreCollector: collector, FailureAction: "shell"})},
		{"rhel-xfs-uuid.conf", rhel(Target{Type: TypeDevice, FSType: "xfs",
			Location: "UUID=03138356-5e61-4ab3-b58e-27507ac41937", Path: "/crash",
			CoreCollector: collector, FailureAction: "poweroff"})},
		{"rhel-ext4-label.conf", rhel(Target{Type: TypeDevice, FSType: "ext4", Location: "LABEL=kdump",
			Path: "/dumps", CoreCollector: collector})},
		{"rhel-virtiofs.conf", rhel(Target{Type: TypeDevice, FSType: "virtiofs", Location: "myfs",
			Path: "/var/crash", CoreCollector: collector})},
		{"rhel-raw.conf", rhel(Target{Type: TypeRaw, Location: "/dev/vg/lv_kdump", CoreCollector: flatCollector})},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := ParseRHEL(readFixture(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseRHEL\n got  %+v\n want %+v", got, tt.want)
			}
		})
	}
}

func TestParseRHEL(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Target
	}{
		{"empty file uses defaults", "", rhel(Target{Type: TypeLocal, Path: "/var/crash"})},
		{"comments only", "# nothing\n   # indented\n\n", rhel(Target{Type: TypeLocal, Path: "/var/crash"})},
		{"local path is absolute from root", "path /srv/dumps/\n", rhel(Target{Type: TypeLocal, Path: "/srv/dumps"})},
		{"relative path is taken from root", "path dumps\n", rhel(Target{Type: TypeLocal, Path: "/dumps"})},
		{"last path wins", "path /a\npath /b\n", rhel(Target{Type: TypeLocal, Path: "/b"})},
		{"ssh without sshkey gets the default key", "ssh user@2001:db8::1:2:3:4\n",
			rhel(Target{Type: TypeSSH, Location: "user@2001:db8::1:2:3:4", Path: "/var/crash",
				SSHKey: "/root/.ssh/kdump_id_rsa"})},
		{"nfs with IPv6 export", "nfs [2001:db8::1:2:3:4]:/export/tmp\npath /crash\n",
			rhel(Target{Type: TypeNFS, Location: "[2001:db8::1:2:3:4]:/export/tmp", Path: "/crash"})},
		{"device node", "ext4 /dev/vg/lv_kdump\n",
			rhel(Target{Type: TypeDevice, FSType: "ext4", Location: "/dev/vg/lv_kdump", Path: "/var/crash"})},
		{"btrfs, ext2, ext3, minix", "btrfs /dev/sdb1\n",
			rhel(Target{Type: TypeDevice, FSType: "btrfs", Location: "/dev/sdb1", Path: "/var/crash"})},
		{"obsolete default then failure_action", "default shell\nfailure_action reboot\n",
			rhel(Target{Type: TypeLocal, Path: "/var/crash", FailureAction: "reboot"})},
		{"comment glued to a value", "ssh kdump@dumphost#backup host\n",
			rhel(Target{Type: TypeSSH, Location: "kdump@dumphost", Path: "/var/crash", SSHKey: "/root/.ssh/kdump_id_rsa"})},
		{"unknown and deprecated directives ignored", "net kdump@host\nlink_delay 10\nfoo bar\nkdump_post /bin/true\n",
			rhel(Target{Type: TypeLocal, Path: "/var/crash"})},
		{"nfs4 is not a target", "nfs4 host:/export\n", rhel(Target{Type: TypeLocal, Path: "/var/crash"})},
		{"dracut --mount noted", `dracut_args --mount "/dev/sdb1 /kdumproot ext4 defaults"` + "\n",
			rhel(Target{Type: TypeLocal, Path: "/var/crash",
				Warnings: []string{"line 1: dump target given through dracut_args --mount is not interpreted"}})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRHEL(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseRHEL(%q)\n got  %+v\n want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseRHELErrors(t *testing.T) {
	got, err := ParseRHEL(readFixture(t, "rhel-two-targets.conf"))
	if !errors.Is(err, ErrMultipleTargets) {
		t.Fatalf("two targets: error = %v, want ErrMultipleTargets", err)
	}
	if got.Type != TypeNFS || got.Location != "my.server.com:/export/tmp" || got.FSType != "" {
		t.Errorf("two targets: want the last (nfs) described, got %+v", got)
	}
	if !strings.Contains(err.Error(), `"ext4"`) || !strings.Contains(err.Error(), `"nfs"`) {
		t.Errorf("error %q should name both targets", err)
	}

	for _, in := range []string{"raw\n", "xfs   # no device\n", "ssh\t\n"} {
		if _, err := ParseRHEL(in); err == nil || !strings.Contains(err.Error(), "without a value") {
			t.Errorf("ParseRHEL(%q) error = %v, want a missing-value error", in, err)
		}
	}
}

func TestParseDebianFixtures(t *testing.T) {
	tests := []struct {
		file string
		want Target
	}{
		{"debian-default", debian(Target{Enabled: true, Type: TypeLocal, Path: "/var/crash"})},
		{"debian-disabled", debian(Target{Enabled: false, Type: TypeLocal, Path: "/var/crash"})},
		{"ubuntu-default", debian(Target{Enabled: true, Type: TypeLocal, Path: "/srv/kdump", Compression: "lz4"})},
		{"debian-ssh", debian(Target{Enabled: true, Type: TypeSSH, Location: "kdump@dumphost.example.com",
			Path: "/srv/crash", SSHKey: "/root/.ssh/kdump_id_ed25519", Compression: "xz", HostTag: "hostname"})},
		{"debian-nfs", debian(Target{Enabled: true, Type: TypeNFS, Location: "nfsserver.example.com:/exports/crash",
			Path: "/"})},
		{"debian-ftp", debian(Target{Enabled: true, Type: TypeFTP, Location: "ftp.example.com", Path: "/incoming/crash"})},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := ParseDebian(readFixture(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseDebian\n got  %+v\n want %+v", got, tt.want)
			}
		})
	}
}

func TestParseDebian(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Target
	}{
		{"empty: disabled, default dir", "", debian(Target{Type: TypeLocal, Path: "/var/crash"})},
		{"USE_KDUMP=0", "USE_KDUMP=0\n", debian(Target{Type: TypeLocal, Path: "/var/crash"})},
		{"USE_KDUMP empty", "USE_KDUMP=\n", debian(Target{Type: TypeLocal, Path: "/var/crash"})},
		{"USE_KDUMP quoted", `USE_KDUMP="1"`, debian(Target{Enabled: true, Type: TypeLocal, Path: "/var/crash"})},
		{"last assignment wins", "USE_KDUMP=1\nUSE_KDUMP=0\nKDUMP_COREDIR=/a\nKDUMP_COREDIR='/b'\n",
			debian(Target{Type: TypeLocal, Path: "/b"})},
		{"export and several per line", "export USE_KDUMP=1 KDUMP_COREDIR=/srv/crash; HOSTTAG=ip\n",
			debian(Target{Enabled: true, Type: TypeLocal, Path: "/srv/crash", HostTag: "ip"})},
		{"empty coredir falls back", `KDUMP_COREDIR=""`, debian(Target{Type: TypeLocal, Path: "/var/crash"})},
		{"quoting and escapes", `KDUMP_COREDIR="/srv/"'crash dumps'\ x` + "\n",
			debian(Target{Type: TypeLocal, Path: "/srv/crash dumps x"})},
		{"escaped quote in double quotes", `KDUMP_COREDIR="/srv/a\"b"`,
			debian(Target{Type: TypeLocal, Path: `/srv/a"b`})},
		{"multi-line double quotes", "KDUMP_CMDLINE_APPEND=\"nr_cpus=1\n irqpoll\"\nUSE_KDUMP=1\n",
			debian(Target{Enabled: true, Type: TypeLocal, Path: "/var/crash"})},
		{"trailing comment and CRLF", "USE_KDUMP=1 # enabled\r\nKDUMP_COREDIR=/srv/crash\r\n",
			debian(Target{Enabled: true, Type: TypeLocal, Path: "/srv/crash"})},
		{"hash inside a word is literal", "KDUMP_COREDIR=/srv/crash#1\n",
			debian(Target{Type: TypeLocal, Path: "/srv/crash#1"})},
		{"commands are skipped", "[ -r /etc/kdump/extra ] && USE_KDUMP=1\nif true; then\n  KDUMP_COREDIR=/x\nfi\n",
			debian(Target{Enabled: true, Type: TypeLocal, Path: "/x"})},
		{"expansion kept literally and noted", `KDUMP_COREDIR="$HOME/crash"`,
			debian(Target{Type: TypeLocal, Path: "/$HOME/crash",
				Warnings: []string{"KDUMP_COREDIR uses shell expansion; taken as written"}})},
		{"unused expansion not noted", `KDUMP_CMDLINE_APPEND="$(cat /etc/x)"`,
			debian(Target{Type: TypeLocal, Path: "/var/crash"})},
		{"ssh with default key and IP host tag", `SSH="root@192.0.2.10"`,
			debian(Target{Type: TypeSSH, Location: "root@192.0.2.10", Path: "/var/crash",
				SSHKey: "/root/.ssh/kdump_id_rsa"})},
		{"ftp without a path", "FTP=ftp.example.com\n",
			debian(Target{Type: TypeFTP, Location: "ftp.example.com", Path: "/"})},
		{"ssh and nfs both set", "SSH=kdump@a\nNFS=b:/export\n",
			debian(Target{Type: TypeSSH, Location: "kdump@a", Path: "/var/crash", SSHKey: "/root/.ssh/kdump_id_rsa",
				Warnings: []string{"SSH, NFS all set; dumps go to each, SSH reported"}})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDebian(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseDebian(%q)\n got  %+v\n want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseDebianErrors(t *testing.T) {
	for _, in := range []string{"USE_KDUMP=1\nKDUMP_COREDIR=\"/var/crash\n", "SSH='kdump@host\n", `X=a\`} {
		_, err := ParseDebian(in)
		if strings.HasSuffix(in, `\`) {
			if err != nil {
				t.Errorf("ParseDebian(%q): trailing backslash is harmless, got %v", in, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "unterminated") {
			t.Errorf("ParseDebian(%q) error = %v, want unterminated quote", in, err)
		}
	}
	if _, err := ParseDebian(`FTP=":/incoming"`); err == nil || !strings.Contains(err.Error(), "no host") {
		t.Errorf("FTP without a host: error = %v", err)
	}
	_, err := ParseDebian("USE_KDUMP=1\n\nKDUMP_COREDIR=\"/var/crash\n")
	if err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("error %v should name line 3", err)
	}
}

func TestParseSUSEFixtures(t *testing.T) {
	tests := []struct {
		file string
		want Target
	}{
		{"suse-plain", suse(Target{Type: TypeLocal, Path: "/var/crash", FreeDiskSizeBytes: 64 * MiB,
			Compression: "compressed"})},
		{"suse-file-url", suse(Target{Type: TypeLocal, Path: "/var/crash", FreeDiskSizeBytes: 1024 * MiB,
			Compression: "compressed"})},
		{"suse-url", suse(Target{Type: TypeSSH, Location: "kdump@dumphost.example.com:2222", Path: "/srv/crash",
			SSHKey: "/root/.ssh/id_kdump_ed25519", Compression: "zstd"})},
		{"suse-nfs", suse(Target{Type: TypeNFS, Location: "10.180.32.148:/share_9095c713/kdump", Path: "/",
			Compression: "compressed"})},
		{"suse-cifs", suse(Target{Type: TypeCIFS, Location: "bwalle@neptunium", Path: "/var/log/dump",
			Compression: "compressed"})},
		{"suse-split", suse(Target{Type: TypeLocal, Path: "/dump1", FreeDiskSizeBytes: 64 * MiB,
			Compression: "compressed",
			Warnings:    []string{"KDUMP_SAVEDIR lists 2 targets; the dump is split over them, the first reported"}})},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := ParseSUSE(readFixture(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseSUSE\n got  %+v\n want %+v", got, tt.want)
			}
		})
	}
}

func TestParseSUSE(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Target
	}{
		{"empty file uses defaults", "", suse(Target{Type: TypeLocal, Path: "/var/crash", FreeDiskSizeBytes: 64 * MiB})},
		{"free disk size zero disables the check", "KDUMP_FREE_DISK_SIZE=0\n",
			suse(Target{Type: TypeLocal, Path: "/var/crash"})},
		{"free disk size with a unit is not understood", `KDUMP_FREE_DISK_SIZE="64M"`,
			suse(Target{Type: TypeLocal, Path: "/var/crash", FreeDiskSizeBytes: 64 * MiB,
				Warnings: []string{`KDUMP_FREE_DISK_SIZE "64M" is not a number of MiB; using 64`}})},
		{"free disk size too large", "KDUMP_FREE_DISK_SIZE=99999999999999999999\n",
			suse(Target{Type: TypeLocal, Path: "/var/crash", FreeDiskSizeBytes: 64 * MiB,
				Warnings: []string{`KDUMP_FREE_DISK_SIZE "9999999999999999…" is not a number of MiB; using 64`}})},
		{"free disk size ignored for remote targets", "KDUMP_SAVEDIR=nfs://srv/dump\nKDUMP_FREE_DISK_SIZE=100\n",
			suse(Target{Type: TypeNFS, Location: "srv:/dump", Path: "/"})},
		{"ftp with password and port", `KDUMP_SAVEDIR="ftp://bwalle:dontsay@strauss.suse.de:123/var/log/dump"`,
			suse(Target{Type: TypeFTP, Location: "bwalle@strauss.suse.de:123", Path: "/var/log/dump"})},
		{"anonymous ftp", `KDUMP_SAVEDIR="ftp://192.168.0.70/var/log/dump"`,
			suse(Target{Type: TypeFTP, Location: "192.168.0.70", Path: "/var/log/dump"})},
		{"sftp", `KDUMP_SAVEDIR="sftp://dump@collector:22/var/log/dump"`,
			suse(Target{Type: TypeSSH, Location: "dump@collector:22", Path: "/var/log/dump"})},
		{"scp alias", `KDUMP_SAVEDIR="scp://neptunium/var/log/dump"`,
			suse(Target{Type: TypeSSH, Location: "neptunium", Path: "/var/log/dump"})},
		{"smb alias", `KDUMP_SAVEDIR="smb://bwalle@192.168.0.70:/var/log"`,
			suse(Target{Type: TypeCIFS, Location: "bwalle@192.168.0.70", Path: "/var/log"})},
		{"IPv6 host", `KDUMP_SAVEDIR="ssh://kdump@[2001:db8::5]:2222/srv/crash"`,
			suse(Target{Type: TypeSSH, Location: "kdump@[2001:db8::5]:2222", Path: "/srv/crash"})},
		{"IPv6 nfs", `KDUMP_SAVEDIR="nfs://[2001:db8::5]/export"`,
			suse(Target{Type: TypeNFS, Location: "[2001:db8::5]:/export", Path: "/"})},
		{"host without a path", `KDUMP_SAVEDIR="ssh://kdump@dumphost"`,
			suse(Target{Type: TypeSSH, Location: "kdump@dumphost", Path: "/"})},
		{"upper-case scheme", `KDUMP_SAVEDIR="FILE:///srv/crash"`,
			suse(Target{Type: TypeLocal, Path: "/srv/crash", FreeDiskSizeBytes: 64 * MiB})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSUSE(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseSUSE(%q)\n got  %+v\n want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseSUSEErrors(t *testing.T) {
	for _, dir := range []string{
		"var/crash",
		"http://user:topsecret@host/x",
		"file://host/var/crash",
		"ftp://user:topsecret@/path",
		"ssh://user:topsecret@[2001:db8::5/path",
	} {
		_, err := ParseSUSE(`KDUMP_SAVEDIR="` + dir + `"`)
		if err == nil {
			t.Errorf("KDUMP_SAVEDIR=%q: no error", dir)
			continue
		}
		if strings.Contains(err.Error(), "topsecret") {
			t.Errorf("KDUMP_SAVEDIR=%q: error %q leaks the password", dir, err)
		}
	}
}

func TestTargetStringsAreBounded(t *testing.T) {
	long := strings.Repeat("é", 300) // 600 bytes
	checks := []struct {
		name  string
		parse func(string) (Target, error)
		in    string
	}{
		{"rhel", ParseRHEL, "ssh " + long + "\nsshkey " + long + "\ncore_collector " + long + "\npath /" + long + "\n"},
		{"debian", ParseDebian, "SSH=" + long + "\nKDUMP_COREDIR=/" + long + "\nHOSTTAG=" + long + "\n"},
		{"suse", ParseSUSE, "KDUMP_SAVEDIR=ssh://" + long + "@" + long + "/" + long + "\nKDUMP_SSH_IDENTITY=" + long + "\n"},
		{"invalid utf-8", ParseDebian, "KDUMP_COREDIR=/\xff\xfe" + strings.Repeat("a", 300) + "\nHOSTTAG=\xc3\n"},
	}
	for _, c := range checks {
		got, err := c.parse(c.in)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for _, s := range []string{got.Path, got.Location, got.SSHKey, got.CoreCollector, got.HostTag} {
			if len(s) > maxValueLen || !utf8.ValidString(s) {
				t.Errorf("%s: %d-byte or invalid value %q", c.name, len(s), s)
			}
		}
		if got.Location == "" && got.Path == "" {
			t.Errorf("%s: expected values to be kept (cut), got none", c.name)
		}
	}
}

func TestLoadTarget(t *testing.T) {
	write := func(t *testing.T, root, rel, content string) {
		t.Helper()
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("none", func(t *testing.T) {
		got, err := LoadTarget(t.TempDir())
		if err != nil || !reflect.DeepEqual(got, Target{}) {
			t.Errorf("LoadTarget = %+v, %v; want zero Target, nil", got, err)
		}
	})
	for _, c := range []struct {
		rel, fixture, distro, typ string
	}{
		{"etc/kdump.conf", "rhel-ssh.conf", DistroRHEL, TypeSSH},
		{"etc/default/kdump-tools", "debian-nfs", DistroDebian, TypeNFS},
		{"etc/sysconfig/kdump", "suse-url", DistroSUSE, TypeSSH},
	} {
		t.Run(c.distro, func(t *testing.T) {
			root := t.TempDir()
			write(t, root, c.rel, readFixture(t, c.fixture))
			got, err := LoadTarget(root)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Configured || got.Distro != c.distro || got.Type != c.typ || got.ConfigPath != "/"+c.rel {
				t.Errorf("LoadTarget = %+v", got)
			}
		})
	}
	t.Run("RHEL file preferred", func(t *testing.T) {
		root := t.TempDir()
		write(t, root, "etc/sysconfig/kdump", readFixture(t, "suse-plain"))
		write(t, root, "etc/kdump.conf", "nfs host:/export\n")
		got, err := LoadTarget(root)
		if err != nil || got.Distro != DistroRHEL || got.Type != TypeNFS {
			t.Errorf("LoadTarget = %+v, %v", got, err)
		}
	})
	t.Run("parse error reported", func(t *testing.T) {
		root := t.TempDir()
		write(t, root, "etc/kdump.conf", readFixture(t, "rhel-two-targets.conf"))
		got, err := LoadTarget(root)
		if !errors.Is(err, ErrMultipleTargets) || got.Distro != DistroRHEL {
			t.Errorf("LoadTarget = %+v, %v", got, err)
		}
	})
	t.Run("too large", func(t *testing.T) {
		root := t.TempDir()
		write(t, root, "etc/default/kdump-tools", strings.Repeat("# padding\n", maxConfigSize/10+1))
		got, err := LoadTarget(root)
		if err == nil || !got.Configured || got.Distro != DistroDebian || got.ConfigPath != DebianConfigPath {
			t.Errorf("LoadTarget = %+v, %v; want a Debian target with an error", got, err)
		}
	})
	t.Run("FIFO refused without blocking", func(t *testing.T) {
		root := t.TempDir()
		if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mkfifo(filepath.Join(root, "etc/kdump.conf"), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := LoadTarget(root)
		if err == nil || got.Distro != DistroRHEL {
			t.Errorf("LoadTarget = %+v, %v; want an error for the FIFO", got, err)
		}
	})
	t.Run("symlink out of rootfs refused", func(t *testing.T) {
		base := t.TempDir()
		root := filepath.Join(base, "host")
		write(t, base, "outside.conf", "nfs secret-host:/export\n")
		if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("../../outside.conf", filepath.Join(root, "etc/kdump.conf")); err != nil {
			t.Fatal(err)
		}
		got, err := LoadTarget(root)
		if fsutil.Reason(err) != "symlink" || got.Type != "" || got.Location != "" {
			t.Errorf("LoadTarget = %+v, %v; want a symlink refusal", got, err)
		}
	})
}

func TestBound(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"", ""},
		{"/var/crash", "/var/crash"},
		{strings.Repeat("a", 300), strings.Repeat("a", 256)},
		{strings.Repeat("a", 255) + "é", strings.Repeat("a", 255)}, // no half rune
		{strings.Repeat("\xb6", 300), "?"},                         // a run of invalid bytes
		{"a\xffb", "a?b"},
	}
	for _, tt := range tests {
		if got := bound(tt.in); got != tt.want {
			t.Errorf("bound(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

package evidence

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

func describe(ts []Target) string {
	var s []string
	for _, t := range ts {
		s = append(s, fmt.Sprintf("%s ext=%v rel=%v dev=%s %s:%d -> %s:%d mac=%s", t.Name, t.Extended, t.Release, t.Device,
			t.LocalIP, t.LocalPort, t.RemoteIP, t.RemotePort, t.RemoteMAC))
	}
	return strings.Join(s, "; ")
}

func TestParseNetconsoleParam(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		// The examples of Documentation/networking/netconsole.rst.
		{"4444@10.0.0.1/eth1,9353@10.0.0.2/12:34:56:78:9a:bc",
			"cmdline0 ext=false rel=false dev=eth1 10.0.0.1:4444 -> 10.0.0.2:9353 mac=12:34:56:78:9a:bc"},
		{"@/,@10.0.0.2/", "cmdline0 ext=false rel=false dev=eth0 :6665 -> 10.0.0.2:6666 mac="},
		{"@/,@fd00:1:2:3::1/", "cmdline0 ext=false rel=false dev=eth0 :6665 -> fd00:1:2:3::1:6666 mac="},
		{"@/,@10.0.0.2/;@/eth1,6892@10.0.0.3/",
			"cmdline0 ext=false rel=false dev=eth0 :6665 -> 10.0.0.2:6666 mac=; cmdline1 ext=false rel=false dev=eth1 :6665 -> 10.0.0.3:6892 mac="},
		{"+4444@10.0.0.1/eth1,9353@10.0.0.2/12:34:56:78:9a:bc",
			"cmdline0 ext=true rel=false dev=eth1 10.0.0.1:4444 -> 10.0.0.2:9353 mac=12:34:56:78:9a:bc"},
		{"+r@/,@10.0.0.2/", "cmdline0 ext=true rel=true dev=eth0 :6665 -> 10.0.0.2:6666 mac="},
		// 6.x selects the interface by MAC.
		{"4444@10.0.0.1/22:33:44:55:66:77,9353@10.0.0.2/12:34:56:78:9a:bc",
			"cmdline0 ext=false rel=false dev=22:33:44:55:66:77 10.0.0.1:4444 -> 10.0.0.2:9353 mac=12:34:56:78:9a:bc"},
	} {
		got, bad := ParseNetconsoleParam(c.in)
		if len(bad) != 0 || describe(got) != c.want {
			t.Errorf("%q:\n got %s %v\nwant %s", c.in, describe(got), bad, c.want)
		}
	}
	for _, in := range []string{
		"", "r@/,@10.0.0.2/", "@/,@10.0.0.2", "@/,10.0.0.2/", "@/eth0@10.0.0.2/", "x@/,@10.0.0.2/",
		"70000@/,@10.0.0.2/", "@10.0.0.1/,@fd00::1/", "@/,@10.0.0.256/", "@/,@10.0.0.2/zz:zz", "@/eth 0,@10.0.0.2/",
		"@/,@fe80::1%eth0/", "@/thisnameistoolong0,@10.0.0.2/",
	} {
		got, bad := ParseNetconsoleParam(in)
		if len(got) != 0 || len(bad) != 1 || !errors.Is(bad[0], fsutil.ErrGarbage) {
			t.Errorf("%q: got %s %v, want one malformed entry", in, describe(got), bad)
		}
	}
	// A malformed entry sets up nothing; the others keep their order.
	got, bad := ParseNetconsoleParam("@/,@10.0.0.2/;bogus;@/eth1,@10.0.0.3/")
	if len(bad) != 1 || describe(got) != "cmdline0 ext=false rel=false dev=eth0 :6665 -> 10.0.0.2:6666 mac=; cmdline1 ext=false rel=false dev=eth1 :6665 -> 10.0.0.3:6666 mac=" {
		t.Errorf("got %s %v", describe(got), bad)
	}
	got, bad = ParseNetconsoleParam(strings.Repeat("@/,@10.0.0.2/;", MaxTargets+5))
	if len(got) != MaxTargets || len(bad) != 1 {
		t.Errorf("bound: %d targets, %v", len(got), bad)
	}
}

func TestCmdlineTargets(t *testing.T) {
	for _, c := range []struct{ cmdline, want string }{
		{"ro quiet", ""},
		{"ro netconsole=@/,@10.0.0.2/ quiet", "cmdline0 ext=false rel=false dev=eth0 :6665 -> 10.0.0.2:6666 mac="},
		{`ro netconsole="@/,@10.0.0.2/;@/eth1,6892@10.0.0.3/" quiet`,
			"cmdline0 ext=false rel=false dev=eth0 :6665 -> 10.0.0.2:6666 mac=; cmdline1 ext=false rel=false dev=eth1 :6665 -> 10.0.0.3:6892 mac="},
		{"netconsole=@/,@10.0.0.2/ netconsole=+@/,@10.0.0.9/", "cmdline0 ext=true rel=false dev=eth0 :6665 -> 10.0.0.9:6666 mac="},
		{"netconsole.netconsole=@/ens3,@192.0.2.50/\n", "cmdline0 ext=false rel=false dev=ens3 :6665 -> 192.0.2.50:6666 mac="},
		{"mynetconsole=@/,@10.0.0.2/", ""},
	} {
		got, bad := CmdlineTargets(c.cmdline)
		if len(bad) != 0 || describe(got) != c.want {
			t.Errorf("%q: got %s %v, want %s", c.cmdline, describe(got), bad, c.want)
		}
	}
	if got, bad := CmdlineTargets("netconsole=junk"); len(got) != 0 || len(bad) != 1 {
		t.Errorf("malformed: %v %v", got, bad)
	}
}

func TestReadConfigfs(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "netconsole")
	if c := ReadConfigfs(fsutil.Trees(nil), dir); c.Present || len(c.Problems) != 0 {
		t.Fatalf("absent: %+v", c)
	}
	files := map[string]string{
		"logserver/enabled": "1\n", "logserver/extended": "1\n", "logserver/release": "0\n", "logserver/dev_name": "ens3\n",
		"logserver/local_port": "6665\n", "logserver/remote_port": "6666\n", "logserver/local_ip": "192.0.2.10\n",
		"logserver/remote_ip": "192.0.2.50\n", "logserver/remote_mac": "52:54:00:a1:b2:c3\n",
		"v6/enabled": "0\n", "v6/dev_name": "\n", "v6/local_ip": "::\n", "v6/remote_ip": "fd00::5\n", "v6/remote_port": "6666\n",
		// An unusable attribute: reported, and a target without enabled is skipped.
		"broken/enabled": "yes\n", "broken/remote_ip": "10.0.0.9\n",
		"bad name/enabled": "1\n",
		"notatarget":       "",
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(dir, "fifo"), 0o755)
	os.WriteFile(filepath.Join(dir, "fifo/enabled"), []byte("1\n"), 0o644)
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo/remote_ip"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := ReadConfigfs(fsutil.Trees(nil), dir)
	if want := "logserver ext=true rel=false dev=ens3 192.0.2.10:6665 -> 192.0.2.50:6666 mac=; v6 ext=false rel=false dev= :0 -> fd00::5:6666 mac="; !c.Present || describe(c.Targets) != want {
		t.Errorf("got %s\nwant %s", describe(c.Targets), want)
	}
	if !c.Targets[0].Enabled || c.Targets[1].Enabled || !c.Targets[0].HasEnabled {
		t.Errorf("enabled: %+v", c.Targets)
	}
	reasons := map[string]int{}
	for _, p := range c.Problems {
		reasons[fsutil.Reason(p)]++
	}
	if fmt.Sprint(reasons) != "map[garbage:2 not_regular:1]" {
		t.Errorf("problems: %v", c.Problems)
	}
}

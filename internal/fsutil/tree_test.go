package fsutil

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const secret = "root:$6$SECRET-HASH-0123456789abcdef:19000:0:99999:7:::"

// treeFixture builds <tmp>/host/{proc,sys} and <tmp>/outside/shadow.
func treeFixture(t *testing.T) (host, outside string) {
	t.Helper()
	base := t.TempDir()
	host = filepath.Join(base, "host")
	outside = filepath.Join(base, "outside")
	for _, d := range []string{"proc/sys/kernel", "proc/4242", "sys/devices/virtual/block/dm-0/dm", "sys/block", outside} {
		if !filepath.IsAbs(d) {
			d = filepath.Join(host, d)
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(outside, "shadow"), secret+"\n")
	write(filepath.Join(host, "proc/4242/mounts"), "proc /proc proc rw 0 0\n")
	write(filepath.Join(host, "sys/devices/virtual/block/dm-0/dm/name"), "vg0-pool0-tpool\n")
	return host, outside
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func TestTreeRefusesSymlinksOut(t *testing.T) {
	host, outside := treeFixture(t)
	proc := NewTree(filepath.Join(host, "proc"))
	for name, target := range map[string]string{
		"tainted":     filepath.Join(outside, "shadow"),                  // absolute
		"core_uses":   "../../../../outside/shadow",                      // relative, climbing out
		"into_sys":    "../../../sys/devices/virtual/block/dm-0/dm/name", // another mount: still out of this one
		"via_dir/any": "",                                                // a directory component leading out
	} {
		p := filepath.Join(host, "proc/sys/kernel", name)
		if target == "" {
			symlink(t, outside, filepath.Dir(p))
			os.WriteFile(filepath.Join(outside, "any"), []byte(secret), 0o644)
		} else {
			symlink(t, target, p)
		}
		_, err := proc.ReadUint(p)
		if !errors.Is(err, ErrSymlink) || Reason(err) != "symlink" {
			t.Errorf("%s -> %s: got %v (reason %q), want a symlink refusal", name, target, err, Reason(err))
		}
		if err != nil && strings.Contains(err.Error(), "SECRET") {
			t.Errorf("%s: the error quotes the file: %v", name, err)
		}
		if _, err := proc.ReadFile(p, 1<<10); Reason(err) != "symlink" {
			t.Errorf("ReadFile %s: %v", name, err)
		}
	}
	// A nil tree checks nothing: the package-level readers keep working
	// for files that are not below a configured mount.
	if _, err := ReadString(filepath.Join(host, "proc/sys/kernel/tainted")); err != nil {
		t.Errorf("nil tree: %v", err)
	}
}

func TestTreeFollowsSymlinksInside(t *testing.T) {
	host, _ := treeFixture(t)
	sys := NewTree(filepath.Join(host, "sys"))
	proc := NewTree(filepath.Join(host, "proc"))
	// /sys/block/dm-0 -> ../devices/virtual/block/dm-0, as sysfs has it.
	symlink(t, "../devices/virtual/block/dm-0", filepath.Join(host, "sys/block/dm-0"))
	if s, err := sys.ReadString(filepath.Join(host, "sys/block/dm-0/dm/name")); err != nil || s != "vg0-pool0-tpool" {
		t.Errorf("sysfs link: %q, %v", s, err)
	}
	// /proc/self -> <pid>.
	symlink(t, "4242", filepath.Join(host, "proc/self"))
	if _, err := proc.ReadFile(filepath.Join(host, "proc/self/mounts"), 1<<10); err != nil {
		t.Errorf("/proc/self: %v", err)
	}
	// An absolute link that stays inside.
	symlink(t, filepath.Join(host, "proc/4242/mounts"), filepath.Join(host, "proc/mounts"))
	if _, err := proc.ReadFile(filepath.Join(host, "proc/mounts"), 1<<10); err != nil {
		t.Errorf("absolute link inside: %v", err)
	}
	// The configured directory may itself be a symlink (a host mount
	// reached through a link).
	alias := filepath.Join(filepath.Dir(host), "alias")
	symlink(t, host, alias)
	aliased := NewTree(filepath.Join(alias, "sys"))
	if _, err := aliased.ReadString(filepath.Join(alias, "sys/block/dm-0/dm/name")); err != nil {
		t.Errorf("tree through a link: %v", err)
	}
	// The whole root: nothing is outside it.
	if _, err := NewTree("/").ReadString(filepath.Join(host, "sys/block/dm-0/dm/name")); err != nil {
		t.Errorf("root tree: %v", err)
	}
}

func TestTreesFindLongestPrefix(t *testing.T) {
	ts := NewTrees("/host", "/host/proc", "/host/sys", "", "/host/proc/")
	for path, want := range map[string]string{
		"/host/proc/meminfo":          "/host/proc",
		"/host/proc":                  "/host/proc",
		"/host/sys/kernel/oops_count": "/host/sys",
		"/host/etc/kdump.conf":        "/host",
		"/host/procfoo/x":             "/host",
		"/dev/kmsg":                   "",
	} {
		got := ""
		if tr := ts.Find(path); tr != nil {
			got = tr.Dir()
		}
		if got != want {
			t.Errorf("Find(%s) = %q, want %q", path, got, want)
		}
	}
	if len(ts) != 3 {
		t.Errorf("empty and repeated directories must be dropped: %d trees", len(ts))
	}
	if tr := NewTrees("/", "/proc").Find("/etc/x"); tr == nil || tr.Dir() != "/" {
		t.Errorf("the root tree holds every absolute path: %v", tr)
	}
	if tr := NewTrees("proc").Find("proc/stat"); tr == nil || tr.Dir() != "proc" {
		t.Errorf("relative trees: %v", tr)
	}
	var none Trees
	if none.Find("/proc/stat") != nil {
		t.Error("no trees, no tree")
	}
}

// A device node is never opened: O_PATH only names it. /dev/null stands in
// for a device whose open has effects (a watchdog starts counting down).
func TestTreeNeverOpensDevices(t *testing.T) {
	host, _ := treeFixture(t)
	p := filepath.Join(host, "proc/sys/kernel/tainted")
	symlink(t, "/dev/null", p)
	if _, err := ReadFile(p, 10); !errors.Is(err, ErrNotRegular) {
		t.Errorf("device: %v", err)
	}
}

func TestOpenDirRefusesFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "conf.d")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		f, err := (*Tree)(nil).OpenDir(fifo)
		if f != nil {
			f.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrNotRegular) {
			t.Errorf("FIFO as directory: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("opening a FIFO as a directory blocked")
	}
	if _, err := (*Tree)(nil).OpenDir(filepath.Join(dir, "missing")); !IsNotExist(err) {
		t.Errorf("missing directory: %v", err)
	}
	host, outside := treeFixture(t)
	symlink(t, outside, filepath.Join(host, "proc/out"))
	if _, err := NewTree(filepath.Join(host, "proc")).OpenDir(filepath.Join(host, "proc/out")); Reason(err) != "symlink" {
		t.Errorf("directory out of the tree: %v", err)
	}
}

func TestExcerpt(t *testing.T) {
	for in, want := range map[string]string{
		"":                      `""`,
		"12abc":                 `"12abc"`,
		"\x00\xff\n":            `"\x00\xff\n"`,
		strings.Repeat("x", 16): `"xxxxxxxxxxxxxxxx"`,
		secret:                  `"root:$6$SECRET-H"… (55 bytes)`,
		"xéééééééé":             `"x\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\xc3"… (17 bytes)`,
		"héllo wörld ünïcode":   `"h\u00e9llo w\u00f6rld \u00fc"… (23 bytes)`,
	} {
		if got := Excerpt(in); got != want {
			t.Errorf("Excerpt(%q) = %s, want %s", in, got, want)
		}
	}
}

// Garbage in a value file is reported with at most a short excerpt.
func TestGarbageQuotesOnlyAnExcerpt(t *testing.T) {
	p := filepath.Join(t.TempDir(), "tainted")
	os.WriteFile(p, []byte(secret+"\n"+secret+"\n"), 0o644)
	_, err := ReadUint(p)
	if !errors.Is(err, ErrGarbage) {
		t.Fatalf("got %v", err)
	}
	if msg := err.Error(); strings.Contains(msg, "SECRET-HASH") || len(msg) > len(p)+120 {
		t.Errorf("error quotes too much of the file: %s", msg)
	}
}

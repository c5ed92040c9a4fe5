package watchdog

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

func TestDetectors(t *testing.T) {
	for _, c := range []struct {
		soft, nmi, thresh  int64
		wantSoft, wantHard bool
	}{
		{1, 1, 10, true, true},
		{1, 0, 10, true, false}, // a VM without a virtual PMU
		{0, 0, 10, false, false},
		{1, 1, 0, false, false}, // watchdog_thresh 0 switches both off
		{2, 1, 10, false, true},
	} {
		s, h := Detectors(c.soft, c.nmi, c.thresh)
		if s != c.wantSoft || h != c.wantHard {
			t.Errorf("Detectors(%d, %d, %d) = %v, %v", c.soft, c.nmi, c.thresh, s, h)
		}
	}
}

func TestNumberAndText(t *testing.T) {
	for _, c := range []struct {
		s    string
		want uint64
		ok   bool
	}{
		{"30", 30, true},
		{"0x8200", 0, false},
		{"", 0, false},
		{"-1", 0, false},
		{"4294967296", 0, false},
		{" 30", 0, false},
		{"+30", 0, false},
	} {
		got, err := number("p", c.s)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("number(%q) = %d, %v", c.s, got, err)
		}
	}
	for _, c := range []struct {
		s  string
		ok bool
	}{{"iTCO_wdt", true}, {"", true}, {"Software Watchdog", true}, {"a\x00b", false}, {"\xc3\xa9", false}, {"0123456789012345678901234567890123", false}} {
		if _, err := text("p", c.s, 32); (err == nil) != c.ok {
			t.Errorf("text(%q): %v", c.s, err)
		}
	}
}

func write(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReadDevices(t *testing.T) {
	root := t.TempDir()
	class := filepath.Join(root, "class/watchdog")
	if s := ReadDevices(fsutil.Trees(nil), class); s.Present || len(s.Devices) != 0 || len(s.Problems) != 0 {
		t.Fatalf("absent class: %+v", s)
	}
	write(t, class, map[string]string{
		// iTCO armed by systemd with a panic pretimeout (hrtimer pretimeout).
		"watchdog0/identity": "iTCO_wdt\n", "watchdog0/state": "active\n", "watchdog0/timeout": "30\n",
		"watchdog0/pretimeout": "10\n", "watchdog0/pretimeout_governor": "panic\n", "watchdog0/nowayout": "0\n",
		"watchdog0/bootstatus": "0\n", "watchdog0/status": "0x8200\n",
		// A BMC watchdog that reset the machine; no pretimeout support,
		// governor file present but empty; garbage state.
		"watchdog1/identity": "IPMI\n", "watchdog1/state": "armed\n", "watchdog1/timeout": "10\n",
		"watchdog1/nowayout": "1\n", "watchdog1/bootstatus": "32\n", "watchdog1/pretimeout_governor": "\n",
		"watchdog1/status": "\x00\x01",
		"power":            "", "watchdogx/identity": "ignored\n",
	})
	if err := syscall.Mkfifo(filepath.Join(class, "watchdog1/timeout.fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := ReadDevices(fsutil.Trees(nil), class)
	if !s.Present || len(s.Devices) != 2 {
		t.Fatalf("got %+v", s)
	}
	d := s.Devices[0]
	if d.Name != "watchdog0" || d.Identity != "iTCO_wdt" || !d.Active || d.Timeout != 30 || d.Pretimeout != 10 ||
		d.Governor != "panic" || d.Nowayout || d.BootStatus != 0 ||
		d.Has != AttrIdentity|AttrState|AttrTimeout|AttrPretimeout|AttrGovernor|AttrNowayout|AttrBootStatus {
		t.Errorf("watchdog0: %+v", d)
	}
	d = s.Devices[1]
	if d.Has&AttrState != 0 || d.Has&AttrPretimeout != 0 || !d.Nowayout || d.BootStatus != 0x20 ||
		d.Has&AttrGovernor == 0 || d.Governor != "" {
		t.Errorf("watchdog1: %+v", d)
	}
	// status is never read (a read clears the keepalive bit): its garbage
	// goes unnoticed, only the garbage state is reported.
	if len(s.Problems) != 1 {
		t.Errorf("want the garbage state reported, got %v", s.Problems)
	}
	for _, p := range s.Problems {
		if fsutil.Reason(p) != "garbage" {
			t.Errorf("%v: reason %s", p, fsutil.Reason(p))
		}
	}
	// A FIFO in an attribute's place is reported, not read.
	os.Remove(filepath.Join(class, "watchdog0/state"))
	if err := syscall.Mkfifo(filepath.Join(class, "watchdog0/state"), 0o644); err != nil {
		t.Fatal(err)
	}
	s = ReadDevices(fsutil.Trees(nil), class)
	if s.Devices[0].Has&AttrState != 0 || fsutil.Reason(s.Problems[0]) != "not_regular" {
		t.Errorf("fifo: %+v", s)
	}
}

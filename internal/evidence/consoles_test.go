package evidence

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

func TestParseConsoles(t *testing.T) {
	for _, c := range []struct {
		name, in, backend string
		// want: name kind enabled preferred device, one per console
		want []string
	}{
		{"6.18 live host (7 columns)", "ttyS0                -W- (EC  p a)    4:64\n", "",
			[]string{"ttyS0 serial true true 4:64"}},
		{"5.14 serial + vt (6 columns with E)", "ttyS0                -W- (EC p a)    4:64\ntty0                 -WU (E  p  )    4:1\n", "",
			[]string{"ttyS0 serial true true 4:64", "tty0 vt true false 4:1"}},
		{"6.1 netconsole and ramoops consoles", "ttyS0                -W- (EC p a)    4:64\nnetcon_ext0          -W- (E     )\nnetcon0              -W- (E     )\nramoops-1            -W- (E  p a)\n", "ramoops",
			[]string{"ttyS0 serial true true 4:64", "netcon_ext0 netconsole true false ", "netcon0 netconsole true false ", "ramoops-1 pstore true false "}},
		{"a stopped console (E cleared)", "ttyS0                -W- (EC p a)    4:64\nttyS1                -W- (   p a)    4:65\n", "",
			[]string{"ttyS0 serial true true 4:64", "ttyS1 serial false false 4:65"}},
		{"newest kernels: no E column, every listed console prints", "ttyS0                -W- (C  p a)    4:64\ntty0                 -WU (   p  )    4:1\n", "",
			[]string{"ttyS0 serial true true 4:64", "tty0 vt true false 4:1"}},
		{"hypervisor and s390 consoles", "hvc0                 -W- (EC p  )  229:0\nttysclp0             -W- (E  p  )    4:64\n", "",
			[]string{"hvc0 hypervisor true true 229:0", "ttysclp0 hypervisor true false 4:64"}},
		{"a boot console and a long name", "uart8250             -W- (E B   )\nverylongconsolename0 R-- (E     )\nttynull0             -W- (E     )\n", "",
			[]string{"uart8250 serial true false ", "verylongconsolename0 other true false ", "ttynull0 other true false "}},
		{"empty", "", "", nil},
	} {
		got, err := ParseConsoles([]byte(c.in), c.backend)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		var s []string
		for _, con := range got {
			s = append(s, fmt.Sprintf("%s %s %v %v %s", con.Name, con.Kind, con.Enabled, con.Flags["preferred"], con.Device))
			if len(con.Flags) != len(Flags) {
				t.Errorf("%s: %s has %d flags, want every known one", c.name, con.Name, len(con.Flags))
			}
		}
		if strings.Join(s, "|") != strings.Join(c.want, "|") {
			t.Errorf("%s:\n got %q\nwant %q", c.name, s, c.want)
		}
	}
}

func TestParseConsolesGarbage(t *testing.T) {
	for _, in := range []string{
		"ttyS0 -W- EC p a 4:64\n",                     // no parentheses
		"ttyS0 -X- (EC p a) 4:64\n",                   // unknown operation
		"ttyS0 (EC p a)\n",                            // no operations
		"ttyS0                -W- (ECZp a)    4:64\n", // unknown flag
		"ttyS0                -W- (EC p a)    4:x\n",  // bad device
		"ttyS0                -W- (EC p a)    4:64 junk\n",
		"tty/0                -W- (EC p a)\n",
		"ttyS0                -W- (EC p a b E C)\n", // more columns than flags
		"\x00\xff\xfegarbage \x1b[31m\n",
	} {
		if _, err := ParseConsoles([]byte(in), ""); !errors.Is(err, fsutil.ErrGarbage) {
			t.Errorf("%q: got %v, want garbage", in, err)
		}
	}
	many := strings.Repeat("ttyS0                -W- (EC p a)    4:64\n", MaxConsoles+1)
	if _, err := ParseConsoles([]byte(many), ""); !errors.Is(err, fsutil.ErrTooLarge) {
		t.Errorf("too many consoles: %v", err)
	}
}

func TestKind(t *testing.T) {
	for name, want := range map[string]string{
		"ttyS0": KindSerial, "ttyAMA0": KindSerial, "ttymxc1": KindSerial, "ttyUSB0": KindSerial,
		"tty0": KindVT, "tty1": KindVT, "hvc0": KindHypervisor, "hvsi0": KindHypervisor, "ttysclp0": KindHypervisor,
		"netcon0": KindNetconsole, "netcon_ext0": KindNetconsole, "ramoops-1": KindPstore, "efi_pstore-1": KindPstore,
		"erst-1": KindPstore, "ttynull0": KindOther, "efifb0": KindOther, "uart0": KindSerial, "lp0": KindOther,
	} {
		if got := Kind(name, ""); got != want {
			t.Errorf("Kind(%q) = %s, want %s", name, got, want)
		}
	}
	if Kind("mybackend-1", "mybackend") != KindPstore {
		t.Error("the registered backend's console is pstore")
	}
}

func TestPrintkVisibility(t *testing.T) {
	for _, c := range []struct {
		in                   string
		ignore               bool
		oops, warn, hungTask bool
	}{
		{"4\t4\t1\t7", false, true, false, false}, // quiet
		{"7\t4\t1\t7", false, true, true, true},   // loglevel=7
		{"5\t4\t1\t7", false, true, true, false},
		{"5\t5\t1\t7", false, true, false, false}, // KERN_DEFAULT traces at 5: need 6
		{"1\t4\t1\t7", false, true, false, false},
		{"0\t4\t0\t7", false, false, false, false}, // console_verbose leaves 0 alone
		{"0\t4\t0\t7", true, true, true, true},
		{"8\t4\t1\t7", false, true, true, true},
	} {
		p, err := ParsePrintk(c.in)
		if err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		got := [3]bool{Visible(p, c.ignore, ReportOops), Visible(p, c.ignore, ReportWarning), Visible(p, c.ignore, ReportHungTask)}
		if got != [3]bool{c.oops, c.warn, c.hungTask} {
			t.Errorf("%q ignore=%v: got %v", c.in, c.ignore, got)
		}
	}
	for _, bad := range []string{"", "4 4 1", "4 4 1 7 7", "4 4 1 x", "16 4 1 7", "-1 4 1 7"} {
		if _, err := ParsePrintk(bad); !errors.Is(err, fsutil.ErrGarbage) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if p, err := ParsePrintk("4\t4\t1\t7\n"); err != nil || p != (Printk{4, 4, 1, 7}) {
		t.Errorf("got %+v %v", p, err)
	}
}

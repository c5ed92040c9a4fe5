package evidence

import (
	"net/netip"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzParseConsoles(f *testing.F) {
	for _, s := range []string{
		"ttyS0                -W- (EC  p a)    4:64\n",
		"ttyS0                -W- (EC p a)    4:64\ntty0                 -WU (E  p  )    4:1\n",
		"netcon_ext0          -W- (E     )\nramoops-1            -W- (E  p a)\n",
		"ttyS0                -W- (C  p a)    4:64\n",
		"hvc0                 -W- (EC p  )  229:0\n",
		"\x00\xff\xfegarbage \x1b[31m\n",
	} {
		f.Add([]byte(s), "ramoops")
	}
	f.Fuzz(func(t *testing.T, b []byte, backend string) {
		consoles, err := ParseConsoles(b, backend)
		if err != nil {
			return
		}
		if len(consoles) > MaxConsoles {
			t.Fatalf("%d consoles", len(consoles))
		}
		for _, c := range consoles {
			if !consoleName(c.Name) || !utf8.ValidString(c.Device) || len(c.Device) > 21 {
				t.Fatalf("unbounded label %q %q", c.Name, c.Device)
			}
			if !contains(Kinds, c.Kind) || len(c.Flags) != len(Flags) {
				t.Fatalf("kind %q flags %v", c.Kind, c.Flags)
			}
		}
	})
}

func FuzzParseNetconsoleParam(f *testing.F) {
	for _, s := range []string{
		"4444@10.0.0.1/eth1,9353@10.0.0.2/12:34:56:78:9a:bc", "@/,@10.0.0.2/", "@/,@fd00:1:2:3::1/",
		"@/,@10.0.0.2/;@/eth1,6892@10.0.0.3/", "+r@/,@10.0.0.2/", "4444@10.0.0.1/22:33:44:55:66:77,9353@10.0.0.2/",
		"r@/,@x/", ";;;", "@@//,,",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		targets, malformed := ParseNetconsoleParam(s)
		if len(targets) > MaxTargets || len(targets)+len(malformed) > MaxTargets+1 {
			t.Fatalf("%d targets, %d malformed", len(targets), len(malformed))
		}
		for _, tg := range targets {
			if _, err := netip.ParseAddr(tg.RemoteIP); err != nil {
				t.Fatalf("remote %q", tg.RemoteIP)
			}
			if tg.LocalIP != "" {
				if _, err := netip.ParseAddr(tg.LocalIP); err != nil {
					t.Fatalf("local %q", tg.LocalIP)
				}
			}
			if len(tg.Device) > 17 || strings.ContainsAny(tg.Device, " \t\n/") || !utf8.ValidString(tg.Device) {
				t.Fatalf("device %q", tg.Device)
			}
			if tg.Release && !tg.Extended {
				t.Fatal("release without extended")
			}
		}
		for _, err := range malformed {
			if len(err.Error()) > 400 {
				t.Fatalf("unbounded error %q", err)
			}
		}
	})
}

func FuzzCmdlineTargets(f *testing.F) {
	for _, s := range []string{"ro netconsole=@/,@10.0.0.2/ quiet", `netconsole="@/,@10.0.0.2/;@/eth1,@10.0.0.3/"`, `"netconsole=@/,@10.0.0.2/"`, `a="b c" "d`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		targets, _ := CmdlineTargets(s)
		if len(targets) > MaxTargets {
			t.Fatal("unbounded")
		}
	})
}

package crash

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzClassify(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "dmesg", "*.txt"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("<0>[ 1.0] Oops: general protection fault: 0000 [#1]\n"))
	f.Add([]byte("Panic#1 Part1\n[ 1.0] ---[ end Kernel panic - not syncing: x ]---"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := Classify(b)
		valid := false
		for _, c := range Classes {
			valid = valid || r.Class == c
		}
		if !valid {
			t.Fatalf("class %q not in the bounded set", r.Class)
		}
		for _, s := range []string{r.Summary, r.Panic} {
			if len(s) > MaxSummaryLen || !utf8.ValidString(s) {
				t.Fatalf("unbounded or invalid label value %q", s)
			}
		}
		if len(r.Kernel) > 64 || strings.ContainsAny(r.Kernel, " #\n") {
			t.Fatalf("kernel %q", r.Kernel)
		}
	})
}

func FuzzParseDumpDirName(f *testing.F) {
	for _, s := range []string{"127.0.0.1-2024-02-16-15:55:31", "fd00::12-2023-11-30-23:59:59", "202409301245",
		"web-01-202409301245", "2024-03-05-14-07", "2019-07-22-09:41", "kdump_lock"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := ParseDumpDirName(s)
		if !ok {
			return
		}
		if !d.HasTime || d.Time.Location().String() != "UTC" {
			t.Fatalf("%q: %+v", s, d)
		}
		if d.Layout != LayoutRHEL && d.Layout != LayoutDebian && d.Layout != LayoutSUSE {
			t.Fatalf("layout %q", d.Layout)
		}
		if strings.Contains(d.Host, "/") || len(d.Host) >= len(s) {
			t.Fatalf("host %q from %q", d.Host, s)
		}
		_ = ClassifyDumpFile(s)
	})
}

func FuzzParsePstoreName(f *testing.F) {
	for _, s := range []string{"dmesg-ramoops-0", "console-ramoops", "dmesg-efi_pstore-172712345601001.enc.z",
		"powerpc-ofw-nvram-1", "type12-ramoops-3", "dmesg-erst-7312465811259981825"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, ok := ParsePstoreName(s)
		if !ok {
			return
		}
		typeOK := p.Type == "other"
		for _, k := range pstoreTypes {
			typeOK = typeOK || p.Type == k
		}
		if !typeOK || (p.Backend != "other" && !pstoreBackends[p.Backend]) {
			t.Fatalf("%q: unbounded %+v", s, p)
		}
		if len(p.ID) > 20 {
			t.Fatalf("id %q", p.ID)
		}
	})
}

func FuzzParseCoredumpName(f *testing.F) {
	boot := "7d2c4e1f9a8b4c3d9e0f1a2b3c4d5e6f"
	for _, s := range []string{"core.bash.1000." + boot + ".4242.1727700301123456.zst",
		"core.Web\\x20Content.1000." + boot + ".5.1727700301000000.xz", "core.a.b.c.1." + boot + ".2.3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, ok := ParseCoredumpName(s)
		if !ok {
			return
		}
		if c.Comm == "" || len(c.Comm) > MaxCommLen || !utf8.ValidString(c.Comm) || len(c.BootID) != 32 || c.UID < 0 || c.PID < 0 {
			t.Fatalf("%q: %+v", s, c)
		}
	})
}

func FuzzParseApportName(f *testing.F) {
	for _, s := range []string{"linux-image-6.8.0-45-generic-202409301245.0.crash", "_usr_bin_python3.12.1000.crash",
		"_usr_bin_python3.12.1000.uploaded", "libc6.0.crash"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, ok := ParseApportName(s)
		if !ok {
			return
		}
		if a.UID < 0 || (a.Kernel && a.Release == "") || (a.Marker != "" && a.Marker != "upload" && a.Marker != "uploaded") {
			t.Fatalf("%q: %+v", s, a)
		}
		exe, date := ParseApportHeader([]byte(s))
		if len(exe) > 1024 || len(date) > 64 {
			t.Fatal("header value unbounded")
		}
	})
}

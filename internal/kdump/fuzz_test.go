package kdump

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func addFixtures(f *testing.F, pattern string) {
	f.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil || len(files) == 0 {
		f.Fatalf("no fixtures match %s: %v", pattern, err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
}

func FuzzParseCmdline(f *testing.F) {
	for _, s := range []string{
		"BOOT_IMAGE=(hd0,gpt2)/vmlinuz-5.14.0-427.13.1.el9_4.x86_64 root=/dev/mapper/rhel-root ro crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M resume=/dev/mapper/rhel-swap rhgb quiet\n",
		"crashkernel=2G-64G:256M,64G-:512M",
		"crashkernel=384M-:128M",
		"crashkernel=2G-4G:320M,4G-32G:512M,32G-64G:1024M,64G-128G:2048M,128G-:4096M",
		"crashkernel=72M,low crashkernel=300M,high",
		"crashkernel=256M@16M crashkernel=1G,cma",
		"crashkernel=auto",
		"crashkernel=512M-2G:64M,2G-:128M@16M",
		`dyndbg="file x.c +p" "crashkernel=256M" crashkernel=0x10000000`,
		"ro irqpoll nr_cpus=1 reset_devices elfcorehdr=0xb7000000",
		"crashkernel=1G-2G:64M, crashkernel=,high crashkernel=20E",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cmdline string) {
		ck, err := ParseCmdline(cmdline)
		if err != nil {
			var te *TokenError
			if !errors.As(err, &te) {
				t.Fatalf("error %v is not a *TokenError", err)
			}
			if len(te.Token) > maxTokenLen || !utf8.ValidString(te.Token) {
				t.Fatalf("unbounded token %q", te.Token)
			}
			if !ck.Present || !ck.Invalid {
				t.Fatalf("error without Present/Invalid: %+v", ck)
			}
		} else if ck.Invalid {
			t.Fatal("Invalid without an error")
		}
		for _, ram := range []uint64{0, 1, 512 * MiB, 2*GiB - 1, 64 * GiB, ^uint64(0)} {
			r, ok := ck.Reserve(ram, DefaultLowX86_64)
			if !ok && (r != Reservation{}) {
				t.Fatalf("ok=false with a reservation %+v", r)
			}
			if r.Main != 0 && r.Main >= ram {
				t.Fatalf("main region %d not below RAM %d", r.Main, ram)
			}
			if r.Main == 0 && (r.Low != 0 || r.CMA != 0) {
				t.Fatalf("low/cma without a main region: %+v", r)
			}
			n, ok2 := ck.Requested(ram)
			if ok2 != ok || (ok && n < r.Main) {
				t.Fatalf("Requested = %d, %v inconsistent with Reserve %+v, %v", n, ok2, r, ok)
			}
		}
	})
}

func FuzzParseIomem(f *testing.F) {
	addFixtures(f, "iomem-*")
	f.Add("  9f000000-aeffffff : Crash kernel\n")
	f.Add("0000000000000000-ffffffffffffffff : Crash kernel\n  -1 : Crash kernel")
	f.Fuzz(func(t *testing.T, content string) {
		regions, bytes, hidden := ParseIomem(content)
		if regions < 0 || regions > strings.Count(content, "Crash kernel") {
			t.Fatalf("regions = %d", regions)
		}
		if regions == 0 && (bytes != 0 || hidden) {
			t.Fatalf("no regions but bytes=%d hidden=%v", bytes, hidden)
		}
	})
}

func checkTarget(t *testing.T, tg Target, err error) {
	t.Helper()
	if !tg.Configured || tg.Distro == "" || tg.ConfigPath == "" {
		t.Fatalf("parse result lacks its identity: %+v", tg)
	}
	for _, s := range []string{tg.Type, tg.FSType, tg.Path, tg.Location, tg.CoreCollector,
		tg.FailureAction, tg.Compression, tg.HostTag, tg.SSHKey} {
		if len(s) > maxValueLen || !utf8.ValidString(s) {
			t.Fatalf("unbounded or invalid value %q", s)
		}
	}
	if len(tg.Warnings) > maxWarnings {
		t.Fatalf("%d warnings", len(tg.Warnings))
	}
	for _, w := range tg.Warnings {
		if len(w) > maxValueLen || !utf8.ValidString(w) {
			t.Fatalf("unbounded warning %q", w)
		}
	}
	if err != nil {
		return
	}
	switch tg.Type {
	case TypeLocal, TypeDevice, TypeNFS, TypeSSH, TypeFTP, TypeCIFS:
		if !strings.HasPrefix(tg.Path, "/") {
			t.Fatalf("path %q not absolute for %s", tg.Path, tg.Type)
		}
	case TypeRaw:
		if tg.Path != "" {
			t.Fatalf("raw target with path %q", tg.Path)
		}
	default:
		t.Fatalf("unknown type %q", tg.Type)
	}
	if tg.Type != TypeLocal && tg.Location == "" {
		t.Fatalf("%s target without a location", tg.Type)
	}
}

func FuzzParseRHEL(f *testing.F) {
	addFixtures(f, "rhel*.conf")
	f.Add("raw\n")
	f.Add("ssh kdump@host # comment\r\npath\t/x/../y\n")
	f.Fuzz(func(t *testing.T, content string) {
		tg, err := ParseRHEL(content)
		checkTarget(t, tg, err)
	})
}

func FuzzParseDebian(f *testing.F) {
	addFixtures(f, "debian-*")
	addFixtures(f, "ubuntu-*")
	f.Add("export USE_KDUMP=1 KDUMP_COREDIR='/srv'\"/x\"; SSH=a@b\n")
	f.Add("KDUMP_COREDIR=\"unterminated\n")
	f.Add("X=\\\r\nif [ \"$Y\" ]; then NFS=h:/e; fi # c\n")
	f.Fuzz(func(t *testing.T, content string) {
		tg, err := ParseDebian(content)
		checkTarget(t, tg, err)
	})
}

func FuzzParseSUSE(f *testing.F) {
	addFixtures(f, "suse-*")
	f.Add(`KDUMP_SAVEDIR="ftp://u:p@[::1]:21/x y" KDUMP_FREE_DISK_SIZE=x`)
	f.Add(`KDUMP_SAVEDIR="nfs://"`)
	f.Fuzz(func(t *testing.T, content string) {
		tg, err := ParseSUSE(content)
		checkTarget(t, tg, err)
		if err != nil && strings.Contains(content, "://") {
			// Errors about KDUMP_SAVEDIR must not repeat its (secret) text.
			if i := strings.Index(err.Error(), "@"); i >= 0 {
				t.Fatalf("error may quote a URL: %v", err)
			}
		}
	})
}

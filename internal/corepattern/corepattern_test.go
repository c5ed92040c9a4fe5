package corepattern

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
		want    Handler
	}{
		{"kernel default", "core\n", Handler{Name: File}},
		{"default without newline", "core", Handler{Name: File}},
		{"absolute file", "/var/cores/core.%e.%p", Handler{Name: File}},
		{"file with spaces", "/var/crash/core %e", Handler{Name: File}},
		{"leading space is a file name", " |/usr/lib/systemd/systemd-coredump", Handler{Name: File}},
		{"systemd-coredump", "|/usr/lib/systemd/systemd-coredump %P %u %g %s %t %c %h\n",
			Handler{Name: SystemdCoredump, Helper: "systemd-coredump"}},
		{"systemd-coredump with %d %F", "|/usr/lib/systemd/systemd-coredump %P %u %g %s %t %c %h %d %F",
			Handler{Name: SystemdCoredump, Helper: "systemd-coredump"}},
		{"systemd-coredump debian path", "|/lib/systemd/systemd-coredump %P %u %g %s %t 9223372036854775808 %h",
			Handler{Name: SystemdCoredump, Helper: "systemd-coredump"}},
		{"apport options", "|/usr/share/apport/apport -p%p -s%s -c%c -d%d -P%P -u%u -g%g -- %E",
			Handler{Name: Apport, Helper: "apport"}},
		{"apport with %F", "|/usr/share/apport/apport -p%p -s%s -c%c -d%d -P%P -u%u -g%g -F%F -- %E",
			Handler{Name: Apport, Helper: "apport"}},
		{"apport positional", "|/usr/share/apport/apport %p %s %c %d %P %E",
			Handler{Name: Apport, Helper: "apport"}},
		{"abrt", "|/usr/libexec/abrt-hook-ccpp %s %c %p %u %g %t e",
			Handler{Name: ABRT, Helper: "abrt-hook-ccpp"}},
		{"custom script", "|/usr/local/bin/core-upload.sh %e %p",
			Handler{Name: Pipe, Helper: "core-upload.sh"}},
		{"relative helper", "|dumper", Handler{Name: Pipe, Helper: "dumper"}},
		{"spaces after bar", "|   /usr/lib/systemd/systemd-coredump %P",
			Handler{Name: SystemdCoredump, Helper: "systemd-coredump"}},
		{"tab after bar", "|\t/usr/share/apport/apport %p",
			Handler{Name: Apport, Helper: "apport"}},
		{"helper named like apport prefix", "|/usr/bin/apport-wrapper %p",
			Handler{Name: Pipe, Helper: "apport-wrapper"}},
		{"socket", "@/run/systemd/coredump", Handler{Name: Socket}},
		{"socket request protocol", "@@/run/systemd/coredump", Handler{Name: Socket}},
		{"empty", "", Handler{Name: Disabled}},
		{"empty line", "\n", Handler{Name: Disabled}},
		{"dev null", "/dev/null\n", Handler{Name: Disabled}},
		{"dev null with pid is a file", "/dev/null.%p", Handler{Name: File}},
		{"bare bar", "|", Handler{Name: Disabled}},
		{"bar and spaces", "|   ", Handler{Name: Disabled}},
		{"pipe to false", "|/bin/false", Handler{Name: Disabled, Helper: "false"}},
		{"pipe to usr false", "|/usr/bin/false %p", Handler{Name: Disabled, Helper: "false"}},
		{"pipe to true", "|/bin/true", Handler{Name: Disabled, Helper: "true"}},
		{"pipe to dev null", "|/dev/null", Handler{Name: Disabled, Helper: "null"}},
		{"invalid utf8 helper", "|/opt/\xff\xfedump", Handler{Name: Pipe, Helper: "dump"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(tt.pattern); got != tt.want {
				t.Errorf("Classify(%q) = %+v, want %+v", tt.pattern, got, tt.want)
			}
		})
	}
}

func TestClassifyCapsHelper(t *testing.T) {
	long := strings.Repeat("x", 200)
	got := Classify("|/usr/bin/" + long + " %p")
	if got.Name != Pipe || got.Helper != long[:MaxHelperLen] {
		t.Fatalf("got %+v, want pipe with helper capped to %d bytes", got, MaxHelperLen)
	}
	// A cut through a multi-byte rune must not leave invalid UTF-8.
	got = Classify("|/" + strings.Repeat("a", MaxHelperLen-1) + "é")
	if !utf8.ValidString(got.Helper) || len(got.Helper) != MaxHelperLen-1 {
		t.Fatalf("helper %q: want %d valid bytes", got.Helper, MaxHelperLen-1)
	}
}

func TestHandlers(t *testing.T) {
	want := []string{"systemd-coredump", "apport", "abrt", "pipe", "socket", "file", "disabled"}
	got := Handlers()
	if !slices.Equal(got, want) {
		t.Fatalf("Handlers() = %v, want %v", got, want)
	}
	got[0] = "mutated"
	if Handlers()[0] != "systemd-coredump" {
		t.Fatal("Handlers() exposes its backing array")
	}
}

func FuzzClassify(f *testing.F) {
	for _, s := range []string{
		"core\n",
		"/var/cores/core.%e.%p",
		"|/usr/lib/systemd/systemd-coredump %P %u %g %s %t %c %h\n",
		"|/usr/lib/systemd/systemd-coredump %P %u %g %s %t %c %h %d %F",
		"|/usr/share/apport/apport -p%p -s%s -c%c -d%d -P%P -u%u -g%g -- %E",
		"|/usr/share/apport/apport %p %s %c %d %P %E",
		"|/usr/libexec/abrt-hook-ccpp %s %c %p %u %g %t e",
		"@@/run/systemd/coredump",
		"|/bin/false",
		"| ",
		"",
	} {
		f.Add(s)
	}
	known := Handlers()
	f.Fuzz(func(t *testing.T, pattern string) {
		h := Classify(pattern)
		if !slices.Contains(known, h.Name) {
			t.Fatalf("unknown handler %q", h.Name)
		}
		if len(h.Helper) > MaxHelperLen || !utf8.ValidString(h.Helper) {
			t.Fatalf("helper %q not capped or not UTF-8", h.Helper)
		}
		if h.Helper != "" && !strings.HasPrefix(pattern, "|") {
			t.Fatalf("helper %q for non-pipe pattern", h.Helper)
		}
		if strings.ContainsAny(h.Helper, " \t\n/") {
			t.Fatalf("helper %q is not a basename token", h.Helper)
		}
	})
}

func TestClassifyDirectoryHelper(t *testing.T) {
	for _, p := range []string{"|/", "|///", "|.", "|.. %p"} {
		if got := Classify(p); got != (Handler{Name: Disabled}) {
			t.Errorf("Classify(%q) = %+v, want disabled without helper", p, got)
		}
	}
}

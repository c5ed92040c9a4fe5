package collector

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCoredumpCollectorRHEL(t *testing.T) {
	c := build(t, "coredump", profileConfig(t, "rhel9"))
	compare(t, c, `
# HELP crashguard_coredump_handler 1 for the handler /proc/sys/kernel/core_pattern sends user-space core dumps to, 0 for the others (systemd-coredump, apport, abrt, pipe = another helper, socket, file, disabled).
# TYPE crashguard_coredump_handler gauge
crashguard_coredump_handler{handler="abrt"} 0
crashguard_coredump_handler{handler="apport"} 0
crashguard_coredump_handler{handler="disabled"} 0
crashguard_coredump_handler{handler="file"} 0
crashguard_coredump_handler{handler="pipe"} 0
crashguard_coredump_handler{handler="socket"} 0
crashguard_coredump_handler{handler="systemd-coredump"} 1
# HELP crashguard_coredump_pattern_info Always 1; pattern is /proc/sys/kernel/core_pattern (at most 127 bytes, one per host), helper the basename of a pipe helper.
# TYPE crashguard_coredump_pattern_info gauge
crashguard_coredump_pattern_info{helper="systemd-coredump",pattern="|/usr/lib/systemd/systemd-coredump %P %u %g %s %t %c %h"} 1
# HELP crashguard_coredump_init_core_limit_bytes RLIMIT_CORE of PID 1 from /proc/1/limits (inherited by services unless they override it); +Inf is unlimited. A pipe handler ignores it except that a limit of 1 disables dumps.
# TYPE crashguard_coredump_init_core_limit_bytes gauge
crashguard_coredump_init_core_limit_bytes{limit="hard"} +Inf
crashguard_coredump_init_core_limit_bytes{limit="soft"} +Inf
# HELP crashguard_coredump_suid_dumpable Value of /proc/sys/fs/suid_dumpable: 0 no dumps of setuid programs, 1 debug (insecure), 2 readable by root only.
# TYPE crashguard_coredump_suid_dumpable gauge
crashguard_coredump_suid_dumpable 2
# HELP crashguard_coredump_pipe_limit Value of /proc/sys/kernel/core_pipe_limit: how many crashing processes may be piped to the helper at once; 0 is unlimited.
# TYPE crashguard_coredump_pipe_limit gauge
crashguard_coredump_pipe_limit 16
# HELP crashguard_coredump_systemd_storage 1 for systemd-coredump's effective Storage= (coredump.conf and its drop-ins under --path.rootfs), 0 for the others; absent when no coredump.conf exists.
# TYPE crashguard_coredump_systemd_storage gauge
crashguard_coredump_systemd_storage{storage="both"} 0
crashguard_coredump_systemd_storage{storage="external"} 1
crashguard_coredump_systemd_storage{storage="journal"} 0
crashguard_coredump_systemd_storage{storage="none"} 0
`, "crashguard_coredump_handler", "crashguard_coredump_pattern_info", "crashguard_coredump_init_core_limit_bytes",
		"crashguard_coredump_suid_dumpable", "crashguard_coredump_pipe_limit", "crashguard_coredump_systemd_storage")
}

func TestCoredumpCollectorFilePatternNoSystemd(t *testing.T) {
	c := build(t, "coredump", profileConfig(t, "debian"))
	out := gather(t, c)
	if strings.Contains(out, "crashguard_coredump_systemd_storage") {
		t.Error("no coredump.conf: storage must be absent")
	}
	compare(t, c, `
# HELP crashguard_coredump_init_core_limit_bytes RLIMIT_CORE of PID 1 from /proc/1/limits (inherited by services unless they override it); +Inf is unlimited. A pipe handler ignores it except that a limit of 1 disables dumps.
# TYPE crashguard_coredump_init_core_limit_bytes gauge
crashguard_coredump_init_core_limit_bytes{limit="hard"} +Inf
crashguard_coredump_init_core_limit_bytes{limit="soft"} 0
`, "crashguard_coredump_init_core_limit_bytes")
}

func TestCoredumpStorageDropIn(t *testing.T) {
	cfg := copyProfile(t, "rhel9")
	dir := filepath.Join(cfg.RootPath, "etc/systemd/coredump.conf.d")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "50-journal.conf"), []byte("[Coredump]\nStorage=journal\n"), 0o644)
	compare(t, build(t, "coredump", cfg), `
# HELP crashguard_coredump_systemd_storage 1 for systemd-coredump's effective Storage= (coredump.conf and its drop-ins under --path.rootfs), 0 for the others; absent when no coredump.conf exists.
# TYPE crashguard_coredump_systemd_storage gauge
crashguard_coredump_systemd_storage{storage="both"} 0
crashguard_coredump_systemd_storage{storage="external"} 0
crashguard_coredump_systemd_storage{storage="journal"} 1
crashguard_coredump_systemd_storage{storage="none"} 0
`, "crashguard_coredump_systemd_storage")
}

func TestParseCoreLimit(t *testing.T) {
	for _, tc := range []struct {
		in         string
		soft, hard float64
		bad        bool
	}{
		{"Max core file size        0                    unlimited            bytes     \n", 0, math.Inf(1), false},
		{"Limit   Soft Limit  Hard Limit  Units\nMax core file size        unlimited            unlimited            bytes\n", math.Inf(1), math.Inf(1), false},
		{"Max core file size        1048576              2097152              bytes\n", 1048576, 2097152, false},
		{"Max core file size        garbage              1              bytes\n", 0, 0, true},
		{"Max core file size        5\n", 0, 0, true},
		{"Max open files 1024 4096 files\n", 0, 0, true},
		{"", 0, 0, true},
	} {
		soft, hard, err := parseCoreLimit(tc.in)
		if (err != nil) != tc.bad {
			t.Errorf("%q: err %v", tc.in, err)
			continue
		}
		if !tc.bad && (soft != tc.soft || hard != tc.hard) {
			t.Errorf("%q: got %v %v", tc.in, soft, hard)
		}
	}
}

func TestCoredumpBadLimitsAndPattern(t *testing.T) {
	cfg := copyProfile(t, "minimal")
	os.WriteFile(filepath.Join(cfg.ProcPath, "1/limits"), []byte("nonsense"), 0o644)
	long := "|/usr/local/bin/" + strings.Repeat("x", 300)
	os.WriteFile(filepath.Join(cfg.ProcPath, "sys/kernel/core_pattern"), []byte(long+"\n"), 0o644)
	c := build(t, "coredump", cfg)
	out := gather(t, c)
	if strings.Contains(out, "init_core_limit") {
		t.Error("garbage limits exported")
	}
	if errs := fileErrors(t, c); errs["garbage"] != 1 {
		t.Errorf("file errors %v", errs)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "crashguard_coredump_pattern_info") {
			if i := strings.Index(line, "pattern="); len(line[i:]) > len("pattern=")+128 {
				t.Errorf("pattern label not capped: %d bytes", len(line[i:]))
			}
		}
	}
}

// TestCoredumpEmptyPattern: a core_pattern of zero bytes (the kernel
// writes at least a newline) is garbage, not "dumps disabled".
func TestCoredumpEmptyPattern(t *testing.T) {
	cfg := copyProfile(t, "minimal")
	p := filepath.Join(cfg.ProcPath, "sys/kernel/core_pattern")
	os.WriteFile(p, nil, 0o644)
	c := build(t, "coredump", cfg)
	if errs := fileErrors(t, c); errs["garbage"] != 1 {
		t.Errorf("file errors %v", errs)
	}
	if out := gather(t, c); strings.Contains(out, "crashguard_coredump_handler") || strings.Contains(out, "crashguard_coredump_pattern_info") {
		t.Errorf("handler invented from an empty file:\n%s", out)
	}
	// An empty pattern as the kernel writes it is a real setting.
	os.WriteFile(p, []byte("\n"), 0o644)
	c = build(t, "coredump", cfg)
	if errs := fileErrors(t, c); len(errs) != 0 {
		t.Errorf("file errors %v", errs)
	}
	if out := gather(t, c); !strings.Contains(out, "crashguard_coredump_handler handler=disabled") {
		t.Errorf("empty pattern not disabled:\n%s", out)
	}
}

func TestCapLabel(t *testing.T) {
	if got := capLabel("héllo", 2); got != "h" {
		t.Errorf("cut rune must be dropped, got %q", got)
	}
	if got := capLabel("a\xffb", 10); got != "a\uFFFDb" {
		t.Errorf("invalid UTF-8 must be replaced, got %q", got)
	}
}

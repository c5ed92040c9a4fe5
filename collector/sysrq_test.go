package collector

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSysrqCollectorDebian(t *testing.T) {
	// Debian's default 438 = 2|4|16|32|128|256: no debug dumps, so no SysRq-c.
	c := build(t, "sysrq", profileConfig(t, "debian"))
	compare(t, c, `
# HELP crashguard_sysrq_mask Value of /proc/sys/kernel/sysrq: 0 disabled, 1 every function, otherwise a bitmask of allowed keyboard functions.
# TYPE crashguard_sysrq_mask gauge
crashguard_sysrq_mask 438
# HELP crashguard_sysrq_crash_trigger_enabled 1 if SysRq-c (force a crash, and so a dump of a hung machine) is allowed from the keyboard: mask 1 or bit 8 set.
# TYPE crashguard_sysrq_crash_trigger_enabled gauge
crashguard_sysrq_crash_trigger_enabled 0
# HELP crashguard_sysrq_function_enabled 1 if the SysRq keyboard function group is allowed by /proc/sys/kernel/sysrq. The mask gates the keyboard only; /proc/sysrq-trigger always works for root.
# TYPE crashguard_sysrq_function_enabled gauge
crashguard_sysrq_function_enabled{function="debug_dump"} 0
crashguard_sysrq_function_enabled{function="keyboard"} 1
crashguard_sysrq_function_enabled{function="loglevel"} 1
crashguard_sysrq_function_enabled{function="nice_rt"} 1
crashguard_sysrq_function_enabled{function="reboot"} 1
crashguard_sysrq_function_enabled{function="remount_ro"} 1
crashguard_sysrq_function_enabled{function="signal"} 0
crashguard_sysrq_function_enabled{function="sync"} 1
`, "crashguard_sysrq_mask", "crashguard_sysrq_crash_trigger_enabled", "crashguard_sysrq_function_enabled")
}

func TestSysrqCollectorPolicy(t *testing.T) {
	c := build(t, "sysrq", profileConfig(t, "rhel9"))
	compare(t, c, `
# HELP crashguard_kernel_panic_on_oops Value of /proc/sys/kernel/panic_on_oops: 1 turns every oops into a panic (and so a crash dump).
# TYPE crashguard_kernel_panic_on_oops gauge
crashguard_kernel_panic_on_oops 1
# HELP crashguard_kernel_hung_task_timeout_seconds Value of /proc/sys/kernel/hung_task_timeout_secs: how long a task may sit in D state before it is reported; 0 disables the check.
# TYPE crashguard_kernel_hung_task_timeout_seconds gauge
crashguard_kernel_hung_task_timeout_seconds 120
# HELP crashguard_sysrq_crash_trigger_enabled 1 if SysRq-c (force a crash, and so a dump of a hung machine) is allowed from the keyboard: mask 1 or bit 8 set.
# TYPE crashguard_sysrq_crash_trigger_enabled gauge
crashguard_sysrq_crash_trigger_enabled 0
`, "crashguard_kernel_panic_on_oops", "crashguard_kernel_hung_task_timeout_seconds", "crashguard_sysrq_crash_trigger_enabled")
}

func TestSysrqCollectorAbsentFeatures(t *testing.T) {
	// A kernel without CONFIG_MAGIC_SYSRQ and without the x86 NMI knobs.
	cfg := copyProfile(t, "minimal")
	for _, f := range []string{"unknown_nmi_panic", "panic_on_io_nmi", "panic_on_unrecovered_nmi"} {
		os.Remove(filepath.Join(cfg.ProcPath, "sys/kernel", f))
	}
	c := build(t, "sysrq", cfg)
	out := gather(t, c)
	if strings.Contains(out, "crashguard_sysrq_") || strings.Contains(out, "nmi") {
		t.Errorf("absent features exported:\n%s", out)
	}
	if !strings.Contains(out, "crashguard_kernel_panic_timeout_seconds") {
		t.Error("present knobs must be exported")
	}
	if errs := fileErrors(t, c); len(errs) != 0 {
		t.Errorf("absence is not an error: %v", errs)
	}
}

func TestSysrqCollectorAllEnabled(t *testing.T) {
	cfg := copyProfile(t, "minimal")
	os.WriteFile(filepath.Join(cfg.ProcPath, "sys/kernel/sysrq"), []byte("1\n"), 0o644)
	c := build(t, "sysrq", cfg)
	out := gather(t, c)
	if strings.Count(out, "crashguard_sysrq_function_enabled") != 8 {
		t.Errorf("want 8 function series:\n%s", out)
	}
	compare(t, c, `
# HELP crashguard_sysrq_crash_trigger_enabled 1 if SysRq-c (force a crash, and so a dump of a hung machine) is allowed from the keyboard: mask 1 or bit 8 set.
# TYPE crashguard_sysrq_crash_trigger_enabled gauge
crashguard_sysrq_crash_trigger_enabled 1
`, "crashguard_sysrq_crash_trigger_enabled")
}

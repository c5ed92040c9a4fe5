package collector

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKernelCollector(t *testing.T) {
	c := build(t, "kernel", profileConfig(t, "debian"))
	compare(t, c, `
# HELP crashguard_kernel_tainted Value of /proc/sys/kernel/tainted: the kernel's taint mask, 0 when untainted.
# TYPE crashguard_kernel_tainted gauge
crashguard_kernel_tainted 12288
# HELP crashguard_kernel_boot_info Always 1; boot_id from /proc/sys/kernel/random/boot_id changes at every boot.
# TYPE crashguard_kernel_boot_info gauge
crashguard_kernel_boot_info{boot_id="0b5a7c3e-2f41-4d9a-9e6b-8c1d2e3f4a5b"} 1
# HELP crashguard_kernel_hung_tasks_total Hung tasks detected since boot, from /proc/sys/kernel/hung_task_detect_count (Linux 6.13+).
# TYPE crashguard_kernel_hung_tasks_total counter
crashguard_kernel_hung_tasks_total 0
`, "crashguard_kernel_tainted", "crashguard_kernel_boot_info", "crashguard_kernel_hung_tasks_total", "crashguard_kernel_oops_total")

	out := gather(t, c)
	for _, want := range []string{
		"crashguard_kernel_taint_flag flag=out_of_tree_module letter=O",
		"crashguard_kernel_taint_flag flag=unsigned_module letter=E",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %s", want)
		}
	}
	if n := strings.Count(out, "crashguard_kernel_taint_flag "); n != 20 {
		t.Errorf("want a series for each of the 20 documented flags, got %d", n)
	}
}

func TestKernelCollectorSetFlags(t *testing.T) {
	cfg := copyProfile(t, "minimal")
	// D (died) and W (warning): an oops since boot.
	os.WriteFile(filepath.Join(cfg.ProcPath, "sys/kernel/tainted"), []byte("640\n"), 0o644)
	os.WriteFile(filepath.Join(cfg.SysPath, "kernel/oops_count"), []byte("2\n"), 0o644)
	c := build(t, "kernel", cfg)
	compare(t, c, `
# HELP crashguard_kernel_oops_total Oopses since boot, from /sys/kernel/oops_count (Linux 6.2+).
# TYPE crashguard_kernel_oops_total counter
crashguard_kernel_oops_total 2
`, "crashguard_kernel_oops_total")
	reg := registry(t, map[string]Collector{"kernel": c})
	mfs, _ := reg.Gather()
	set := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "crashguard_kernel_taint_flag" {
			continue
		}
		for _, m := range mf.GetMetric() {
			set[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
		}
	}
	if set["died"] != 1 || set["warning"] != 1 || set["bad_page"] != 0 {
		t.Errorf("taint decoding wrong: %v", set)
	}
}

func TestKernelCollectorBadInput(t *testing.T) {
	cfg := copyProfile(t, "minimal")
	os.WriteFile(filepath.Join(cfg.ProcPath, "sys/kernel/tainted"), []byte("\x00\xffbinary"), 0o644)
	os.WriteFile(filepath.Join(cfg.ProcPath, "sys/kernel/random/boot_id"), []byte("not-a-uuid\n"), 0o644)
	mkfifo(t, filepath.Join(cfg.SysPath, "kernel/oops_count"))
	os.Remove(filepath.Join(cfg.SysPath, "kernel/warn_count"))
	os.Symlink("rcu_stall_count", filepath.Join(cfg.SysPath, "kernel/loop"))
	os.Remove(filepath.Join(cfg.SysPath, "kernel/rcu_stall_count"))
	os.Symlink("loop", filepath.Join(cfg.SysPath, "kernel/rcu_stall_count"))

	c := build(t, "kernel", cfg)
	out := gather(t, c)
	for _, absent := range []string{"crashguard_kernel_tainted", "crashguard_kernel_boot_info", "crashguard_kernel_oops_total", "crashguard_kernel_warnings_total", "crashguard_kernel_rcu_stalls_total"} {
		if strings.Contains(out, absent+"\n") || strings.Contains(out, absent+" ") {
			t.Errorf("%s exported from bad input", absent)
		}
	}
	if !strings.Contains(out, "crashguard_kernel_soft_lockups_total") {
		t.Error("good files must still be exported")
	}
	errs := fileErrors(t, c)
	// tainted and boot_id are garbage, the FIFO is not regular, the loop is a
	// symlink problem; the removed warn_count is simply absent.
	if errs["garbage"] != 2 || errs["not_regular"] != 1 || errs["symlink"] != 1 || len(errs) != 3 {
		t.Errorf("file errors: %v", errs)
	}
}

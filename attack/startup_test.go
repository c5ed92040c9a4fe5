package attack

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// startupFiles are read by the time the first scrape is answered (some in
// collector constructors, before the exporter listens). The profile may
// lack some; they are created as FIFOs all the same.
var startupFiles = []string{
	"proc/stat", // btime, read when the kmsg collector is built
	"proc/meminfo",
	"proc/cmdline",
	"proc/iomem",
	"proc/loadavg",
	"proc/sys/kernel/random/boot_id",
	"proc/sys/kernel/tainted",
	"proc/1/mountinfo",
	"proc/self/mountinfo",
	"proc/1/mounts",
	"proc/self/mounts",
	"proc/1/limits",
	"sys/fs/cgroup/cgroup.controllers",
	"root/etc/kdump.conf",
	"root/etc/systemd/coredump.conf",
}

func mkfifo(t *testing.T, p string) {
	t.Helper()
	os.Remove(p)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestStartupWithFIFOs turns every file of a profile copy into a FIFO that
// no writer ever opens, adds FIFOs for the start-up files the profile
// lacks, and makes the kmsg state file and the kernel log FIFOs too. The
// exporter must still start listening (start waits 30s at most) and answer
// a scrape within its deadline, every collector succeeding and the FIFOs
// reported as not_regular.
func TestStartupWithFIFOs(t *testing.T) {
	dir := copyProfile(t, "healthy-host")
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && p != filepath.Join(dir, "flags") {
			mkfifo(t, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, rel := range startupFiles {
		mkfifo(t, filepath.Join(dir, rel))
	}
	state := filepath.Join(t.TempDir(), "kmsg.state")
	mkfifo(t, state)

	args := []string{"--collector.kmsg.state-file=" + state}
	for _, a := range profileArgs(t, dir) {
		if !strings.HasPrefix(a, "--collector.kmsg.state-file=") {
			args = append(args, a)
		}
	}
	e := start(t, args...)
	fams := families(t, e.scrape(t, map[string]string{"X-Prometheus-Scrape-Timeout-Seconds": "10"}))
	if f := failed(fams); len(f) > 0 {
		t.Errorf("collectors failed: %v", f)
	}
	errs := fileErrors(fams)
	t.Logf("file errors: %v", errs)
	for _, c := range []string{"kdump", "kernel", "coredump", "sysrq", "pids", "kmsg"} {
		if errs[c+"/not_regular"] == 0 {
			t.Errorf("%s: FIFOs not reported as not_regular: %v", c, errs)
		}
	}
	for _, name := range []string{"crashguard_kdump_memory_bytes", "crashguard_kernel_tainted", "crashguard_kernel_boot_info"} {
		if _, ok := value(fams, name, nil); ok {
			t.Errorf("%s exported from a FIFO", name)
		}
	}
}

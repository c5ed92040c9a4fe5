package collector

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestKdumpRHELLocalTarget(t *testing.T) {
	c := build(t, "kdump", profileConfig(t, "rhel9")).(*kdumpCollector)
	var statted atomic.Value
	c.space = newTargetSpace(os.Stat, func(p string) (uint64, uint64, error) {
		statted.Store(p)
		return 40 << 30, 100 << 30, nil
	})
	compare(t, c, `
# HELP crashguard_kdump_target_filesystem_free_bytes Bytes available to unprivileged users on the filesystem holding a local dump directory (statfs; the nearest existing parent when the directory does not exist yet).
# TYPE crashguard_kdump_target_filesystem_free_bytes gauge
crashguard_kdump_target_filesystem_free_bytes 4.294967296e+10
# HELP crashguard_kdump_target_filesystem_size_bytes Size of the filesystem holding a local dump directory.
# TYPE crashguard_kdump_target_filesystem_size_bytes gauge
crashguard_kdump_target_filesystem_size_bytes 1.073741824e+11
# HELP crashguard_kdump_crashkernel_requested_bytes Memory the crashkernel= parameters ask to reserve on a host with this much RAM (ranges resolved against MemTotal, ,high plus its default or explicit ,low, ,cma). Absent for crashkernel=auto or a malformed parameter.
# TYPE crashguard_kdump_crashkernel_requested_bytes gauge
crashguard_kdump_crashkernel_requested_bytes 2.68435456e+08
`, "crashguard_kdump_target_filesystem_free_bytes", "crashguard_kdump_target_filesystem_size_bytes", "crashguard_kdump_crashkernel_requested_bytes")
	if p, _ := statted.Load().(string); !strings.HasSuffix(p, "/rhel9/root/var/crash") {
		t.Errorf("statfs of %q, want the dump directory under the rootfs", p)
	}
}

func TestKdumpStatfsRealFilesystem(t *testing.T) {
	c := build(t, "kdump", profileConfig(t, "rhel9"))
	out := gather(t, c)
	if !strings.Contains(out, "crashguard_kdump_target_filesystem_free_bytes") || !strings.Contains(out, "crashguard_kdump_target_filesystem_size_bytes") {
		t.Errorf("real statfs produced no values:\n%s", out)
	}
}

func TestKdumpMissingDumpDirUsesParent(t *testing.T) {
	cfg := copyProfile(t, "rhel9")
	os.RemoveAll(filepath.Join(cfg.RootPath, "var/crash"))
	got, err := nearestExisting(os.Stat, cfg.RootPath, "/var/crash")
	if err != nil || got != filepath.Join(cfg.RootPath, "var") {
		t.Errorf("got %q, %v", got, err)
	}
}

func TestKdumpHungTargetHonoursDeadline(t *testing.T) {
	c := build(t, "kdump", profileConfig(t, "rhel9")).(*kdumpCollector)
	release := make(chan struct{})
	defer close(release)
	var calls atomic.Int32
	c.space = newTargetSpace(os.Stat, func(string) (uint64, uint64, error) {
		calls.Add(1)
		<-release // a dead NFS server
		return 0, 0, errors.New("released")
	})
	for i := 0; i < 3; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		ch := make(chan prometheus.Metric, 1000)
		done := make(chan error, 1)
		go func() { done <- c.Update(ctx, ch) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("Update blocked past its deadline on a hung statfs")
		}
		cancel()
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("later scrapes must not start new calls on a hung target: %d calls", n)
	}
}

func TestKdumpCaptureKernel(t *testing.T) {
	cfg := copyProfile(t, "rhel9")
	os.WriteFile(filepath.Join(cfg.ProcPath, "vmcore"), nil, 0o400)
	out := gather(t, build(t, "kdump", cfg))
	if !strings.Contains(out, "crashguard_kdump_capture_kernel\n") || strings.Contains(out, "crash_kernel_loaded") {
		t.Errorf("capture kernel must export only the capture marker:\n%s", out)
	}
	compare(t, build(t, "kdump", cfg), `
# HELP crashguard_kdump_capture_kernel 1 when this is the capture (kdump) kernel itself (/proc/vmcore exists); no other kdump metrics are exported then.
# TYPE crashguard_kdump_capture_kernel gauge
crashguard_kdump_capture_kernel 1
`, "crashguard_kdump_capture_kernel")
}

func TestKdumpNoKexecNoConfig(t *testing.T) {
	c := build(t, "kdump", profileConfig(t, "minimal"))
	out := gather(t, c)
	for _, absent := range []string{"crash_kernel_loaded", "reserved_bytes", "target_info", "crashkernel_param_info", "fadump"} {
		if strings.Contains(out, absent) {
			t.Errorf("%s exported on a kernel without kexec or kdump config", absent)
		}
	}
	compare(t, c, `
# HELP crashguard_kdump_target_configured 1 when a kdump configuration (/etc/kdump.conf, /etc/default/kdump-tools or /etc/sysconfig/kdump under --path.rootfs) exists and enables kdump, else 0.
# TYPE crashguard_kdump_target_configured gauge
crashguard_kdump_target_configured 0
`, "crashguard_kdump_target_configured")
}

func TestKdumpFadumpAndDisabledDebian(t *testing.T) {
	cfg := copyProfile(t, "debian")
	os.MkdirAll(filepath.Join(cfg.SysPath, "kernel"), 0o755)
	os.WriteFile(filepath.Join(cfg.SysPath, "kernel/fadump_enabled"), []byte("1\n"), 0o644)
	os.MkdirAll(filepath.Join(cfg.SysPath, "kernel/fadump"), 0o755)
	os.WriteFile(filepath.Join(cfg.SysPath, "kernel/fadump/registered"), []byte("0\n"), 0o644)
	conf := filepath.Join(cfg.RootPath, "etc/default/kdump-tools")
	b, _ := os.ReadFile(conf)
	os.WriteFile(conf, []byte(strings.Replace(string(b), "USE_KDUMP=1", "USE_KDUMP=0", 1)), 0o644)
	compare(t, build(t, "kdump", cfg), `
# HELP crashguard_kdump_fadump_enabled ppc64 firmware-assisted dump enabled (/sys/kernel/fadump/enabled, or the older /sys/kernel/fadump_enabled).
# TYPE crashguard_kdump_fadump_enabled gauge
crashguard_kdump_fadump_enabled 1
# HELP crashguard_kdump_fadump_registered ppc64 firmware-assisted dump registered with the firmware (/sys/kernel/fadump/registered, or the older /sys/kernel/fadump_registered).
# TYPE crashguard_kdump_fadump_registered gauge
crashguard_kdump_fadump_registered 0
# HELP crashguard_kdump_target_configured 1 when a kdump configuration (/etc/kdump.conf, /etc/default/kdump-tools or /etc/sysconfig/kdump under --path.rootfs) exists and enables kdump, else 0.
# TYPE crashguard_kdump_target_configured gauge
crashguard_kdump_target_configured 0
`, "crashguard_kdump_fadump_enabled", "crashguard_kdump_fadump_registered", "crashguard_kdump_target_configured")
}

func TestKdumpUnreadableConfig(t *testing.T) {
	cfg := copyProfile(t, "rhel9")
	conf := filepath.Join(cfg.RootPath, "etc/kdump.conf")
	os.Remove(conf)
	mkfifo(t, conf)
	c := build(t, "kdump", cfg)
	if errs := fileErrors(t, c); errs["not_regular"] != 1 {
		t.Errorf("a FIFO config must be reported: %v", errs)
	}
	if out := gather(t, c); !strings.Contains(out, "crashguard_kdump_crash_kernel_loaded") {
		t.Error("the rest of the collector must still report")
	}
}

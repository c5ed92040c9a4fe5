package attack

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const secret = "CRASHGUARD-ATTACK-SECRET-5be1"

// TestValueFileSymlinksOutOfTree replaces value files of a profile copy with
// symlinks to a file outside every configured tree that holds a
// recognisable secret. The secret must appear neither in the exposition nor
// in the log; each refused file is counted as "symlink" and logged once with
// its path; the collectors still succeed; and symlinks inside the tree keep
// working.
func TestValueFileSymlinksOutOfTree(t *testing.T) {
	dir := copyProfile(t, "healthy-host")
	outside := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(outside, []byte(strings.Repeat(secret+":$6$salt$hash:19000:0:99999:7:::\n", 30)), 0o600); err != nil {
		t.Fatal(err)
	}
	dropin := filepath.Join(dir, "root/etc/systemd/coredump.conf.d/50-escape.conf")
	rel, err := filepath.Rel(filepath.Dir(dropin), outside)
	if err != nil {
		t.Fatal(err)
	}
	links := map[string][]string{
		"coredump": {"proc/sys/kernel/core_pattern", "root/etc/systemd/coredump.conf.d/50-escape.conf"},
		"kernel":   {"proc/sys/kernel/tainted", "proc/sys/kernel/random/boot_id"},
		"kdump":    {"sys/kernel/kexec_crash_size", "proc/meminfo"},
		"sysrq":    {"proc/sys/kernel/sysrq"},
		"pids":     {"proc/loadavg"},
	}
	for _, paths := range links {
		for _, p := range paths {
			full := filepath.Join(dir, p)
			target := outside
			if full == dropin {
				target = rel // relative, climbing out of --path.rootfs
			}
			os.Remove(full)
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, full); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Inside the tree, as sysfs links its devices.
	moved := filepath.Join(dir, "sys/devices/kernel/kexec_loaded")
	os.MkdirAll(filepath.Dir(moved), 0o755)
	if err := os.Rename(filepath.Join(dir, "sys/kernel/kexec_loaded"), moved); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../devices/kernel/kexec_loaded", filepath.Join(dir, "sys/kernel/kexec_loaded")); err != nil {
		t.Fatal(err)
	}

	e := start(t, profileArgs(t, dir)...)
	var body string
	for i := 0; i < 2; i++ {
		body = e.scrape(t, nil)
	}
	fams := families(t, body)
	if strings.Contains(body, secret) {
		t.Error("the secret is in the exposition")
	}
	logs := e.Logs()
	if strings.Contains(logs, secret) {
		t.Errorf("the secret is in the log:\n%s", logs)
	}
	if f := failed(fams); len(f) > 0 {
		t.Errorf("collectors failed: %v", f)
	}
	errs := fileErrors(fams)
	for collector, paths := range links {
		if got := errs[collector+"/symlink"]; got != float64(len(paths)) {
			t.Errorf("%s: %v symlink file errors, want %d (%v)", collector, got, len(paths), errs)
		}
		for _, p := range paths {
			if n := strings.Count(logs, "path="+filepath.Join(dir, p)+" reason=symlink"); n != 1 {
				t.Errorf("%s logged %d times over two scrapes, want once", p, n)
			}
		}
	}
	for _, name := range []string{"crashguard_kernel_tainted", "crashguard_kernel_boot_info", "crashguard_coredump_pattern_info",
		"crashguard_coredump_systemd_storage", "crashguard_kdump_crash_kernel_reserved_bytes", "crashguard_kdump_memory_bytes",
		"crashguard_sysrq_mask", "crashguard_pids_in_use"} {
		if _, ok := value(fams, name, nil); ok {
			t.Errorf("%s exported from a refused file", name)
		}
	}
	if v, ok := value(fams, "crashguard_kdump_kexec_loaded", nil); !ok || v != 0 {
		t.Errorf("in-tree symlink not read: kexec_loaded %v, %v", v, ok)
	}
}

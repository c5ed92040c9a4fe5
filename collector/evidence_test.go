package collector

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEvidenceCollectorDebianVM(t *testing.T) {
	got := series(t, build(t, "evidence", profileConfig(t, "debian-netconsole")))
	expect(t, got, map[string]float64{
		`crashguard_pstore_backend_registered`:                             1,
		`crashguard_pstore_backend_info{backend="ramoops"}`:                1,
		`crashguard_pstore_kmsg_bytes`:                                     10240,
		`crashguard_pstore_ramoops_bytes{region="total"}`:                  1 << 20,
		`crashguard_pstore_ramoops_bytes{region="record"}`:                 64 << 10,
		`crashguard_pstore_ramoops_bytes{region="console"}`:                256 << 10,
		`crashguard_pstore_ramoops_bytes{region="ftrace"}`:                 0,
		`crashguard_pstore_ramoops_bytes{region="pmsg"}`:                   64 << 10,
		`crashguard_pstore_ramoops_ecc_bytes`:                              1,
		`crashguard_pstore_ramoops_max_reason`:                             2,
		`crashguard_pstore_efi_disabled`:                                   -1, // a BIOS VM has no efi_pstore
		`crashguard_console_info{console="ttyS0",kind="serial"}`:           1,
		`crashguard_console_info{console="ramoops-1",kind="pstore"}`:       1,
		`crashguard_console_info{console="netcon_ext0",kind="netconsole"}`: 1,
		`crashguard_console_flag{console="ttyS0",flag="preferred"}`:        1,
		`crashguard_console_flag{console="tty0",flag="preferred"}`:         0,
		`crashguard_console_enabled_consoles{kind="serial"}`:               1,
		`crashguard_console_enabled_consoles{kind="netconsole"}`:           2,
		`crashguard_console_enabled_consoles{kind="hypervisor"}`:           0,
		`crashguard_printk_console_loglevel`:                               7,
		`crashguard_printk_default_message_loglevel`:                       4,
		`crashguard_printk_ignore_loglevel`:                                0,
		`crashguard_console_reports_visible{report="oops"}`:                1,
		`crashguard_console_reports_visible{report="warning"}`:             1,
		`crashguard_console_reports_visible{report="hung_task"}`:           1,
		`crashguard_netconsole_targets{source="configfs"}`:                 2,
		`crashguard_netconsole_targets{source="cmdline"}`:                  0,
		`crashguard_netconsole_target_info{interface="ens3",local_ip="192.0.2.10",remote_ip="192.0.2.50",remote_port="6666",source="configfs",target="logserver"}`: 1,
		`crashguard_netconsole_target_info{interface="eth0",local_ip="",remote_ip="198.51.100.7",remote_port="514",source="configfs",target="standby"}`:            1,
		`crashguard_netconsole_target_enabled{source="configfs",target="logserver"}`:                                                                               1,
		`crashguard_netconsole_target_enabled{source="configfs",target="standby"}`:                                                                                 0,
		`crashguard_netconsole_target_extended{source="configfs",target="logserver"}`:                                                                              1,
	})
}

func TestEvidenceCollectorNothingLeavesTheMachine(t *testing.T) {
	// The cloud VM: no pstore backend, no netconsole, tty0 only at the
	// quiet log level.
	got := series(t, build(t, "evidence", profileConfig(t, "cloud-vm")))
	expect(t, got, map[string]float64{
		`crashguard_pstore_backend_registered`:                   0,
		`crashguard_console_enabled_consoles{kind="serial"}`:     0,
		`crashguard_console_enabled_consoles{kind="vt"}`:         1,
		`crashguard_console_flag{console="tty0",flag="nbcon"}`:   0,
		`crashguard_console_reports_visible{report="oops"}`:      1,
		`crashguard_console_reports_visible{report="warning"}`:   0,
		`crashguard_console_reports_visible{report="hung_task"}`: 0,
		`crashguard_netconsole_targets{source="cmdline"}`:        0,
		`crashguard_netconsole_targets{source="configfs"}`:       -1,
	})
	for k := range got {
		if strings.HasPrefix(k, "crashguard_pstore_backend_info") || strings.HasPrefix(k, "crashguard_pstore_ramoops") {
			t.Errorf("no backend, yet %s", k)
		}
	}
}

func TestEvidenceCollectorCmdlineNetconsole(t *testing.T) {
	cfg := copyProfile(t, "cloud-vm")
	os.WriteFile(filepath.Join(cfg.ProcPath, "cmdline"),
		[]byte(`ro netconsole="+@192.0.2.10/ens5,@192.0.2.50/;bogus;@/,514@198.51.100.7/" quiet`+"\n"), 0o644)
	got := series(t, build(t, "evidence", cfg))
	expect(t, got, map[string]float64{
		`crashguard_netconsole_targets{source="cmdline"}`: 2, // the malformed entry sets up nothing
		`crashguard_netconsole_target_info{interface="ens5",local_ip="192.0.2.10",remote_ip="192.0.2.50",remote_port="6666",source="cmdline",target="cmdline0"}`: 1,
		`crashguard_netconsole_target_info{interface="eth0",local_ip="",remote_ip="198.51.100.7",remote_port="514",source="cmdline",target="cmdline1"}`:          1,
		`crashguard_netconsole_target_extended{source="cmdline",target="cmdline0"}`:                                                                              1,
		`crashguard_netconsole_target_enabled{source="cmdline",target="cmdline0"}`:                                                                               -1,
	})
}

func TestEvidenceCollectorUnusableFiles(t *testing.T) {
	cfg := copyProfile(t, "debian-netconsole")
	mkfifo(t, filepath.Join(cfg.ProcPath, "consoles"))
	os.WriteFile(filepath.Join(cfg.ProcPath, "sys/kernel/printk"), []byte("4 4 1\n"), 0o644)
	os.WriteFile(filepath.Join(cfg.SysPath, "module/pstore/parameters/backend"), []byte("\x00\xff\n"), 0o644)
	os.WriteFile(filepath.Join(cfg.SysPath, "kernel/config/netconsole/logserver/remote_ip"), []byte("nowhere\n"), 0o644)
	c := build(t, "evidence", cfg)
	got := series(t, c)
	for k := range got {
		for _, p := range []string{"crashguard_console_", "crashguard_printk_console", "crashguard_pstore_", `target="logserver"`} {
			if strings.Contains(k, p) {
				t.Errorf("value from an unusable file: %s", k)
			}
		}
	}
	expect(t, got, map[string]float64{
		`crashguard_netconsole_targets{source="configfs"}`:                         1,
		`crashguard_netconsole_target_enabled{source="configfs",target="standby"}`: 0,
		`crashguard_scrape_collector_success{collector="c"}`:                       1,
	})
	if errs := fileErrors(t, c); errs["not_regular"] != 1 || errs["garbage"] != 3 {
		t.Errorf("file errors %v, want 1 not_regular and 3 garbage", errs)
	}
}

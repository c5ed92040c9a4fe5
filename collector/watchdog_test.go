package collector

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// series returns every series of one collector's run as
// "name{label="value",...}" (labels sorted) mapped to its value.
func series(t *testing.T, c Collector) map[string]float64 {
	t.Helper()
	reg := registry(t, map[string]Collector{"c": c})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+"=\""+l.GetValue()+"\"")
			}
			sort.Strings(ls)
			key := mf.GetName()
			if len(ls) > 0 {
				key += "{" + strings.Join(ls, ",") + "}"
			}
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
			out[key] = v
		}
	}
	return out
}

// expect checks the listed series; a value of -1 means "must be absent".
func expect(t *testing.T, got map[string]float64, want map[string]float64) {
	t.Helper()
	for k, v := range want {
		g, ok := got[k]
		switch {
		case v == -1 && ok:
			t.Errorf("%s present (%v), want absent", k, g)
		case v != -1 && !ok:
			t.Errorf("%s absent, want %v", k, v)
		case v != -1 && g != v:
			t.Errorf("%s = %v, want %v", k, g, v)
		}
	}
}

func TestWatchdogCollectorArmedITCO(t *testing.T) {
	got := series(t, build(t, "watchdog", profileConfig(t, "rhel9-metal")))
	expect(t, got, map[string]float64{
		`crashguard_kernel_watchdog`:                                                          1,
		`crashguard_kernel_nmi_watchdog`:                                                      1,
		`crashguard_kernel_soft_watchdog`:                                                     1,
		`crashguard_kernel_watchdog_thresh_seconds`:                                           10,
		`crashguard_kernel_lockup_detector_enabled{detector="soft"}`:                          1,
		`crashguard_kernel_lockup_detector_enabled{detector="hard"}`:                          1,
		`crashguard_watchdog_devices`:                                                         1,
		`crashguard_watchdog_device_info{device="watchdog0",identity="iTCO_wdt"}`:             1,
		`crashguard_watchdog_device_active{device="watchdog0"}`:                               1,
		`crashguard_watchdog_device_timeout_seconds{device="watchdog0"}`:                      30,
		`crashguard_watchdog_device_pretimeout_seconds{device="watchdog0"}`:                   10,
		`crashguard_watchdog_device_pretimeout_governor{device="watchdog0",governor="panic"}`: 1,
		`crashguard_watchdog_device_pretimeout_governor{device="watchdog0",governor="noop"}`:  0,
		`crashguard_watchdog_device_nowayout{device="watchdog0"}`:                             0,
		`crashguard_watchdog_device_boot_status{device="watchdog0",flag="card_reset"}`:        0,
		`crashguard_scrape_collector_success{collector="c"}`:                                  1,
	})
	// status is in the fixture as on a real host but never read: the
	// kernel clears the keepalive bit on every read.
	for k := range got {
		if strings.Contains(k, "device_status") {
			t.Errorf("status read: %s", k)
		}
	}
}

func TestWatchdogCollectorCloudVM(t *testing.T) {
	// No NMI in the VM, an empty watchdog class: the hard detector is off
	// and there is no device to reboot a hung guest.
	got := series(t, build(t, "watchdog", profileConfig(t, "cloud-vm")))
	expect(t, got, map[string]float64{
		`crashguard_kernel_lockup_detector_enabled{detector="soft"}`: 1,
		`crashguard_kernel_lockup_detector_enabled{detector="hard"}`: 0,
		`crashguard_watchdog_devices`:                                0,
	})
	for k := range got {
		if strings.HasPrefix(k, "crashguard_watchdog_device_") {
			t.Errorf("device series without a device: %s", k)
		}
	}
}

func TestWatchdogCollectorAbsentAndUnusable(t *testing.T) {
	// A kernel without lockup detectors or a watchdog core: nothing, and
	// no error.
	got := series(t, build(t, "watchdog", profileConfig(t, "minimal")))
	for k := range got {
		if strings.HasPrefix(k, "crashguard_watchdog") || strings.HasPrefix(k, "crashguard_kernel_") {
			t.Errorf("absent feature exported: %s", k)
		}
	}

	// A card reset seen at boot, an unknown governor, and unusable
	// attributes: reported and left out, never invented.
	cfg := copyProfile(t, "rhel9-metal")
	dev := filepath.Join(cfg.SysPath, "class/watchdog/watchdog0")
	os.WriteFile(filepath.Join(dev, "bootstatus"), []byte("32\n"), 0o644)
	os.WriteFile(filepath.Join(dev, "pretimeout_governor"), []byte("future\n"), 0o644)
	os.WriteFile(filepath.Join(dev, "timeout"), []byte("\x00\xffgarbage\n"), 0o644)
	mkfifo(t, filepath.Join(dev, "state"))
	os.WriteFile(filepath.Join(cfg.ProcPath, "sys/kernel/watchdog_thresh"), []byte("ten\n"), 0o644)
	c := build(t, "watchdog", cfg)
	got = series(t, c)
	expect(t, got, map[string]float64{
		`crashguard_watchdog_device_boot_status{device="watchdog0",flag="card_reset"}`:         1,
		`crashguard_watchdog_device_pretimeout_governor{device="watchdog0",governor="future"}`: 1,
		`crashguard_watchdog_device_pretimeout_governor{device="watchdog0",governor="panic"}`:  0,
		`crashguard_watchdog_device_timeout_seconds{device="watchdog0"}`:                       -1,
		`crashguard_watchdog_device_active{device="watchdog0"}`:                                -1,
		`crashguard_kernel_watchdog_thresh_seconds`:                                            -1,
		`crashguard_kernel_lockup_detector_enabled{detector="soft"}`:                           -1,
		`crashguard_scrape_collector_success{collector="c"}`:                                   1,
	})
	if errs := fileErrors(t, c); errs["garbage"] != 2 || errs["not_regular"] != 1 {
		t.Errorf("file errors %v, want 2 garbage and 1 not_regular", errs)
	}
}

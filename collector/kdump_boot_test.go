package collector

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const metalRelease = "5.14.0-427.13.1.el9_4.x86_64"

func TestKdumpInitramfsStaleAndSmallReservation(t *testing.T) {
	got := series(t, build(t, "kdump", profileConfig(t, "rhel9-metal")))
	ts := func(s string) float64 {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return float64(v.Unix())
	}
	expect(t, got, map[string]float64{
		`crashguard_kdump_initramfs_state{state="older_than_config"}`:                                                          1,
		`crashguard_kdump_initramfs_state{state="ok"}`:                                                                         0,
		`crashguard_kdump_initramfs_state{state="missing"}`:                                                                    0,
		`crashguard_kdump_initramfs_info{path="/boot/initramfs-` + metalRelease + `kdump.img",release="` + metalRelease + `"}`: 1,
		// The profile's mtimes manifest.
		`crashguard_kdump_initramfs_modified_timestamp_seconds`:    ts("2024-05-02T10:01:37Z"),
		`crashguard_kdump_config_modified_timestamp_seconds`:       ts("2024-06-18T14:22:05Z"),
		`crashguard_kdump_kernel_image_modified_timestamp_seconds`: ts("2024-04-18T07:55:12Z"),
		// 128 GiB: RHEL 9's table asks 512 MiB, the host reserves 256.
		`crashguard_kdump_crashkernel_recommended_bytes{crashkernel="1G-4G:192M,4G-64G:256M,64G-:512M",source="rhel9"}`: 512 << 20,
		`crashguard_kdump_crash_kernel_reserved_bytes`:                                                                  256 << 20,
	})
}

func TestKdumpInitramfsCurrent(t *testing.T) {
	got := series(t, build(t, "kdump", profileConfig(t, "debian-netconsole")))
	expect(t, got, map[string]float64{
		`crashguard_kdump_initramfs_state{state="ok"}`:                                             1,
		`crashguard_kdump_crashkernel_recommended_bytes{crashkernel="384M-:128M",source="debian"}`: 128 << 20,
	})

	// Restarting kdump rebuilds the image: current again.
	cfg := copyProfile(t, "rhel9-metal")
	img := filepath.Join(cfg.RootPath, "boot/initramfs-"+metalRelease+"kdump.img")
	later := time.Date(2024, 6, 18, 14, 30, 0, 0, time.UTC)
	os.Chtimes(img, later, later)
	expect(t, series(t, build(t, "kdump", cfg)), map[string]float64{`crashguard_kdump_initramfs_state{state="ok"}`: 1})

	// Gone while /boot is visible: missing. /boot not mounted into the
	// exporter's view: unknown, not missing.
	os.Remove(img)
	expect(t, series(t, build(t, "kdump", cfg)), map[string]float64{
		`crashguard_kdump_initramfs_state{state="missing"}`:     1,
		`crashguard_kdump_initramfs_modified_timestamp_seconds`: -1,
	})
	os.RemoveAll(filepath.Join(cfg.RootPath, "boot"))
	expect(t, series(t, build(t, "kdump", cfg)), map[string]float64{
		`crashguard_kdump_initramfs_state{state="unknown"}`:        1,
		`crashguard_kdump_kernel_image_modified_timestamp_seconds`: -1,
	})
}

func TestKdumpBootChecksNeedTheirInputs(t *testing.T) {
	// No kdump configuration (cloud VM), or no osrelease/os-release (the
	// older profiles): nothing of the new series, and no error.
	for _, p := range []string{"cloud-vm", "rhel9", "debian"} {
		c := build(t, "kdump", profileConfig(t, p))
		for k := range series(t, c) {
			if strings.Contains(k, "initramfs") || strings.Contains(k, "recommended") || strings.Contains(k, "modified_timestamp") {
				t.Errorf("%s: %s", p, k)
			}
		}
		if errs := fileErrors(t, c); len(errs) != 0 {
			t.Errorf("%s: file errors %v", p, errs)
		}
	}

	// A release that could climb out of /boot is refused as garbage.
	cfg := copyProfile(t, "rhel9-metal")
	os.WriteFile(filepath.Join(cfg.ProcPath, "sys/kernel/osrelease"), []byte("../../etc/shadow\n"), 0o644)
	c := build(t, "kdump", cfg)
	got := series(t, c)
	for k := range got {
		if strings.Contains(k, "initramfs") {
			t.Errorf("initramfs verdict from a bad release: %s", k)
		}
	}
	if errs := fileErrors(t, c); errs["garbage"] != 1 {
		t.Errorf("file errors %v", errs)
	}

	// A FIFO in the initramfs' place: reported, and the verdict is unknown.
	cfg = copyProfile(t, "rhel9-metal")
	mkfifo(t, filepath.Join(cfg.RootPath, "boot/initramfs-"+metalRelease+"kdump.img"))
	c = build(t, "kdump", cfg)
	expect(t, series(t, c), map[string]float64{
		`crashguard_kdump_initramfs_state{state="unknown"}`:     1,
		`crashguard_kdump_initramfs_modified_timestamp_seconds`: -1,
	})
	if errs := fileErrors(t, c); errs["not_regular"] != 1 {
		t.Errorf("file errors %v", errs)
	}
}

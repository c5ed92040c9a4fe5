package collector

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/crashguard/crashguard_exporter/internal/dm"
)

const dmTestdata = "../internal/dm/testdata"

// fakeDM stands in for the control node: tables and status as dmsetup
// prints them, keyed by device number.
type fakeDM struct {
	mu      sync.Mutex
	table   map[dm.DevNum]string
	status  map[dm.DevNum]string
	err     error                       // returned by every call when set
	openErr error                       // returned by open when set
	block   map[dm.DevNum]chan struct{} // calls on these devices wait for close
	calls   map[dm.DevNum]int
	opens   int
	closes  int
}

func newFakeDM() *fakeDM {
	return &fakeDM{table: map[dm.DevNum]string{}, status: map[dm.DevNum]string{}, block: map[dm.DevNum]chan struct{}{}, calls: map[dm.DevNum]int{}}
}

func (f *fakeDM) open() (dm.Source, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opens++
	if f.openErr != nil {
		return nil, f.openErr
	}
	return fakeDMClient{f}, nil
}

// set loads a device's table and status from internal/dm's target fixtures.
func (f *fakeDM) set(t *testing.T, dev string, table, status string) {
	t.Helper()
	dn, err := dm.ParseDevNum(dev)
	if err != nil {
		t.Fatal(err)
	}
	read := func(s string) string {
		if strings.HasSuffix(s, ".table") || strings.HasSuffix(s, ".status") {
			b, err := os.ReadFile(filepath.Join(dmTestdata, "targets", s))
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
		return s
	}
	f.table[dn], f.status[dn] = read(table), read(status)
}

type fakeDMClient struct{ f *fakeDM }

func (c fakeDMClient) Table(dev dm.DevNum) ([]dm.Target, error)  { return c.call("table", dev) }
func (c fakeDMClient) Status(dev dm.DevNum) ([]dm.Target, error) { return c.call("status", dev) }
func (c fakeDMClient) Close() error {
	c.f.mu.Lock()
	c.f.closes++
	c.f.mu.Unlock()
	return nil
}

func (c fakeDMClient) call(op string, dev dm.DevNum) ([]dm.Target, error) {
	f := c.f
	f.mu.Lock()
	f.calls[dev]++
	block, err := f.block[dev], f.err
	text := f.table[dev]
	if op == "status" {
		text = f.status[dev]
	}
	_, known := f.table[dev]
	f.mu.Unlock()
	if block != nil {
		<-block
	}
	if err != nil {
		return nil, err
	}
	if !known {
		return nil, &dm.IoctlError{Op: op, Dev: dev, Errno: syscall.ENXIO}
	}
	var out []dm.Target
	for line := range strings.Lines(text) {
		tg, err := dm.ParseTargetLine(line)
		if err != nil {
			return nil, err
		}
		out = append(out, tg)
	}
	return out, nil
}

// dmthinOn builds the collector on one of internal/dm's sysfs trees with
// mounts in a temp procfs, reading device-mapper through f.
func dmthinOn(t *testing.T, sysTree, mounts string, f *fakeDM) *dmthinCollector {
	t.Helper()
	proc := t.TempDir()
	if mounts != "" {
		os.MkdirAll(filepath.Join(proc, "self"), 0o755)
		if err := os.WriteFile(filepath.Join(proc, "self", "mounts"), []byte(mounts), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sys, _ := filepath.Abs(filepath.Join(dmTestdata, "sys", sysTree))
	c := build(t, "dmthin", Config{ProcPath: proc, SysPath: sys, RootPath: t.TempDir()}).(*dmthinCollector)
	if f != nil {
		c.open = f.open
	}
	return c
}

// linear gives a device a linear table and its (empty) status.
func (f *fakeDM) linear(t *testing.T, devs ...string) {
	for _, d := range devs {
		f.set(t, d, "0 2048 linear 8:2 2048", "0 2048 linear ")
	}
}

func TestDmthinLVMPassdown(t *testing.T) {
	f := newFakeDM()
	f.linear(t, "253:0", "253:1", "253:3")
	f.set(t, "253:2", "pool-normal.table", "pool-normal.status")
	f.set(t, "253:4", "thin.table", "thin.status")
	f.set(t, "253:5", "0 104857600 thin 253:2 2", "thin-empty.status")
	c := dmthinOn(t, "lvm-passdown", "/dev/mapper/vg0-thin1 /srv ext4 rw,relatime,discard 0 0\n/dev/sda1 / ext4 rw 0 0\n", f)
	comparePlain(t, c, `
crashguard_dm_control_accessible{reason="ok"} 1
crashguard_dm_device_info{device="dm-0",kind="thin_pool_metadata",name="vg0-pool0_tmeta"} 1
crashguard_dm_device_info{device="dm-1",kind="thin_pool_data",name="vg0-pool0_tdata"} 1
crashguard_dm_device_info{device="dm-2",kind="thin_pool",name="vg0-pool0-tpool"} 1
crashguard_dm_device_info{device="dm-3",kind="thin_pool_wrapper",name="vg0-pool0"} 1
crashguard_dm_device_info{device="dm-4",kind="thin_volume",name="vg0-thin1"} 1
crashguard_dm_device_info{device="dm-5",kind="thin_volume",name="vg0-thin2"} 1
crashguard_dm_device_discard_max_bytes{device="dm-0"} 2147450880
crashguard_dm_device_discard_max_bytes{device="dm-1"} 2147450880
crashguard_dm_device_discard_max_bytes{device="dm-2"} 2147450880
crashguard_dm_device_discard_max_bytes{device="dm-3"} 2147450880
crashguard_dm_device_discard_max_bytes{device="dm-4"} 67108864
crashguard_dm_device_discard_max_bytes{device="dm-5"} 67108864
crashguard_dm_device_discard_granularity_bytes{device="dm-0"} 512
crashguard_dm_device_discard_granularity_bytes{device="dm-1"} 512
crashguard_dm_device_discard_granularity_bytes{device="dm-2"} 512
crashguard_dm_device_discard_granularity_bytes{device="dm-3"} 512
crashguard_dm_device_discard_granularity_bytes{device="dm-4"} 65536
crashguard_dm_device_discard_granularity_bytes{device="dm-5"} 65536
crashguard_dm_device_slave_info{device="dm-0",slave="sda2"} 1
crashguard_dm_device_slave_info{device="dm-1",slave="sda2"} 1
crashguard_dm_device_slave_info{device="dm-2",slave="dm-0"} 1
crashguard_dm_device_slave_info{device="dm-2",slave="dm-1"} 1
crashguard_dm_device_slave_info{device="dm-3",slave="dm-2"} 1
crashguard_dm_device_slave_info{device="dm-4",slave="dm-2"} 1
crashguard_dm_device_slave_info{device="dm-5",slave="dm-2"} 1
crashguard_dm_thin_pool_data_device_discard_capable{pool="vg0-pool0-tpool"} 1
crashguard_dm_thin_pool_discard_enabled{pool="vg0-pool0-tpool"} 1
crashguard_dm_thin_pool_discard_passdown{pool="vg0-pool0-tpool",source="configured"} 1
crashguard_dm_thin_pool_discard_passdown{pool="vg0-pool0-tpool",source="effective"} 1
crashguard_dm_thin_pool_mode{mode="error",pool="vg0-pool0-tpool"} 0
crashguard_dm_thin_pool_mode{mode="fail",pool="vg0-pool0-tpool"} 0
crashguard_dm_thin_pool_mode{mode="out_of_data_space",pool="vg0-pool0-tpool"} 0
crashguard_dm_thin_pool_mode{mode="ro",pool="vg0-pool0-tpool"} 0
crashguard_dm_thin_pool_mode{mode="rw",pool="vg0-pool0-tpool"} 1
crashguard_dm_thin_pool_needs_check{pool="vg0-pool0-tpool"} 0
crashguard_dm_thin_pool_error_if_no_space{pool="vg0-pool0-tpool"} 0
crashguard_dm_thin_pool_data_used_bytes{pool="vg0-pool0-tpool"} 5374672896
crashguard_dm_thin_pool_data_size_bytes{pool="vg0-pool0-tpool"} 107374182400
crashguard_dm_thin_pool_metadata_used_bytes{pool="vg0-pool0-tpool"} 5054464
crashguard_dm_thin_pool_metadata_size_bytes{pool="vg0-pool0-tpool"} 67108864
crashguard_dm_thin_pool_low_water_mark_bytes{pool="vg0-pool0-tpool"} 0
crashguard_dm_thin_pool_metadata_low_water_mark_bytes{pool="vg0-pool0-tpool"} 4194304
crashguard_dm_thin_volume_mapped_bytes{device="dm-4",pool="vg0-pool0-tpool"} 2682257408
crashguard_dm_thin_volume_mapped_bytes{device="dm-5",pool="vg0-pool0-tpool"} 0
crashguard_mount_discard{device="dm-4",fstype="ext4",mode="async",mountpoint="/srv"} 0
crashguard_mount_discard{device="dm-4",fstype="ext4",mode="off",mountpoint="/srv"} 0
crashguard_mount_discard{device="dm-4",fstype="ext4",mode="on",mountpoint="/srv"} 1
crashguard_scrape_collector_success{collector="c"} 1
`,
		"crashguard_dm_control_accessible", "crashguard_dm_device_info", "crashguard_dm_device_discard_max_bytes",
		"crashguard_dm_device_discard_granularity_bytes", "crashguard_dm_device_slave_info",
		"crashguard_dm_thin_pool_data_device_discard_capable", "crashguard_dm_thin_pool_discard_enabled",
		"crashguard_dm_thin_pool_discard_passdown", "crashguard_dm_thin_pool_mode", "crashguard_dm_thin_pool_needs_check",
		"crashguard_dm_thin_pool_error_if_no_space", "crashguard_dm_thin_pool_data_used_bytes",
		"crashguard_dm_thin_pool_data_size_bytes", "crashguard_dm_thin_pool_metadata_used_bytes",
		"crashguard_dm_thin_pool_metadata_size_bytes", "crashguard_dm_thin_pool_low_water_mark_bytes",
		"crashguard_dm_thin_pool_metadata_low_water_mark_bytes", "crashguard_dm_thin_volume_mapped_bytes",
		"crashguard_mount_discard", "crashguard_scrape_collector_success")
	if errs := fileErrors(t, c); len(errs) != 0 {
		t.Errorf("file errors: %v", errs)
	}
	// Status first for every device; the table only for thin targets, so
	// that no other target's table (a dm-crypt key) is ever read.
	for dev, n := range f.calls {
		want := 2 * 2 // two scrapes so far: comparePlain and fileErrors
		if dev.Minor == 0 || dev.Minor == 1 || dev.Minor == 3 {
			want = 1 * 2
		}
		if n != want {
			t.Errorf("%s: %d calls, want %d", dev, n, want)
		}
	}
	if f.opens != 2 || f.closes != 2 {
		t.Errorf("control opened %d and closed %d times in 2 scrapes, want once each per scrape", f.opens, f.closes)
	}
}

func TestDmthinLVMIgnoreDiscard(t *testing.T) {
	f := newFakeDM()
	f.linear(t, "253:0", "253:1", "253:3")
	f.set(t, "253:2", "pool-ignore-discard.table", "pool-ignore-discard.status")
	f.set(t, "253:4", "thin.table", "thin-empty.status")
	c := dmthinOn(t, "lvm-ignore-discard", "", f)
	comparePlain(t, c, `
crashguard_dm_device_discard_max_bytes{device="dm-0"} 2199023255040
crashguard_dm_device_discard_max_bytes{device="dm-1"} 2199023255040
crashguard_dm_device_discard_max_bytes{device="dm-2"} 0
crashguard_dm_device_discard_max_bytes{device="dm-3"} 0
crashguard_dm_device_discard_max_bytes{device="dm-4"} 0
crashguard_dm_thin_pool_data_device_discard_capable{pool="vg--data-pool0-tpool"} 1
crashguard_dm_thin_pool_discard_enabled{pool="vg--data-pool0-tpool"} 0
crashguard_dm_thin_pool_discard_passdown{pool="vg--data-pool0-tpool",source="configured"} 0
crashguard_dm_thin_pool_discard_passdown{pool="vg--data-pool0-tpool",source="effective"} 0
crashguard_dm_thin_pool_data_used_bytes{pool="vg--data-pool0-tpool"} 1342177280
crashguard_dm_thin_volume_mapped_bytes{device="dm-4",pool="vg--data-pool0-tpool"} 0
`, "crashguard_dm_device_discard_max_bytes", "crashguard_dm_thin_pool_data_device_discard_capable",
		"crashguard_dm_thin_pool_discard_enabled", "crashguard_dm_thin_pool_discard_passdown",
		"crashguard_dm_thin_pool_data_used_bytes", "crashguard_dm_thin_volume_mapped_bytes")
	if strings.Contains(gather(t, c), "crashguard_mount_discard") {
		t.Error("no mounts file: no mount series")
	}
}

func TestDmthinLVMNoHardwareDiscard(t *testing.T) {
	f := newFakeDM()
	f.linear(t, "253:0", "253:1", "253:3")
	f.set(t, "253:2", "pool-no-hw-discard.table", "pool-no-hw-discard.status")
	f.set(t, "253:4", "thin.table", "thin.status")
	c := dmthinOn(t, "lvm-no-hw-discard", "", f)
	// Passdown requested, silently disabled by the kernel; the volumes
	// still send discards to the pool.
	comparePlain(t, c, `
crashguard_dm_device_discard_max_bytes{device="dm-0"} 0
crashguard_dm_device_discard_max_bytes{device="dm-1"} 0
crashguard_dm_device_discard_max_bytes{device="dm-2"} 0
crashguard_dm_device_discard_max_bytes{device="dm-3"} 0
crashguard_dm_device_discard_max_bytes{device="dm-4"} 67108864
crashguard_dm_thin_pool_data_device_discard_capable{pool="vg0-pool0-tpool"} 0
crashguard_dm_thin_pool_discard_enabled{pool="vg0-pool0-tpool"} 1
crashguard_dm_thin_pool_discard_passdown{pool="vg0-pool0-tpool",source="configured"} 1
crashguard_dm_thin_pool_discard_passdown{pool="vg0-pool0-tpool",source="effective"} 0
crashguard_dm_thin_volume_mapped_bytes{device="dm-4",pool="vg0-pool0-tpool"} 2682257408
`, "crashguard_dm_device_discard_max_bytes", "crashguard_dm_thin_pool_data_device_discard_capable",
		"crashguard_dm_thin_pool_discard_enabled", "crashguard_dm_thin_pool_discard_passdown",
		"crashguard_dm_thin_volume_mapped_bytes")
}

func TestDmthinDocker(t *testing.T) {
	f := newFakeDM()
	f.set(t, "253:0", "0 104857600 linear 8:2 2048", "0 104857600 linear ")
	f.set(t, "253:1", "pool-docker.table", "pool-docker.status")
	f.set(t, "253:2", "0 20971520 thin 253:1 7", "0 20971520 thin 1048576 20971519")
	c := dmthinOn(t, "docker", "/dev/mapper/docker-253:0-1234567-e36563d8b6da25a43a846eb31e7ea468c6414ce9da201e0c0d1a0dc00f0e71a7 /var/lib/docker/devicemapper/mnt/e36563d8b6da25a43a846eb31e7ea468c6414ce9da201e0c0d1a0dc00f0e71a7 xfs rw,relatime,nouuid,attr2,inode64,logbufs=8,logbsize=64k,sunit=128,swidth=128,noquota 0 0\n", f)
	const pool = "docker-253:0-1234567-pool"
	comparePlain(t, c, `
crashguard_dm_device_info{device="dm-0",kind="other",name="centos-root"} 1
crashguard_dm_device_info{device="dm-1",kind="docker_thin_pool",name="`+pool+`"} 1
crashguard_dm_device_info{device="dm-2",kind="thin_volume",name="docker-253:0-1234567-e36563d8b6da25a43a846eb31e7ea468c6414ce9da201e0c0d1a0dc00f0e71a7"} 1
crashguard_dm_thin_pool_data_device_discard_capable{pool="`+pool+`"} 1
crashguard_dm_thin_pool_discard_enabled{pool="`+pool+`"} 1
crashguard_dm_thin_pool_discard_passdown{pool="`+pool+`",source="configured"} 1
crashguard_dm_thin_pool_discard_passdown{pool="`+pool+`",source="effective"} 1
crashguard_dm_thin_pool_low_water_mark_bytes{pool="`+pool+`"} 2147483648
crashguard_dm_thin_pool_data_used_bytes{pool="`+pool+`"} 2059403264
crashguard_dm_thin_pool_metadata_used_bytes{pool="`+pool+`"} 1806336
crashguard_dm_thin_pool_metadata_size_bytes{pool="`+pool+`"} 2147483648
crashguard_dm_thin_volume_mapped_bytes{device="dm-2",pool="`+pool+`"} 536870912
crashguard_mount_discard{device="dm-2",fstype="xfs",mode="async",mountpoint="/var/lib/docker/devicemapper/mnt/e36563d8b6da25a43a846eb31e7ea468c6414ce9da201e0c0d1a0dc00f0e71a7"} 0
crashguard_mount_discard{device="dm-2",fstype="xfs",mode="off",mountpoint="/var/lib/docker/devicemapper/mnt/e36563d8b6da25a43a846eb31e7ea468c6414ce9da201e0c0d1a0dc00f0e71a7"} 1
crashguard_mount_discard{device="dm-2",fstype="xfs",mode="on",mountpoint="/var/lib/docker/devicemapper/mnt/e36563d8b6da25a43a846eb31e7ea468c6414ce9da201e0c0d1a0dc00f0e71a7"} 0
`, "crashguard_dm_device_info", "crashguard_dm_thin_pool_data_device_discard_capable",
		"crashguard_dm_thin_pool_discard_enabled", "crashguard_dm_thin_pool_discard_passdown",
		"crashguard_dm_thin_pool_low_water_mark_bytes", "crashguard_dm_thin_pool_data_used_bytes",
		"crashguard_dm_thin_pool_metadata_used_bytes", "crashguard_dm_thin_pool_metadata_size_bytes",
		"crashguard_dm_thin_volume_mapped_bytes", "crashguard_mount_discard")
}

// TestDmthinThinpoolProfile runs the collector the way the golden test
// does: the hidden fixture-dir flag in place of the control node.
func TestDmthinThinpoolProfile(t *testing.T) {
	cfg := profileConfig(t, "thinpool")
	dir := filepath.Join(filepath.Dir(cfg.ProcPath), "dm")
	c := build(t, "dmthin", cfg, "--collector.dmthin.fixture-dir="+dir)
	comparePlain(t, c, `
crashguard_dm_control_accessible{reason="ok"} 1
crashguard_dm_thin_pool_discard_enabled{pool="vg--data-pool0-tpool"} 0
crashguard_dm_thin_pool_discard_enabled{pool="vg0-pool0-tpool"} 1
crashguard_dm_thin_pool_discard_enabled{pool="vg1-broken-tpool"} 1
crashguard_dm_thin_pool_discard_enabled{pool="vg1-full-tpool"} 1
crashguard_dm_thin_pool_discard_enabled{pool="vg1-meta-tpool"} 1
crashguard_dm_thin_pool_mode{mode="error",pool="vg--data-pool0-tpool"} 0
crashguard_dm_thin_pool_mode{mode="fail",pool="vg--data-pool0-tpool"} 0
crashguard_dm_thin_pool_mode{mode="out_of_data_space",pool="vg--data-pool0-tpool"} 0
crashguard_dm_thin_pool_mode{mode="ro",pool="vg--data-pool0-tpool"} 0
crashguard_dm_thin_pool_mode{mode="rw",pool="vg--data-pool0-tpool"} 1
crashguard_dm_thin_pool_mode{mode="error",pool="vg0-pool0-tpool"} 0
crashguard_dm_thin_pool_mode{mode="fail",pool="vg0-pool0-tpool"} 0
crashguard_dm_thin_pool_mode{mode="out_of_data_space",pool="vg0-pool0-tpool"} 0
crashguard_dm_thin_pool_mode{mode="ro",pool="vg0-pool0-tpool"} 0
crashguard_dm_thin_pool_mode{mode="rw",pool="vg0-pool0-tpool"} 1
crashguard_dm_thin_pool_mode{mode="error",pool="vg1-broken-tpool"} 0
crashguard_dm_thin_pool_mode{mode="fail",pool="vg1-broken-tpool"} 1
crashguard_dm_thin_pool_mode{mode="out_of_data_space",pool="vg1-broken-tpool"} 0
crashguard_dm_thin_pool_mode{mode="ro",pool="vg1-broken-tpool"} 0
crashguard_dm_thin_pool_mode{mode="rw",pool="vg1-broken-tpool"} 0
crashguard_dm_thin_pool_mode{mode="error",pool="vg1-full-tpool"} 0
crashguard_dm_thin_pool_mode{mode="fail",pool="vg1-full-tpool"} 0
crashguard_dm_thin_pool_mode{mode="out_of_data_space",pool="vg1-full-tpool"} 1
crashguard_dm_thin_pool_mode{mode="ro",pool="vg1-full-tpool"} 0
crashguard_dm_thin_pool_mode{mode="rw",pool="vg1-full-tpool"} 0
crashguard_dm_thin_pool_mode{mode="error",pool="vg1-meta-tpool"} 0
crashguard_dm_thin_pool_mode{mode="fail",pool="vg1-meta-tpool"} 0
crashguard_dm_thin_pool_mode{mode="out_of_data_space",pool="vg1-meta-tpool"} 0
crashguard_dm_thin_pool_mode{mode="ro",pool="vg1-meta-tpool"} 1
crashguard_dm_thin_pool_mode{mode="rw",pool="vg1-meta-tpool"} 0
crashguard_dm_thin_pool_needs_check{pool="vg--data-pool0-tpool"} 0
crashguard_dm_thin_pool_needs_check{pool="vg0-pool0-tpool"} 0
crashguard_dm_thin_pool_needs_check{pool="vg1-full-tpool"} 0
crashguard_dm_thin_pool_needs_check{pool="vg1-meta-tpool"} 1
crashguard_dm_thin_pool_error_if_no_space{pool="vg--data-pool0-tpool"} 0
crashguard_dm_thin_pool_error_if_no_space{pool="vg0-pool0-tpool"} 0
crashguard_dm_thin_pool_error_if_no_space{pool="vg1-broken-tpool"} 1
crashguard_dm_thin_pool_error_if_no_space{pool="vg1-full-tpool"} 0
crashguard_dm_thin_pool_error_if_no_space{pool="vg1-meta-tpool"} 0
crashguard_dm_thin_volume_mapped_bytes{device="dm-10",pool="vg--data-pool0-tpool"} 1342177280
crashguard_dm_thin_volume_mapped_bytes{device="dm-15",pool="vg1-full-tpool"} 107374182400
crashguard_dm_thin_volume_mapped_bytes{device="dm-4",pool="vg0-pool0-tpool"} 2682257408
crashguard_dm_thin_volume_mapped_bytes{device="dm-5",pool="vg0-pool0-tpool"} 2692415488
crashguard_mount_discard{device="dm-10",fstype="ext4",mode="async",mountpoint="/srv/ci"} 0
crashguard_mount_discard{device="dm-10",fstype="ext4",mode="off",mountpoint="/srv/ci"} 1
crashguard_mount_discard{device="dm-10",fstype="ext4",mode="on",mountpoint="/srv/ci"} 0
crashguard_mount_discard{device="dm-15",fstype="btrfs",mode="async",mountpoint="/srv/build cache"} 1
crashguard_mount_discard{device="dm-15",fstype="btrfs",mode="off",mountpoint="/srv/build cache"} 0
crashguard_mount_discard{device="dm-15",fstype="btrfs",mode="on",mountpoint="/srv/build cache"} 0
crashguard_mount_discard{device="dm-4",fstype="ext4",mode="async",mountpoint="/srv/data"} 0
crashguard_mount_discard{device="dm-4",fstype="ext4",mode="off",mountpoint="/srv/data"} 0
crashguard_mount_discard{device="dm-4",fstype="ext4",mode="on",mountpoint="/srv/data"} 1
crashguard_mount_discard{device="dm-5",fstype="xfs",mode="async",mountpoint="/var/lib/libvirt/images"} 0
crashguard_mount_discard{device="dm-5",fstype="xfs",mode="off",mountpoint="/var/lib/libvirt/images"} 1
crashguard_mount_discard{device="dm-5",fstype="xfs",mode="on",mountpoint="/var/lib/libvirt/images"} 0
`, "crashguard_dm_control_accessible", "crashguard_dm_thin_pool_discard_enabled", "crashguard_dm_thin_pool_mode",
		"crashguard_dm_thin_pool_needs_check", "crashguard_dm_thin_pool_error_if_no_space",
		"crashguard_dm_thin_volume_mapped_bytes", "crashguard_mount_discard")
	out := gather(t, c)
	// The Fail pool has neither usage nor an effective discard mode.
	for _, absent := range []string{
		"crashguard_dm_thin_pool_data_used_bytes pool=vg1-broken-tpool",
		"crashguard_dm_thin_pool_discard_passdown pool=vg1-broken-tpool source=effective",
		"crashguard_dm_thin_volume_mapped_bytes device=dm-24",
	} {
		if strings.Contains(out, absent) {
			t.Errorf("%s exported for a pool in fail mode", absent)
		}
	}
	if errs := fileErrors(t, c); len(errs) != 0 {
		t.Errorf("file errors: %v", errs)
	}
}

// comparePlain compares sample lines only: HELP and TYPE are added from
// the collector's own descriptors.
func comparePlain(t *testing.T, c Collector, samples string, names ...string) {
	t.Helper()
	help := map[string]string{}
	ch := make(chan *prometheus.Desc, 100)
	c.Describe(ch)
	ch <- scrapeSuccessDesc
	close(ch)
	for d := range ch {
		m := descFields.FindStringSubmatch(d.String())
		if m != nil {
			help[m[1]] = strings.ReplaceAll(m[2], `\"`, `"`)
		}
	}
	byName := map[string][]string{}
	for _, l := range strings.Split(strings.TrimSpace(samples), "\n") {
		name := l[:strings.IndexAny(l, "{ ")]
		byName[name] = append(byName[name], l)
	}
	var b strings.Builder
	for _, n := range names {
		if len(byName[n]) == 0 {
			continue
		}
		b.WriteString("# HELP " + n + " " + escapeHelp(help[n]) + "\n# TYPE " + n + " gauge\n")
		b.WriteString(strings.Join(byName[n], "\n") + "\n")
	}
	reg := registry(t, map[string]Collector{"c": c})
	if err := testutil.GatherAndCompare(reg, strings.NewReader(b.String()), names...); err != nil {
		t.Error(err)
	}
}

func escapeHelp(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(s)
}

func TestDmthinPermissionDenied(t *testing.T) {
	for name, f := range map[string]*fakeDM{
		"ioctl": func() *fakeDM {
			f := newFakeDM()
			f.err = &dm.IoctlError{Op: "status", Dev: dm.DevNum{Major: 253}, Errno: syscall.EPERM}
			return f
		}(),
		"open": func() *fakeDM {
			f := newFakeDM()
			f.openErr = &os.PathError{Op: "open", Path: "/dev/mapper/control", Err: syscall.EACCES}
			return f
		}(),
	} {
		t.Run(name, func(t *testing.T) {
			c := dmthinOn(t, "lvm-passdown", "", f)
			var logs bytes.Buffer
			c.logger = log.NewLogfmtLogger(log.NewSyncWriter(&logs))
			comparePlain(t, c, `
crashguard_dm_control_accessible{reason="permission_denied"} 0
crashguard_dm_thin_pool_data_device_discard_capable{pool="vg0-pool0-tpool"} 1
crashguard_dm_device_discard_max_bytes{device="dm-0"} 2147450880
crashguard_dm_device_discard_max_bytes{device="dm-1"} 2147450880
crashguard_dm_device_discard_max_bytes{device="dm-2"} 2147450880
crashguard_dm_device_discard_max_bytes{device="dm-3"} 2147450880
crashguard_dm_device_discard_max_bytes{device="dm-4"} 67108864
crashguard_dm_device_discard_max_bytes{device="dm-5"} 67108864
crashguard_scrape_collector_success{collector="c"} 1
`, "crashguard_dm_control_accessible", "crashguard_dm_thin_pool_data_device_discard_capable",
				"crashguard_dm_device_discard_max_bytes", "crashguard_scrape_collector_success")
			out := gather(t, c)
			if strings.Contains(out, "thin_pool_mode") || strings.Contains(out, "thin_pool_discard_enabled") {
				t.Errorf("pool metrics without access:\n%s", out)
			}
			if errs := fileErrors(t, c); len(errs) != 0 {
				t.Errorf("missing privilege is not a file error: %v", errs)
			}
			if n := strings.Count(logs.String(), "cannot read device-mapper"); n != 1 {
				t.Errorf("logged %d times over several scrapes, want once:\n%s", n, logs.String())
			}
			if name == "ioctl" && len(f.calls) != 1 {
				t.Errorf("kept issuing ioctls after EPERM: %v", f.calls)
			}
		})
	}
}

func TestDmthinNoControlNode(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "regular")
	os.WriteFile(regular, nil, 0o644)
	fifo := filepath.Join(dir, "fifo")
	mkfifo(t, fifo)
	sys, _ := filepath.Abs(filepath.Join(dmTestdata, "sys", "lvm-passdown"))
	cfg := Config{ProcPath: t.TempDir(), SysPath: sys, RootPath: t.TempDir()}
	for path, reason := range map[string]string{
		filepath.Join(dir, "absent"): "no_control_node",
		regular:                      "not_a_device",
		fifo:                         "not_a_device",
	} {
		c := build(t, "dmthin", cfg, "--collector.dmthin.control-path="+path)
		done := make(chan struct{})
		go func() {
			defer close(done)
			comparePlain(t, c, `
crashguard_dm_control_accessible{reason="`+reason+`"} 0
crashguard_dm_thin_pool_data_device_discard_capable{pool="vg0-pool0-tpool"} 1
crashguard_scrape_collector_success{collector="c"} 1
`, "crashguard_dm_control_accessible", "crashguard_dm_thin_pool_data_device_discard_capable", "crashguard_scrape_collector_success")
		}()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: blocked", path)
		}
		if errs := fileErrors(t, c); len(errs) != 0 {
			t.Errorf("%s: %v", path, errs)
		}
	}
}

func TestDmthinNoDMDevices(t *testing.T) {
	f := newFakeDM()
	c := build(t, "dmthin", profileConfig(t, "minimal")).(*dmthinCollector)
	c.open = f.open
	out := gather(t, c)
	if strings.Contains(out, "crashguard_dm_") || strings.Contains(out, "crashguard_mount_") {
		t.Errorf("a host without dm devices exports dm metrics:\n%s", out)
	}
	if f.opens != 0 {
		t.Error("control node opened on a host without dm devices")
	}
}

func TestDmthinBlockingClientHonoursDeadline(t *testing.T) {
	f := newFakeDM()
	f.linear(t, "253:0", "253:1", "253:3", "253:4", "253:5")
	f.set(t, "253:2", "pool-normal.table", "pool-normal.status")
	release := make(chan struct{})
	defer close(release)
	f.block[dm.DevNum{Major: 253, Minor: 2}] = release // status of a pool being suspended
	c := dmthinOn(t, "lvm-passdown", "", f)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.Update(ctx, make(chan prometheus.Metric, 1000)) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Update returned %v, want the deadline", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Update blocked past its deadline on a hung ioctl")
	}
	// Later scrapes skip the device whose call is still blocked, report
	// it, and keep everything else.
	for i := 0; i < 2; i++ {
		got := make(chan string, 1)
		go func() { got <- gather(t, c) }()
		select {
		case out := <-got:
			if !strings.Contains(out, "crashguard_dm_control_accessible reason=ok") || !strings.Contains(out, "crashguard_dm_device_info device=dm-5") {
				t.Errorf("scrape after a hung call lost metrics:\n%s", out)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("later scrape waited for the hung call")
		}
	}
	if errs := fileErrors(t, c); errs["timeout"] != 1 {
		t.Errorf("hung device not reported: %v", errs)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if n := f.calls[dm.DevNum{Major: 253, Minor: 2}]; n != 1 {
		t.Errorf("%d calls on the hung device, want 1 outstanding at most", n)
	}
}

func TestDmthinSuspendedDeviceNotQueried(t *testing.T) {
	cfg := copyProfile(t, "thinpool")
	os.WriteFile(filepath.Join(cfg.SysPath, "block/dm-13/dm/suspended"), []byte("1\n"), 0o644)
	f := newFakeDM()
	c := build(t, "dmthin", cfg).(*dmthinCollector)
	c.open = f.open
	out := gather(t, c)
	if !strings.Contains(out, "crashguard_dm_thin_pool_data_device_discard_capable pool=vg1-full-tpool") {
		t.Errorf("sysfs metrics of the suspended pool lost:\n%s", out)
	}
	if f.calls[dm.DevNum{Major: 253, Minor: 13}] != 0 {
		t.Error("ioctl issued on a suspended device")
	}
	if !strings.Contains(out, "crashguard_dm_device_suspended device=dm-13") {
		t.Errorf("suspended device not exported:\n%s", out)
	}
	if n := strings.Count(out, "crashguard_dm_thin_pool_mode pool=vg1-full-tpool"); n != 0 {
		t.Errorf("live metrics for a suspended pool")
	}
}

func TestDmthinMounts(t *testing.T) {
	mounts := `/dev/sda1 / ext4 rw,relatime 0 0
/dev/mapper/vg0-thin1 /srv/with\040space\011tab ext4 rw,discard 0 0
/dev/mapper/vg0-thin1 /srv/with\040space\011tab ext4 rw,nodiscard 0 0
/dev/dm-5 /mnt/back\134slash xfs rw,discard 0 0
/dev/mapper/gone /mnt/gone ext4 rw,discard 0 0
/dev/mapper/vg0-thin2 /mnt/b btrfs rw,discard=async 0 0
/dev/mapper/vg0-thin2 /mnt/b btrfs rw,discard=async 0 0
/dev/mapper/control /x none rw 0 0
`
	c := dmthinOn(t, "lvm-passdown", mounts, nil)
	c.open = newFakeDM().open
	comparePlain(t, c, `
crashguard_mount_discard{device="/dev/mapper/gone",fstype="ext4",mode="async",mountpoint="/mnt/gone"} 0
crashguard_mount_discard{device="/dev/mapper/gone",fstype="ext4",mode="off",mountpoint="/mnt/gone"} 0
crashguard_mount_discard{device="/dev/mapper/gone",fstype="ext4",mode="on",mountpoint="/mnt/gone"} 1
crashguard_mount_discard{device="dm-4",fstype="ext4",mode="async",mountpoint="/srv/with space	tab"} 0
crashguard_mount_discard{device="dm-4",fstype="ext4",mode="off",mountpoint="/srv/with space	tab"} 1
crashguard_mount_discard{device="dm-4",fstype="ext4",mode="on",mountpoint="/srv/with space	tab"} 0
crashguard_mount_discard{device="dm-5",fstype="btrfs",mode="async",mountpoint="/mnt/b"} 1
crashguard_mount_discard{device="dm-5",fstype="btrfs",mode="off",mountpoint="/mnt/b"} 0
crashguard_mount_discard{device="dm-5",fstype="btrfs",mode="on",mountpoint="/mnt/b"} 0
crashguard_mount_discard{device="dm-5",fstype="xfs",mode="async",mountpoint="/mnt/back\\slash"} 0
crashguard_mount_discard{device="dm-5",fstype="xfs",mode="off",mountpoint="/mnt/back\\slash"} 0
crashguard_mount_discard{device="dm-5",fstype="xfs",mode="on",mountpoint="/mnt/back\\slash"} 1
`, "crashguard_mount_discard")
}

func TestDmthinMountsPreferPID1(t *testing.T) {
	c := dmthinOn(t, "lvm-passdown", "/dev/mapper/vg0-thin1 /container-view ext4 rw 0 0\n", newFakeDM())
	os.MkdirAll(filepath.Join(c.cfg.ProcPath, "1"), 0o755)
	os.WriteFile(filepath.Join(c.cfg.ProcPath, "1", "mounts"), []byte("/dev/mapper/vg0-thin1 /host-view ext4 rw,discard 0 0\n"), 0o644)
	out := gather(t, c)
	if !strings.Contains(out, "mountpoint=/host-view") || strings.Contains(out, "container-view") {
		t.Errorf("want PID 1's mount table:\n%s", out)
	}
}

func TestDmthinMountsHostile(t *testing.T) {
	c := dmthinOn(t, "lvm-passdown", "", newFakeDM())
	self := filepath.Join(c.cfg.ProcPath, "self")
	os.MkdirAll(self, 0o755)

	mkfifo(t, filepath.Join(self, "mounts"))
	if errs := fileErrors(t, c); errs["not_regular"] != 1 {
		t.Errorf("FIFO mounts: %v", errs)
	}
	os.Remove(filepath.Join(self, "mounts"))
	os.Symlink("mounts", filepath.Join(self, "mounts"))
	if errs := fileErrors(t, c); errs["symlink"] != 1 {
		t.Errorf("symlink loop: %v", errs)
	}
	os.Remove(filepath.Join(self, "mounts"))
	fh, _ := os.Create(filepath.Join(self, "mounts"))
	fh.Truncate(dm.MaxMountsBytes + 1) // sparse
	fh.Close()
	if errs := fileErrors(t, c); errs["too_large"] != 1 {
		t.Errorf("huge mounts: %v", errs)
	}
	os.WriteFile(filepath.Join(self, "mounts"), []byte("\x00\xff\xfe garbage\n/dev/mapper/vg0-thin1\n\n/dev/mapper/vg0-thin1 /\xff\xfe ext4 rw,discard 0 0\n"), 0o644)
	out := gather(t, c)
	if !strings.Contains(out, "crashguard_mount_discard device=dm-4") {
		t.Errorf("valid line among garbage lost:\n%s", out)
	}
	// Lines the kernel never writes make the file garbage: reported, while
	// the well-formed lines are still used.
	if errs := fileErrors(t, c); len(errs) != 1 || errs["garbage"] != 1 {
		t.Errorf("garbage lines: file errors %v, want one garbage", errs)
	}
}

func TestDmthinManyMountsBounded(t *testing.T) {
	var b strings.Builder
	for i := 0; i < maxDMMounts+500; i++ {
		b.WriteString("/dev/mapper/vg0-thin1 /var/lib/kubelet/pods/" + strconv.Itoa(i) + "/volumes ext4 rw 0 0\n")
	}
	// Mount points that differ only past the label cap collapse into one
	// series instead of breaking the scrape with duplicates.
	long := "/" + strings.Repeat("x", mountCap)
	b.WriteString("/dev/mapper/vg0-thin2 " + long + "a ext4 rw 0 0\n/dev/mapper/vg0-thin2 " + long + "b ext4 rw,discard 0 0\n")
	c := dmthinOn(t, "lvm-passdown", b.String(), newFakeDM())
	out := gather(t, c)
	if n := strings.Count(out, "crashguard_mount_discard "); n != 3*maxDMMounts {
		t.Errorf("%d mount series, want %d", n, 3*maxDMMounts)
	}
	c = dmthinOn(t, "lvm-passdown", "/dev/mapper/vg0-thin2 "+long+"a ext4 rw 0 0\n/dev/mapper/vg0-thin2 "+long+"b ext4 rw,discard 0 0\n", newFakeDM())
	comparePlain(t, c, `
crashguard_mount_discard{device="dm-5",fstype="ext4",mode="async",mountpoint="`+long[:mountCap]+`"} 0
crashguard_mount_discard{device="dm-5",fstype="ext4",mode="off",mountpoint="`+long[:mountCap]+`"} 0
crashguard_mount_discard{device="dm-5",fstype="ext4",mode="on",mountpoint="`+long[:mountCap]+`"} 1
`, "crashguard_mount_discard")
}

func TestDmthinHostileSysfs(t *testing.T) {
	cfg := copyProfile(t, "thinpool")
	dmDir := filepath.Join(filepath.Dir(cfg.ProcPath), "dm")
	mkfifo(t, filepath.Join(cfg.SysPath, "block/dm-4/dm/name"))
	os.Remove(filepath.Join(cfg.SysPath, "block/dm-5/queue/discard_max_bytes"))
	os.Symlink("/etc/passwd", filepath.Join(cfg.SysPath, "block/dm-5/queue/discard_max_bytes"))
	os.Symlink("..", filepath.Join(cfg.SysPath, "block/dm-6/slaves/loop"))
	os.WriteFile(filepath.Join(cfg.SysPath, "block/dm-7/dev"), []byte("garbage\n"), 0o644)
	c := build(t, "dmthin", cfg, "--collector.dmthin.fixture-dir="+dmDir)
	done := make(chan string, 1)
	go func() { done <- gather(t, c) }()
	select {
	case out := <-done:
		if !strings.Contains(out, "crashguard_dm_thin_pool_mode mode=rw pool=vg0-pool0-tpool") {
			t.Errorf("pools lost on a damaged tree:\n%s", out)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("blocked on a hostile sysfs tree")
	}
}

func BenchmarkDmthinThinpool(b *testing.B) {
	cfg := profileConfig(b, "thinpool")
	dir := filepath.Join(filepath.Dir(cfg.ProcPath), "dm")
	c := build(b, "dmthin", cfg, "--collector.dmthin.fixture-dir="+dir)
	ch := make(chan prometheus.Metric, 4096)
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Update(context.Background(), ch); err != nil {
			b.Fatal(err)
		}
		for len(ch) > 0 {
			<-ch
		}
	}
}

package collector

import (
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/crashguard/crashguard_exporter/internal/dm"
)

// countingClient counts the table and status calls per device of a
// fixture client.
type countingClient struct {
	*dm.DirSource
	mu    *sync.Mutex
	calls map[dm.DevNum]int
}

func (c countingClient) Table(dev dm.DevNum) ([]dm.Target, error) {
	c.mu.Lock()
	c.calls[dev]++
	c.mu.Unlock()
	return c.DirSource.Table(dev)
}

func (c countingClient) Status(dev dm.DevNum) ([]dm.Target, error) {
	c.mu.Lock()
	c.calls[dev]++
	c.mu.Unlock()
	return c.DirSource.Status(dev)
}

// dmthinThinpool builds the dmthin collector on a copy of the thinpool
// profile that mutate may break, reading tables and status from the
// profile's dmsetup fixtures and counting the calls.
func dmthinThinpool(t *testing.T, mutate func(sys string)) (*dmthinCollector, map[dm.DevNum]int) {
	t.Helper()
	cfg := copyProfile(t, "thinpool")
	mutate(cfg.SysPath)
	c := build(t, "dmthin", cfg).(*dmthinCollector)
	calls := map[dm.DevNum]int{}
	mu := &sync.Mutex{}
	dir := filepath.Join(filepath.Dir(cfg.ProcPath), "dm")
	c.open = func() (dm.Source, error) {
		return countingClient{dm.NewDirSource(dir), mu, calls}, nil
	}
	return c, calls
}

// TestDmthinUnusableSuspended: a dm/suspended that cannot be used is not
// "not suspended": the device is not queried (an ioctl on a suspended
// device may block), its suspended series is left out, and the file error
// is counted with its real reason in every scrape.
func TestDmthinUnusableSuspended(t *testing.T) {
	for kind, reason := range plantReasons {
		t.Run(kind, func(t *testing.T) {
			c, calls := dmthinThinpool(t, func(sys string) {
				plantUnusable(t, filepath.Join(sys, "block/dm-13/dm/suspended"), kind)
			})
			for scrape := 1; scrape <= 2; scrape++ {
				errs, success := scrapeErrors(t, c)
				if errs[reason] != 1 || len(errs) != 1 || success != "1" {
					t.Errorf("scrape %d: file errors %v, success %s; want one %s", scrape, errs, success, reason)
				}
			}
			if n := calls[dm.DevNum{Major: 253, Minor: 13}]; n != 0 {
				t.Errorf("%d ioctls on a device whose suspended state is unknown", n)
			}
			if calls[dm.DevNum{Major: 253, Minor: 2}] == 0 {
				t.Error("the other pools were not queried")
			}
			out := gather(t, c)
			if strings.Contains(out, "crashguard_dm_device_suspended device=dm-13") {
				t.Error("suspended state exported from an unusable file")
			}
			if strings.Contains(out, "crashguard_dm_thin_pool_mode mode=rw pool=vg1-full-tpool") {
				t.Error("live metrics for a pool that was not queried")
			}
			if !strings.Contains(out, "crashguard_dm_thin_pool_mode mode=rw pool=vg0-pool0-tpool") {
				t.Errorf("other pools lost:\n%s", out)
			}
		})
	}
}

// TestDmthinUnusableAttributesLeftOut: garbage or unusable sysfs attributes
// leave their series out instead of exporting 0 or an empty name.
func TestDmthinUnusableAttributesLeftOut(t *testing.T) {
	c, calls := dmthinThinpool(t, func(sys string) {
		// discard_max_bytes of thin1 is really 64 MiB.
		plantUnusable(t, filepath.Join(sys, "block/dm-4/queue/discard_max_bytes"), "garbage")
		plantUnusable(t, filepath.Join(sys, "block/dm-4/queue/discard_granularity"), "fifo")
		// vg0-thin2's name.
		plantUnusable(t, filepath.Join(sys, "block/dm-5/dm/name"), "directory")
		// The data device of vg1-meta-tpool cannot say whether it discards.
		plantUnusable(t, filepath.Join(sys, "block/dm-17/queue/discard_max_hw_bytes"), "garbage")
		// vg1-broken-tpool's device number.
		plantUnusable(t, filepath.Join(sys, "block/dm-22/dev"), "garbage")
	})
	for scrape := 1; scrape <= 2; scrape++ {
		errs, success := scrapeErrors(t, c)
		if errs["garbage"] != 3 || errs["not_regular"] != 2 || len(errs) != 2 || success != "1" {
			t.Errorf("scrape %d: file errors %v, success %s; want 3 garbage and 2 not_regular", scrape, errs, success)
		}
	}
	out := gather(t, c)
	for _, absent := range []string{
		"crashguard_dm_device_discard_max_bytes device=dm-4\n",
		"crashguard_dm_device_discard_granularity_bytes device=dm-4\n",
		"crashguard_dm_device_info device=dm-5 ",
		"name=\n", "name= ",
		"crashguard_dm_thin_pool_data_device_discard_capable pool=vg1-meta-tpool\n",
	} {
		if strings.Contains(out, absent) {
			t.Errorf("exported from an unusable attribute: %q", absent)
		}
	}
	for _, present := range []string{
		"crashguard_dm_device_discard_max_hw_bytes device=dm-4\n",
		"crashguard_dm_device_info device=dm-4 ",
		"crashguard_dm_device_discard_max_bytes device=dm-5\n",
		"crashguard_dm_thin_pool_data_device_discard_capable pool=vg1-full-tpool\n",
	} {
		if !strings.Contains(out, present) {
			t.Errorf("usable series lost: %q", present)
		}
	}
	// A device without a usable number cannot be addressed: no query.
	if n := calls[dm.DevNum{}]; n != 0 {
		t.Errorf("%d ioctls on device 0:0", n)
	}
}

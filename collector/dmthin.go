package collector

import (
	"context"
	"errors"
	"sync"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/crashguard/crashguard_exporter/internal/dm"
)

func init() {
	registerCollector("dmthin", true, func(app FlagGroup) Factory {
		control := app.Flag("collector.dmthin.control-path",
			"Device-mapper control node for reading thin-pool tables and status (needs CAP_SYS_ADMIN). Not read below --path.rootfs: device nodes are global, mount the host's /dev/mapper/control into a container at this path.").
			Default(dm.DefaultControlPath).String()
		fixtures := app.Flag("collector.dmthin.fixture-dir",
			"Testing aid: read device-mapper tables and status from <dir>/<major:minor>.table and .status (dmsetup's format) instead of the control node.").
			Hidden().String()
		return func(cfg Config, logger log.Logger) (Collector, error) {
			return newDmthinCollector(cfg, logger, *control, *fixtures), nil
		}
	})
}

const (
	// Device-mapper names are at most 127 bytes (DM_NAME_LEN), so capping
	// at 128 never truncates a real one and pool labels stay unique.
	dmNameCap   = 128
	dmKernelCap = 64
	mountCap    = 512
	fstypeCap   = 32
	// maxDMMounts bounds the mount series (Docker's devicemapper driver
	// mounted one thin device per container).
	maxDMMounts = 1024
)

type dmthinCollector struct {
	cfg    Config
	logger log.Logger
	source string // control node or fixture directory, for messages
	open   func() (dm.Source, error)
	// calls keeps DM ioctls off the scrape goroutine; a device whose call
	// outlived its scrape is skipped (reported as a timeout) until it returns.
	calls *callGroup[dm.DevNum, dm.Live]

	mu         sync.Mutex
	lastReason string

	info, suspended, granularity, maxBytes, maxHW, slave *prometheus.Desc
	dataCapable, accessible                              *prometheus.Desc
	discardEnabled, passdown, mode, needsCheck, noSpace  *prometheus.Desc
	dataUsed, dataSize, metaUsed, metaSize, lwm, metaLWM *prometheus.Desc
	mapped, mountDiscard                                 *prometheus.Desc
}

func newDmthinCollector(cfg Config, logger log.Logger, controlPath, fixtureDir string) *dmthinCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "dm", name), help, labels, nil)
	}
	c := &dmthinCollector{
		cfg:    cfg,
		logger: logger,
		source: controlPath,
		open:   controlOpener(controlPath),
		calls:  &callGroup[dm.DevNum, dm.Live]{skipStuck: true},

		info: d("device_info", "Always 1 for each device-mapper device in /sys/block/dm-*: device is its kernel name (dm-N), name its dm/name (at most 127 bytes), kind its role read from LVM's and Docker's naming (thin_pool = the thin-pool target, LVM's -tpool layer; thin_pool_wrapper, thin_pool_data, thin_pool_metadata, thin_volume, docker_thin_pool, other). One series per dm device.",
			"device", "name", "kind"),
		suspended:   d("device_suspended", "Value of /sys/block/dm-N/dm/suspended: 1 while the device is suspended (I/O queued). Its table and status are not read then.", "device"),
		granularity: d("device_discard_granularity_bytes", "Value of /sys/block/dm-N/queue/discard_granularity: smallest discard the device accepts; 0 when it accepts none.", "device"),
		maxBytes:    d("device_discard_max_bytes", "Value of /sys/block/dm-N/queue/discard_max_bytes: largest discard the block layer sends to the device; 0 means discards do not reach it. On a thin volume, > 0 means discards reach its pool.", "device"),
		maxHW:       d("device_discard_max_hw_bytes", "Value of /sys/block/dm-N/queue/discard_max_hw_bytes: largest discard the device (for dm, the stack below) can process; 0 means it cannot discard.", "device"),
		slave:       d("device_slave_info", "Always 1 for each entry of /sys/block/dm-N/slaves: the dm device maps onto slave (a kernel block device name). Bounded by the devices the dm stack uses.", "device", "slave"),
		dataCapable: d("thin_pool_data_device_discard_capable", "1 when the thin pool's data device accepts discards (its queue/discard_max_hw_bytes > 0), else 0; the kernel disables discard passdown when it does not. pool is the DM name of the thin-pool target device, one per pool; the data device is taken from the pool table when readable, else LVM's _tdata sub-LV (sysfs only).",
			"pool"),
		accessible: d("control_accessible", "1 when device-mapper tables and status could be read through the control node (--collector.dmthin.control-path, needs CAP_SYS_ADMIN), else 0 and the pool-level metrics from it are missing. reason is one of ok, no_control_node, permission_denied, not_a_device, error. Exported only when the host has dm devices.",
			"reason"),
		discardEnabled: d("thin_pool_discard_enabled", "1 when the thin-pool table lacks ignore_discard: the pool accepts discards from its thin volumes and unmaps their blocks in its metadata btrees (the code path of the dm-btree-remove BUG); 0 with ignore_discard (lvm.conf thin_pool_discards=ignore). From the DM table; pool is the DM name of the thin-pool target device.",
			"pool"),
		passdown: d("thin_pool_discard_passdown", "1 when the pool passes discards down to its data device. source=configured: the table requests it (neither ignore_discard nor no_discard_passdown); source=effective: the pool status says discard_passdown (the kernel turns passdown off when the data device cannot discard; absent on kernels whose status does not say).",
			"pool", "source"),
		mode: d("thin_pool_mode", "State set from the thin-pool status: rw, ro (read-only, usually after a metadata error or full metadata), out_of_data_space, fail (status Fail: all I/O errors) or error (the kernel could not read the pool metadata to report).",
			"pool", "mode"),
		needsCheck: d("thin_pool_needs_check", "1 when the thin-pool status has needs_check: the metadata must be repaired (thin_check/thin_repair) before the pool can be used read-write again.", "pool"),
		noSpace:    d("thin_pool_error_if_no_space", "1 when the pool errors I/O at once when out of data space (error_if_no_space), 0 when it queues I/O until space is added; from the status, or the table on older kernels and in fail mode.", "pool"),
		dataUsed:   d("thin_pool_data_used_bytes", "Data space the pool has mapped: used data blocks in the thin-pool status times the table's block size.", "pool"),
		dataSize:   d("thin_pool_data_size_bytes", "Data space of the pool: total data blocks in the thin-pool status times the table's block size.", "pool"),
		metaUsed:   d("thin_pool_metadata_used_bytes", "Metadata space in use: used metadata blocks (4 KiB) in the thin-pool status.", "pool"),
		metaSize:   d("thin_pool_metadata_size_bytes", "Metadata space of the pool: total metadata blocks (4 KiB) in the thin-pool status.", "pool"),
		lwm:        d("thin_pool_low_water_mark_bytes", "Free data space below which the pool signals an event (the table's low water mark times its block size); LVM sets 0 and watches usage through dmeventd instead.", "pool"),
		metaLWM:    d("thin_pool_metadata_low_water_mark_bytes", "Free metadata space below which the kernel signals an event (the status's metadata low watermark, 4 KiB blocks); absent on kernels that do not report it.", "pool"),
		mapped: d("thin_volume_mapped_bytes", "Pool space a thin volume occupies: mapped sectors in its thin status times 512. device is the volume's dm-N name, pool the DM name of its pool's thin-pool device (major:minor when not in sysfs).",
			"device", "pool"),
		mountDiscard: prometheus.NewDesc(prometheus.BuildFQName(namespace, "mount", "discard"), "State set of the online discard mode of each file system mounted from a dm device, from the mount options in <procfs>/1/mounts (the host's mount namespace; <procfs>/self/mounts when that is not readable): on (discard, discard=sync), async (btrfs discard=async) or off. device is the dm-N name (the mount source when it is not in sysfs); at most 1024 mounts.",
			[]string{"device", "mountpoint", "fstype", "mode"}, nil),
	}
	if fixtureDir != "" {
		c.source = fixtureDir
		src := dm.NewDirSource(fixtureDir)
		c.open = func() (dm.Source, error) { return src, nil }
	}
	return c
}

func (c *dmthinCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.info, c.suspended, c.granularity, c.maxBytes, c.maxHW, c.slave,
		c.dataCapable, c.accessible, c.discardEnabled, c.passdown, c.mode, c.needsCheck, c.noSpace,
		c.dataUsed, c.dataSize, c.metaUsed, c.metaSize, c.lwm, c.metaLWM, c.mapped, c.mountDiscard} {
		ch <- d
	}
}

func (c *dmthinCollector) Update(ctx context.Context, ch chan<- prometheus.Metric) error {
	snap, err := dm.Inspect(ctx, dm.Options{
		SysPath:  c.cfg.SysPath,
		ProcPath: c.cfg.ProcPath,
		ReadFile: func(path string, max int64) ([]byte, error) {
			return treeFor(ctx, path).ReadFile(path, max)
		},
		Open:       c.open,
		SourceName: c.source,
		Call: func(dev dm.DevNum, read func() (dm.Live, error)) (dm.Live, error) {
			l, err := c.calls.do(ctx, dev, read)
			if errors.Is(err, errCallStuck) {
				err = dm.ErrBlocked
			}
			return l, err
		},
	})
	// An input that exists but cannot be used is reported and what depends
	// on it left out: never a made-up 0 or empty name.
	for _, p := range snap.Problems {
		reportFileError(ctx, p.Path, p.Reason, p.Err)
	}
	if err != nil {
		return err
	}
	for i := range snap.Devices {
		c.updateDevice(ch, &snap.Devices[i])
	}
	if snap.Queried {
		c.noteAccess(snap.Control, snap.ControlErr)
		dmGauge(ch, c.accessible, boolFloat(snap.Control == dm.ControlOK), snap.Control)
	}
	for i := range snap.Pools {
		c.updatePool(ch, &snap.Pools[i])
	}
	for _, v := range snap.Thins {
		pool := v.PoolDev
		if v.PoolName != "" {
			pool = capLabel(v.PoolName, dmNameCap)
		}
		dmGauge(ch, c.mapped, float64(v.MappedBytes), capLabel(v.Kernel, dmKernelCap), pool)
	}
	c.updateMounts(ch, snap.Mounts)
	return nil
}

func dmGauge(ch chan<- prometheus.Metric, desc *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labels...)
}

// updateDevice exports a dm device's sysfs attributes that could be read.
func (c *dmthinCollector) updateDevice(ch chan<- prometheus.Metric, d *dm.Device) {
	dev := capLabel(d.Kernel, dmKernelCap)
	if d.NamesKnown() {
		dmGauge(ch, c.info, 1, dev, capLabel(d.Name, dmNameCap), string(d.Kind))
	}
	if d.Known(dm.AttrSuspended) {
		dmGauge(ch, c.suspended, boolFloat(d.Suspended), dev)
	}
	if d.Known(dm.AttrDiscardGranularity) {
		dmGauge(ch, c.granularity, float64(d.DiscardGranularity), dev)
	}
	if d.Known(dm.AttrDiscardMaxBytes) {
		dmGauge(ch, c.maxBytes, float64(d.DiscardMaxBytes), dev)
	}
	if d.Known(dm.AttrDiscardMaxHWBytes) {
		dmGauge(ch, c.maxHW, float64(d.DiscardMaxHWBytes), dev)
	}
	for _, s := range d.Slaves {
		dmGauge(ch, c.slave, 1, dev, capLabel(s, dmKernelCap))
	}
}

// updatePool exports what is known of a thin pool.
func (c *dmthinCollector) updatePool(ch chan<- prometheus.Metric, p *dm.Pool) {
	pool := capLabel(p.Name, dmNameCap)
	if p.Known(dm.PoolHasTable) {
		dmGauge(ch, c.discardEnabled, boolFloat(p.DiscardEnabled), pool)
		dmGauge(ch, c.passdown, boolFloat(p.PassdownConfigured), pool, "configured")
		dmGauge(ch, c.lwm, float64(p.LowWaterMarkBytes), pool)
	}
	if p.Known(dm.PoolHasDataDevice) {
		dmGauge(ch, c.dataCapable, boolFloat(p.DataDiscardCapable), pool)
	}
	if p.Known(dm.PoolHasMode) {
		for _, m := range dm.PoolModes {
			dmGauge(ch, c.mode, boolFloat(m == p.Mode), pool, m)
		}
	}
	if p.Known(dm.PoolHasPassdownEffective) {
		dmGauge(ch, c.passdown, boolFloat(p.PassdownEffective), pool, "effective")
	}
	if p.Known(dm.PoolHasErrorIfNoSpace) {
		dmGauge(ch, c.noSpace, boolFloat(p.ErrorIfNoSpace), pool)
	}
	if p.Known(dm.PoolHasNeedsCheck) {
		dmGauge(ch, c.needsCheck, boolFloat(p.NeedsCheck), pool)
	}
	if p.Known(dm.PoolHasMetadataUsage) {
		dmGauge(ch, c.metaUsed, float64(p.MetadataUsedBytes), pool)
		dmGauge(ch, c.metaSize, float64(p.MetadataSizeBytes), pool)
	}
	if p.Known(dm.PoolHasMetadataLowWaterMark) {
		dmGauge(ch, c.metaLWM, float64(p.MetadataLowWaterMarkBytes), pool)
	}
	if p.Known(dm.PoolHasDataUsage) {
		dmGauge(ch, c.dataUsed, float64(p.DataUsedBytes), pool)
		dmGauge(ch, c.dataSize, float64(p.DataSizeBytes), pool)
	}
}

// updateMounts exports the discard mode of each dm mount, one state set per
// distinct (device, mountpoint, fstype) labels, at most maxDMMounts.
func (c *dmthinCollector) updateMounts(ch chan<- prometheus.Metric, mounts []dm.Mount) {
	if len(mounts) == 0 {
		return
	}
	type key struct{ device, mountpoint, fstype string }
	type series struct {
		key
		mode string
	}
	seen := make(map[key]int, min(len(mounts), maxDMMounts))
	var out []series
	for i := range mounts {
		m := &mounts[i]
		k := key{device: capLabel(m.Device, mountCap), mountpoint: capLabel(m.MountPoint, mountCap), fstype: capLabel(m.FSType, fstypeCap)}
		if m.Kernel != "" {
			k.device = capLabel(m.Kernel, dmKernelCap)
		}
		// A later line is a mount stacked on top: it is the one in effect.
		if j, ok := seen[k]; ok {
			out[j].mode = m.Discard
			continue
		}
		if len(out) >= maxDMMounts {
			continue
		}
		seen[k] = len(out)
		out = append(out, series{k, m.Discard})
	}
	for _, s := range out {
		for _, mode := range dm.MountDiscardModes {
			dmGauge(ch, c.mountDiscard, boolFloat(s.mode == mode), s.device, s.mountpoint, s.fstype, mode)
		}
	}
}

// noteAccess logs when the control node becomes usable or unusable, once
// per change rather than once per scrape.
func (c *dmthinCollector) noteAccess(reason string, err error) {
	c.mu.Lock()
	changed := reason != c.lastReason
	first := c.lastReason == ""
	c.lastReason = reason
	c.mu.Unlock()
	switch {
	case !changed:
	case reason != dm.ControlOK:
		level.Info(c.logger).Log("msg", "cannot read device-mapper tables and status; thin-pool discard, mode and usage metrics are missing (sysfs metrics are kept). They need the control node and CAP_SYS_ADMIN",
			"control", c.source, "reason", reason, "err", err)
	case !first:
		level.Info(c.logger).Log("msg", "device-mapper tables and status are readable again", "control", c.source)
	}
}

// controlOpener opens the real control node for one scrape.
func controlOpener(path string) func() (dm.Source, error) {
	return func() (dm.Source, error) {
		c, err := dm.OpenControl(path)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
}

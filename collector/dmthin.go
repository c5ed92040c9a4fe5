package collector

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/crashguard/crashguard_exporter/internal/dm"
	"github.com/crashguard/crashguard_exporter/internal/fsutil"
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

// dmClient is an open source of device-mapper tables and status: the
// control node, or a fixture directory in tests.
type dmClient interface {
	dm.Client
	Close() error
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
	maxDMMounts    = 1024
	maxMountsBytes = 8 << 20
)

// Values of crashguard_dm_control_accessible's reason label.
const (
	controlOK         = "ok"
	controlAbsent     = "no_control_node"
	controlPermission = "permission_denied"
	controlNotDevice  = "not_a_device"
	controlError      = "error"
)

// poolModes are the states of crashguard_dm_thin_pool_mode: the kernel's
// three live modes, fail mode ("Fail" status), and "error" when the kernel
// could not read the pool's metadata to report ("Error" status).
var poolModes = []string{dm.ModeReadWrite, dm.ModeReadOnly, dm.ModeOutOfDataSpace, "fail", "error"}

var mountModes = []string{dm.MountDiscardOff, dm.MountDiscardOn, dm.MountDiscardAsync}

type dmthinCollector struct {
	cfg    Config
	logger log.Logger
	source string // control node or fixture directory, for messages
	open   func() (dmClient, error)
	// calls keeps DM ioctls off the scrape goroutine; a device whose call
	// outlived its scrape is skipped (reported as a timeout) until it returns.
	calls *callGroup[dm.DevNum, *dmLive]

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
		calls:  &callGroup[dm.DevNum, *dmLive]{skipStuck: true},

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
		c.open = func() (dmClient, error) { return fixtureClient{dir: fixtureDir}, nil }
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

// dmLive is what device-mapper says about one device: its status and, for
// thin and thin-pool targets, its table.
type dmLive struct {
	table, status []dm.Target
}

func (c *dmthinCollector) Update(ctx context.Context, ch chan<- prometheus.Metric) error {
	devs, err := dm.ScanSysfs(c.cfg.SysPath)
	if err != nil {
		check(ctx, c.cfg.Sys("block"), err)
		return nil
	}
	if len(devs) == 0 {
		// No device mapper in use: nothing to say, and no reason to touch
		// the control node.
		return nil
	}
	gauge := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labels...)
	}
	byDev := make(map[dm.DevNum]*dm.Device, len(devs))
	byName := make(map[string]*dm.Device, len(devs))
	rep := attrProblems{}
	for i := range devs {
		d := &devs[i]
		// An attribute that exists but cannot be used is reported and its
		// series left out: never a made-up 0 or empty name.
		rep.report(ctx, d.Problems)
		if d.Known(dm.AttrDev) {
			byDev[d.Dev()] = d
		}
		if d.Known(dm.AttrName) {
			byName[d.Name] = d
		}
		dev := capLabel(d.Kernel, dmKernelCap)
		if d.NamesKnown() {
			gauge(c.info, 1, dev, capLabel(d.Name, dmNameCap), string(d.Kind))
		}
		for _, v := range []struct {
			attr dm.Attrs
			desc *prometheus.Desc
			val  float64
		}{
			{dm.AttrSuspended, c.suspended, boolFloat(d.Suspended)},
			{dm.AttrDiscardGranularity, c.granularity, float64(d.DiscardGranularity)},
			{dm.AttrDiscardMaxBytes, c.maxBytes, float64(d.DiscardMaxBytes)},
			{dm.AttrDiscardMaxHWBytes, c.maxHW, float64(d.DiscardMaxHWBytes)},
		} {
			if d.Known(v.attr) {
				gauge(v.desc, v.val, dev)
			}
		}
		for _, s := range d.Slaves {
			gauge(c.slave, 1, dev, capLabel(s, dmKernelCap))
		}
	}

	live, reason, queried, err := c.query(ctx, devs)
	if err != nil {
		return err
	}
	if queried {
		gauge(c.accessible, boolFloat(reason == controlOK), reason)
	}

	for i := range devs {
		d := &devs[i]
		l := live[d.Dev()]
		if c.updatePool(ctx, ch, d, l, rep) {
			continue
		}
		c.updateThin(ctx, ch, d, l, byDev)
	}
	c.updateMounts(ctx, ch, byName)
	return nil
}

// updatePool exports a thin pool's metrics and reports whether d is one
// (by its DM table when readable, else by its name).
func (c *dmthinCollector) updatePool(ctx context.Context, ch chan<- prometheus.Metric, d *dm.Device, l *dmLive, rep attrProblems) bool {
	var target, status *dm.Target
	if l != nil {
		target, status = findTarget(l, "thin-pool")
	}
	if target == nil && !d.Kind.IsThinPool() {
		return false
	}
	if !d.Known(dm.AttrName) {
		// The pool label is its name; without it nothing can be said
		// about the pool (the unusable name is already reported).
		return true
	}
	pool := capLabel(d.Name, dmNameCap)
	gauge := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, append([]string{pool}, labels...)...)
	}
	var table *dm.PoolTable
	if target != nil {
		t, err := dm.ParsePoolTable(target.Params)
		if err != nil {
			reportFileError(ctx, c.livePath("table", d), "garbage", err)
		} else {
			table = &t
			gauge(c.discardEnabled, boolFloat(!t.Features.IgnoreDiscard))
			gauge(c.passdown, boolFloat(t.RequestsDiscardPassdown()), "configured")
			gauge(c.lwm, float64(satMul(t.LowWaterMark, t.DataBlockBytes())))
		}
	}
	data, ok, problems := dm.PoolDataDevice(c.cfg.SysPath, *d, table)
	rep.report(ctx, problems)
	if ok && data.Known(dm.AttrDiscardMaxHWBytes) {
		gauge(c.dataCapable, boolFloat(data.CanDiscard()))
	}
	if status == nil {
		return true
	}
	s, err := dm.ParsePoolStatus(status.Params)
	if err != nil {
		reportFileError(ctx, c.livePath("status", d), "garbage", err)
		return true
	}
	mode := s.Mode
	switch {
	case s.Fail:
		mode = "fail"
	case s.Error:
		mode = "error"
	}
	for _, m := range poolModes {
		gauge(c.mode, boolFloat(m == mode), m)
	}
	if s.Fail || s.Error {
		if table != nil {
			gauge(c.noSpace, boolFloat(table.Features.ErrorIfNoSpace))
		}
		return true
	}
	if s.Discard != dm.DiscardUnknown {
		gauge(c.passdown, boolFloat(s.Discard == dm.DiscardPassdown), "effective")
	}
	switch {
	case s.Fields > 6:
		gauge(c.noSpace, boolFloat(s.ErrorIfNoSpace))
	case table != nil:
		gauge(c.noSpace, boolFloat(table.Features.ErrorIfNoSpace))
	}
	if s.Fields > 7 {
		gauge(c.needsCheck, boolFloat(s.NeedsCheck))
	}
	metaUsed, metaSize := s.MetaBytes()
	gauge(c.metaUsed, float64(metaUsed))
	gauge(c.metaSize, float64(metaSize))
	if s.HasMetaLowWatermark {
		gauge(c.metaLWM, float64(satMul(s.MetaLowWatermark, dm.MetadataBlockBytes)))
	}
	if table != nil {
		used, size := s.DataBytes(table.BlockSizeSectors)
		gauge(c.dataUsed, float64(used))
		gauge(c.dataSize, float64(size))
	}
	return true
}

// attrProblems reports unusable sysfs attributes once per scrape each: a
// pool's data device is read again after the scan that already saw it.
type attrProblems map[string]bool

func (a attrProblems) report(ctx context.Context, problems []error) {
	for _, p := range problems {
		path := problemPath(p)
		if !a[path] {
			a[path] = true
			reportFileError(ctx, path, fsutil.Reason(p), p)
		}
	}
}

// updateThin exports a thin volume's mapped bytes.
func (c *dmthinCollector) updateThin(ctx context.Context, ch chan<- prometheus.Metric, d *dm.Device, l *dmLive, byDev map[dm.DevNum]*dm.Device) {
	if l == nil {
		return
	}
	target, status := findTarget(l, "thin")
	if target == nil || status == nil {
		return
	}
	t, err := dm.ParseThinTable(target.Params)
	if err != nil {
		reportFileError(ctx, c.livePath("table", d), "garbage", err)
		return
	}
	s, err := dm.ParseThinStatus(status.Params)
	if err != nil {
		reportFileError(ctx, c.livePath("status", d), "garbage", err)
		return
	}
	if s.Fail || s.Error || s.Unavailable {
		return
	}
	pool := t.PoolDev
	if dn, err := dm.ParseDevNum(t.PoolDev); err == nil {
		if p, ok := byDev[dn]; ok && p.Known(dm.AttrName) {
			pool = capLabel(p.Name, dmNameCap)
		}
	}
	ch <- prometheus.MustNewConstMetric(c.mapped, prometheus.GaugeValue, float64(s.MappedBytes()), capLabel(d.Kernel, dmKernelCap), pool)
}

// findTarget returns the first table target of type typ and the status
// line at the same position.
func findTarget(l *dmLive, typ string) (table, status *dm.Target) {
	for i := range l.table {
		if l.table[i].Type != typ {
			continue
		}
		if i < len(l.status) && l.status[i].Type == typ {
			return &l.table[i], &l.status[i]
		}
		return &l.table[i], nil
	}
	return nil, nil
}

func (c *dmthinCollector) livePath(op string, d *dm.Device) string {
	return fmt.Sprintf("%s (%s of %s)", c.source, op, d.Dev())
}

func (c *dmthinCollector) updateMounts(ctx context.Context, ch chan<- prometheus.Metric, byName map[string]*dm.Device) {
	content, path, ok := c.readMounts(ctx)
	if !ok {
		return
	}
	mounts, malformed := dm.MountDiscard(content)
	if malformed > 0 {
		// The well-formed lines are still used.
		reportFileError(ctx, path, "garbage", fmt.Errorf("%w: %d lines are not mounts lines", fsutil.ErrGarbage, malformed))
	}
	type key struct{ device, mountpoint, fstype string }
	seen := map[key]int{}
	var order []key
	var modes []string
	for _, m := range mounts {
		k := key{device: c.mountDevice(m.Device, byName), mountpoint: capLabel(m.MountPoint, mountCap), fstype: capLabel(m.FSType, fstypeCap)}
		// A later line is a mount stacked on top: it is the one in effect.
		if i, ok := seen[k]; ok {
			modes[i] = m.Discard
			continue
		}
		if len(order) >= maxDMMounts {
			continue
		}
		seen[k] = len(order)
		order = append(order, k)
		modes = append(modes, m.Discard)
	}
	for i, k := range order {
		for _, mode := range mountModes {
			ch <- prometheus.MustNewConstMetric(c.mountDiscard, prometheus.GaugeValue, boolFloat(modes[i] == mode), k.device, k.mountpoint, k.fstype, mode)
		}
	}
}

// mountDevice names a mount source by its dm-N kernel name.
func (c *dmthinCollector) mountDevice(source string, byName map[string]*dm.Device) string {
	if name, ok := strings.CutPrefix(source, "/dev/mapper/"); ok {
		if d, ok := byName[name]; ok {
			return capLabel(d.Kernel, dmKernelCap)
		}
	}
	if kernel, ok := strings.CutPrefix(source, "/dev/"); ok && strings.HasPrefix(kernel, "dm-") {
		return capLabel(kernel, dmKernelCap)
	}
	return capLabel(source, mountCap)
}

// readMounts prefers PID 1's mount table: with the host's procfs (or the
// host PID namespace) that is the host's mount namespace, while
// <procfs>/self is the exporter's own, which in a container is not.
func (c *dmthinCollector) readMounts(ctx context.Context) (content, path string, ok bool) {
	p := c.cfg.Proc("1", "mounts")
	b, err := treeFor(ctx, p).ReadFile(p, maxMountsBytes)
	if err == nil {
		return string(b), p, true
	}
	if !fsutil.IsNotExist(err) && !errors.Is(err, fs.ErrPermission) {
		check(ctx, p, err)
		return "", p, false
	}
	// hidepid= or a procfs without PID 1 (a fixture, a private namespace).
	p = c.cfg.Proc("self", "mounts")
	b, ok = readBytes(ctx, p, maxMountsBytes)
	return string(b), p, ok
}

// query reads the status (and for thin targets the table) of every
// device known not to be suspended, through one client opened for this
// scrape: a device whose dm/suspended or dev attribute is absent or
// unusable is left alone, since an ioctl on a suspended device may block. queried is false when there was nothing to ask. Only the
// scrape's deadline is returned as an error: a control node that cannot
// be used is reported through reason, a device that cannot be read
// through the file-error metric.
func (c *dmthinCollector) query(ctx context.Context, devs []dm.Device) (live map[dm.DevNum]*dmLive, reason string, queried bool, err error) {
	var want []*dm.Device
	for i := range devs {
		if devs[i].Known(dm.AttrDev|dm.AttrSuspended) && !devs[i].Suspended {
			want = append(want, &devs[i])
		}
	}
	if len(want) == 0 {
		return nil, "", false, nil
	}
	client, err := c.open()
	if err != nil {
		reason := controlReason(err)
		c.noteAccess(reason, err)
		return nil, reason, true, nil
	}
	defer client.Close()
	live = make(map[dm.DevNum]*dmLive, len(want))
	for _, d := range want {
		if err := ctx.Err(); err != nil {
			return nil, "", true, err
		}
		l, err := c.calls.do(ctx, d.Dev(), func() (*dmLive, error) { return readLive(client, d.Dev()) })
		switch {
		case err == nil:
			live[d.Dev()] = l
		case errors.Is(err, errCallStuck):
			reportFileError(ctx, c.livePath("table/status", d), "timeout", err)
		case ctx.Err() != nil:
			return nil, "", true, err
		case errors.Is(err, fs.ErrPermission):
			c.noteAccess(controlPermission, err)
			return nil, controlPermission, true, nil
		case fsutil.IsNotExist(err):
			// Removed since the sysfs scan.
		default:
			reportFileError(ctx, c.livePath("table/status", d), dmErrReason(err), err)
		}
	}
	c.noteAccess(controlOK, nil)
	return live, controlOK, true, nil
}

func controlReason(err error) string {
	switch {
	case errors.Is(err, dm.ErrNotControl):
		return controlNotDevice
	case fsutil.IsNotExist(err):
		return controlAbsent
	case errors.Is(err, fs.ErrPermission):
		return controlPermission
	default:
		return controlError
	}
}

func dmErrReason(err error) string {
	if errors.Is(err, dm.ErrMalformed) || errors.Is(err, dm.ErrBufferFull) || errors.Is(err, dm.ErrSyntax) {
		return "garbage"
	}
	return fsutil.Reason(err)
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
	case reason != controlOK:
		level.Info(c.logger).Log("msg", "cannot read device-mapper tables and status; thin-pool discard, mode and usage metrics are missing (sysfs metrics are kept). They need the control node and CAP_SYS_ADMIN",
			"control", c.source, "reason", reason, "err", err)
	case !first:
		level.Info(c.logger).Log("msg", "device-mapper tables and status are readable again", "control", c.source)
	}
}

// controlOpener opens the real control node, checking first that it is a
// character device so that a misconfigured path never blocks in open.
func controlOpener(path string) func() (dmClient, error) {
	return func() (dmClient, error) {
		fi, err := os.Stat(path)
		if err != nil {
			return nil, err
		}
		if fi.Mode()&fs.ModeCharDevice == 0 {
			return nil, &fs.PathError{Op: "open", Path: path, Err: dm.ErrNotControl}
		}
		return dm.OpenControl(path)
	}
}

// readLive asks for the status first: it names every target's type and
// carries no secrets, whereas a dm-crypt table holds the volume key. The
// table is read only for thin and thin-pool targets.
func readLive(client dm.Client, dev dm.DevNum) (*dmLive, error) {
	status, err := client.Status(dev)
	if err != nil {
		return nil, err
	}
	l := &dmLive{status: status}
	for _, t := range status {
		if t.Type == "thin-pool" || t.Type == "thin" {
			if l.table, err = client.Table(dev); err != nil {
				return nil, err
			}
			break
		}
	}
	return l, nil
}

// fixtureClient reads tables and status as dmsetup prints them from
// <dir>/<major:minor>.table and .status. A missing file is a device
// device-mapper does not know.
type fixtureClient struct{ dir string }

func (f fixtureClient) Table(dev dm.DevNum) ([]dm.Target, error)  { return f.read("table", dev) }
func (f fixtureClient) Status(dev dm.DevNum) ([]dm.Target, error) { return f.read("status", dev) }
func (f fixtureClient) Close() error                              { return nil }

func (f fixtureClient) read(op string, dev dm.DevNum) ([]dm.Target, error) {
	p := filepath.Join(f.dir, dev.String()+"."+op)
	b, err := fsutil.NewTree(f.dir).ReadFile(p, 1<<20)
	if err != nil {
		if fsutil.IsNotExist(err) {
			return nil, &dm.IoctlError{Op: op, Dev: dev, Errno: syscall.ENXIO}
		}
		return nil, err
	}
	var out []dm.Target
	for line := range strings.Lines(string(b)) {
		if strings.TrimSpace(line) == "" {
			continue
		}
		t, err := dm.ParseTargetLine(line)
		if err != nil {
			return nil, fmt.Errorf("%s: %w: %v", p, dm.ErrMalformed, err)
		}
		out = append(out, t)
	}
	return out, nil
}

// satMul multiplies, saturating on garbage.
func satMul(a, b uint64) uint64 {
	if a != 0 && b > ^uint64(0)/a {
		return ^uint64(0)
	}
	return a * b
}

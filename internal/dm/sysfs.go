package dm

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

// Kind is the role of a dm device, from a bounded set suitable as a label.
type Kind string

const (
	// KindThinPool is the device carrying the thin-pool target: LVM's
	// "-tpool" layer (name vg-pool-tpool, uuid suffix -tpool).
	KindThinPool Kind = "thin_pool"
	// KindThinPoolWrapper is LVM's public pool device (uuid suffix -pool),
	// normally a linear mapping onto the -tpool layer. Kinds are read from
	// names only; the DM table says what a device really maps.
	KindThinPoolWrapper Kind = "thin_pool_wrapper"
	// KindThinPoolData is the pool's data sub-LV (name ..._tdata).
	KindThinPoolData Kind = "thin_pool_data"
	// KindThinPoolMetadata is the pool's metadata sub-LV (name ..._tmeta).
	KindThinPoolMetadata Kind = "thin_pool_metadata"
	// KindThinVolume is a thin device provisioned from a pool.
	KindThinVolume Kind = "thin_volume"
	// KindDockerThinPool is a pool made by Docker's devicemapper driver
	// (docker-<maj:min>-<inode>-pool).
	KindDockerThinPool Kind = "docker_thin_pool"
	// KindOther is any other dm device.
	KindOther Kind = "other"
)

// IsThinPool reports whether k carries a thin-pool target, i.e. whether its
// DM table and status are those of a thin pool.
func (k Kind) IsThinPool() bool { return k == KindThinPool || k == KindDockerThinPool }

// Device is one /sys/block/dm-N entry. Files that are missing read as zero
// or empty.
type Device struct {
	Kernel string // "dm-3"
	Name   string // dm/name, e.g. "vg0-pool0-tpool"
	UUID   string // dm/uuid, empty when unset
	Major  uint32
	Minor  uint32
	Kind   Kind

	Slaves  []string // kernel names of the devices this one maps onto
	Holders []string // kernel names of the devices stacked on this one

	// Queue limits in bytes. DiscardMaxBytes 0 means discards are not
	// accepted; DiscardMaxHWBytes 0 means the device cannot discard.
	DiscardGranularity uint64
	DiscardMaxBytes    uint64
	DiscardMaxHWBytes  uint64

	Suspended bool
}

// Dev returns the device number.
func (d Device) Dev() DevNum { return DevNum{Major: d.Major, Minor: d.Minor} }

// DiscardEnabled reports whether the block layer passes discards to this
// device. For a thin volume that means discards reach the pool (which may
// or may not pass them further down).
func (d Device) DiscardEnabled() bool { return d.DiscardMaxBytes > 0 }

const (
	// Bounds keep a scan's work finite on a corrupt or hostile tree.
	maxDevices   = 1 << 16
	maxLinks     = 1 << 12
	maxAttrBytes = 4096
)

// ScanSysfs lists the device-mapper devices under <sysPath>/block, sorted
// by device number. A missing <sysPath>/block yields no devices; a device
// that disappears during the scan is left out.
func ScanSysfs(sysPath string) ([]Device, error) {
	// Everything read must lie inside sysPath: the dm-N links lead to
	// ../devices/virtual/block/dm-N, never out of sysfs.
	t := fsutil.NewTree(sysPath)
	blockDir := filepath.Join(sysPath, "block")
	names, err := readDirNames(t, blockDir, maxDevices)
	if err != nil {
		if fsutil.IsNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	var devs []Device
	for _, n := range names {
		if !strings.HasPrefix(n, "dm-") {
			continue
		}
		d, ok := readDevice(t, filepath.Join(blockDir, n), n)
		if ok {
			devs = append(devs, d)
		}
	}
	classify(devs)
	sort.Slice(devs, func(i, j int) bool {
		if devs[i].Major != devs[j].Major {
			return devs[i].Major < devs[j].Major
		}
		if devs[i].Minor != devs[j].Minor {
			return devs[i].Minor < devs[j].Minor
		}
		return devs[i].Kernel < devs[j].Kernel
	})
	return devs, nil
}

func readDevice(t *fsutil.Tree, dir, kernel string) (Device, bool) {
	// Stat follows the /sys/block symlink; a device removed since the
	// listing is simply gone.
	if _, err := os.Stat(dir); err != nil {
		return Device{}, false
	}
	d := Device{Kernel: kernel}
	d.Name = readAttr(t, filepath.Join(dir, "dm", "name"))
	d.UUID = readAttr(t, filepath.Join(dir, "dm", "uuid"))
	if dn, err := ParseDevNum(readAttr(t, filepath.Join(dir, "dev"))); err == nil {
		d.Major, d.Minor = dn.Major, dn.Minor
	}
	d.Suspended = readAttr(t, filepath.Join(dir, "dm", "suspended")) == "1"
	d.DiscardGranularity, d.DiscardMaxBytes, d.DiscardMaxHWBytes = readDiscard(t, filepath.Join(dir, "queue"))
	d.Slaves, _ = readDirNames(t, filepath.Join(dir, "slaves"), maxLinks)
	d.Holders, _ = readDirNames(t, filepath.Join(dir, "holders"), maxLinks)
	if _, err := os.Stat(dir); err != nil {
		return Device{}, false
	}
	return d, true
}

func readDiscard(t *fsutil.Tree, queueDir string) (gran, maxBytes, maxHW uint64) {
	return readUintAttr(t, filepath.Join(queueDir, "discard_granularity")),
		readUintAttr(t, filepath.Join(queueDir, "discard_max_bytes")),
		readUintAttr(t, filepath.Join(queueDir, "discard_max_hw_bytes"))
}

func readAttr(t *fsutil.Tree, path string) string {
	b, err := t.ReadFile(path, maxAttrBytes)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func readUintAttr(t *fsutil.Tree, path string) uint64 {
	v, err := strconv.ParseUint(readAttr(t, path), 10, 64)
	if err != nil {
		return 0
	}
	return v
}

// readDirNames lists at most max entries of dir, sorted. A FIFO in the
// directory's place is refused instead of blocking the open.
func readDirNames(t *fsutil.Tree, dir string, max int) ([]string, error) {
	f, err := t.OpenDir(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var names []string
	for len(names) < max {
		batch, err := f.Readdirnames(256)
		names = append(names, batch...)
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, err
		}
	}
	if len(names) > max {
		names = names[:max]
	}
	sort.Strings(names)
	return names, nil
}

var dockerPoolName = regexp.MustCompile(`^docker-[0-9]+:[0-9]+-[0-9]+-pool$`)

// lvmLayer returns the layer suffix of an LVM dm uuid
// ("LVM-<vg uuid><lv uuid>[-layer]"), and whether the uuid is LVM's.
func lvmLayer(uuid string) (layer string, ok bool) {
	rest, found := strings.CutPrefix(uuid, "LVM-")
	if !found {
		return "", false
	}
	if i := strings.IndexByte(rest, '-'); i >= 0 {
		return rest[i+1:], true
	}
	return "", true
}

// kindFromNames classifies by name and uuid alone. Older lvm2 releases do
// not put the -tdata/-tmeta/-pool suffix on the uuid, so the dm name is the
// fallback.
func kindFromNames(name, uuid string) Kind {
	if dockerPoolName.MatchString(name) {
		return KindDockerThinPool
	}
	layer, isLVM := lvmLayer(uuid)
	switch layer {
	case "tpool":
		return KindThinPool
	case "pool":
		return KindThinPoolWrapper
	case "tdata":
		return KindThinPoolData
	case "tmeta":
		return KindThinPoolMetadata
	}
	if _, lv, nameLayer, ok := SplitLVMName(name); ok && (isLVM || uuid == "") {
		switch {
		case nameLayer == "tpool":
			return KindThinPool
		case nameLayer == "" && strings.HasSuffix(lv, "_tdata"):
			return KindThinPoolData
		case nameLayer == "" && strings.HasSuffix(lv, "_tmeta"):
			return KindThinPoolMetadata
		}
	}
	return KindOther
}

// classify sets Kind on every device. Thin volumes are recognised by
// sitting on a thin pool as their only slave.
func classify(devs []Device) {
	byKernel := make(map[string]int, len(devs))
	for i := range devs {
		devs[i].Kind = kindFromNames(devs[i].Name, devs[i].UUID)
		byKernel[devs[i].Kernel] = i
	}
	for i := range devs {
		d := &devs[i]
		if d.Kind != KindOther || len(d.Slaves) != 1 {
			continue
		}
		j, ok := byKernel[d.Slaves[0]]
		if !ok || !devs[j].Kind.IsThinPool() {
			continue
		}
		// Without the uuid suffix, LVM's public pool device looks like a
		// thin volume on the -tpool layer; its name gives it away.
		if devs[j].Kind == KindThinPool && d.Name+"-tpool" == devs[j].Name {
			d.Kind = KindThinPoolWrapper
			continue
		}
		if layer, isLVM := lvmLayer(d.UUID); isLVM && layer != "" {
			continue
		}
		d.Kind = KindThinVolume
	}
}

// SplitLVMName splits an LVM dm name into volume group, logical volume and
// layer. LVM doubles every '-' inside VG and LV names, so a single '-' is a
// separator: "my--vg-pool0-tpool" is VG "my-vg", LV "pool0", layer "tpool".
// ok is false when the name is not of that shape.
func SplitLVMName(name string) (vg, lv, layer string, ok bool) {
	var parts [2]strings.Builder
	part := 0
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c != '-' {
			parts[part].WriteByte(c)
			continue
		}
		if i+1 < len(name) && name[i+1] == '-' {
			parts[part].WriteByte('-')
			i++
			continue
		}
		if part == 1 {
			layer = name[i+1:]
			if layer == "" {
				return "", "", "", false
			}
			break
		}
		part++
	}
	vg, lv = parts[0].String(), parts[1].String()
	if vg == "" || lv == "" {
		return "", "", "", false
	}
	return vg, lv, layer, true
}

// BlockDev describes any block device (dm or not) found through sysfs.
type BlockDev struct {
	Kernel            string
	Major, Minor      uint32
	Name, UUID        string // dm devices only
	DiscardMaxHWBytes uint64
}

// Dev returns the device number.
func (b BlockDev) Dev() DevNum { return DevNum{Major: b.Major, Minor: b.Minor} }

// CanDiscard reports whether the hardware (or the stacked device below)
// accepts discards at all.
func (b BlockDev) CanDiscard() bool { return b.DiscardMaxHWBytes > 0 }

// ReadBlockDev reads the device number, dm name/uuid and discard limit of
// the block device called kernel (e.g. "dm-1", "sdb", "sda2", "loop0").
// A partition has no queue of its own; its disk's limits apply.
func ReadBlockDev(sysPath, kernel string) (BlockDev, bool) {
	if kernel == "" || strings.ContainsAny(kernel, "/\x00*?[\\") || kernel == "." || kernel == ".." {
		return BlockDev{}, false
	}
	dir := filepath.Join(sysPath, "block", kernel)
	queueDir := filepath.Join(dir, "queue")
	if _, err := os.Stat(dir); err != nil {
		// Partitions live inside their disk's directory.
		matches, _ := filepath.Glob(filepath.Join(sysPath, "block", "*", kernel))
		if len(matches) == 0 {
			return BlockDev{}, false
		}
		dir = matches[0]
		queueDir = filepath.Join(filepath.Dir(dir), "queue")
	}
	t := fsutil.NewTree(sysPath)
	b := BlockDev{Kernel: kernel}
	if dn, err := ParseDevNum(readAttr(t, filepath.Join(dir, "dev"))); err == nil {
		b.Major, b.Minor = dn.Major, dn.Minor
	}
	b.Name = readAttr(t, filepath.Join(dir, "dm", "name"))
	b.UUID = readAttr(t, filepath.Join(dir, "dm", "uuid"))
	_, _, b.DiscardMaxHWBytes = readDiscard(t, queueDir)
	return b, true
}

// PoolDataDevice finds a thin pool's data device among its slaves. With the
// pool's table (may be nil) the slave whose number matches the table's data
// device is chosen; without it, the LVM _tdata sub-LV. ok is false when the
// data device cannot be told apart (e.g. a Docker pool without its table).
func PoolDataDevice(sysPath string, pool Device, table *PoolTable) (BlockDev, bool) {
	var want DevNum
	haveWant := false
	if table != nil {
		if dn, err := ParseDevNum(table.DataDev); err == nil {
			want, haveWant = dn, true
		}
	}
	for _, s := range pool.Slaves {
		b, ok := ReadBlockDev(sysPath, s)
		if !ok {
			continue
		}
		if haveWant {
			if b.Major == want.Major && b.Minor == want.Minor {
				return b, true
			}
			continue
		}
		if kindFromNames(b.Name, b.UUID) == KindThinPoolData {
			return b, true
		}
	}
	return BlockDev{}, false
}

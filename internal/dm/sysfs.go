package dm

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
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

// Device is one /sys/block/dm-N entry. Has says which attributes were
// read; the field of one that is absent or unusable is zero and means
// nothing (a missing dm/suspended is not "not suspended").
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

	// Has holds the attributes that were read and parsed; Bad those that
	// exist but could not be used. An attribute in neither is absent.
	Has, Bad Attrs
	// Problems says why each Bad attribute could not be used: an
	// *fs.PathError whose cause fsutil.Reason names (permission,
	// not_regular, too_large, symlink, garbage, io).
	Problems []error
}

// Attrs is a set of sysfs attributes of a block device.
type Attrs uint16

// The attributes ScanSysfs and ReadBlockDev read.
const (
	AttrDev                Attrs = 1 << iota // dev
	AttrName                                 // dm/name
	AttrUUID                                 // dm/uuid
	AttrSuspended                            // dm/suspended
	AttrDiscardGranularity                   // queue/discard_granularity
	AttrDiscardMaxBytes                      // queue/discard_max_bytes
	AttrDiscardMaxHWBytes                    // queue/discard_max_hw_bytes
	AttrSlaves                               // slaves/
	AttrHolders                              // holders/
)

// Known reports whether every attribute of a was read.
func (d Device) Known(a Attrs) bool { return d.Has&a == a }

// NamesKnown reports whether the name, uuid and slaves that Kind is read
// from were all usable (the uuid and slaves may be absent). Otherwise Kind
// is a guess from what could be read.
func (d Device) NamesKnown() bool { return d.Known(AttrName) && d.Bad&(AttrUUID|AttrSlaves) == 0 }

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
	return scanSysfs(fsutil.NewTree(sysPath), sysPath)
}

func scanSysfs(t *fsutil.Tree, sysPath string) ([]Device, error) {
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
	r := attrReader{tree: t}
	d.Name = r.name(filepath.Join(dir, "dm", "name"), AttrName)
	d.UUID = r.str(filepath.Join(dir, "dm", "uuid"), AttrUUID)
	d.Major, d.Minor = r.dev(filepath.Join(dir, "dev"))
	d.Suspended = r.flag(filepath.Join(dir, "dm", "suspended"), AttrSuspended)
	d.DiscardGranularity, d.DiscardMaxBytes, d.DiscardMaxHWBytes = r.discard(filepath.Join(dir, "queue"))
	d.Slaves = r.names(filepath.Join(dir, "slaves"), AttrSlaves)
	d.Holders = r.names(filepath.Join(dir, "holders"), AttrHolders)
	if _, err := os.Stat(dir); err != nil {
		return Device{}, false
	}
	d.Has, d.Bad, d.Problems = r.has, r.bad, r.problems
	return d, true
}

// attrReader reads the attributes of one device, remembering which were
// read (has), which exist but are unusable (bad) and why (problems). A
// missing attribute is in neither set: the kernel does not provide it.
type attrReader struct {
	tree     *fsutil.Tree // the sysfs mount the attributes are read below
	has, bad Attrs
	problems []error
}

func (r *attrReader) fail(a Attrs, err error) {
	r.bad |= a
	r.problems = append(r.problems, err)
}

func (r *attrReader) garbage(a Attrs, path, what string) {
	r.fail(a, &fs.PathError{Op: "parse", Path: path, Err: fmt.Errorf("%w: %s", fsutil.ErrGarbage, what)})
}

// read returns the attribute without surrounding white space; ok is false
// when it is absent or unusable.
func (r *attrReader) read(path string, a Attrs) (string, bool) {
	b, err := r.tree.ReadFile(path, maxAttrBytes)
	if err != nil {
		if !fsutil.IsNotExist(err) {
			r.fail(a, err)
		}
		return "", false
	}
	return strings.TrimSpace(string(b)), true
}

// str reads an attribute that may be empty (dm/uuid of a device without
// one).
func (r *attrReader) str(path string, a Attrs) string {
	s, ok := r.read(path, a)
	if ok {
		r.has |= a
	}
	return s
}

// name reads dm/name, which the kernel never leaves empty.
func (r *attrReader) name(path string, a Attrs) string {
	s, ok := r.read(path, a)
	if !ok {
		return ""
	}
	if s == "" {
		r.garbage(a, path, "empty device-mapper name")
		return ""
	}
	r.has |= a
	return s
}

func (r *attrReader) dev(path string) (major, minor uint32) {
	s, ok := r.read(path, AttrDev)
	if !ok {
		return 0, 0
	}
	dn, err := ParseDevNum(s)
	if err != nil {
		r.garbage(AttrDev, path, "not major:minor")
		return 0, 0
	}
	r.has |= AttrDev
	return dn.Major, dn.Minor
}

// flag reads a 0/1 attribute such as dm/suspended.
func (r *attrReader) flag(path string, a Attrs) bool {
	s, ok := r.read(path, a)
	if !ok {
		return false
	}
	if s != "0" && s != "1" {
		r.garbage(a, path, "neither 0 nor 1")
		return false
	}
	r.has |= a
	return s == "1"
}

func (r *attrReader) uint(path string, a Attrs) uint64 {
	s, ok := r.read(path, a)
	if !ok {
		return 0
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		r.garbage(a, path, "not an unsigned decimal")
		return 0
	}
	r.has |= a
	return v
}

func (r *attrReader) discard(queueDir string) (gran, maxBytes, maxHW uint64) {
	return r.uint(filepath.Join(queueDir, "discard_granularity"), AttrDiscardGranularity),
		r.uint(filepath.Join(queueDir, "discard_max_bytes"), AttrDiscardMaxBytes),
		r.uint(filepath.Join(queueDir, "discard_max_hw_bytes"), AttrDiscardMaxHWBytes)
}

func (r *attrReader) names(dir string, a Attrs) []string {
	names, err := readDirNames(r.tree, dir, maxLinks)
	if err != nil {
		if !fsutil.IsNotExist(err) {
			r.fail(a, err)
		}
		return nil
	}
	r.has |= a
	return names
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
// Has, Bad and Problems are as for Device; only AttrDev, AttrName,
// AttrUUID and AttrDiscardMaxHWBytes are read.
type BlockDev struct {
	Kernel            string
	Major, Minor      uint32
	Name, UUID        string // dm devices only
	DiscardMaxHWBytes uint64

	Has, Bad Attrs
	Problems []error
}

// Dev returns the device number.
func (b BlockDev) Dev() DevNum { return DevNum{Major: b.Major, Minor: b.Minor} }

// Known reports whether every attribute of a was read.
func (b BlockDev) Known(a Attrs) bool { return b.Has&a == a }

// CanDiscard reports whether the hardware (or the stacked device below)
// accepts discards at all; meaningful only when AttrDiscardMaxHWBytes is
// known.
func (b BlockDev) CanDiscard() bool { return b.DiscardMaxHWBytes > 0 }

// ReadBlockDev reads the device number, dm name/uuid and discard limit of
// the block device called kernel (e.g. "dm-1", "sdb", "sda2", "loop0").
// A partition has no queue of its own; its disk's limits apply.
func ReadBlockDev(sysPath, kernel string) (BlockDev, bool) {
	return readBlockDev(fsutil.NewTree(sysPath), sysPath, kernel)
}

func readBlockDev(t *fsutil.Tree, sysPath, kernel string) (BlockDev, bool) {
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
	b := BlockDev{Kernel: kernel}
	r := attrReader{tree: t}
	b.Major, b.Minor = r.dev(filepath.Join(dir, "dev"))
	b.Name = r.name(filepath.Join(dir, "dm", "name"), AttrName)
	b.UUID = r.str(filepath.Join(dir, "dm", "uuid"), AttrUUID)
	b.DiscardMaxHWBytes = r.uint(filepath.Join(queueDir, "discard_max_hw_bytes"), AttrDiscardMaxHWBytes)
	b.Has, b.Bad, b.Problems = r.has, r.bad, r.problems
	return b, true
}

// PoolDataDevice finds a thin pool's data device among its slaves. With the
// pool's table (may be nil) the slave whose number matches the table's data
// device is chosen; without it, the LVM _tdata sub-LV. ok is false when the
// data device cannot be told apart (e.g. a Docker pool without its table).
// problems are the unusable attributes of the slaves read on the way; a
// slave whose number (or, without the table, name) is unusable is never
// chosen.
func PoolDataDevice(sysPath string, pool Device, table *PoolTable) (data BlockDev, ok bool, problems []error) {
	t := fsutil.NewTree(sysPath)
	return poolDataDevice(pool, table, func(kernel string) (BlockDev, []error, bool) {
		b, ok := readBlockDev(t, sysPath, kernel)
		return b, b.Problems, ok
	})
}

// poolDataDevice is PoolDataDevice with the slaves looked up through
// slave, which returns a slave's attributes and the problems found reading
// them (none for a device whose problems were reported already).
func poolDataDevice(pool Device, table *PoolTable, slave func(kernel string) (BlockDev, []error, bool)) (data BlockDev, ok bool, problems []error) {
	var want DevNum
	haveWant := false
	if table != nil {
		if dn, err := ParseDevNum(table.DataDev); err == nil {
			want, haveWant = dn, true
		}
	}
	for _, s := range pool.Slaves {
		b, bp, ok := slave(s)
		if !ok {
			continue
		}
		problems = append(problems, bp...)
		if haveWant {
			if b.Known(AttrDev) && b.Major == want.Major && b.Minor == want.Minor {
				return b, true, problems
			}
			continue
		}
		if b.Known(AttrName) && b.Bad&AttrUUID == 0 && kindFromNames(b.Name, b.UUID) == KindThinPoolData {
			return b, true, problems
		}
	}
	return BlockDev{}, false, problems
}

// blockDevAttrs are the attributes a BlockDev holds.
const blockDevAttrs = AttrDev | AttrName | AttrUUID | AttrDiscardMaxHWBytes

// blockDev is what ReadBlockDev would read of d, without its problems.
func (d *Device) blockDev() BlockDev {
	return BlockDev{
		Kernel: d.Kernel, Major: d.Major, Minor: d.Minor, Name: d.Name, UUID: d.UUID,
		DiscardMaxHWBytes: d.DiscardMaxHWBytes,
		Has:               d.Has & blockDevAttrs, Bad: d.Bad & blockDevAttrs,
	}
}

package dm

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

// Client reads the live table and status of dm devices; *Control is the
// real one, *DirSource reads fixtures, tests substitute their own.
type Client interface {
	Table(dev DevNum) ([]Target, error)
	Status(dev DevNum) ([]Target, error)
}

// Source is a Client opened for one Inspect and closed after it.
type Source interface {
	Client
	Close() error
}

// Live is what device-mapper says about one device: its status and, for
// thin and thin-pool targets, its table.
type Live struct {
	Table, Status []Target
}

// ReadLive asks for the status first: it names every target's type and
// carries no secrets, whereas a dm-crypt table holds the volume key. The
// table is read only for thin and thin-pool targets.
func ReadLive(c Client, dev DevNum) (Live, error) {
	status, err := c.Status(dev)
	if err != nil {
		return Live{}, err
	}
	l := Live{Status: status}
	for _, t := range status {
		if t.Type == "thin-pool" || t.Type == "thin" {
			if l.Table, err = c.Table(dev); err != nil {
				return Live{}, err
			}
			break
		}
	}
	return l, nil
}

// ErrBlocked is what Options.Call returns for a device whose earlier read
// is still blocked in the kernel; Inspect reports it as a timeout and goes
// on with the other devices.
var ErrBlocked = errors.New("earlier call still blocked")

// Values of Snapshot.Control: whether the source of tables and status
// could be used, and why not.
const (
	ControlOK         = "ok"
	ControlAbsent     = "no_control_node"
	ControlPermission = "permission_denied"
	ControlNotDevice  = "not_a_device"
	ControlError      = "error"
)

// PoolModes are the values of Pool.Mode: the kernel's three live modes,
// fail mode (status "Fail": all I/O errors) and error (status "Error": the
// kernel could not read the pool's metadata to report).
var PoolModes = [...]string{ModeReadWrite, ModeReadOnly, ModeOutOfDataSpace, ModeFail, ModeError}

// Pool modes beyond the ones the kernel prints as a mode.
const (
	ModeFail  = "fail"
	ModeError = "error"
)

// MountDiscardModes are the values of Mount.Discard.
var MountDiscardModes = [...]string{MountDiscardOff, MountDiscardOn, MountDiscardAsync}

// MaxMountsBytes caps the mount table; a larger one is refused (too_large).
const MaxMountsBytes = 8 << 20

// Options says where Inspect reads the host and how it reaches
// device-mapper.
type Options struct {
	SysPath  string // the sysfs mount, /sys
	ProcPath string // the procfs mount, /proc
	// ReadFile reads the mount table, at most max bytes: the caller's
	// guarded reader. Nil uses fsutil.ReadFile.
	ReadFile func(path string, max int64) ([]byte, error)
	// Open opens the source of tables and status, at most once and only
	// when some device can be queried. Nil queries no device.
	Open func() (Source, error)
	// SourceName names the source in problems:
	// "<SourceName> (status of 253:2)".
	SourceName string
	// Call runs read, which reads dev's Live through the open source and
	// may block in the kernel (an ioctl on a device being suspended): the
	// caller can run it off its goroutine and stop waiting at its
	// deadline, returning ctx's error, or ErrBlocked for a device whose
	// earlier read has not returned. Nil calls read directly.
	Call func(dev DevNum, read func() (Live, error)) (Live, error)
}

// Snapshot is what Inspect found.
type Snapshot struct {
	// Devices are the dm devices in sysfs, sorted by device number.
	Devices []Device
	// Queried is set when some device could be queried (its number is
	// known and it is known not to be suspended); Control then says
	// whether the source could be used (one of the Control* values) and
	// ControlErr why not.
	Queried    bool
	Control    string
	ControlErr error
	// Pools are the thin pools in device order: the devices whose table
	// has a thin-pool target or, without a table, whose name says so.
	// A pool whose name is unusable is left out.
	Pools []Pool
	// Thins are the thin volumes whose table and status were read.
	Thins []ThinVolume
	// Mounts are the file systems mounted from dm devices, in mount table
	// order, stacked mounts included.
	Mounts []Mount
	// Problems are the inputs that exist but could not be used; whatever
	// depends on one is left out of the snapshot.
	Problems []Problem
}

// Problem is an input Inspect could not use.
type Problem struct {
	Path   string // the file, or "<source> (status of 253:2)"
	Reason string // fsutil.Reason's vocabulary, or "timeout"
	Err    error
}

// PoolValues are the sets of Pool fields that are known.
type PoolValues uint16

const (
	// PoolHasTable: DiscardEnabled, PassdownConfigured and
	// LowWaterMarkBytes, from the pool's table.
	PoolHasTable PoolValues = 1 << iota
	// PoolHasDataDevice: DataDiscardCapable, from the data device's
	// queue/discard_max_hw_bytes.
	PoolHasDataDevice
	// The values below come from the pool's status.
	PoolHasMode
	PoolHasPassdownEffective // absent on kernels whose status does not say
	PoolHasErrorIfNoSpace    // from the table on older kernels and in fail mode
	PoolHasNeedsCheck
	PoolHasMetadataUsage // MetadataUsedBytes and MetadataSizeBytes
	PoolHasMetadataLowWaterMark
	PoolHasDataUsage // DataUsedBytes and DataSizeBytes; needs the table too
)

// Pool is a thin pool: its table's settings, its data device's discard
// capability and its status. Has says which fields are known.
type Pool struct {
	Kernel string // dm-N of the thin-pool target device
	Name   string // its DM name
	Has    PoolValues

	DiscardEnabled     bool   // the table lacks ignore_discard
	PassdownConfigured bool   // the table requests discard passdown
	LowWaterMarkBytes  uint64 // the table's low water mark times its block size
	DataDiscardCapable bool   // the data device's discard_max_hw_bytes > 0

	Mode                      string // one of PoolModes
	PassdownEffective         bool   // the status says discard_passdown
	ErrorIfNoSpace            bool
	NeedsCheck                bool
	MetadataUsedBytes         uint64
	MetadataSizeBytes         uint64
	MetadataLowWaterMarkBytes uint64
	DataUsedBytes             uint64
	DataSizeBytes             uint64
}

// Known reports whether every value of v is known.
func (p *Pool) Known(v PoolValues) bool { return p.Has&v == v }

// ThinVolume is a thin device whose status was read.
type ThinVolume struct {
	Kernel string // dm-N
	// PoolName is the DM name of its pool's device, "" when that device
	// is not in sysfs or its name is unusable; PoolDev is the pool's
	// major:minor as the thin table writes it.
	PoolName    string
	PoolDev     string
	MappedBytes uint64
}

// ControlReason says why the source of tables and status could not be
// opened or used, as one of the Control* values.
func ControlReason(err error) string {
	switch {
	case errors.Is(err, ErrNotControl):
		return ControlNotDevice
	case fsutil.IsNotExist(err):
		return ControlAbsent
	case errors.Is(err, fs.ErrPermission):
		return ControlPermission
	default:
		return ControlError
	}
}

// Inspect reads the host's device-mapper devices from sysfs, the live
// table and status of each one that can safely be queried, and the mount
// table, and puts together its thin pools, thin volumes and dm mounts.
// A host without dm devices yields an empty Snapshot, and no source is
// opened. Inspect returns an error only when ctx ends while devices are
// being queried: ctx's error, with the problems found so far.
func Inspect(ctx context.Context, o Options) (Snapshot, error) {
	in := inspection{o: o, tree: fsutil.NewTree(o.SysPath)}
	devs, err := scanSysfs(in.tree, o.SysPath)
	if err != nil {
		in.problem(filepath.Join(o.SysPath, "block"), err)
		return in.s, nil
	}
	if len(devs) == 0 {
		// No device mapper in use: nothing to say, and no reason to touch
		// the source.
		return in.s, nil
	}
	in.s.Devices = devs
	for i := range devs {
		for _, p := range devs[i].Problems {
			in.problem(problemPath(p), p)
		}
	}
	if err := in.query(ctx); err != nil {
		return in.s, err
	}
	for i := range devs {
		if !in.pool(i) {
			in.thin(i)
		}
	}
	in.mounts()
	return in.s, nil
}

// inspection is the state of one Inspect.
type inspection struct {
	o    Options
	tree *fsutil.Tree // the sysfs tree
	s    Snapshot
	// live[i] is what device-mapper said about Devices[i], when read.
	live     []Live
	haveLive []bool
	byKernel map[string]int // index in Devices by kernel name, built on first use
}

// problem records an unusable file; an error meaning absence is none.
func (in *inspection) problem(path string, err error) {
	if !fsutil.IsNotExist(err) {
		in.s.Problems = append(in.s.Problems, Problem{Path: path, Reason: fsutil.Reason(err), Err: err})
	}
}

// liveProblem records an unusable table or status of Devices[i].
func (in *inspection) liveProblem(op string, i int, reason string, err error) {
	path := fmt.Sprintf("%s (%s of %s)", in.o.SourceName, op, in.s.Devices[i].Dev())
	in.s.Problems = append(in.s.Problems, Problem{Path: path, Reason: reason, Err: err})
}

// query reads the live table and status of every device known not to be
// suspended, through one source opened for this inspection: a device whose
// dm/suspended or dev attribute is absent or unusable is left alone, since
// an ioctl on a suspended device may block. A source that cannot be used
// is recorded in Control, a device that cannot be read in Problems.
func (in *inspection) query(ctx context.Context) error {
	devs := in.s.Devices
	want := 0
	for i := range devs {
		if queryable(&devs[i]) {
			want++
		}
	}
	if want == 0 || in.o.Open == nil {
		return nil
	}
	in.s.Queried = true
	src, err := in.o.Open()
	if err != nil {
		in.s.Control, in.s.ControlErr = ControlReason(err), err
		return nil
	}
	defer src.Close()
	call := in.o.Call
	if call == nil {
		call = func(_ DevNum, read func() (Live, error)) (Live, error) { return read() }
	}
	live, have := make([]Live, len(devs)), make([]bool, len(devs))
	for i := range devs {
		if !queryable(&devs[i]) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		dev := devs[i].Dev()
		l, err := call(dev, func() (Live, error) { return ReadLive(src, dev) })
		switch {
		case err == nil:
			live[i], have[i] = l, true
		case errors.Is(err, ErrBlocked):
			in.liveProblem("table/status", i, "timeout", err)
		case ctx.Err() != nil:
			return err
		case errors.Is(err, fs.ErrPermission):
			// Missing privilege is not a file error: every device would
			// fail the same way.
			in.s.Control, in.s.ControlErr = ControlPermission, err
			return nil
		case fsutil.IsNotExist(err):
			// Removed since the sysfs scan.
		default:
			in.liveProblem("table/status", i, liveReason(err), err)
		}
	}
	in.s.Control = ControlOK
	in.live, in.haveLive = live, have
	return nil
}

func queryable(d *Device) bool { return d.Known(AttrDev|AttrSuspended) && !d.Suspended }

func liveReason(err error) string {
	if errors.Is(err, ErrMalformed) || errors.Is(err, ErrBufferFull) || errors.Is(err, ErrSyntax) {
		return "garbage"
	}
	return fsutil.Reason(err)
}

// target returns the first table target of Devices[i] of type typ and the
// status line at the same position.
func (in *inspection) target(i int, typ string) (table, status *Target) {
	if in.haveLive == nil || !in.haveLive[i] {
		return nil, nil
	}
	l := &in.live[i]
	for j := range l.Table {
		if l.Table[j].Type != typ {
			continue
		}
		if j < len(l.Status) && l.Status[j].Type == typ {
			return &l.Table[j], &l.Status[j]
		}
		return &l.Table[j], nil
	}
	return nil, nil
}

// pool adds Devices[i] to Pools and reports whether it is a thin pool (by
// its DM table when read, else by its name).
func (in *inspection) pool(i int) bool {
	d := &in.s.Devices[i]
	target, status := in.target(i, "thin-pool")
	if target == nil && !d.Kind.IsThinPool() {
		return false
	}
	if !d.Known(AttrName) {
		// A pool is known by its name; without it nothing can be said
		// about the pool (the unusable name is already reported).
		return true
	}
	p := Pool{Kernel: d.Kernel, Name: d.Name}
	var table *PoolTable
	if target != nil {
		t, err := ParsePoolTable(target.Params)
		if err != nil {
			in.liveProblem("table", i, "garbage", err)
		} else {
			table = &t
			p.Has |= PoolHasTable
			p.DiscardEnabled = !t.Features.IgnoreDiscard
			p.PassdownConfigured = t.RequestsDiscardPassdown()
			p.LowWaterMarkBytes = mulSat(t.LowWaterMark, t.DataBlockBytes())
		}
	}
	data, ok, problems := poolDataDevice(*d, table, in.slave)
	for _, e := range problems {
		in.attrProblem(e)
	}
	if ok && data.Known(AttrDiscardMaxHWBytes) {
		p.Has |= PoolHasDataDevice
		p.DataDiscardCapable = data.CanDiscard()
	}
	if status != nil {
		in.poolStatus(&p, i, status, table)
	}
	in.s.Pools = append(in.s.Pools, p)
	return true
}

// poolStatus fills in what the pool's status says.
func (in *inspection) poolStatus(p *Pool, i int, status *Target, table *PoolTable) {
	s, err := ParsePoolStatus(status.Params)
	if err != nil {
		in.liveProblem("status", i, "garbage", err)
		return
	}
	p.Has |= PoolHasMode
	switch {
	case s.Fail:
		p.Mode = ModeFail
	case s.Error:
		p.Mode = ModeError
	default:
		p.Mode = s.Mode
	}
	if s.Fail || s.Error {
		if table != nil {
			p.Has |= PoolHasErrorIfNoSpace
			p.ErrorIfNoSpace = table.Features.ErrorIfNoSpace
		}
		return
	}
	if s.Discard != DiscardUnknown {
		p.Has |= PoolHasPassdownEffective
		p.PassdownEffective = s.Discard == DiscardPassdown
	}
	switch {
	case s.Fields > 6:
		p.Has |= PoolHasErrorIfNoSpace
		p.ErrorIfNoSpace = s.ErrorIfNoSpace
	case table != nil:
		p.Has |= PoolHasErrorIfNoSpace
		p.ErrorIfNoSpace = table.Features.ErrorIfNoSpace
	}
	if s.Fields > 7 {
		p.Has |= PoolHasNeedsCheck
		p.NeedsCheck = s.NeedsCheck
	}
	p.Has |= PoolHasMetadataUsage
	p.MetadataUsedBytes, p.MetadataSizeBytes = s.MetaBytes()
	if s.HasMetaLowWatermark {
		p.Has |= PoolHasMetadataLowWaterMark
		p.MetadataLowWaterMarkBytes = mulSat(s.MetaLowWatermark, MetadataBlockBytes)
	}
	if table != nil {
		p.Has |= PoolHasDataUsage
		p.DataUsedBytes, p.DataSizeBytes = s.DataBytes(table.BlockSizeSectors)
	}
}

// slave looks a pool's slave up among the scanned devices, whose problems
// are already recorded, and reads any other block device from sysfs.
func (in *inspection) slave(kernel string) (BlockDev, []error, bool) {
	if in.byKernel == nil {
		in.byKernel = make(map[string]int, len(in.s.Devices))
		for i := range in.s.Devices {
			in.byKernel[in.s.Devices[i].Kernel] = i
		}
	}
	if i, ok := in.byKernel[kernel]; ok {
		return in.s.Devices[i].blockDev(), nil, true
	}
	b, ok := readBlockDev(in.tree, in.o.SysPath, kernel)
	return b, b.Problems, ok
}

// attrProblem records an unusable attribute of a pool's slave once: two
// pools may name the same one.
func (in *inspection) attrProblem(err error) {
	path := problemPath(err)
	for _, p := range in.s.Problems {
		if p.Path == path {
			return
		}
	}
	in.s.Problems = append(in.s.Problems, Problem{Path: path, Reason: fsutil.Reason(err), Err: err})
}

// thin adds Devices[i] to Thins when it is a readable thin volume.
func (in *inspection) thin(i int) {
	target, status := in.target(i, "thin")
	if target == nil || status == nil {
		return
	}
	t, err := ParseThinTable(target.Params)
	if err != nil {
		in.liveProblem("table", i, "garbage", err)
		return
	}
	s, err := ParseThinStatus(status.Params)
	if err != nil {
		in.liveProblem("status", i, "garbage", err)
		return
	}
	if s.Fail || s.Error || s.Unavailable {
		return
	}
	v := ThinVolume{Kernel: in.s.Devices[i].Kernel, PoolDev: t.PoolDev, MappedBytes: s.MappedBytes()}
	if dn, err := ParseDevNum(t.PoolDev); err == nil {
		if p := in.byDev(dn); p != nil && p.Known(AttrName) {
			v.PoolName = p.Name
		}
	}
	in.s.Thins = append(in.s.Thins, v)
}

// byDev returns the device numbered dn (the last of several that claim
// it), or nil.
func (in *inspection) byDev(dn DevNum) *Device {
	devs := in.s.Devices
	// Devices are sorted by number, then kernel name.
	j := sort.Search(len(devs), func(k int) bool {
		return devs[k].Major > dn.Major || devs[k].Major == dn.Major && devs[k].Minor > dn.Minor
	})
	for j--; j >= 0 && devs[j].Major == dn.Major && devs[j].Minor == dn.Minor; j-- {
		if devs[j].Known(AttrDev) {
			return &devs[j]
		}
	}
	return nil
}

// mounts reads the dm mounts from the mount table of PID 1: with the
// host's procfs (or the host PID namespace) that is the host's mount
// namespace, while <procfs>/self is the exporter's own, which in a
// container is not.
func (in *inspection) mounts() {
	read := in.o.ReadFile
	if read == nil {
		read = fsutil.ReadFile
	}
	p := filepath.Join(in.o.ProcPath, "1", "mounts")
	b, err := read(p, MaxMountsBytes)
	if err != nil && (fsutil.IsNotExist(err) || errors.Is(err, fs.ErrPermission)) {
		// hidepid= or a procfs without PID 1 (a fixture, a private
		// namespace).
		p = filepath.Join(in.o.ProcPath, "self", "mounts")
		b, err = read(p, MaxMountsBytes)
	}
	if err != nil {
		in.problem(p, err)
		return
	}
	mounts, malformed := MountDiscard(string(b))
	if malformed > 0 {
		// The well-formed lines are still used.
		in.s.Problems = append(in.s.Problems, Problem{Path: p, Reason: "garbage",
			Err: fmt.Errorf("%w: %d lines are not mounts lines", fsutil.ErrGarbage, malformed)})
	}
	var byName map[string]int
	for k := range mounts {
		m := &mounts[k]
		if kernel, ok := strings.CutPrefix(m.Device, "/dev/"); ok && strings.HasPrefix(kernel, "dm-") {
			m.Kernel = kernel
			continue
		}
		name, ok := strings.CutPrefix(m.Device, "/dev/mapper/")
		if !ok {
			continue
		}
		if byName == nil {
			byName = make(map[string]int, len(in.s.Devices))
			for i := range in.s.Devices {
				if in.s.Devices[i].Known(AttrName) {
					byName[in.s.Devices[i].Name] = i
				}
			}
		}
		if i, ok := byName[name]; ok {
			m.Kernel = in.s.Devices[i].Kernel
		}
	}
	in.s.Mounts = mounts
}

// problemPath is the path an error names, or its text when it names none.
func problemPath(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Path
	}
	return err.Error()
}

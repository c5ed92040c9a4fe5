package dm

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

const thinpoolProfile = "../../testdata/profiles/thinpool"

// fakeSource serves tables and status as dmsetup prints them, keyed by
// device number, and counts the calls.
type fakeSource struct {
	mu            sync.Mutex
	table, status map[DevNum]string
	err           error // returned by every call when set
	calls         map[string]int
}

func newFakeSource() *fakeSource {
	return &fakeSource{table: map[DevNum]string{}, status: map[DevNum]string{}, calls: map[string]int{}}
}

// set loads a device's table and status, each a target line or the name
// of a file in testdata/targets.
func (f *fakeSource) set(t *testing.T, dev, table, status string) {
	t.Helper()
	dn, err := ParseDevNum(dev)
	if err != nil {
		t.Fatal(err)
	}
	read := func(s string) string {
		if strings.HasSuffix(s, ".table") || strings.HasSuffix(s, ".status") {
			b, err := os.ReadFile(filepath.Join("testdata", "targets", s))
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
		return s
	}
	f.table[dn], f.status[dn] = read(table), read(status)
}

func (f *fakeSource) linear(t *testing.T, devs ...string) {
	for _, d := range devs {
		f.set(t, d, "0 2048 linear 8:2 2048", "0 2048 linear ")
	}
}

func (f *fakeSource) Table(dev DevNum) ([]Target, error)  { return f.call("table", dev) }
func (f *fakeSource) Status(dev DevNum) ([]Target, error) { return f.call("status", dev) }
func (f *fakeSource) Close() error                        { return nil }

func (f *fakeSource) call(op string, dev DevNum) ([]Target, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[op+" "+dev.String()]++
	if f.err != nil {
		return nil, f.err
	}
	text, known := f.table[dev]
	if op == "status" {
		text = f.status[dev]
	}
	if !known {
		return nil, &IoctlError{Op: op, Dev: dev, Errno: syscall.ENXIO}
	}
	var out []Target
	for line := range strings.Lines(text) {
		tg, err := ParseTargetLine(line)
		if err != nil {
			return nil, err
		}
		out = append(out, tg)
	}
	return out, nil
}

func (f *fakeSource) open() (Source, error) { return f, nil }

func inspect(t *testing.T, o Options) Snapshot {
	t.Helper()
	s, err := Inspect(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// reasons counts problems by reason.
func reasons(s Snapshot) map[string]int {
	m := map[string]int{}
	for _, p := range s.Problems {
		m[p.Reason]++
	}
	return m
}

func pools(s Snapshot) map[string]Pool {
	m := map[string]Pool{}
	for _, p := range s.Pools {
		m[p.Name] = p
	}
	return m
}

// thinpoolOptions inspects the thinpool fixture host (or a copy of it at
// dir), reading tables and status from its dmsetup files.
func thinpoolOptions(dir string) Options {
	src := NewDirSource(filepath.Join(dir, "dm"))
	return Options{
		SysPath: filepath.Join(dir, "sys"), ProcPath: filepath.Join(dir, "proc"),
		Open: func() (Source, error) { return src, nil }, SourceName: filepath.Join(dir, "dm"),
	}
}

func TestInspectThinpoolProfile(t *testing.T) {
	s := inspect(t, thinpoolOptions(thinpoolProfile))
	if len(s.Problems) != 0 {
		t.Errorf("problems: %+v", s.Problems)
	}
	if len(s.Devices) != 25 || !s.Queried || s.Control != ControlOK {
		t.Errorf("%d devices, queried %v, control %q", len(s.Devices), s.Queried, s.Control)
	}
	got := pools(s)
	if len(got) != 5 {
		t.Errorf("pools: %+v", s.Pools)
	}
	all := PoolHasTable | PoolHasDataDevice | PoolHasMode | PoolHasPassdownEffective | PoolHasErrorIfNoSpace |
		PoolHasNeedsCheck | PoolHasMetadataUsage | PoolHasMetadataLowWaterMark | PoolHasDataUsage
	want := Pool{
		Kernel: "dm-2", Name: "vg0-pool0-tpool", Has: all,
		DiscardEnabled: true, PassdownConfigured: true, DataDiscardCapable: true,
		Mode: ModeReadWrite, PassdownEffective: true,
		MetadataUsedBytes: 5054464, MetadataSizeBytes: 67108864, MetadataLowWaterMarkBytes: 4194304,
	}
	p := got["vg0-pool0-tpool"]
	if p.DataSizeBytes == 0 || p.DataUsedBytes == 0 {
		t.Errorf("no data usage: %+v", p)
	}
	p.DataUsedBytes, p.DataSizeBytes = 0, 0
	if p != want {
		t.Errorf("vg0-pool0-tpool:\n got %+v\nwant %+v", p, want)
	}
	// The fail-mode pool keeps its table's settings and no status values
	// but its mode.
	broken := got["vg1-broken-tpool"]
	if broken.Mode != ModeFail || !broken.ErrorIfNoSpace || broken.Known(PoolHasDataUsage) || broken.Known(PoolHasPassdownEffective) || broken.Known(PoolHasNeedsCheck) {
		t.Errorf("vg1-broken-tpool: %+v", broken)
	}
	if m := got["vg1-meta-tpool"]; m.Mode != ModeReadOnly || !m.NeedsCheck {
		t.Errorf("vg1-meta-tpool: %+v", m)
	}
	if m := got["vg1-full-tpool"]; m.Mode != ModeOutOfDataSpace {
		t.Errorf("vg1-full-tpool: %+v", m)
	}
	if m := got["vg--data-pool0-tpool"]; m.DiscardEnabled || m.PassdownConfigured || !m.Known(PoolHasTable) {
		t.Errorf("vg--data-pool0-tpool: %+v", m)
	}
	thins := map[string]ThinVolume{}
	for _, v := range s.Thins {
		thins[v.Kernel] = v
	}
	if v := thins["dm-4"]; v != (ThinVolume{Kernel: "dm-4", PoolName: "vg0-pool0-tpool", PoolDev: "253:2", MappedBytes: 2682257408}) {
		t.Errorf("dm-4: %+v", v)
	}
	if _, ok := thins["dm-24"]; ok || len(thins) != 4 {
		t.Errorf("thin volumes (none of a failed pool): %+v", s.Thins)
	}
	mounts := map[string]string{}
	for _, m := range s.Mounts {
		mounts[m.MountPoint] = m.Kernel + " " + m.Discard
	}
	for mp, want := range map[string]string{"/srv/data": "dm-4 on", "/var/lib/libvirt/images": "dm-5 off", "/srv/ci": "dm-10 off", "/srv/build cache": "dm-15 async"} {
		if mounts[mp] != want {
			t.Errorf("mount %s: %q, want %q", mp, mounts[mp], want)
		}
	}
}

// TestInspectQueriesSafely: the status is asked first and the table only of
// thin and thin-pool targets (a dm-crypt table holds its key); a device
// that is, or may be, suspended is not queried at all.
func TestInspectQueriesSafely(t *testing.T) {
	sys := copyTree(t, fixtureSys("lvm-passdown"))
	os.WriteFile(filepath.Join(sys, "block/dm-5/dm/suspended"), []byte("1\n"), 0o644)
	plant(t, filepath.Join(sys, "block/dm-4/dm/suspended"), "fifo", "")
	f := newFakeSource()
	f.linear(t, "253:0", "253:1", "253:3")
	f.set(t, "253:2", "pool-normal.table", "pool-normal.status")
	f.set(t, "253:4", "thin.table", "thin.status")
	f.set(t, "253:5", "thin.table", "thin.status")
	s := inspect(t, Options{SysPath: sys, ProcPath: t.TempDir(), Open: f.open})
	want := map[string]int{"status 253:0": 1, "status 253:1": 1, "status 253:2": 1, "table 253:2": 1, "status 253:3": 1}
	if len(f.calls) != len(want) {
		t.Errorf("calls %v, want %v", f.calls, want)
	}
	for k, n := range want {
		if f.calls[k] != n {
			t.Errorf("calls %v, want %v", f.calls, want)
		}
	}
	if r := reasons(s); len(r) != 1 || r["not_regular"] != 1 {
		t.Errorf("problems: %+v", s.Problems)
	}
	if len(s.Thins) != 0 || len(s.Pools) != 1 || !s.Pools[0].Known(PoolHasMode) {
		t.Errorf("pools %+v, thins %+v", s.Pools, s.Thins)
	}
}

func TestInspectControl(t *testing.T) {
	sys := fixtureSys("lvm-passdown")
	for _, c := range []struct {
		name string
		open error
		call error
		want string
	}{
		{"absent", &fs.PathError{Op: "stat", Path: "/dev/mapper/control", Err: syscall.ENOENT}, nil, ControlAbsent},
		{"not a device", &fs.PathError{Op: "open", Path: "/x", Err: ErrNotControl}, nil, ControlNotDevice},
		{"open denied", &fs.PathError{Op: "open", Path: "/x", Err: syscall.EACCES}, nil, ControlPermission},
		{"open fails", &fs.PathError{Op: "open", Path: "/x", Err: syscall.EIO}, nil, ControlError},
		{"ioctl denied", nil, &IoctlError{Op: "status", Errno: syscall.EPERM}, ControlPermission},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeSource()
			f.err = c.call
			opens := 0
			s := inspect(t, Options{SysPath: sys, ProcPath: t.TempDir(), Open: func() (Source, error) {
				opens++
				if c.open != nil {
					return nil, c.open
				}
				return f, nil
			}})
			if !s.Queried || s.Control != c.want || s.ControlErr == nil || opens != 1 {
				t.Errorf("queried %v, control %q (%v), %d opens; want %q", s.Queried, s.Control, s.ControlErr, opens, c.want)
			}
			// Missing privilege is no file error, and is not retried on
			// every device.
			if len(s.Problems) != 0 || len(f.calls) > 1 {
				t.Errorf("problems %+v, calls %v", s.Problems, f.calls)
			}
			// The sysfs view survives.
			if len(s.Pools) != 1 || !s.Pools[0].Known(PoolHasDataDevice) || s.Pools[0].Known(PoolHasMode) {
				t.Errorf("pools: %+v", s.Pools)
			}
		})
	}
	t.Run("no dm devices", func(t *testing.T) {
		opened := false
		s := inspect(t, Options{SysPath: t.TempDir(), ProcPath: t.TempDir(), Open: func() (Source, error) { opened = true; return nil, errors.New("x") }})
		if opened || s.Queried || len(s.Devices) != 0 {
			t.Errorf("opened %v, snapshot %+v", opened, s)
		}
	})
}

// TestInspectBlockedAndDeadline: a device whose earlier read is still
// blocked is reported as a timeout while the others are read; when the
// caller's deadline passes Inspect stops with its error.
func TestInspectBlockedAndDeadline(t *testing.T) {
	f := newFakeSource()
	f.linear(t, "253:0", "253:1", "253:3", "253:5")
	f.set(t, "253:2", "pool-normal.table", "pool-normal.status")
	f.set(t, "253:4", "thin.table", "thin.status")
	hung := DevNum{Major: 253, Minor: 2}
	o := Options{SysPath: fixtureSys("lvm-passdown"), ProcPath: t.TempDir(), Open: f.open, SourceName: "/dev/mapper/control",
		Call: func(dev DevNum, read func() (Live, error)) (Live, error) {
			if dev == hung {
				return Live{}, ErrBlocked
			}
			return read()
		}}
	s := inspect(t, o)
	if len(s.Problems) != 1 || s.Problems[0].Reason != "timeout" || s.Problems[0].Path != "/dev/mapper/control (table/status of 253:2)" {
		t.Errorf("problems: %+v", s.Problems)
	}
	if s.Control != ControlOK || len(s.Thins) != 1 || len(s.Pools) != 1 || s.Pools[0].Known(PoolHasMode) {
		t.Errorf("control %q, pools %+v, thins %+v", s.Control, s.Pools, s.Thins)
	}

	ctx, cancel := context.WithCancel(context.Background())
	o.Call = func(dev DevNum, read func() (Live, error)) (Live, error) {
		if dev == hung {
			cancel()
			return Live{}, ctx.Err()
		}
		return read()
	}
	if _, err := Inspect(ctx, o); !errors.Is(err, context.Canceled) {
		t.Errorf("Inspect after the deadline: %v", err)
	}
	if f.calls["status 253:3"] != 1 {
		t.Errorf("devices after the deadline were queried: %v", f.calls)
	}
}

// TestInspectGarbage: a table or status that does not parse is reported as
// garbage and nothing is taken from it; the rest of the pool stays.
func TestInspectGarbage(t *testing.T) {
	f := newFakeSource()
	f.linear(t, "253:0", "253:1", "253:3")
	f.set(t, "253:2", "pool-normal.table", "0 209715200 thin-pool 5 1234/16384 lots/1638400 - rw")
	f.set(t, "253:4", "0 104857600 thin 253:2", "thin.status")                         // table lacks the device id
	f.set(t, "253:5", "0 104857600 thin 253:2 2", "0 104857600 thin \x00\xff garbage") // binary status
	s := inspect(t, Options{SysPath: fixtureSys("lvm-passdown"), ProcPath: t.TempDir(), Open: f.open, SourceName: "ctl"})
	if s.Control != ControlOK {
		t.Errorf("control %q: a device's garbage is not the control node's", s.Control)
	}
	if r := reasons(s); len(r) != 1 || r["garbage"] != 3 {
		t.Errorf("want the pool status and two thin volumes reported as garbage: %+v", s.Problems)
	}
	if len(s.Pools) != 1 || !s.Pools[0].Known(PoolHasTable) || !s.Pools[0].DiscardEnabled || s.Pools[0].Known(PoolHasMode) || len(s.Thins) != 0 {
		t.Errorf("values from garbage: pools %+v, thins %+v", s.Pools, s.Thins)
	}
}

// TestInspectDirSourceHostile: fixture files that are FIFOs, garbage or
// symlink loops are each reported with their reason; the other pools stay.
func TestInspectDirSourceHostile(t *testing.T) {
	dir := copyTree(t, thinpoolProfile)
	dm := filepath.Join(dir, "dm")
	plant(t, filepath.Join(dm, "253:2.status"), "fifo", "")
	plant(t, filepath.Join(dm, "253:8.table"), "garbage", "not a table line\n")
	os.Remove(filepath.Join(dm, "253:13.status"))
	plant(t, filepath.Join(dm, "253:18.status"), "symlink-loop", "")
	s := inspect(t, thinpoolOptions(dir))
	if r := reasons(s); r["not_regular"] != 1 || r["garbage"] != 1 || r["symlink"] != 1 || len(s.Problems) != 3 {
		t.Errorf("FIFO, garbage and symlink loop must each be reported: %+v", s.Problems)
	}
	if p := pools(s)["vg1-broken-tpool"]; p.Mode != ModeFail {
		t.Errorf("other pools lost: %+v", s.Pools)
	}
}

// TestInspectSlaveProblemsOnce: an unusable attribute of a pool's data
// device is reported once, by the scan, not again when the pool looks for
// its data device, and the pool's capability is left unknown.
func TestInspectSlaveProblemsOnce(t *testing.T) {
	dir := copyTree(t, thinpoolProfile)
	p := filepath.Join(dir, "sys/block/dm-17/queue/discard_max_hw_bytes")
	plant(t, p, "garbage", "lots\n")
	// sdb is the slave of several pools' sub-LVs; a non-dm slave is read
	// when the pool has no dm data device in the scan.
	s := inspect(t, thinpoolOptions(dir))
	if len(s.Problems) != 1 || s.Problems[0].Path != p || s.Problems[0].Reason != "garbage" {
		t.Errorf("problems: %+v", s.Problems)
	}
	if m := pools(s)["vg1-meta-tpool"]; m.Known(PoolHasDataDevice) || !m.Known(PoolHasMode) {
		t.Errorf("vg1-meta-tpool: %+v", m)
	}
	if m := pools(s)["vg1-full-tpool"]; !m.Known(PoolHasDataDevice) {
		t.Errorf("vg1-full-tpool: %+v", m)
	}
}

// TestInspectNonDMSlave: a pool whose data device is a plain disk (Docker's
// loop-lvm) has it read from sysfs, and its problems are reported once even
// when two pools name it.
func TestInspectNonDMSlave(t *testing.T) {
	sys := copyTree(t, fixtureSys("docker"))
	plant(t, filepath.Join(sys, "block/loop0/queue/discard_max_hw_bytes"), "fifo", "")
	// A second (stale) pool naming the same loop device.
	writeTree(t, sys, map[string]string{
		"block/dm-3/dev": "253:3\n", "block/dm-3/dm/name": "docker-253:0-7654321-pool\n", "block/dm-3/dm/uuid": "\n",
		"block/dm-3/dm/suspended": "0\n", "block/dm-3/slaves/loop0": "", "block/dm-3/slaves/loop1": "",
	})
	f := newFakeSource()
	f.set(t, "253:0", "0 104857600 linear 8:2 2048", "0 104857600 linear ")
	f.set(t, "253:1", "pool-docker.table", "pool-docker.status")
	f.set(t, "253:3", "pool-docker.table", "pool-docker.status")
	s := inspect(t, Options{SysPath: sys, ProcPath: t.TempDir(), Open: f.open})
	if r := reasons(s); len(r) != 1 || r["not_regular"] != 1 {
		t.Errorf("problems: %+v", s.Problems)
	}
	if len(s.Pools) != 2 || s.Pools[0].Known(PoolHasDataDevice) || s.Pools[1].Known(PoolHasDataDevice) || !s.Pools[1].Known(PoolHasMode) {
		t.Errorf("pools: %+v", s.Pools)
	}
}

func TestInspectMounts(t *testing.T) {
	sys := fixtureSys("lvm-passdown")
	const self = "/dev/mapper/vg0-thin1 /container-view ext4 rw 0 0\n"
	const host = `/dev/mapper/vg0-thin1 /srv ext4 rw,discard 0 0
/dev/dm-5 /mnt/b btrfs rw,discard=async 0 0
/dev/mapper/gone /mnt/gone ext4 rw 0 0
/dev/sda1 / ext4 rw 0 0
truncated line
`
	proc := t.TempDir()
	writeTree(t, proc, map[string]string{"self/mounts": self, "1/mounts": host})
	s := inspect(t, Options{SysPath: sys, ProcPath: proc})
	var got []string
	for _, m := range s.Mounts {
		got = append(got, m.Kernel+" "+m.Device+" "+m.MountPoint+" "+m.Discard)
	}
	want := []string{"dm-4 /dev/mapper/vg0-thin1 /srv on", "dm-5 /dev/dm-5 /mnt/b async", " /dev/mapper/gone /mnt/gone off"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("PID 1's mounts:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(s.Problems) != 1 || s.Problems[0].Reason != "garbage" || s.Problems[0].Path != filepath.Join(proc, "1/mounts") {
		t.Errorf("malformed line: %+v", s.Problems)
	}

	// Without PID 1's table (hidepid=, a private PID namespace): the
	// exporter's own.
	os.Remove(filepath.Join(proc, "1/mounts"))
	s = inspect(t, Options{SysPath: sys, ProcPath: proc})
	if len(s.Mounts) != 1 || s.Mounts[0].MountPoint != "/container-view" || len(s.Problems) != 0 {
		t.Errorf("fallback: %+v, problems %+v", s.Mounts, s.Problems)
	}
	// An unusable PID 1 table is reported, not replaced by another view.
	plant(t, filepath.Join(proc, "1/mounts"), "fifo", "")
	s = inspect(t, Options{SysPath: sys, ProcPath: proc})
	if len(s.Mounts) != 0 || len(s.Problems) != 1 || s.Problems[0].Reason != "not_regular" {
		t.Errorf("FIFO: %+v, problems %+v", s.Mounts, s.Problems)
	}
	// ReadFile is the caller's reader.
	var read []string
	inspect(t, Options{SysPath: sys, ProcPath: proc, ReadFile: func(p string, max int64) ([]byte, error) {
		read = append(read, p)
		if max != MaxMountsBytes {
			t.Errorf("cap %d", max)
		}
		return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrPermission}
	}})
	if len(read) != 2 {
		t.Errorf("read %v, want PID 1's then self's", read)
	}
}

func BenchmarkInspectThinpool(b *testing.B) {
	o := thinpoolOptions(thinpoolProfile)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Inspect(context.Background(), o); err != nil {
			b.Fatal(err)
		}
	}
}

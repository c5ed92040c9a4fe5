package dm

import (
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

func mkfifo(path string) error { return syscall.Mkfifo(path, 0o644) }

func fixtureSys(name string) string { return filepath.Join("testdata", "sys", name) }

// writeTree creates files (path → content) under root; a content of "/"
// makes a directory.
func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(root, p)
		if c == "/" {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func scan(t *testing.T, sysPath string) map[string]Device {
	t.Helper()
	devs, err := ScanSysfs(sysPath)
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[string]Device, len(devs))
	for _, d := range devs {
		m[d.Kernel] = d
	}
	return m
}

func kinds(devs map[string]Device) map[string]Kind {
	k := make(map[string]Kind, len(devs))
	for n, d := range devs {
		k[n] = d.Kind
	}
	return k
}

func TestScanSysfsLVMPassdown(t *testing.T) {
	sys := fixtureSys("lvm-passdown")
	devs, err := ScanSysfs(sys)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, d := range devs {
		order = append(order, d.Kernel)
	}
	if strings.Join(order, " ") != "dm-0 dm-1 dm-2 dm-3 dm-4 dm-5" {
		t.Fatalf("devices = %v, want dm-0..dm-5 in device-number order", order)
	}
	m := scan(t, sys)
	wantKinds := map[string]Kind{
		"dm-0": KindThinPoolMetadata, "dm-1": KindThinPoolData, "dm-2": KindThinPool,
		"dm-3": KindThinPoolWrapper, "dm-4": KindThinVolume, "dm-5": KindThinVolume,
	}
	if got := kinds(m); !reflect.DeepEqual(got, wantKinds) {
		t.Errorf("kinds = %v, want %v", got, wantKinds)
	}

	pool := m["dm-2"]
	if pool.Name != "vg0-pool0-tpool" || !strings.HasSuffix(pool.UUID, "-tpool") || len(pool.UUID) != len("LVM-")+64+len("-tpool") {
		t.Errorf("pool name/uuid = %q %q", pool.Name, pool.UUID)
	}
	if pool.Dev() != (DevNum{253, 2}) || pool.Suspended {
		t.Errorf("pool dev %v suspended %v", pool.Dev(), pool.Suspended)
	}
	if !reflect.DeepEqual(pool.Slaves, []string{"dm-0", "dm-1"}) || !reflect.DeepEqual(pool.Holders, []string{"dm-3", "dm-4", "dm-5"}) {
		t.Errorf("pool slaves %v holders %v", pool.Slaves, pool.Holders)
	}
	if pool.DiscardGranularity != 512 || pool.DiscardMaxBytes != 2147450880 || pool.DiscardMaxHWBytes != 2147450880 {
		t.Errorf("pool queue = %d %d %d", pool.DiscardGranularity, pool.DiscardMaxBytes, pool.DiscardMaxHWBytes)
	}
	thin := m["dm-4"]
	if !thin.DiscardEnabled() || thin.DiscardGranularity != 65536 {
		t.Errorf("thin1 discard: enabled %v granularity %d", thin.DiscardEnabled(), thin.DiscardGranularity)
	}

	data, ok, _ := PoolDataDevice(sys, pool, nil)
	if !ok || data.Kernel != "dm-1" || data.Name != "vg0-pool0_tdata" || !data.CanDiscard() {
		t.Errorf("data device without table = %+v, %v", data, ok)
	}
	table, err := ParsePoolTable(fixtureTarget(t, "pool-normal.table").Params)
	if err != nil {
		t.Fatal(err)
	}
	data, ok, _ = PoolDataDevice(sys, pool, &table)
	if !ok || data.Kernel != "dm-1" || data.Dev() != (DevNum{253, 1}) {
		t.Errorf("data device from table = %+v, %v", data, ok)
	}

	// The PV partition has no queue of its own: its disk's applies.
	part, ok := ReadBlockDev(sys, "sda2")
	if !ok || part.Dev() != (DevNum{8, 2}) || part.DiscardMaxHWBytes != 2147450880 || part.Name != "" {
		t.Errorf("sda2 = %+v, %v", part, ok)
	}
	for _, bad := range []string{"", "..", "sd*", "../sda", "nonexistent"} {
		if b, ok := ReadBlockDev(sys, bad); ok {
			t.Errorf("ReadBlockDev(%q) = %+v", bad, b)
		}
	}
}

func TestScanSysfsIgnoreDiscard(t *testing.T) {
	sys := fixtureSys("lvm-ignore-discard")
	m := scan(t, sys)
	wantKinds := map[string]Kind{
		"dm-0": KindThinPoolMetadata, "dm-1": KindThinPoolData, "dm-2": KindThinPool,
		"dm-3": KindThinPoolWrapper, "dm-4": KindThinVolume,
	}
	if got := kinds(m); !reflect.DeepEqual(got, wantKinds) {
		t.Errorf("kinds = %v, want %v", got, wantKinds)
	}
	thin := m["dm-4"]
	if thin.DiscardEnabled() || thin.DiscardGranularity != 0 {
		t.Errorf("thin on ignore_discard pool accepts discards: %+v", thin)
	}
	vg, lv, layer, ok := SplitLVMName(thin.Name)
	if !ok || vg != "vg-data" || lv != "thin-a" || layer != "" {
		t.Errorf("SplitLVMName(%q) = %q %q %q %v", thin.Name, vg, lv, layer, ok)
	}
	// The data device itself could discard; the pool chose not to.
	data, ok, _ := PoolDataDevice(sys, m["dm-2"], nil)
	if !ok || !data.CanDiscard() || data.DiscardMaxHWBytes != 2199023255040 {
		t.Errorf("data device = %+v, %v", data, ok)
	}
}

func TestScanSysfsNoHardwareDiscard(t *testing.T) {
	sys := fixtureSys("lvm-no-hw-discard")
	m := scan(t, sys)
	if m["dm-2"].Kind != KindThinPool || m["dm-4"].Kind != KindThinVolume {
		t.Fatalf("kinds = %v", kinds(m))
	}
	// Discards reach the thin volume (the pool frees blocks) but the pool
	// cannot pass them to the disk.
	if !m["dm-4"].DiscardEnabled() {
		t.Error("thin volume does not accept discards")
	}
	data, ok, _ := PoolDataDevice(sys, m["dm-2"], nil)
	if !ok || data.Kernel != "dm-1" || data.CanDiscard() {
		t.Errorf("data device = %+v, %v; want dm-1 unable to discard", data, ok)
	}
	disk, ok := ReadBlockDev(sys, "sdb")
	if !ok || disk.CanDiscard() || disk.Dev() != (DevNum{8, 16}) {
		t.Errorf("sdb = %+v, %v", disk, ok)
	}
}

func TestScanSysfsDocker(t *testing.T) {
	sys := fixtureSys("docker")
	m := scan(t, sys)
	wantKinds := map[string]Kind{"dm-0": KindOther, "dm-1": KindDockerThinPool, "dm-2": KindThinVolume}
	if got := kinds(m); !reflect.DeepEqual(got, wantKinds) {
		t.Errorf("kinds = %v, want %v", got, wantKinds)
	}
	pool := m["dm-1"]
	if pool.UUID != "" || pool.Name != "docker-253:0-1234567-pool" || !pool.Kind.IsThinPool() {
		t.Errorf("docker pool = %+v", pool)
	}
	// Two loop devices: only the table says which one holds the data.
	if b, ok, _ := PoolDataDevice(sys, pool, nil); ok {
		t.Errorf("data device guessed without table: %+v", b)
	}
	table, err := ParsePoolTable(fixtureTarget(t, "pool-docker.table").Params)
	if err != nil {
		t.Fatal(err)
	}
	data, ok, _ := PoolDataDevice(sys, pool, &table)
	if !ok || data.Kernel != "loop0" || !data.CanDiscard() {
		t.Errorf("data device = %+v, %v; want loop0", data, ok)
	}
}

func TestScanSysfsDefensive(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		// Only a dev file: everything else is absent, not zero.
		"block/dm-0/dev": "253:0\n",
		"block/dm-0/dm/": "/",
		// Nothing at all, not even dev.
		"block/dm-1/": "/",
		// Garbage values: unusable, never read as 0.
		"block/dm-2/dev":                        "garbage\n",
		"block/dm-2/queue/discard_max_bytes":    "-1\n",
		"block/dm-2/queue/discard_granularity":  "4096 extra\n",
		"block/dm-2/dm/suspended":               "1\n",
		"block/dm-2/queue/discard_max_hw_bytes": strings.Repeat("9", 5000),
		"block/sda/dev":                         "8:0\n",
	})
	// A device removed between listing and reading: a dangling link.
	if err := os.Symlink("../devices/virtual/block/dm-9", filepath.Join(root, "block", "dm-9")); err != nil {
		t.Fatal(err)
	}
	// A FIFO where an attribute should be must not block the scan.
	if err := mkfifo(filepath.Join(root, "block", "dm-0", "dm", "name")); err != nil {
		t.Fatal(err)
	}
	devs, err := ScanSysfs(root)
	if err != nil {
		t.Fatal(err)
	}
	type summary struct {
		Kernel       string
		Has, Bad     Attrs
		Reasons      []string
		Suspended    bool
		Major, Minor uint32
	}
	var got []summary
	for _, d := range devs {
		s := summary{Kernel: d.Kernel, Has: d.Has, Bad: d.Bad, Suspended: d.Suspended, Major: d.Major, Minor: d.Minor}
		for _, p := range d.Problems {
			s.Reasons = append(s.Reasons, fsutil.Reason(p))
		}
		got = append(got, s)
	}
	want := []summary{
		{Kernel: "dm-1"},
		{Kernel: "dm-2", Has: AttrSuspended, Bad: AttrDev | AttrDiscardGranularity | AttrDiscardMaxBytes | AttrDiscardMaxHWBytes,
			Reasons: []string{"garbage", "garbage", "garbage", "too_large"}, Suspended: true},
		{Kernel: "dm-0", Has: AttrDev, Bad: AttrName, Reasons: []string{"not_regular"}, Major: 253},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("devices:\n got %+v\nwant %+v", got, want)
	}

	if devs, err := ScanSysfs(filepath.Join(root, "absent")); err != nil || devs != nil {
		t.Errorf("missing sysfs: %v, %v", devs, err)
	}
}

// copyTree copies a fixture tree (regular files and directories) to a
// temporary directory a test may break.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// plant replaces p with an unusable file of the given kind. Root ignores
// mode bits, so an unreadable file cannot be planted this way.
func plant(t *testing.T, p, kind, garbage string) {
	t.Helper()
	os.RemoveAll(p)
	var err error
	switch kind {
	case "fifo":
		err = mkfifo(p)
	case "directory":
		err = os.Mkdir(p, 0o755)
	case "symlink-loop":
		err = os.Symlink(filepath.Base(p), p)
	case "huge":
		var f *os.File
		if f, err = os.Create(p); err == nil {
			err = f.Truncate(2 << 30)
			f.Close()
		}
	case "garbage":
		err = os.WriteFile(p, []byte(garbage), 0o644)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestScanSysfsUnusableAttributes: each attribute of a dm device that
// exists but cannot be used is Bad, with its path and real reason, and
// never read as a zero or empty value.
func TestScanSysfsUnusableAttributes(t *testing.T) {
	attrs := []struct {
		rel     string
		attr    Attrs
		garbage string // "" when any content is valid (dm/uuid)
	}{
		{"dm/suspended", AttrSuspended, "2\n"},
		{"dm/name", AttrName, "\n"},
		{"dm/uuid", AttrUUID, ""},
		{"dev", AttrDev, "253\n"},
		{"queue/discard_granularity", AttrDiscardGranularity, "4k\n"},
		{"queue/discard_max_bytes", AttrDiscardMaxBytes, "2147450880x\n"},
		{"queue/discard_max_hw_bytes", AttrDiscardMaxHWBytes, "\x00\x01\n"},
	}
	reasons := map[string]string{"fifo": "not_regular", "directory": "not_regular", "symlink-loop": "symlink", "huge": "too_large", "garbage": "garbage"}
	for _, a := range attrs {
		for kind, reason := range reasons {
			if kind == "garbage" && a.garbage == "" {
				continue
			}
			t.Run(a.rel+"/"+kind, func(t *testing.T) {
				sys := copyTree(t, fixtureSys("lvm-passdown"))
				p := filepath.Join(sys, "block", "dm-2", a.rel)
				plant(t, p, kind, a.garbage)
				d := scan(t, sys)["dm-2"]
				if d.Known(a.attr) || d.Bad != a.attr {
					t.Errorf("has %b, bad %b; want %b bad only", d.Has, d.Bad, a.attr)
				}
				if len(d.Problems) != 1 || fsutil.Reason(d.Problems[0]) != reason || !strings.Contains(d.Problems[0].Error(), p) {
					t.Errorf("problems %v, want one %s naming %s", d.Problems, reason, p)
				}
				if a.attr == AttrSuspended && d.Suspended {
					t.Error("suspended read from an unusable file")
				}
			})
		}
	}
}

// TestPoolDataDeviceUnusable: an unusable discard limit of the data device
// is unknown, not "cannot discard"; an unusable number never matches the
// table.
func TestPoolDataDeviceUnusable(t *testing.T) {
	sys := copyTree(t, fixtureSys("lvm-passdown"))
	plant(t, filepath.Join(sys, "block", "dm-1", "queue", "discard_max_hw_bytes"), "garbage", "lots\n")
	pool := scan(t, sys)["dm-2"]
	data, ok, problems := PoolDataDevice(sys, pool, nil)
	if !ok || data.Kernel != "dm-1" || data.Known(AttrDiscardMaxHWBytes) || len(problems) != 1 || fsutil.Reason(problems[0]) != "garbage" {
		t.Errorf("data device = %+v, %v, %v", data, ok, problems)
	}
	table, err := ParsePoolTable(fixtureTarget(t, "pool-normal.table").Params)
	if err != nil {
		t.Fatal(err)
	}
	plant(t, filepath.Join(sys, "block", "dm-1", "dev"), "fifo", "")
	if data, ok, problems := PoolDataDevice(sys, pool, &table); ok || len(problems) != 2 {
		t.Errorf("data device with an unusable number = %+v, %v, %v", data, ok, problems)
	}
}

func TestScanSysfsOldLVM(t *testing.T) {
	// lvm2 before the uuid layer suffixes: only -tpool is a layer; the
	// sub-LVs and the public pool device are told apart by name.
	root := t.TempDir()
	vg := "Wq3TtNvd8zjXS3QwLZgRAe0y0rKMmkpQ"
	dev := func(n, name, uuid string, slaves ...string) map[string]string {
		m := map[string]string{
			"block/" + n + "/dev":     "253:" + n[3:] + "\n",
			"block/" + n + "/dm/name": name + "\n",
			"block/" + n + "/dm/uuid": uuid + "\n",
		}
		for _, s := range slaves {
			m["block/"+n+"/slaves/"+s] = ""
		}
		return m
	}
	files := map[string]string{}
	for _, m := range []map[string]string{
		dev("dm-0", "my--vg-pool_tmeta", "LVM-"+vg+"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "sda2"),
		dev("dm-1", "my--vg-pool_tdata", "LVM-"+vg+"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "sda2"),
		dev("dm-2", "my--vg-pool-tpool", "LVM-"+vg+"cccccccccccccccccccccccccccccccc-tpool", "dm-0", "dm-1"),
		dev("dm-3", "my--vg-pool", "LVM-"+vg+"cccccccccccccccccccccccccccccccc", "dm-2"),
		dev("dm-4", "my--vg-thin", "LVM-"+vg+"dddddddddddddddddddddddddddddddd", "dm-2"),
		dev("dm-5", "my--vg-snap-real", "LVM-"+vg+"eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-real", "dm-2"),
		dev("dm-6", "plain", "CRYPT-LUKS2-0123-plain", "dm-4"),
	} {
		for k, v := range m {
			files[k] = v
		}
	}
	writeTree(t, root, files)
	want := map[string]Kind{
		"dm-0": KindThinPoolMetadata, "dm-1": KindThinPoolData, "dm-2": KindThinPool,
		"dm-3": KindThinPoolWrapper, "dm-4": KindThinVolume, "dm-5": KindOther, "dm-6": KindOther,
	}
	if got := kinds(scan(t, root)); !reflect.DeepEqual(got, want) {
		t.Errorf("kinds = %v, want %v", got, want)
	}
}

func TestScanSysfsLive(t *testing.T) {
	// The host's own sysfs: whatever is there must scan without error and
	// yield only dm devices with a device number.
	devs, err := ScanSysfs("/sys")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range devs {
		if !strings.HasPrefix(d.Kernel, "dm-") || d.Major == 0 {
			t.Errorf("live device %+v", d)
		}
	}
}

func TestSplitLVMName(t *testing.T) {
	cases := []struct {
		in            string
		vg, lv, layer string
		ok            bool
	}{
		{"vg0-thin1", "vg0", "thin1", "", true},
		{"vg0-pool0-tpool", "vg0", "pool0", "tpool", true},
		{"vg0-pool0_tdata", "vg0", "pool0_tdata", "", true},
		{"my--vg-lv", "my-vg", "lv", "", true},
		{"my--vg-my--lv-tpool", "my-vg", "my-lv", "tpool", true},
		{"a---b", "a-", "b", "", true},
		{"vg--x", "", "", "", false},
		{"novg", "", "", "", false},
		{"-lv", "", "", "", false},
		{"vg-", "", "", "", false},
		{"vg-lv-", "", "", "", false},
		{"", "", "", "", false},
		{"docker-253:0-1234567-pool", "docker", "253:0", "1234567-pool", true},
	}
	for _, c := range cases {
		vg, lv, layer, ok := SplitLVMName(c.in)
		if vg != c.vg || lv != c.lv || layer != c.layer || ok != c.ok {
			t.Errorf("SplitLVMName(%q) = %q %q %q %v, want %q %q %q %v", c.in, vg, lv, layer, ok, c.vg, c.lv, c.layer, c.ok)
		}
	}
}

// Attributes that lead out of the sysfs tree are not read; the dm-N links
// into ../devices, the normal sysfs layout, are.
func TestScanSysfsStaysInsideTree(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "sys")
	writeTree(t, base, map[string]string{
		"outside/name":                                "root:$6$SECRET\n",
		"outside/block/dm-7/dev":                      "253:7\n",
		"sys/devices/virtual/block/dm-0/dev":          "253:0\n",
		"sys/devices/virtual/block/dm-0/dm/name":      "vg0-root\n",
		"sys/devices/virtual/block/dm-0/dm/uuid":      "LVM-abc\n",
		"sys/devices/virtual/block/dm-0/dm/suspended": "0\n",
		"sys/block/dm-1/dev":                          "253:1\n",
	})
	for link, target := range map[string]string{
		"sys/block/dm-0":    "../devices/virtual/block/dm-0",
		"sys/block/dm-1/dm": "../../../outside",
		"sys/block/dm-7":    filepath.Join(base, "outside/block/dm-7"),
	} {
		if err := os.Symlink(target, filepath.Join(base, link)); err != nil {
			t.Fatal(err)
		}
	}
	devs := scan(t, root)
	if d := devs["dm-0"]; d.Name != "vg0-root" || d.Major != 253 {
		t.Errorf("in-tree link: %+v", d)
	}
	if d := devs["dm-1"]; d.Name != "" {
		t.Errorf("dm/name out of the tree was read: %q", d.Name)
	}
	if d := devs["dm-7"]; d.Major != 0 || d.Minor != 0 {
		t.Errorf("a device directory out of the tree was read: %+v", d)
	}
}

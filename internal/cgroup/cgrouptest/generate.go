// Package cgrouptest builds synthetic cgroup trees for tests and
// benchmarks: the host's /proc/<pid>/mountinfo and /sys/fs/cgroup with
// Kubernetes-like nesting and controller files as 6.x kernels write them.
package cgrouptest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Shape is the cgroup layout of the simulated host.
type Shape int

const (
	// V2 is the unified hierarchy alone at /sys/fs/cgroup.
	V2 Shape = iota
	// V1 is systemd's legacy layout: one v1 hierarchy per controller
	// under a tmpfs at /sys/fs/cgroup, no cgroup2 mount.
	V1
	// Hybrid is systemd's hybrid layout: controllers on v1, plus a cgroup2
	// mount at /sys/fs/cgroup/unified with no controllers enabled.
	Hybrid
)

func (s Shape) String() string {
	switch s {
	case V2:
		return "v2"
	case V1:
		return "v1"
	case Hybrid:
		return "hybrid"
	}
	return fmt.Sprintf("Shape(%d)", int(s))
}

// Tree describes a generated tree. Discover(ProcPath, SysPath, Root) finds
// it: mountinfo names host paths (/sys/fs/cgroup/…), which map below Root.
type Tree struct {
	Root, ProcPath, SysPath string
	// PidsDir and MemoryDir are the hierarchy directories holding the pids
	// and memory files (the same directory on V2).
	PidsDir, MemoryDir string
	// Cgroups lists every cgroup path created, "/" first.
	Cgroups []string
	// Containers counts container scopes; the others count cgroups whose
	// own limit was set or hit.
	Containers, PidsLimited, PidsMaxHit, MemoryLimited, OOMKilled int
}

// Kernel values that the tree reproduces.
const (
	// v1Unlimited is PAGE_COUNTER_MAX in bytes with 4 KiB pages.
	v1Unlimited = "9223372036854771712"
	pageSize    = 4096
)

// Generate builds a tree of n cgroups (the root included) under root, which
// should be an empty directory such as t.TempDir(). The layout is
// deterministic: /init.scope, /system.slice with services and mount units,
// /user.slice, and /kubepods.slice with Guaranteed, Burstable and BestEffort
// pods, each pod holding a sandbox and one or two containers
// (cri-containerd-<id>.scope). Every 5th container has a pids limit and
// every 3rd of those hit it; every 4th container has a memory limit and
// every 3rd of those had OOM kills. On V2 the hierarchical event files of
// ancestors include their descendants' events, as 6.11+ kernels count them.
func Generate(root string, n int, shape Shape) (*Tree, error) {
	if n < 1 {
		n = 1
	}
	t := &Tree{
		Root:     root,
		ProcPath: filepath.Join(root, "proc"),
		SysPath:  filepath.Join(root, "sys"),
	}
	cgroupRoot := filepath.Join(t.SysPath, "fs", "cgroup")
	switch shape {
	case V2:
		t.PidsDir, t.MemoryDir = cgroupRoot, cgroupRoot
	case V1, Hybrid:
		t.PidsDir, t.MemoryDir = filepath.Join(cgroupRoot, "pids"), filepath.Join(cgroupRoot, "memory")
	default:
		return nil, fmt.Errorf("unknown shape %d", int(shape))
	}

	nodes := layout(n)
	for _, c := range nodes {
		t.Cgroups = append(t.Cgroups, c.path)
	}
	assignState(nodes, t)

	if err := writeMountinfo(t, shape); err != nil {
		return nil, err
	}
	switch shape {
	case V2:
		if err := writeTree(t.PidsDir, nodes, v2Files); err != nil {
			return nil, err
		}
	case V1, Hybrid:
		if err := writeTree(t.PidsDir, nodes, v1PidsFiles); err != nil {
			return nil, err
		}
		if err := writeTree(t.MemoryDir, nodes, v1MemoryFiles); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Join(cgroupRoot, "systemd"), 0o755); err != nil {
			return nil, err
		}
		if shape == Hybrid {
			// systemd enables no controller here in hybrid mode; it tracks
			// its units in this tree only.
			u := filepath.Join(cgroupRoot, "unified")
			if err := writeFiles(u, map[string]string{
				"cgroup.controllers":     "",
				"cgroup.subtree_control": "",
				"cgroup.procs":           "1\n",
				"cgroup.max.depth":       "max\n",
			}); err != nil {
				return nil, err
			}
		}
	}
	return t, nil
}

type kind int

const (
	kindRoot kind = iota
	kindSlice
	kindService
	kindPod
	kindContainer
)

type node struct {
	path   string
	kind   kind
	parent int
	rng    uint64

	pidsCurrent, pidsPeak uint64
	pidsMax               uint64 // 0: max
	pidsEventsLocal       uint64
	pidsEventsHier        uint64

	memCurrent uint64
	memMax     uint64 // 0: max
	memHigh    uint64 // 0: max
	memLocal   memEvents
	memHier    memEvents
}

type memEvents struct{ high, max, oom, oomKill uint64 }

func (e *memEvents) add(o memEvents) {
	e.high += o.high
	e.max += o.max
	e.oom += o.oom
	e.oomKill += o.oomKill
}

// splitmix64 is a small deterministic generator.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func hexID(seed uint64) string {
	var sb strings.Builder
	for i := uint64(0); i < 4; i++ {
		fmt.Fprintf(&sb, "%016x", splitmix64(seed*4+i))
	}
	return sb.String()
}

func podUID(seed uint64) string {
	a, b := splitmix64(seed^0x5bd1e995), splitmix64(seed^0x1b873593)
	return fmt.Sprintf("%08x-%04x-4%03x-a%03x-%012x", uint32(a), uint16(a>>32), uint16(a>>48)&0xfff, uint16(b)&0xfff, b>>16&0xffffffffffff)
}

var services = []string{
	"containerd.service", "kubelet.service", "systemd-journald.service",
	"systemd-udevd.service", "sshd.service", "chronyd.service",
	"dbus-broker.service", "systemd-logind.service",
}

// layout lists n cgroups in parent-before-child order.
func layout(n int) []*node {
	var nodes []*node
	add := func(path string, k kind, parent int) int {
		if len(nodes) >= n {
			return -1
		}
		nodes = append(nodes, &node{path: path, kind: k, parent: parent, rng: splitmix64(uint64(len(nodes)) + 1)})
		return len(nodes) - 1
	}
	add("/", kindRoot, -1)
	add("/init.scope", kindService, 0)
	system := add("/system.slice", kindSlice, 0)
	add("/user.slice", kindSlice, 0)
	kube := add("/kubepods.slice", kindSlice, 0)
	burst := add("/kubepods.slice/kubepods-burstable.slice", kindSlice, kube)
	best := add("/kubepods.slice/kubepods-besteffort.slice", kindSlice, kube)
	for i := 0; len(nodes) < n; i++ {
		if i%8 == 7 {
			j := i / 8
			var name string
			switch {
			case j < len(services):
				name = services[j]
			case j%5 == 0:
				// A mount unit: systemd escapes the path's dashes.
				name = fmt.Sprintf(`var-lib-data\x2d%d.mount`, j)
			default:
				name = fmt.Sprintf("worker@%d.service", j)
			}
			add("/system.slice/"+name, kindService, system)
			continue
		}
		uid := podUID(uint64(i))
		unit := strings.ReplaceAll(uid, "-", "_")
		var pod int
		switch i % 3 {
		case 0:
			pod = add(fmt.Sprintf("/kubepods.slice/kubepods-pod%s.slice", unit), kindPod, kube)
		case 1:
			pod = add(fmt.Sprintf("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod%s.slice", unit), kindPod, burst)
		default:
			pod = add(fmt.Sprintf("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod%s.slice", unit), kindPod, best)
		}
		if pod < 0 {
			break
		}
		for c := 0; c < 2+i%2; c++ {
			add(fmt.Sprintf("%s/cri-containerd-%s.scope", nodes[pod].path, hexID(uint64(i*4+c))), kindContainer, pod)
		}
	}
	return nodes
}

func assignState(nodes []*node, t *Tree) {
	containers := 0
	for _, nd := range nodes {
		r := nd.rng
		switch nd.kind {
		case kindContainer:
			containers++
			nd.pidsCurrent = 1 + r%40
			nd.memCurrent = (4 + r%200) << 20
			if containers%5 == 0 {
				t.PidsLimited++
				nd.pidsMax = 64
				if containers%15 == 0 {
					t.PidsMaxHit++
					nd.pidsCurrent = 64
					nd.pidsEventsLocal = 1 + r%9
				}
			}
			if containers%4 == 0 {
				t.MemoryLimited++
				nd.memMax = 256 << 20
				nd.memLocal.max = r % 50
				if containers%12 == 0 {
					t.OOMKilled++
					nd.memCurrent = nd.memMax - pageSize*(r%16)
					nd.memLocal.max = 1000 + r%3000
					nd.memLocal.oom = 1 + r%4
					nd.memLocal.oomKill = nd.memLocal.oom
				}
			}
		case kindService:
			nd.pidsCurrent = 1 + r%12
			nd.memCurrent = (1 + r%64) << 20
			if r%4 == 0 {
				// memory.high throttles rather than kills.
				nd.memHigh = 48 << 20
				nd.memLocal.high = r % 700
			}
		case kindPod, kindSlice:
			nd.pidsCurrent = 0
		}
		nd.pidsPeak = nd.pidsCurrent + r%3
		if nd.pidsMax != 0 && nd.pidsPeak > nd.pidsMax {
			nd.pidsPeak = nd.pidsMax
		}
		nd.pidsEventsHier = nd.pidsEventsLocal
		nd.memHier = nd.memLocal
	}
	t.Containers = containers
	// Children follow parents, so a reverse pass totals every subtree.
	for i := len(nodes) - 1; i > 0; i-- {
		nd, p := nodes[i], nodes[nodes[i].parent]
		p.pidsCurrent += nd.pidsCurrent
		p.pidsEventsHier += nd.pidsEventsHier
		p.memHier.add(nd.memHier)
		p.memCurrent += nd.memCurrent
	}
	for _, nd := range nodes {
		if nd.pidsPeak < nd.pidsCurrent {
			nd.pidsPeak = nd.pidsCurrent
		}
	}
}

func maxOr(v uint64, unlimited string) string {
	if v == 0 {
		return unlimited + "\n"
	}
	return fmt.Sprintf("%d\n", v)
}

func procs(nd *node) string {
	if nd.kind == kindContainer || nd.kind == kindService {
		return fmt.Sprintf("%d\n", 1000+nd.rng%30000)
	}
	return ""
}

// v2Files is what a 6.x kernel shows in a cgroup2 directory with the cpu,
// io, memory and pids controllers enabled (the files read by the exporter
// plus a few others so that listings mix files and directories).
func v2Files(nd *node) map[string]string {
	f := map[string]string{
		"cgroup.controllers":     "cpuset cpu io memory hugetlb pids rdma misc\n",
		"cgroup.subtree_control": "",
		"cgroup.procs":           procs(nd),
		"cpu.stat":               fmt.Sprintf("usage_usec %d\nuser_usec %d\nsystem_usec %d\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\nnr_bursts 0\nburst_usec 0\n", nd.rng%1e9, nd.rng%7e8, nd.rng%3e8),
		"memory.stat":            v2MemoryStat(nd),
		"memory.pressure":        "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
	}
	if nd.kind == kindSlice || nd.kind == kindPod || nd.kind == kindRoot {
		f["cgroup.subtree_control"] = "cpu io memory pids\n"
	}
	if nd.kind == kindRoot {
		// The root has no limits, no events and no pids files.
		f["cgroup.max.depth"] = "max\n"
		return f
	}
	f["cgroup.events"] = fmt.Sprintf("populated %d\nfrozen 0\n", b2i(nd.pidsCurrent > 0))
	f["pids.current"] = fmt.Sprintf("%d\n", nd.pidsCurrent)
	f["pids.max"] = maxOr(nd.pidsMax, "max")
	f["pids.peak"] = fmt.Sprintf("%d\n", nd.pidsPeak)
	f["pids.events"] = fmt.Sprintf("max %d\n", nd.pidsEventsHier)
	f["pids.events.local"] = fmt.Sprintf("max %d\n", nd.pidsEventsLocal)
	f["memory.current"] = fmt.Sprintf("%d\n", nd.memCurrent)
	f["memory.peak"] = fmt.Sprintf("%d\n", nd.memCurrent+pageSize*(nd.rng%1024))
	f["memory.min"] = "0\n"
	f["memory.low"] = "0\n"
	f["memory.max"] = maxOr(nd.memMax, "max")
	f["memory.high"] = maxOr(nd.memHigh, "max")
	f["memory.swap.max"] = "max\n"
	f["memory.events"] = memoryEvents(nd.memHier)
	f["memory.events.local"] = memoryEvents(nd.memLocal)
	return f
}

func memoryEvents(e memEvents) string {
	return fmt.Sprintf("low 0\nhigh %d\nmax %d\noom %d\noom_kill %d\noom_group_kill 0\n", e.high, e.max, e.oom, e.oomKill)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// V2MemoryStatKeys is the key order of memory.stat on a 6.12 kernel built
// with CONFIG_SWAP, CONFIG_ZSWAP, CONFIG_TRANSPARENT_HUGEPAGE and
// CONFIG_NUMA_BALANCING (memory_stats[] then memcg_vm_event_stat[] in
// mm/memcontrol.c).
var V2MemoryStatKeys = []string{
	"anon", "file", "kernel", "kernel_stack", "pagetables", "sec_pagetables",
	"percpu", "sock", "vmalloc", "shmem", "zswap", "zswapped", "file_mapped",
	"file_dirty", "file_writeback", "swapcached", "anon_thp", "file_thp",
	"shmem_thp", "inactive_anon", "active_anon", "inactive_file",
	"active_file", "unevictable", "slab_reclaimable", "slab_unreclaimable",
	"slab", "workingset_refault_anon", "workingset_refault_file",
	"workingset_activate_anon", "workingset_activate_file",
	"workingset_restore_anon", "workingset_restore_file",
	"workingset_nodereclaim", "pgdemote_kswapd", "pgdemote_direct",
	"pgdemote_khugepaged", "pgpromote_success", "pgscan", "pgsteal",
	"pswpin", "pswpout", "pgscan_kswapd", "pgscan_direct",
	"pgscan_khugepaged", "pgsteal_kswapd", "pgsteal_direct",
	"pgsteal_khugepaged", "pgfault", "pgmajfault", "pgrefill", "pgactivate",
	"pgdeactivate", "pglazyfree", "pglazyfreed", "swpin_zero", "swpout_zero",
	"zswpin", "zswpout", "zswpwb", "thp_fault_alloc", "thp_collapse_alloc",
	"thp_swpout", "thp_swpout_fallback", "numa_pages_migrated",
	"numa_pte_updates", "numa_hint_faults",
}

func v2MemoryStat(nd *node) string {
	cur := nd.memCurrent
	anon := cur / 2 &^ (pageSize - 1)
	file := cur / 3 &^ (pageSize - 1)
	slabR := cur / 40
	slabU := cur / 50
	vals := map[string]uint64{
		"anon": anon, "file": file, "kernel": slabR + slabU + 2*pageSize*8,
		"kernel_stack": 16384 * (1 + nd.pidsCurrent), "pagetables": pageSize * 40,
		"percpu": 4096, "sock": 0, "shmem": pageSize * (nd.rng % 64),
		"file_mapped": file / 4 &^ (pageSize - 1), "file_dirty": pageSize * (nd.rng % 300),
		"file_writeback": pageSize * (nd.rng % 3), "inactive_anon": anon / 2 &^ (pageSize - 1),
		"active_anon": anon / 2 &^ (pageSize - 1), "inactive_file": file / 2 &^ (pageSize - 1),
		"active_file": file / 2 &^ (pageSize - 1), "slab_reclaimable": slabR,
		"slab_unreclaimable": slabU, "slab": slabR + slabU,
		"workingset_refault_file": nd.rng % 1000, "pgscan": nd.rng % 5000,
		"pgsteal": nd.rng % 4000, "pgfault": 100000 + nd.rng%1e7,
		"pgmajfault": nd.rng % 500, "pgactivate": nd.rng % 20000,
		"pgrefill": nd.rng % 3000, "thp_fault_alloc": nd.rng % 20,
	}
	var sb strings.Builder
	for _, k := range V2MemoryStatKeys {
		fmt.Fprintf(&sb, "%s %d\n", k, vals[k])
	}
	return sb.String()
}

// V1MemoryStatKeys is the key order of v1 memory.stat on a 6.x kernel
// (memcg1_stat_format in mm/memcontrol-v1.c): local counters, the
// hierarchical limits, then total_ variants of the counters.
var V1MemoryStatKeys = []string{
	"cache", "rss", "rss_huge", "shmem", "mapped_file", "dirty", "writeback",
	"workingset_refault_anon", "workingset_refault_file", "swap", "swapcached",
	"pgpgin", "pgpgout", "pgfault", "pgmajfault", "inactive_anon",
	"active_anon", "inactive_file", "active_file", "unevictable",
}

// v1MemoryStat derives local and total_ counters from the same usage; the
// generator does not model the difference.
func v1MemoryStat(nd *node) string {
	vals := func(nd *node) map[string]uint64 {
		cur := nd.memCurrent
		cache := cur / 3 &^ (pageSize - 1)
		rss := cur / 2 &^ (pageSize - 1)
		return map[string]uint64{
			"cache": cache, "rss": rss, "shmem": pageSize * (nd.rng % 64),
			"mapped_file": cache / 4 &^ (pageSize - 1), "dirty": pageSize * (nd.rng % 300),
			"writeback": pageSize * (nd.rng % 3), "workingset_refault_file": nd.rng % 1000,
			"pgpgin": 10000 + nd.rng%1e6, "pgpgout": 9000 + nd.rng%1e6,
			"pgfault": 100000 + nd.rng%1e7, "pgmajfault": nd.rng % 500,
			"inactive_anon": rss / 2 &^ (pageSize - 1), "active_anon": rss / 2 &^ (pageSize - 1),
			"inactive_file": cache / 2 &^ (pageSize - 1), "active_file": cache / 2 &^ (pageSize - 1),
		}
	}
	v := vals(nd)
	var sb strings.Builder
	for _, k := range V1MemoryStatKeys {
		fmt.Fprintf(&sb, "%s %d\n", k, v[k])
	}
	limit := v1Unlimited
	if nd.memMax != 0 {
		limit = fmt.Sprint(nd.memMax)
	}
	fmt.Fprintf(&sb, "hierarchical_memory_limit %s\nhierarchical_memsw_limit %s\n", limit, v1Unlimited)
	for _, k := range V1MemoryStatKeys {
		fmt.Fprintf(&sb, "total_%s %d\n", k, v[k])
	}
	return sb.String()
}

func v1PidsFiles(nd *node) map[string]string {
	f := map[string]string{
		"cgroup.procs":          procs(nd),
		"tasks":                 procs(nd),
		"cgroup.clone_children": "0\n",
		"notify_on_release":     "0\n",
	}
	if nd.kind == kindRoot {
		f["cgroup.sane_behavior"] = "0\n"
		f["release_agent"] = "\n"
		return f
	}
	f["pids.current"] = fmt.Sprintf("%d\n", nd.pidsCurrent)
	f["pids.max"] = maxOr(nd.pidsMax, "max")
	f["pids.peak"] = fmt.Sprintf("%d\n", nd.pidsPeak)
	// v1 counts fork failures where the fork happened (local).
	f["pids.events"] = fmt.Sprintf("max %d\n", nd.pidsEventsLocal)
	return f
}

func v1MemoryFiles(nd *node) map[string]string {
	f := map[string]string{
		"cgroup.procs":               procs(nd),
		"tasks":                      procs(nd),
		"memory.usage_in_bytes":      fmt.Sprintf("%d\n", nd.memCurrent),
		"memory.max_usage_in_bytes":  fmt.Sprintf("%d\n", nd.memCurrent+pageSize*(nd.rng%1024)),
		"memory.limit_in_bytes":      maxOr(nd.memMax, v1Unlimited),
		"memory.soft_limit_in_bytes": v1Unlimited + "\n",
		"memory.failcnt":             fmt.Sprintf("%d\n", nd.memLocal.max),
		"memory.oom_control":         fmt.Sprintf("oom_kill_disable 0\nunder_oom 0\noom_kill %d\n", nd.memLocal.oomKill),
		"memory.use_hierarchy":       "1\n",
		"memory.swappiness":          "60\n",
		"memory.stat":                v1MemoryStat(nd),
	}
	return f
}

func writeTree(dir string, nodes []*node, files func(*node) map[string]string) error {
	for _, nd := range nodes {
		d := filepath.Join(dir, filepath.FromSlash(nd.path))
		if err := writeFiles(d, files(nd)); err != nil {
			return err
		}
	}
	return nil
}

func writeFiles(dir string, files map[string]string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Mountinfo lines as the host's PID 1 shows them; cgroup lines follow
// systemd's unified, legacy and hybrid layouts.
const mountinfoBase = `21 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw
22 21 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw
23 21 0:22 / /proc rw,nosuid,nodev,noexec,relatime shared:13 - proc proc rw
24 21 0:5 / /dev rw,nosuid shared:8 - devtmpfs devtmpfs rw,size=8150564k,nr_inodes=2037641,mode=755,inode64
25 24 0:23 / /dev/shm rw,nosuid,nodev shared:9 - tmpfs tmpfs rw,inode64
26 21 0:24 / /run rw,nosuid,nodev shared:10 - tmpfs tmpfs rw,size=3266256k,nr_inodes=819200,mode=755,inode64
`

const mountinfoV2 = `29 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
30 22 0:27 / /sys/fs/pstore rw,nosuid,nodev,noexec,relatime shared:5 - pstore pstore rw
`

const mountinfoV1 = `31 22 0:28 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:3 - tmpfs tmpfs ro,size=4096k,nr_inodes=1024,mode=755,inode64
32 31 0:29 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:4 - cgroup cgroup rw,xattr,release_agent=/usr/lib/systemd/systemd-cgroups-agent,name=systemd
33 31 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,cpu,cpuacct
34 31 0:31 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,memory
35 31 0:32 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,pids
36 31 0:33 / /sys/fs/cgroup/blkio rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,blkio
`

// mountinfoHybrid is the live sample of KERNEL.md §7 with its context.
const mountinfoHybrid = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`

// Mountinfo returns the mountinfo content Generate writes for shape.
func Mountinfo(shape Shape) string {
	switch shape {
	case V1:
		return mountinfoBase + mountinfoV1
	case Hybrid:
		return mountinfoBase + mountinfoHybrid
	default:
		return mountinfoBase + mountinfoV2
	}
}

func writeMountinfo(t *Tree, shape Shape) error {
	mi := Mountinfo(shape)
	for _, who := range []string{"1", "self"} {
		d := filepath.Join(t.ProcPath, who)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(d, "mountinfo"), []byte(mi), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// TempDir returns an empty directory removed when tb ends, on tmpfs
// (/dev/shm) when available: generating thousands of cgroups on a disk
// filesystem takes long, and an in-memory filesystem is closer to cgroupfs
// when the tree is used for benchmarks.
func TempDir(tb testing.TB) string {
	tb.Helper()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "cgrouptest-"); err == nil {
			tb.Cleanup(func() { os.RemoveAll(d) })
			return d
		}
	}
	return tb.TempDir()
}

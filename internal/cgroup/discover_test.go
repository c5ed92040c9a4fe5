package cgroup

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

// host lays out a fake host below a temp dir: proc/<who>/mountinfo from a
// fixture (or literal content) and cgroup.controllers files.
type host struct {
	t    *testing.T
	root string
}

func newHost(t *testing.T) *host { return &host{t: t, root: t.TempDir()} }

func (h *host) path(rel string) string { return filepath.Join(h.root, rel) }

func (h *host) write(rel, content string) {
	h.t.Helper()
	p := h.path(rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

func (h *host) mountinfo(rel, fixture string) {
	h.t.Helper()
	h.write(rel, string(readFixture(h.t, filepath.Join("testdata", "mountinfo", fixture))))
}

const allControllers = "cpuset cpu io memory hugetlb pids rdma misc\n"

func TestDiscover(t *testing.T) {
	tests := []struct {
		name      string
		fixture   string
		who       string            // "1", "self" or "both"
		files     map[string]string // relative to the host root
		sys, root string            // relative to the host root
		want      func(r string) Hierarchies
	}{
		{
			name: "pure v2", fixture: "v2", who: "1", sys: "sys", root: "",
			files: map[string]string{"sys/fs/cgroup/cgroup.controllers": allControllers},
			want: func(r string) Hierarchies {
				v2 := Hierarchy{Version: V2, Dir: r + "/sys/fs/cgroup", MountPoint: "/sys/fs/cgroup", Root: "/"}
				return Hierarchies{Pids: v2, Memory: v2, Unified: v2,
					UnifiedControllers: []string{"cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"},
					Mountinfo:          r + "/proc/1/mountinfo"}
			},
		},
		{
			name: "v2 with local events", fixture: "v2-localevents", who: "both", sys: "sys",
			files: map[string]string{"sys/fs/cgroup/cgroup.controllers": "memory pids\n"},
			want: func(r string) Hierarchies {
				v2 := Hierarchy{Version: V2, Dir: r + "/sys/fs/cgroup", MountPoint: "/sys/fs/cgroup", Root: "/"}
				local := v2
				local.LocalEvents = true
				return Hierarchies{Pids: local, Memory: local, Unified: v2,
					UnifiedControllers: []string{"memory", "pids"}, Mountinfo: r + "/proc/1/mountinfo"}
			},
		},
		{
			name: "v2 without pids enabled", fixture: "v2", who: "1", sys: "sys",
			files: map[string]string{"sys/fs/cgroup/cgroup.controllers": "cpu io memory\n"},
			want: func(r string) Hierarchies {
				v2 := Hierarchy{Version: V2, Dir: r + "/sys/fs/cgroup", MountPoint: "/sys/fs/cgroup", Root: "/"}
				return Hierarchies{Memory: v2, Unified: v2,
					UnifiedControllers: []string{"cpu", "io", "memory"}, Mountinfo: r + "/proc/1/mountinfo"}
			},
		},
		{
			name: "v1 legacy", fixture: "v1", who: "1", sys: "sys",
			want: func(r string) Hierarchies {
				return Hierarchies{
					Pids:      Hierarchy{Version: V1, Dir: r + "/sys/fs/cgroup/pids", MountPoint: "/sys/fs/cgroup/pids", Root: "/", LocalEvents: true},
					Memory:    Hierarchy{Version: V1, Dir: r + "/sys/fs/cgroup/memory", MountPoint: "/sys/fs/cgroup/memory", Root: "/", LocalEvents: true},
					Mountinfo: r + "/proc/1/mountinfo",
				}
			},
		},
		{
			name: "hybrid", fixture: "hybrid", who: "1", sys: "sys",
			files: map[string]string{"sys/fs/cgroup/unified/cgroup.controllers": "\n"},
			want: func(r string) Hierarchies {
				return Hierarchies{
					Pids:               Hierarchy{Version: V1, Dir: r + "/sys/fs/cgroup/pids", MountPoint: "/sys/fs/cgroup/pids", Root: "/", LocalEvents: true},
					Memory:             Hierarchy{Version: V1, Dir: r + "/sys/fs/cgroup/memory", MountPoint: "/sys/fs/cgroup/memory", Root: "/", LocalEvents: true},
					Unified:            Hierarchy{Version: V2, Dir: r + "/sys/fs/cgroup/unified", MountPoint: "/sys/fs/cgroup/unified", Root: "/"},
					UnifiedControllers: []string{},
					Mountinfo:          r + "/proc/1/mountinfo",
				}
			},
		},
		{
			name: "hybrid with pids on the unified mount", fixture: "hybrid-pids-v2-localevents", who: "1", sys: "sys",
			files: map[string]string{"sys/fs/cgroup/unified/cgroup.controllers": "pids\n"},
			want: func(r string) Hierarchies {
				u := Hierarchy{Version: V2, Dir: r + "/sys/fs/cgroup/unified", MountPoint: "/sys/fs/cgroup/unified", Root: "/"}
				p := u
				p.LocalEvents = true
				return Hierarchies{
					Pids:               p,
					Memory:             Hierarchy{Version: V1, Dir: r + "/sys/fs/cgroup/memory", MountPoint: "/sys/fs/cgroup/memory", Root: "/", LocalEvents: true},
					Unified:            u,
					UnifiedControllers: []string{"pids"},
					Mountinfo:          r + "/proc/1/mountinfo",
				}
			},
		},
		{
			// The host's /proc, /sys and / mounted at /host/{proc,sys,}.
			name: "containerised exporter", fixture: "v2", who: "1", sys: "host/sys", root: "host",
			files: map[string]string{"host/sys/fs/cgroup/cgroup.controllers": allControllers},
			want: func(r string) Hierarchies {
				v2 := Hierarchy{Version: V2, Dir: r + "/host/sys/fs/cgroup", MountPoint: "/sys/fs/cgroup", Root: "/"}
				return Hierarchies{Pids: v2, Memory: v2, Unified: v2,
					UnifiedControllers: []string{"cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"},
					Mountinfo:          r + "/host/proc/1/mountinfo"}
			},
		},
		{
			// Own /proc without the host's PID 1: the container's view,
			// whose v1 mounts are the container's subtrees.
			name: "docker v1 container, self only", fixture: "docker-v1-self", who: "self", sys: "sys",
			want: func(r string) Hierarchies {
				root := "/docker/" + id1
				return Hierarchies{
					Pids:      Hierarchy{Version: V1, Dir: r + "/sys/fs/cgroup/pids", MountPoint: "/sys/fs/cgroup/pids", Root: root, LocalEvents: true},
					Memory:    Hierarchy{Version: V1, Dir: r + "/sys/fs/cgroup/memory", MountPoint: "/sys/fs/cgroup/memory", Root: root, LocalEvents: true},
					Mountinfo: r + "/proc/self/mountinfo",
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHost(t)
			proc := filepath.Join(filepath.Dir(tt.sys), "proc")
			if tt.who == "1" || tt.who == "both" {
				h.mountinfo(filepath.Join(proc, "1", "mountinfo"), tt.fixture)
			}
			if tt.who == "self" || tt.who == "both" {
				h.mountinfo(filepath.Join(proc, "self", "mountinfo"), tt.fixture)
			}
			for rel, c := range tt.files {
				h.write(rel, c)
			}
			got, err := Discover(h.path(proc), h.path(tt.sys), h.path(tt.root))
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want(h.root)
			if want.UnifiedControllers == nil && got.UnifiedControllers != nil && len(got.UnifiedControllers) == 0 {
				want.UnifiedControllers = got.UnifiedControllers
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Discover:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestDiscoverPrefersHostBindOverNamespacedMount(t *testing.T) {
	// Exporter in a pod with its own cgroup namespace and mount namespace,
	// no hostPID, the host's /sys mounted at /host/sys: its own
	// /sys/fs/cgroup shows root "/", the host's tree shows "/../../..".
	h := newHost(t)
	sys := h.path("host/sys")
	h.write("proc/self/mountinfo", `2301 2280 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - cgroup2 cgroup rw,nsdelegate,memory_recursiveprot
2310 2280 0:22 / `+sys+` ro,relatime master:6 - sysfs sysfs rw
2311 2310 0:26 /../../.. `+sys+`/fs/cgroup ro,relatime master:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`)
	h.write("host/sys/fs/cgroup/cgroup.controllers", allControllers)
	got, err := Discover(h.path("proc"), sys, "/")
	if err != nil {
		t.Fatal(err)
	}
	if got.Pids.Dir != sys+"/fs/cgroup" || got.Memory.Version != V2 || got.Pids.Root != "/../../.." {
		t.Fatalf("chose %+v", got.Pids)
	}
	if p := got.Pids.CgroupPath("/kubepods.slice"); p != "/kubepods.slice" {
		t.Errorf("CgroupPath with a root outside the namespace = %q", p)
	}
}

func TestDiscoverFallsBackToSelf(t *testing.T) {
	// PID 1's mountinfo is readable but lists no cgroup mount (a minimal
	// init in another mount namespace); self has them.
	h := newHost(t)
	h.write("proc/1/mountinfo", "22 1 0:21 / / rw - overlay overlay rw\n")
	h.mountinfo("proc/self/mountinfo", "v1")
	got, err := Discover(h.path("proc"), h.path("sys"), h.root)
	if err != nil {
		t.Fatal(err)
	}
	if got.Mountinfo != h.path("proc/self/mountinfo") || got.Pids.Version != V1 {
		t.Errorf("got %+v", got)
	}
}

func TestDiscoverErrors(t *testing.T) {
	h := newHost(t)
	if _, err := Discover(h.path("proc"), h.path("sys"), h.root); err == nil {
		t.Error("no mountinfo: want error")
	}
	// Mountinfo without any cgroup: nothing available, not an error.
	h.write("proc/1/mountinfo", "22 1 0:21 / / rw - ext4 /dev/sda1 rw\n")
	h.write("proc/self/mountinfo", "22 1 0:21 / / rw - ext4 /dev/sda1 rw\n")
	got, err := Discover(h.path("proc"), h.path("sys"), h.root)
	if err != nil || got.Pids.Available() || got.Memory.Available() || got.Unified.Available() {
		t.Errorf("no cgroups: %+v, %v", got, err)
	}
	// cgroup2 mounted but its root not where sysPath says: reported.
	h.mountinfo("proc/1/mountinfo", "v2")
	got, err = Discover(h.path("proc"), h.path("sys"), h.root)
	if err == nil || got.Unified.Dir != h.path("sys/fs/cgroup") || got.Pids.Available() {
		t.Errorf("missing cgroup2 root: %+v, %v", got, err)
	}
	// cgroup.controllers that is a directory: reported, v1 still found.
	h.mountinfo("proc/1/mountinfo", "hybrid-pids-v2-localevents")
	if err := os.MkdirAll(h.path("sys/fs/cgroup/unified/cgroup.controllers"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err = Discover(h.path("proc"), h.path("sys"), h.root)
	if err == nil || got.Memory.Version != V1 || got.Pids.Available() {
		t.Errorf("unreadable controllers: %+v, %v", got, err)
	}
}

func TestCgroupPath(t *testing.T) {
	h := Hierarchy{Root: "/docker/" + id1}
	if got := h.CgroupPath("/"); got != "/docker/"+id1 {
		t.Errorf("root: %q", got)
	}
	if got := h.CgroupPath("/sub"); got != "/docker/"+id1+"/sub" {
		t.Errorf("child: %q", got)
	}
	if got := (Hierarchy{Root: "/"}).CgroupPath("/a/b"); got != "/a/b" {
		t.Errorf("plain: %q", got)
	}
}

func TestMapMountPoint(t *testing.T) {
	tests := []struct{ point, sys, root, want string }{
		{"/sys/fs/cgroup", "/sys", "/", "/sys/fs/cgroup"},
		{"/sys/fs/cgroup/pids", "/host/sys", "/host", "/host/sys/fs/cgroup/pids"},
		{"/sys", "/host/sys", "/", "/host/sys"},
		{"/sysfoo/cgroup", "/host/sys", "/host", "/host/sysfoo/cgroup"},
		{"/run/cgroup2", "/host/sys", "/host", "/host/run/cgroup2"},
		{"/run/cgroup2", "/sys", "/", "/run/cgroup2"},
		// Already in the exporter's view.
		{"/host/sys/fs/cgroup", "/host/sys", "/", "/host/sys/fs/cgroup"},
		{"/rootfs/run/cg", "/sys", "/rootfs", "/rootfs/run/cg"},
		{"/sys/fs/cgroup", "", "", "/sys/fs/cgroup"},
	}
	for _, tt := range tests {
		if got := mapMountPoint(tt.point, tt.sys, tt.root); got != tt.want {
			t.Errorf("mapMountPoint(%q, %q, %q) = %q, want %q", tt.point, tt.sys, tt.root, got, tt.want)
		}
	}
}

func TestForEachMount(t *testing.T) {
	in := "garbage\n" +
		"\n" +
		"1 2 3 4\n" +
		"29 24 0:26 / /sys/fs/cgroup rw - cgroup2\n" + // no source or options
		"30 24 0:27 / /sys/fs/cgroup/my\\040cg rw shared:1 master:2 - cgroup cgroup rw,memory,pids\n" +
		"31 24 0:28 / relative rw - cgroup cgroup rw,pids\n" +
		"32 24 0:29 / /x rw - - - -\n"
	var got []mount
	lines, bad, first := forEachMount([]byte(in), func(m mount) { got = append(got, m) })
	if lines != 6 || bad != 3 || first != 1 {
		t.Errorf("lines %d, bad %d, first bad %d; want 6, 3, 1", lines, bad, first)
	}
	want := []mount{
		{root: "/", point: "/sys/fs/cgroup", fstype: "cgroup2"},
		{root: "/", point: "/sys/fs/cgroup/my cg", fstype: "cgroup", super: []string{"rw", "memory", "pids"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	// Co-mounted pids and memory resolve to the same directory.
	h, _, _ := discoverFrom([]byte(in), "/sys", "/")
	if h.Pids.Dir != "/sys/fs/cgroup/my cg" || h.Memory.Dir != h.Pids.Dir || h.Pids.Version != V1 {
		t.Errorf("co-mount: %+v", h)
	}
}

// A mountinfo that leads out of --path.procfs is not used: the hierarchies
// would be taken from a file the exporter was never pointed at.
func TestDiscoverStaysInsideProcfs(t *testing.T) {
	h := newHost(t)
	h.mountinfo("elsewhere/mountinfo", "v2")
	h.write("sys/fs/cgroup/cgroup.controllers", allControllers)
	for _, who := range []string{"1", "self"} {
		if err := os.MkdirAll(h.path("proc/"+who), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("../../elsewhere/mountinfo", h.path("proc/"+who+"/mountinfo")); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Discover(h.path("proc"), h.path("sys"), h.root)
	if fsutil.Reason(err) != "symlink" || got.Pids.Available() {
		t.Errorf("mountinfo out of procfs: %+v, %v", got, err)
	}
}

// unusable plants an unusable file of the given kind at p: every shape a
// mountinfo (or any kernel file) can take that is not a readable file.
// Root ignores mode bits, so an unreadable file is not among them.
func unusable(t *testing.T, p, kind string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(p)
	var err error
	switch kind {
	case "fifo":
		err = syscall.Mkfifo(p, 0o644)
	case "huge":
		// 2 GiB, sparse: nothing is written, the read cap refuses it.
		var f *os.File
		if f, err = os.Create(p); err == nil {
			err = f.Truncate(2 << 30)
			f.Close()
		}
	case "directory":
		err = os.Mkdir(p, 0o755)
	case "symlink-loop":
		err = os.Symlink(filepath.Base(p), p)
	case "garbage":
		err = os.WriteFile(p, []byte("this is not a mount table\n\x00\x01\x02\xff\n"), 0o644)
	default:
		t.Fatalf("unknown kind %q", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
}

var unusableReasons = map[string]string{
	"fifo": "not_regular", "huge": "too_large", "directory": "not_regular",
	"symlink-loop": "symlink", "garbage": "garbage",
}

func problemReasons(h Hierarchies) map[string]string {
	out := map[string]string{}
	for _, p := range h.Problems {
		var pe *fs.PathError
		if !errors.As(p, &pe) {
			out["?"] = p.Error()
			continue
		}
		out[pe.Path] = fsutil.Reason(p)
	}
	return out
}

// TestDiscoverUnusableMountinfo: an unusable mountinfo is a problem with
// the reason of its cause, whether or not the other file saves discovery;
// it never passes for a host without cgroups.
func TestDiscoverUnusableMountinfo(t *testing.T) {
	for kind, reason := range unusableReasons {
		t.Run(kind, func(t *testing.T) {
			// PID 1's file unusable, self's fine: self is used, 1 reported.
			h := newHost(t)
			unusable(t, h.path("proc/1/mountinfo"), kind)
			h.mountinfo("proc/self/mountinfo", "v1")
			got, err := Discover(h.path("proc"), h.path("sys"), h.root)
			if err != nil {
				t.Fatal(err)
			}
			if got.Pids.Version != V1 || got.Mountinfo != h.path("proc/self/mountinfo") {
				t.Errorf("fallback to self: %+v", got)
			}
			want := map[string]string{h.path("proc/1/mountinfo"): reason}
			if r := problemReasons(got); !reflect.DeepEqual(r, want) {
				t.Errorf("problems %v, want %v", r, want)
			}

			// Both unusable: nothing found, both reported.
			unusable(t, h.path("proc/self/mountinfo"), kind)
			got, _ = Discover(h.path("proc"), h.path("sys"), h.root)
			if got.Pids.Available() || got.Memory.Available() {
				t.Errorf("hierarchies from unusable files: %+v", got)
			}
			want[h.path("proc/self/mountinfo")] = reason
			if r := problemReasons(got); !reflect.DeepEqual(r, want) {
				t.Errorf("problems %v, want %v", r, want)
			}
		})
	}
}

// TestDiscoverGarbageLines: malformed lines make the file garbage, but the
// well-formed cgroup mounts around them are still used.
func TestDiscoverGarbageLines(t *testing.T) {
	h := newHost(t)
	v1 := string(readFixture(t, filepath.Join("testdata", "mountinfo", "v1")))
	h.write("proc/1/mountinfo", "garbage\n"+v1+"1 2 3 4\n")
	got, err := Discover(h.path("proc"), h.path("sys"), h.root)
	if err != nil {
		t.Fatal(err)
	}
	if got.Pids.Version != V1 || got.Memory.Version != V1 || got.Mountinfo != h.path("proc/1/mountinfo") {
		t.Errorf("well-formed mounts lost: %+v", got)
	}
	want := map[string]string{h.path("proc/1/mountinfo"): "garbage"}
	if r := problemReasons(got); !reflect.DeepEqual(r, want) {
		t.Errorf("problems %v, want %v", r, want)
	}
	// The message says where, never what: no file contents in logs.
	if msg := got.Problems[0].Error(); !strings.Contains(msg, "2 of ") || !strings.Contains(msg, "line 1") || strings.Contains(msg, "garbage\\n") {
		t.Errorf("message %q", msg)
	}
}

// TestDiscoverNoCgroupsIsNoProblem: an empty mountinfo, or one whose lines
// are all well formed but name no cgroup mount, is a host without cgroups.
func TestDiscoverNoCgroupsIsNoProblem(t *testing.T) {
	for name, content := range map[string]string{
		"empty":     "",
		"blank":     "\n\n",
		"no cgroup": "22 1 0:21 / / rw - ext4 /dev/sda1 rw\n25 22 0:4 net:[4026531840] /run/netns/a rw shared:3 - nsfs nsfs rw\n",
	} {
		h := newHost(t)
		h.write("proc/1/mountinfo", content)
		h.write("proc/self/mountinfo", content)
		got, err := Discover(h.path("proc"), h.path("sys"), h.root)
		if err != nil || len(got.Problems) != 0 || got.Pids.Available() || got.Memory.Available() {
			t.Errorf("%s: %+v, %v", name, got, err)
		}
	}
}

// TestDiscoverUnusableControllers: a cgroup.controllers that is a FIFO or
// garbage is a problem, and no controller is taken from it.
func TestDiscoverUnusableControllers(t *testing.T) {
	for kind, reason := range map[string]string{"fifo": "not_regular", "garbage": "garbage", "directory": "not_regular"} {
		h := newHost(t)
		h.mountinfo("proc/1/mountinfo", "v2")
		p := h.path("sys/fs/cgroup/cgroup.controllers")
		unusable(t, p, kind)
		got, err := Discover(h.path("proc"), h.path("sys"), h.root)
		if err == nil || got.Pids.Available() || got.Memory.Available() {
			t.Errorf("%s: %+v, %v", kind, got, err)
		}
		if r := problemReasons(got); !reflect.DeepEqual(r, map[string]string{p: reason}) {
			t.Errorf("%s: problems %v", kind, r)
		}
	}
}

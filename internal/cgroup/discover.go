package cgroup

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

// Version says which cgroup interface provides a controller.
type Version int

// Unavailable means the controller is not mounted anywhere.
const (
	Unavailable Version = iota
	V1
	V2
)

func (v Version) String() string {
	switch v {
	case V1:
		return "v1"
	case V2:
		return "v2"
	default:
		return "unavailable"
	}
}

// Hierarchy is where one controller's files are read from.
type Hierarchy struct {
	Version Version
	// Dir is the directory to read, after mapping the mount point into the
	// exporter's view (see Discover).
	Dir string
	// MountPoint is the mount point as mountinfo wrote it.
	MountPoint string
	// Root is the mount's root within the hierarchy: "/" for a normal mount,
	// the subtree's path for a bind mount or a mount made inside a cgroup
	// namespace. CgroupPath prefixes it so paths read as the host names them.
	Root string
	// LocalEvents is true when the controller's events file (memory.events,
	// pids.events) counts only the cgroup's own events: always on v1, and
	// on v2 when the mount carries memory_localevents / pids_localevents.
	// On v2 without the option memory.events is hierarchical (5.2+) and so
	// is pids.events from 6.11; older v2 kernels counted pids events
	// locally, which only the absence of pids.events.local reveals.
	LocalEvents bool
}

// Available reports whether the controller was found.
func (h Hierarchy) Available() bool { return h.Version != Unavailable }

// CgroupPath turns a path relative to Dir (as Walk reports it) into the
// cgroup's path in the hierarchy. A Root that lies outside the reader's
// cgroup namespace (mountinfo shows it as "/.." …) is not meaningful and is
// ignored.
func (h Hierarchy) CgroupPath(rel string) string {
	if h.Root == "" || h.Root == "/" || !strings.HasPrefix(h.Root, "/") || strings.Contains(h.Root, "/..") {
		return rel
	}
	if rel == "/" || rel == "" {
		return h.Root
	}
	return h.Root + rel
}

// Hierarchies is what Discover found.
type Hierarchies struct {
	Pids   Hierarchy
	Memory Hierarchy
	// Unified is the cgroup2 mount (pure v2 at /sys/fs/cgroup, hybrid at
	// /sys/fs/cgroup/unified), whether or not it provides pids or memory.
	Unified Hierarchy
	// UnifiedControllers is the content of the v2 root's cgroup.controllers.
	UnifiedControllers []string
	// Mountinfo is the file the mounts were read from.
	Mountinfo string
}

// maxMountinfo bounds the read; nodes with thousands of container mounts
// reach a few MiB.
const maxMountinfo = 16 << 20

// Discover finds the pids and memory hierarchies from mountinfo.
//
// Which mountinfo: <procPath>/1/mountinfo is preferred because it is the
// host's view whenever procPath is the host's /proc (bare metal, hostPID, or
// the host /proc mounted into the exporter's container); the exporter's own
// mount namespace may hold only a namespaced cgroup mount or none. When it
// cannot be read, or lists no cgroup mount, <procPath>/self/mountinfo is used.
//
// Mount points are host paths. They are mapped into the exporter's view:
// a mount point already below sysPath or rootPath (other than "/") is kept;
// "/sys" and "/sys/…" become sysPath + the rest; any other absolute mount
// point becomes rootPath + the mount point. With the defaults (/sys, /)
// this is the identity; with --path.sysfs=/host/sys, /sys/fs/cgroup/pids
// becomes /host/sys/fs/cgroup/pids.
//
// A v1 mount of a controller wins over v2 (a controller is bound to one
// hierarchy at a time); v2 provides a controller listed in the unified
// root's cgroup.controllers. An error is returned when no mountinfo can be
// read, or when cgroup2 is mounted but the mapped root's cgroup.controllers
// cannot be read (usually the host's /sys is not at sysPath); in the latter
// case the result still holds what was found, v1 hierarchies included.
func Discover(procPath, sysPath, rootPath string) (Hierarchies, error) {
	var firstErr error
	proc := fsutil.NewTree(procPath)
	for _, who := range []string{"1", "self"} {
		p := filepath.Join(procPath, who, "mountinfo")
		b, err := proc.ReadFile(p, maxMountinfo)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		h, ok, err := discoverFrom(b, sysPath, rootPath)
		if !ok && who == "1" {
			continue
		}
		h.Mountinfo = p
		return h, err
	}
	if firstErr != nil {
		return Hierarchies{}, fmt.Errorf("reading mountinfo: %w", firstErr)
	}
	// Both files were readable but neither lists a cgroup mount.
	return Hierarchies{Mountinfo: filepath.Join(procPath, "self", "mountinfo")}, nil
}

// mount is the part of a mountinfo line discovery needs.
type mount struct {
	root, point, fstype string
	super               []string
}

// discoverFrom resolves hierarchies from mountinfo content; ok reports
// whether any cgroup mount was seen.
func discoverFrom(mountinfo []byte, sysPath, rootPath string) (Hierarchies, bool, error) {
	var h Hierarchies
	var v2 *mount
	var pids, mem *mount
	seen := false
	better := func(cur *mount, m mount) *mount {
		if cur == nil || mountScore(m, sysPath, rootPath) > mountScore(*cur, sysPath, rootPath) {
			return &m
		}
		return cur
	}
	forEachMount(mountinfo, func(m mount) {
		switch m.fstype {
		case "cgroup2":
			seen = true
			v2 = better(v2, m)
		case "cgroup":
			seen = true
			for _, o := range m.super {
				switch o {
				case "pids":
					pids = better(pids, m)
				case "memory":
					mem = better(mem, m)
				}
			}
		}
	})
	var err error
	if v2 != nil {
		h.Unified = Hierarchy{Version: V2, Dir: mapMountPoint(v2.point, sysPath, rootPath), MountPoint: v2.point, Root: v2.root}
		p := filepath.Join(h.Unified.Dir, "cgroup.controllers")
		b, rerr := fsutil.NewTrees(sysPath, rootPath).Find(p).ReadFile(p, 4096)
		if rerr == nil {
			h.UnifiedControllers = strings.Fields(string(b))
		} else {
			// Missing means the mapped directory is not the cgroup2 root:
			// the host's /sys is not where sysPath says.
			err = fmt.Errorf("cgroup2 is mounted at %s but its controllers cannot be read: %w", v2.point, rerr)
		}
	}
	h.Pids = resolve("pids", "pids_localevents", pids, v2, h.UnifiedControllers, sysPath, rootPath)
	h.Memory = resolve("memory", "memory_localevents", mem, v2, h.UnifiedControllers, sysPath, rootPath)
	return h, seen, err
}

func resolve(name, localOpt string, v1, v2 *mount, unified []string, sysPath, rootPath string) Hierarchy {
	if v1 != nil {
		return Hierarchy{Version: V1, Dir: mapMountPoint(v1.point, sysPath, rootPath), MountPoint: v1.point, Root: v1.root, LocalEvents: true}
	}
	if v2 == nil || !contains(unified, name) {
		return Hierarchy{}
	}
	return Hierarchy{Version: V2, Dir: mapMountPoint(v2.point, sysPath, rootPath), MountPoint: v2.point, Root: v2.root, LocalEvents: contains(v2.super, localOpt)}
}

// mountScore ranks mounts of the same controller; the first of the best
// wins. A mount point below a configured sysPath/rootPath is the host's tree
// mounted into the exporter's container on purpose, and beats the
// container's own namespaced /sys/fs/cgroup (whose root, "/" in its own
// namespace, says nothing about the host). Otherwise a mount of the whole
// hierarchy (root "/") beats a bind mount of a subtree.
func mountScore(m mount, sysPath, rootPath string) int {
	score := 0
	if (sysPath != "" && filepath.Clean(sysPath) != "/sys" && under(m.point, sysPath)) ||
		(rootPath != "" && filepath.Clean(rootPath) != "/" && under(m.point, rootPath)) {
		score += 2
	}
	if m.root == "/" {
		score++
	}
	return score
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func mapMountPoint(point, sysPath, rootPath string) string {
	if sysPath == "" {
		sysPath = "/sys"
	}
	if rootPath == "" {
		rootPath = "/"
	}
	// Cleaning an absolute path drops "..", so the result stays below
	// sysPath or rootPath.
	point = filepath.Clean(point)
	if under(point, sysPath) && filepath.Clean(sysPath) != "/sys" {
		return point
	}
	if under(point, rootPath) && filepath.Clean(rootPath) != "/" {
		return point
	}
	if under(point, "/sys") {
		return filepath.Join(sysPath, strings.TrimPrefix(point, "/sys"))
	}
	return filepath.Join(rootPath, point)
}

func under(p, dir string) bool {
	dir = filepath.Clean(dir)
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// forEachMount calls fn for each well-formed mountinfo line; malformed lines
// are skipped so that one odd entry cannot hide the cgroup mounts.
//
// Line format (proc(5)): id parent major:minor root mountpoint options
// [optional fields…] - fstype source superoptions.
func forEachMount(b []byte, fn func(mount)) {
	var fields [64][]byte
	for len(b) > 0 {
		var line []byte
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			line, b = b, nil
		}
		n := 0
		for len(line) > 0 && n < len(fields) {
			if line[0] == ' ' {
				line = line[1:]
				continue
			}
			end := bytes.IndexByte(line, ' ')
			if end < 0 {
				end = len(line)
			}
			fields[n] = line[:end]
			n++
			line = line[end:]
		}
		sep := -1
		for i := 6; i < n; i++ {
			if string(fields[i]) == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || sep+1 >= n {
			continue
		}
		fstype := string(fields[sep+1])
		if fstype != "cgroup" && fstype != "cgroup2" {
			continue
		}
		m := mount{
			root:   unescapeOctal(string(fields[3])),
			point:  unescapeOctal(string(fields[4])),
			fstype: fstype,
		}
		if sep+3 < n {
			m.super = strings.Split(string(fields[sep+3]), ",")
		}
		if !strings.HasPrefix(m.point, "/") {
			continue
		}
		fn(m)
	}
}

// unescapeOctal undoes the kernel's \ooo escaping of space, tab, newline
// and backslash in mountinfo paths.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] <= '3' && isOct(s[i+1]) && isOct(s[i+2]) && isOct(s[i+3]) {
			v := (s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0')
			sb.WriteByte(v)
			i += 3
			continue
		}
		sb.WriteByte(s[i])
	}
	return sb.String()
}

func isOct(c byte) bool { return c >= '0' && c <= '7' }

package cgroup

import (
	"bytes"
	"fmt"
	"io/fs"
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
	// Problems are files discovery found but could not use: a mountinfo
	// that is unreadable, not a regular file, too large, a symlink loop
	// or garbage, an unusable cgroup.controllers. Each is an
	// *fs.PathError whose cause fsutil.Reason names. Absent files are not
	// problems. What could be used still is (a fallback mountinfo, the
	// well-formed lines of a partly garbled one).
	Problems []error
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
// is absent or unusable, or lists no cgroup mount, <procPath>/self/mountinfo
// is used.
//
// A mountinfo is unusable when it cannot be read (permission, I/O error),
// is not a regular file (FIFO, directory), is larger than 16 MiB, is a
// symlink loop, or is garbage: it holds a non-blank line that is not a
// mountinfo line (see parseMountLine). Each unusable file is listed in
// Problems, also when the other file could be used; the well-formed lines
// of a partly garbled file are still used. A file that is empty, or whose
// lines are all well formed but name no cgroup mount, is a host without
// cgroups: no problem.
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
// cannot be used (usually the host's /sys is not at sysPath); in the latter
// case the result still holds what was found, v1 hierarchies included.
func Discover(procPath, sysPath, rootPath string) (Hierarchies, error) {
	var firstErr error
	proc := fsutil.NewTree(procPath)
	var problems []error
	for _, who := range []string{"1", "self"} {
		p := filepath.Join(procPath, who, "mountinfo")
		b, err := proc.ReadFile(p, maxMountinfo)
		if err != nil {
			if !fsutil.IsNotExist(err) {
				problems = append(problems, err)
			}
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		h, st, err := discoverFrom(b, sysPath, rootPath)
		if st.bad > 0 {
			problems = append(problems, &fs.PathError{Op: "parse", Path: p,
				Err: fmt.Errorf("%w: %d of %d lines are not mountinfo lines, the first is line %d", fsutil.ErrGarbage, st.bad, st.lines, st.firstBad)})
		}
		if st.cgroupMounts == 0 && who == "1" {
			continue
		}
		h.Mountinfo = p
		h.Problems = append(problems, h.Problems...)
		return h, err
	}
	if firstErr != nil {
		return Hierarchies{Problems: problems}, fmt.Errorf("reading mountinfo: %w", firstErr)
	}
	// Neither file lists a cgroup mount.
	return Hierarchies{Mountinfo: filepath.Join(procPath, "self", "mountinfo"), Problems: problems}, nil
}

// mount is the part of a mountinfo line discovery needs.
type mount struct {
	root, point, fstype string
	super               []string
}

// mountinfoStats says what discoverFrom saw in a mountinfo.
type mountinfoStats struct {
	// lines counts the non-blank lines, bad those that are not mountinfo
	// lines; firstBad is the 1-based number of the first of them.
	lines, bad, firstBad int
	// cgroupMounts counts the well-formed cgroup and cgroup2 mounts.
	cgroupMounts int
}

// discoverFrom resolves hierarchies from mountinfo content.
func discoverFrom(mountinfo []byte, sysPath, rootPath string) (Hierarchies, mountinfoStats, error) {
	var h Hierarchies
	var v2 *mount
	var pids, mem *mount
	var st mountinfoStats
	better := func(cur *mount, m mount) *mount {
		if cur == nil || mountScore(m, sysPath, rootPath) > mountScore(*cur, sysPath, rootPath) {
			return &m
		}
		return cur
	}
	st.lines, st.bad, st.firstBad = forEachMount(mountinfo, func(m mount) {
		switch m.fstype {
		case "cgroup2":
			st.cgroupMounts++
			v2 = better(v2, m)
		case "cgroup":
			st.cgroupMounts++
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
		ctrls, rerr := readControllers(fsutil.NewTrees(sysPath, rootPath).Find(p), p)
		if rerr == nil {
			h.UnifiedControllers = ctrls
		} else {
			if !fsutil.IsNotExist(rerr) {
				h.Problems = append(h.Problems, rerr)
			}
			// Missing means the mapped directory is not the cgroup2 root:
			// the host's /sys is not where sysPath says.
			err = fmt.Errorf("cgroup2 is mounted at %s but its controllers cannot be read: %w", v2.point, rerr)
		}
	}
	h.Pids = resolve("pids", "pids_localevents", pids, v2, h.UnifiedControllers, sysPath, rootPath)
	h.Memory = resolve("memory", "memory_localevents", mem, v2, h.UnifiedControllers, sysPath, rootPath)
	return h, st, err
}

// readControllers reads a cgroup2 root's cgroup.controllers: controller
// names (lower-case letters, digits, '_') separated by spaces. Anything
// else is garbage, and no controller is taken from it.
func readControllers(tree *fsutil.Tree, p string) ([]string, error) {
	b, err := tree.ReadFile(p, 4096)
	if err != nil {
		return nil, err
	}
	names := strings.Fields(string(b))
	for _, n := range names {
		for i := 0; i < len(n); i++ {
			if c := n[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
				return nil, &fs.PathError{Op: "parse", Path: p, Err: fmt.Errorf("%w: not a list of controller names", fsutil.ErrGarbage)}
			}
		}
	}
	return names, nil
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

// forEachMount calls fn for each cgroup or cgroup2 mount of a mountinfo.
// It returns the number of non-blank lines, how many of them are not
// mountinfo lines (see parseMountLine) and the 1-based number of the first
// such line. Malformed lines are skipped so that one odd entry cannot hide
// the cgroup mounts; the caller reports them.
func forEachMount(b []byte, fn func(mount)) (lines, bad, firstBad int) {
	no := 0
	for len(b) > 0 {
		var line []byte
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			line, b = b, nil
		}
		no++
		if len(bytes.Trim(line, " \t\r")) == 0 {
			continue
		}
		lines++
		m, ok := parseMountLine(line)
		if !ok {
			if bad == 0 {
				firstBad = no
			}
			bad++
			continue
		}
		if m.fstype == "cgroup" || m.fstype == "cgroup2" {
			fn(m)
		}
	}
	return lines, bad, firstBad
}

// maxMountFields bounds a line: ten fields plus a few optional ones
// (shared:N, master:N, propagate_from:N, unbindable).
const maxMountFields = 64

// parseMountLine parses one mountinfo line (proc(5)):
//
//	id parent major:minor root mountpoint options [optional…] - fstype source superoptions
//
// A line is well formed when it has no NUL byte, at most 64 fields, decimal
// mount and parent ids, a major:minor pair of decimals, a mount point
// starting with "/", a lone "-" after the options (optional fields may sit
// between) and a filesystem type after it. The kernel escapes space, tab,
// newline and backslash in paths, so fields never hold a space. The
// source and super options are taken when present. Only the cgroup
// fields are decoded (root, mount point, super options).
func parseMountLine(line []byte) (mount, bool) {
	if bytes.IndexByte(line, 0) >= 0 {
		return mount{}, false
	}
	var fields [maxMountFields][]byte
	n := 0
	for len(line) > 0 {
		if line[0] == ' ' {
			line = line[1:]
			continue
		}
		if n == len(fields) {
			return mount{}, false
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
	if sep < 0 || sep+1 >= n || !isDecimal(fields[0]) || !isDecimal(fields[1]) {
		return mount{}, false
	}
	maj, min, ok := bytes.Cut(fields[2], []byte{':'})
	if !ok || !isDecimal(maj) || !isDecimal(min) || fields[4][0] != '/' {
		return mount{}, false
	}
	m := mount{fstype: string(fields[sep+1])}
	if m.fstype != "cgroup" && m.fstype != "cgroup2" {
		return m, true
	}
	m.root = unescapeOctal(string(fields[3]))
	m.point = unescapeOctal(string(fields[4]))
	if sep+3 < n {
		m.super = strings.Split(string(fields[sep+3]), ",")
	}
	return m, true
}

func isDecimal(b []byte) bool {
	if len(b) == 0 || len(b) > 20 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
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

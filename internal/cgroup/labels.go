package cgroup

import (
	"strings"
	"unicode/utf8"

	"github.com/crashguard/crashguard_exporter/internal/ident"
)

// Runtime label values. The set is closed so that the label stays bounded.
const (
	RuntimeDocker     = "docker"
	RuntimeContainerd = "containerd"
	RuntimeCRIO       = "cri-o"
	RuntimePodman     = "podman"
	RuntimeLXC        = "lxc"
	RuntimeMesos      = "mesos"
	RuntimeSystemd    = "systemd"
	// RuntimeUnknown marks a container whose id the path shows but whose
	// runtime it does not: the Kubernetes cgroupfs driver names container
	// cgroups by bare id (/kubepods/burstable/pod<uid>/<id>) for
	// containerd, cri-dockerd and others alike.
	RuntimeUnknown = "unknown"
	RuntimeNone    = "none"
)

// maxNameLen caps free-form names (LXC/Incus container names).
const maxNameLen = 64

// Label is what a cgroup path says about its owner.
type Label struct {
	ContainerID string
	Runtime     string
	PodUID      string
}

// scopePrefixes maps the unit-name prefix before "-<64hex>" (with or without
// ".scope") to the runtime that creates such cgroups. Conmon and LXC monitor
// cgroups belong to the container they supervise: they carry its id and
// runtime, and the cgroup label tells them apart.
var scopePrefixes = map[string]string{
	"docker":         RuntimeDocker,
	"cri-containerd": RuntimeContainerd,
	"nerdctl":        RuntimeContainerd,
	"crio":           RuntimeCRIO,
	"crio-conmon":    RuntimeCRIO,
	"libpod":         RuntimePodman,
	"libpod-conmon":  RuntimePodman,
}

// Labels derives labels from a cgroup path (as found below a hierarchy
// root, e.g. "/kubepods.slice/…/cri-containerd-<id>.scope").
//
// The path is read from the top down. A container component sets the
// container id and runtime; anything below it inherits them (init.scope
// inside a container, podman's "container" leaf). A pod component sets the
// pod uid and, being a new boundary, clears a container found above it (a
// kind node is a container that holds pods). The innermost match wins.
// A systemd unit (.slice, .scope, .service, …) with no container above it
// gives runtime systemd; a pod slice of the systemd driver is such a unit,
// a cgroupfs pod directory is runtime none. Everything else is none.
//
// Values are bounded: container ids are 64 lowercase hex digits (Mesos: a
// UUID), pod uids are UUIDs or 32 hex digits, names are capped at 64 bytes
// of printable UTF-8, and systemd's \xNN escapes are undone.
func Labels(path string) Label {
	l := Label{Runtime: RuntimeNone}
	var parent string // previous component, unescaped
	for len(path) > 0 {
		var comp string
		if i := strings.IndexByte(path, '/'); i >= 0 {
			comp, path = path[:i], path[i+1:]
		} else {
			comp, path = path, ""
		}
		if comp == "" {
			continue
		}
		comp = unescapeSystemd(comp)
		switch {
		case setContainer(&l, comp, parent):
		case setPod(&l, comp, parent):
		case l.ContainerID == "" && l.PodUID == "" && l.Runtime == RuntimeNone && isUnit(comp):
			l.Runtime = RuntimeSystemd
		}
		parent = comp
	}
	return l
}

func setContainer(l *Label, comp, parent string) bool {
	id, rt := "", ""
	switch {
	case strings.HasPrefix(comp, "lxc.payload.") || strings.HasPrefix(comp, "lxc.monitor."):
		id, rt = boundedName(comp[len("lxc.payload."):]), RuntimeLXC
	case parent == "lxc":
		id, rt = boundedName(comp), RuntimeLXC
	case parent == "mesos" && ident.IsUUID(comp):
		id, rt = comp, RuntimeMesos
	case isHexID(comp):
		id, rt = comp, RuntimeUnknown
		if parent == "docker" {
			rt = RuntimeDocker
		}
	default:
		base := strings.TrimSuffix(comp, ".scope")
		i := strings.LastIndexByte(base, '-')
		if i < 0 || !isHexID(base[i+1:]) {
			return false
		}
		r, ok := scopePrefixes[base[:i]]
		if !ok {
			return false
		}
		id, rt = base[i+1:], r
	}
	if id == "" {
		return false
	}
	l.ContainerID, l.Runtime = id, rt
	return true
}

func setPod(l *Label, comp, parent string) bool {
	var uid string
	switch {
	case strings.HasSuffix(comp, ".slice"):
		// kubepods-pod<uid>.slice, kubepods-<qos>-pod<uid>.slice, and the
		// kubelet-kubepods-… names of kubelets running in a container; the
		// systemd driver writes the uid's dashes as underscores.
		base := comp[:len(comp)-len(".slice")]
		i := strings.LastIndex(base, "-pod")
		if i < 0 || !strings.Contains(base[:i], "kubepods") {
			return false
		}
		uid = strings.ReplaceAll(base[i+len("-pod"):], "_", "-")
	case strings.HasPrefix(comp, "pod") && (strings.HasPrefix(parent, "kubepods") || parent == "burstable" || parent == "besteffort" || parent == "guaranteed"):
		uid = comp[len("pod"):]
	default:
		return false
	}
	if !ident.IsUUID(uid) && !ident.IsLowerHex(uid, 32) {
		return false
	}
	rt := RuntimeNone
	if strings.HasSuffix(comp, ".slice") {
		rt = RuntimeSystemd
	}
	*l = Label{PodUID: uid, Runtime: rt}
	return true
}

var unitSuffixes = []string{".slice", ".scope", ".service", ".socket", ".mount", ".swap"}

func isUnit(comp string) bool {
	for _, s := range unitSuffixes {
		if len(comp) > len(s) && strings.HasSuffix(comp, s) {
			return true
		}
	}
	return false
}

func isHexID(s string) bool { return ident.IsLowerHex(s, 64) }

// boundedName keeps a free-form name usable as a label value: invalid UTF-8
// and control characters become '_', and it is cut to maxNameLen bytes on
// a rune boundary.
func boundedName(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			clean = false
			break
		}
	}
	if clean && len(s) <= maxNameLen {
		return s
	}
	var sb strings.Builder
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		s = s[size:]
		if r == utf8.RuneError || r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			r = '_'
		}
		if sb.Len()+utf8.RuneLen(r) > maxNameLen {
			break
		}
		sb.WriteRune(r)
	}
	return sb.String()
}

// unescapeSystemd undoes systemd's \xNN escaping (systemd-escape(1)) for
// printable ASCII results; other sequences are left as they are.
func unescapeSystemd(s string) string {
	if !strings.Contains(s, `\x`) {
		return s
	}
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			if v, ok := hexByte(s[i+2], s[i+3]); ok && v >= 0x20 && v < 0x7f && v != '/' {
				sb.WriteByte(v)
				i += 3
				continue
			}
		}
		sb.WriteByte(s[i])
	}
	return sb.String()
}

func hexByte(a, b byte) (byte, bool) {
	x, ok1 := hexVal(a)
	y, ok2 := hexVal(b)
	return x<<4 | y, ok1 && ok2
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

package dm

import (
	"strings"
)

// Online discard modes of a mount.
const (
	MountDiscardOff   = "off"
	MountDiscardOn    = "on"    // synchronous: every freed extent is discarded at once
	MountDiscardAsync = "async" // btrfs discard=async: batched in the background
)

// Mount is a file system mounted from a dm device.
type Mount struct {
	Device     string // as in the mounts file, e.g. /dev/mapper/vg0-thin1
	MountPoint string
	FSType     string
	Discard    string // MountDiscardOff, MountDiscardOn or MountDiscardAsync
	// Kernel is the device's dm-N name when known (set by Inspect): from
	// sysfs for /dev/mapper/<name>, from the path for /dev/dm-N.
	Kernel string
}

const maxMountLines = 1 << 16

// MountDiscard parses /proc/self/mounts and returns the mounts whose
// source is a device-mapper device (/dev/mapper/* or /dev/dm-*) with their
// online discard mode. "discard" and "discard=sync" mean synchronous
// discard (on btrfs as on ext4, xfs, f2fs), "discard=async" btrfs' batched
// mode, "nodiscard" or no option none; the last option wins. Octal escapes
// (\040 for a space) in paths are decoded. procfs' mount parsers read
// mountinfo from a file, so this small parser works on the text instead.
//
// The kernel writes six space-separated fields per line ("source mountpoint
// fstype options 0 0") and escapes spaces in paths, so a non-blank line
// with another number of fields, or with a NUL byte, is malformed: it is
// skipped and counted in malformed, for the caller to report the file as
// garbage.
func MountDiscard(mountsContent string) (mounts []Mount, malformed int) {
	var out []Mount
	n := 0
	for line := range strings.Lines(mountsContent) {
		if n++; n > maxMountLines {
			break
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 6 || strings.IndexByte(line, 0) >= 0 {
			malformed++
			continue
		}
		dev := unescapeOctal(f[0])
		if !isDMDevicePath(dev) {
			continue
		}
		out = append(out, Mount{
			Device:     dev,
			MountPoint: unescapeOctal(f[1]),
			FSType:     f[2],
			Discard:    discardMode(f[3]),
		})
	}
	return out, malformed
}

func isDMDevicePath(dev string) bool {
	if name, ok := strings.CutPrefix(dev, "/dev/mapper/"); ok {
		return name != "" && name != "control" && !strings.Contains(name, "/")
	}
	if num, ok := strings.CutPrefix(dev, "/dev/dm-"); ok {
		if num == "" {
			return false
		}
		for i := 0; i < len(num); i++ {
			if num[i] < '0' || num[i] > '9' {
				return false
			}
		}
		return true
	}
	return false
}

func discardMode(opts string) string {
	mode := MountDiscardOff
	for o := range strings.SplitSeq(opts, ",") {
		switch o {
		case "discard", "discard=sync":
			mode = MountDiscardOn
		case "discard=async":
			mode = MountDiscardAsync
		case "nodiscard":
			mode = MountDiscardOff
		}
	}
	return mode
}

// unescapeOctal decodes the kernel's \ooo escapes (space, tab, newline,
// backslash) in mount paths; anything else is kept as written.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		// Three octal digits of at most \377 make one byte.
		if s[i] == '\\' && i+3 < len(s) && s[i+1] >= '0' && s[i+1] <= '3' && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

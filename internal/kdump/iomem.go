package kdump

import (
	"strconv"
	"strings"
)

// ParseIomem counts the "Crash kernel" regions of /proc/iomem and their
// size. Lines look like "  9f000000-aeffffff : Crash kernel", indented two
// spaces per nesting level; crashkernel=X,high gives two regions (high and
// low). Without CAP_SYS_ADMIN the kernel prints every address as zero: such
// a region is counted, adds no bytes and sets hidden, because zero means
// "not shown", not "empty". Lines that do not parse are skipped.
func ParseIomem(content string) (regions int, bytes uint64, hidden bool) {
	for len(content) > 0 {
		var line string
		if i := strings.IndexByte(content, '\n'); i >= 0 {
			line, content = content[:i], content[i+1:]
		} else {
			line, content = content, ""
		}
		rng, name, ok := strings.Cut(line, " : ")
		if !ok || strings.TrimRight(name, " \r") != "Crash kernel" {
			continue
		}
		lo, hi, ok := strings.Cut(strings.TrimLeft(rng, " "), "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end < start {
			continue
		}
		regions++
		if start == 0 && end == 0 {
			hidden = true
			continue
		}
		size := end - start
		if size < ^uint64(0) {
			size++ // end is inclusive
		}
		bytes = addSat(bytes, size)
	}
	return regions, bytes, hidden
}

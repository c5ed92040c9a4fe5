package kdump

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

// ParseMemTotal returns MemTotal from /proc/meminfo contents in bytes
// ("MemTotal:       16316412 kB"). Only that line is looked at, so a kernel
// adding fields or a garbled line elsewhere does not lose it. The file is
// read by the caller through fsutil, which procfs' own reader (a plain
// blocking open that silently truncates at 1 MiB) would bypass.
func ParseMemTotal(b []byte) (uint64, error) {
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte("\n"))
		rest, ok := bytes.CutPrefix(line, []byte("MemTotal:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) < 1 || len(f) > 2 || len(f) == 2 && string(f[1]) != "kB" {
			return 0, fmt.Errorf("%w: MemTotal line is not \"<number> kB\": %s", fsutil.ErrGarbage, fsutil.Excerpt(string(rest)))
		}
		v, err := strconv.ParseUint(string(f[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: MemTotal %s is not a number", fsutil.ErrGarbage, fsutil.Excerpt(string(f[0])))
		}
		if len(f) == 1 {
			return v, nil
		}
		if v > ^uint64(0)/1024 {
			return 0, fmt.Errorf("%w: MemTotal %d kB overflows", fsutil.ErrGarbage, v)
		}
		return v * 1024, nil
	}
	return 0, fmt.Errorf("%w: no MemTotal line", fsutil.ErrGarbage)
}

package kmsg

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

// ParseBtime returns the boot time, in seconds since the epoch, from
// /proc/stat contents ("btime 1718000000"): the base of a kernel log
// record's time since boot. The file is read by the caller through fsutil,
// which procfs' own reader (a plain blocking open) would bypass.
func ParseBtime(b []byte) (uint64, error) {
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte("\n"))
		rest, ok := bytes.CutPrefix(line, []byte("btime "))
		if !ok {
			continue
		}
		v, err := strconv.ParseUint(string(bytes.TrimSpace(rest)), 10, 64)
		if err != nil || v == 0 {
			return 0, fmt.Errorf("%w: btime %s is not a positive number of seconds", fsutil.ErrGarbage, fsutil.Excerpt(string(bytes.TrimSpace(rest))))
		}
		return v, nil
	}
	return 0, fmt.Errorf("%w: no btime line", fsutil.ErrGarbage)
}

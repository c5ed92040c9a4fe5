package kmsg

import (
	"errors"
	"testing"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

func TestParseBtime(t *testing.T) {
	stat := "cpu  10 0 20 300 0 0 0 0 0 0\ncpu0 10 0 20 300 0 0 0 0 0 0\nintr 12345 0 1 2\nctxt 999\nbtime 1718000000\nprocesses 42\n"
	if v, err := ParseBtime([]byte(stat)); err != nil || v != 1718000000 {
		t.Errorf("ParseBtime = %d, %v", v, err)
	}
	for _, in := range []string{"", "cpu 1 2 3\n", "btime soon\n", "btime 0\n", "btime -5\n"} {
		if _, err := ParseBtime([]byte(in)); !errors.Is(err, fsutil.ErrGarbage) {
			t.Errorf("ParseBtime(%q): %v, want garbage", in, err)
		}
	}
}

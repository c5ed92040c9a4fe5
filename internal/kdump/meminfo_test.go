package kdump

import (
	"errors"
	"strings"
	"testing"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

func TestParseMemTotal(t *testing.T) {
	for in, want := range map[string]uint64{
		"MemTotal:       16316412 kB\nMemFree:         1234 kB\n": 16316412 * 1024,
		"MemFree: 1 kB\nMemTotal: 2048 kB":                        2048 * 1024,
		"MemTotal: 4096\n":                                        4096,
		// A garbled line elsewhere does not lose MemTotal.
		"Bogus line\n\x00\x00\nMemTotal: 1 kB\n": 1024,
	} {
		got, err := ParseMemTotal([]byte(in))
		if err != nil || got != want {
			t.Errorf("ParseMemTotal(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{
		"",
		"MemFree: 1 kB\n",
		"MemTotal: lots kB\n",
		"MemTotal: 1 MB\n",
		"MemTotal:\n",
		"MemTotal: 18446744073709551615 kB\n",
		strings.Repeat("\x00", 1<<16),
	} {
		if _, err := ParseMemTotal([]byte(in)); !errors.Is(err, fsutil.ErrGarbage) {
			t.Errorf("ParseMemTotal(%.20q): %v, want garbage", in, err)
		}
	}
	_, err := ParseMemTotal([]byte("MemTotal: root:$6$SECRET-HASH-0123456789 kB\n"))
	if err == nil || strings.Contains(err.Error(), "SECRET-HASH") {
		t.Errorf("the error may quote only a short excerpt: %v", err)
	}
}

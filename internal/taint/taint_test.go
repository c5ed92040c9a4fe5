package taint

import (
	"regexp"
	"testing"
)

// The reference table from Documentation/admin-guide/tainted-kernels.rst
// (bits 0-18) and kernel/panic.c (bit 19, 6.15).
var reference = []struct {
	value  uint64
	letter string
	name   string
}{
	{1, "P", "proprietary_module"},
	{2, "F", "forced_module"},
	{4, "S", "out_of_spec"},
	{8, "R", "forced_unload"},
	{16, "M", "machine_check"},
	{32, "B", "bad_page"},
	{64, "U", "user"},
	{128, "D", "died"},
	{256, "A", "acpi_override"},
	{512, "W", "warning"},
	{1024, "C", "staging"},
	{2048, "I", "firmware_workaround"},
	{4096, "O", "out_of_tree_module"},
	{8192, "E", "unsigned_module"},
	{16384, "L", "soft_lockup"},
	{32768, "K", "livepatch"},
	{65536, "X", "auxiliary"},
	{131072, "T", "randstruct"},
	{262144, "N", "test"},
	{524288, "J", "fwctl"},
}

func TestFlagsTable(t *testing.T) {
	got := Flags()
	if len(got) != len(reference) {
		t.Fatalf("Flags() has %d entries, want %d", len(got), len(reference))
	}
	snake := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	seen := map[string]bool{}
	for i, f := range got {
		r := reference[i]
		if f.Value != 1<<f.Bit {
			t.Errorf("%s: value %d is not 1<<%d", f.Name, f.Value, f.Bit)
		}
		if f.Bit != uint(i) || f.Value != r.value || f.Letter != r.letter || f.Name != r.name || f.Set {
			t.Errorf("Flags()[%d] = %+v, want bit %d value %d %s %s", i, f, i, r.value, r.letter, r.name)
		}
		if !snake.MatchString(f.Name) || seen[f.Name] {
			t.Errorf("name %q not snake_case or duplicated", f.Name)
		}
		seen[f.Name] = true
	}
	got[0].Name = "mutated"
	if Flags()[0].Name != "proprietary_module" {
		t.Fatal("Flags() exposes its backing array")
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name    string
		v       uint64
		set     string // letters expected set
		unknown uint64
	}{
		{"untainted", 0, "", 0},
		// The example from tainted-kernels.rst: 'P        W  O'.
		{"proprietary warning out-of-tree", 4609, "PWO", 0},
		{"oops since boot", 128, "D", 0},
		{"unsigned out-of-tree auxiliary", 77824, "OEX", 0},
		{"soft lockup and warning", 16384 | 512, "WL", 0},
		{"randstruct build", 131072, "T", 0},
		{"fwctl", 524288, "J", 0},
		{"all known", 1<<20 - 1, "PFSRMBUDAWCIOELKXTNJ", 0},
		{"future bit 20", 1<<20 | 128, "D", 1 << 20},
		{"every bit", ^uint64(0), "PFSRMBUDAWCIOELKXTNJ", ^uint64(0) &^ (1<<20 - 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var letters string
			flags := Decode(tt.v)
			if len(flags) != len(reference) {
				t.Fatalf("Decode returned %d flags, want %d", len(flags), len(reference))
			}
			for _, f := range flags {
				if f.Set {
					letters += f.Letter
				}
			}
			if letters != tt.set {
				t.Errorf("Decode(%d) set %q, want %q", tt.v, letters, tt.set)
			}
			if u := Unknown(tt.v); u != tt.unknown {
				t.Errorf("Unknown(%d) = %#x, want %#x", tt.v, u, tt.unknown)
			}
		})
	}
}

func TestDecodeRoundTrip(t *testing.T) {
	for _, v := range []uint64{0, 1, 4609, 77824, 1<<20 - 1, 1<<40 | 3} {
		var sum uint64
		for _, f := range Decode(v) {
			if f.Set {
				sum |= f.Value
			}
		}
		if sum|Unknown(v) != v {
			t.Errorf("flags %#x | unknown %#x != %#x", sum, Unknown(v), v)
		}
	}
}

package sysrq

import (
	"math"
	"regexp"
	"testing"
)

func TestFunctions(t *testing.T) {
	want := []struct {
		bit  int64
		name string
	}{
		{2, "loglevel"}, {4, "keyboard"}, {8, "debug_dump"}, {16, "sync"},
		{32, "remount_ro"}, {64, "signal"}, {128, "reboot"}, {256, "nice_rt"},
	}
	got := Functions()
	if len(got) != len(want) {
		t.Fatalf("Functions() has %d entries, want %d", len(got), len(want))
	}
	snake := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	var sum int64
	for i, f := range got {
		if f.Bit != want[i].bit || f.Name != want[i].name || f.Enabled {
			t.Errorf("Functions()[%d] = %+v, want %d %s", i, f, want[i].bit, want[i].name)
		}
		if !snake.MatchString(f.Name) {
			t.Errorf("name %q is not snake_case", f.Name)
		}
		sum |= f.Bit
	}
	if sum != allBits {
		t.Errorf("function bits sum to %d, want %d", sum, allBits)
	}
	got[0].Name = "mutated"
	if Functions()[0].Name != "loglevel" {
		t.Fatal("Functions() exposes its backing array")
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name    string
		mask    int64
		enabled string // initials of enabled groups, in bit order
		crash   bool
		all     bool
	}{
		{"disabled", 0, "", false, false},
		{"all", 1, "lkdsrgbn", true, true},
		{"fedora rhel systemd default", 16, "s", false, false},
		{"ubuntu default", 176, "srb", false, false},    // 16+32+128
		{"debian default", 438, "lksrbn", false, false}, // 2+4+16+32+128+256
		{"debug only", 8, "d", true, false},
		{"every bit", 510, "lkdsrgbn", true, true},
		{"every bit plus all flag", 511, "lkdsrgbn", true, true},
		{"unknown bits only", 512, "", false, false},
		{"unknown bits and sync", 512 | 16, "s", false, false},
		{"minus one", -1, "lkdsrgbn", true, true},
		{"negative without debug", -9, "lksrgbn", false, false},
		{"min int32", math.MinInt32, "", false, false},
		{"beyond int", 1 << 40, "", false, false},
		{"beyond int with low bits", 1<<40 | 8, "d", true, false},
		{"max int64", math.MaxInt64, "lkdsrgbn", true, true},
	}
	initials := map[string]byte{
		"loglevel": 'l', "keyboard": 'k', "debug_dump": 'd', "sync": 's',
		"remount_ro": 'r', "signal": 'g', "reboot": 'b', "nice_rt": 'n',
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []byte
			fs := Decode(tt.mask)
			if len(fs) != len(functions) {
				t.Fatalf("Decode returned %d groups, want %d", len(fs), len(functions))
			}
			for _, f := range fs {
				if f.Enabled {
					got = append(got, initials[f.Name])
				}
			}
			if string(got) != tt.enabled {
				t.Errorf("Decode(%d) enabled %q, want %q", tt.mask, got, tt.enabled)
			}
			if c := CrashAllowed(tt.mask); c != tt.crash {
				t.Errorf("CrashAllowed(%d) = %v, want %v", tt.mask, c, tt.crash)
			}
			if a := AllEnabled(tt.mask); a != tt.all {
				t.Errorf("AllEnabled(%d) = %v, want %v", tt.mask, a, tt.all)
			}
		})
	}
}

package kdump

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseIomemFixtures(t *testing.T) {
	tests := []struct {
		file    string
		regions int
		bytes   uint64
		hidden  bool
	}{
		{"iomem-root", 1, 256 * MiB, false},
		{"iomem-user", 1, 0, true},
		{"iomem-high-low", 2, 768 * MiB, false},
		{"iomem-high-low-user", 2, 0, true},
		{"iomem-none", 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			regions, bytes, hidden := ParseIomem(string(b))
			if regions != tt.regions || bytes != tt.bytes || hidden != tt.hidden {
				t.Errorf("ParseIomem = %d, %d, %v; want %d, %d, %v",
					regions, bytes, hidden, tt.regions, tt.bytes, tt.hidden)
			}
		})
	}
}

func TestParseIomem(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		regions int
		bytes   uint64
		hidden  bool
	}{
		{"empty", "", 0, 0, false},
		{"no trailing newline", "  9f000000-aeffffff : Crash kernel", 1, 256 * MiB, false},
		{"top level", "9f000000-aeffffff : Crash kernel\n", 1, 256 * MiB, false},
		{"deeper nesting", "    9f000000-aeffffff : Crash kernel\n", 1, 256 * MiB, false},
		{"64-bit addresses", "  81f000000-83effffff : Crash kernel\n", 1, 512 * MiB, false},
		{"CRLF", "  9f000000-aeffffff : Crash kernel\r\n", 1, 256 * MiB, false},
		{"one byte", "  00001000-00001000 : Crash kernel\n", 1, 1, false},
		{"other names", "  9f000000-aeffffff : Crash kernel data\n  9f000000-aeffffff : crash kernel\n", 0, 0, false},
		{"garbage addresses", "  zz-aeffffff : Crash kernel\n  9f000000 : Crash kernel\n", 0, 0, false},
		{"end before start", "  aeffffff-9f000000 : Crash kernel\n", 0, 0, false},
		{"whole address space saturates", "0000000000000000-ffffffffffffffff : Crash kernel\n10-1f : Crash kernel\n", 2, ^uint64(0), false},
		{"one hidden one visible", "  00000000-00000000 : Crash kernel\n  9f000000-aeffffff : Crash kernel\n", 2, 256 * MiB, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			regions, bytes, hidden := ParseIomem(tt.in)
			if regions != tt.regions || bytes != tt.bytes || hidden != tt.hidden {
				t.Errorf("ParseIomem(%q) = %d, %d, %v; want %d, %d, %v",
					tt.in, regions, bytes, hidden, tt.regions, tt.bytes, tt.hidden)
			}
		})
	}
}

func TestParseIomemLargeInput(t *testing.T) {
	line := "  9f000000-aeffffff : Crash kernel\n"
	regions, bytes, _ := ParseIomem(strings.Repeat(line, 100000))
	if regions != 100000 || bytes != 100000*256*MiB {
		t.Errorf("got %d regions, %d bytes", regions, bytes)
	}
}

package dm

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// fixtureTarget reads a dmsetup-style line from testdata/targets.
func fixtureTarget(t *testing.T, name string) Target {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "targets", name))
	if err != nil {
		t.Fatal(err)
	}
	tg, err := ParseTargetLine(string(b))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return tg
}

func TestParsePoolTableFixtures(t *testing.T) {
	cases := []struct {
		file string
		want PoolTable
	}{
		{"pool-normal.table", PoolTable{MetaDev: "253:0", DataDev: "253:1", BlockSizeSectors: 128}},
		{"pool-read-only.table", PoolTable{MetaDev: "253:0", DataDev: "253:1", BlockSizeSectors: 128,
			Features: PoolFeatures{ReadOnly: true}}},
		{"pool-ignore-discard.table", PoolTable{MetaDev: "253:0", DataDev: "253:1", BlockSizeSectors: 128,
			Features: PoolFeatures{IgnoreDiscard: true}}},
		{"pool-error-if-no-space.table", PoolTable{MetaDev: "253:0", DataDev: "253:1", BlockSizeSectors: 128,
			Features: PoolFeatures{SkipBlockZeroing: true, ErrorIfNoSpace: true}}},
		{"pool-docker.table", PoolTable{MetaDev: "7:1", DataDev: "7:0", BlockSizeSectors: 128, LowWaterMark: 32768,
			Features: PoolFeatures{SkipBlockZeroing: true}}},
	}
	for _, c := range cases {
		tg := fixtureTarget(t, c.file)
		if tg.Type != "thin-pool" {
			t.Fatalf("%s: type %q", c.file, tg.Type)
		}
		got, err := ParsePoolTable(tg.Params)
		if err != nil {
			t.Errorf("%s: %v", c.file, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.file, got, c.want)
		}
	}
}

func TestParsePoolTable(t *testing.T) {
	// Features are a set: order and unknown features do not matter.
	got, err := ParsePoolTable("253:0 253:1 256 10 5 no_discard_passdown future_flag skip_block_zeroing read_only error_if_no_space")
	if err != nil {
		t.Fatal(err)
	}
	want := PoolFeatures{SkipBlockZeroing: true, NoDiscardPassdown: true, ReadOnly: true, ErrorIfNoSpace: true,
		Unknown: []string{"future_flag"}}
	if !reflect.DeepEqual(got.Features, want) {
		t.Errorf("features = %+v, want %+v", got.Features, want)
	}
	if got.RequestsDiscardPassdown() {
		t.Error("no_discard_passdown table requests passdown")
	}
	if got.DataBlockBytes() != 256*512 {
		t.Errorf("DataBlockBytes = %d", got.DataBlockBytes())
	}
	normal, _ := ParsePoolTable("253:0 253:1 128 0 0")
	if !normal.RequestsDiscardPassdown() {
		t.Error("default table does not request passdown")
	}

	bad := []string{
		"",
		"253:0 253:1 128 0",                  // no feature count
		"253:0 253:1 128 0 1",                // count without feature
		"253:0 253:1 128 0 0 ignore_discard", // feature beyond count
		"253:0 253:1 x 0 0",
		"253:0 253:1 128 -1 0",
		"/dev/sda 253:1 128 0 0",
		"253:0 253:1 128 0 18446744073709551616",
		strings.Repeat("a ", 3000),
	}
	for _, in := range bad {
		if got, err := ParsePoolTable(in); !errors.Is(err, ErrSyntax) {
			t.Errorf("ParsePoolTable(%.40q) = %+v, %v; want ErrSyntax", in, got, err)
		}
	}
}

func TestParsePoolStatusFixtures(t *testing.T) {
	normal := PoolStatus{TransactionID: 5, MetaUsed: 1234, MetaTotal: 16384, DataUsed: 82011, DataTotal: 1638400,
		Mode: "rw", Discard: "discard_passdown", MetaLowWatermark: 1024, HasMetaLowWatermark: true, Fields: 9}
	with := func(f func(*PoolStatus)) PoolStatus { s := normal; f(&s); return s }
	cases := []struct {
		file string
		want PoolStatus
	}{
		{"pool-normal.status", normal},
		{"pool-read-only.status", with(func(s *PoolStatus) { s.Mode = "ro" })},
		{"pool-out-of-data-space.status", with(func(s *PoolStatus) {
			s.TransactionID, s.MetaUsed, s.DataUsed, s.Mode = 9, 1501, 1638400, "out_of_data_space"
		})},
		{"pool-needs-check.status", with(func(s *PoolStatus) {
			s.TransactionID, s.MetaUsed, s.DataUsed, s.Mode, s.NeedsCheck = 12, 16384, 901233, "ro", true
		})},
		{"pool-ignore-discard.status", with(func(s *PoolStatus) {
			s.TransactionID, s.MetaUsed, s.DataUsed, s.Discard = 3, 310, 20480, "ignore_discard"
		})},
		{"pool-no-hw-discard.status", with(func(s *PoolStatus) {
			s.TransactionID, s.MetaUsed, s.DataUsed, s.Discard = 7, 655, 40960, "no_discard_passdown"
		})},
		{"pool-error-if-no-space.status", with(func(s *PoolStatus) { s.HeldRoot, s.ErrorIfNoSpace = "2001", true })},
		{"pool-fail.status", PoolStatus{Fail: true, Fields: 1}},
		{"pool-error.status", PoolStatus{Error: true, Fields: 1}},
		// Thin-pool target 1.8: nothing after the discard mode.
		{"pool-old-1.8.status", with(func(s *PoolStatus) {
			s.MetaLowWatermark, s.HasMetaLowWatermark, s.Fields = 0, false, 6
		})},
		// Thin-pool target 1.19: no metadata low watermark yet.
		{"pool-old-1.19.status", PoolStatus{TransactionID: 37, MetaUsed: 441, MetaTotal: 524288, DataUsed: 31424,
			DataTotal: 1638400, Mode: "rw", Discard: "discard_passdown", Fields: 8}},
		{"pool-docker.status", PoolStatus{TransactionID: 37, MetaUsed: 441, MetaTotal: 524288, DataUsed: 31424,
			DataTotal: 1638400, Mode: "rw", Discard: "discard_passdown", MetaLowWatermark: 1024,
			HasMetaLowWatermark: true, Fields: 9}},
	}
	for _, c := range cases {
		tg := fixtureTarget(t, c.file)
		got, err := ParsePoolStatus(tg.Params)
		if err != nil {
			t.Errorf("%s: %v", c.file, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.file, got, c.want)
		}
	}
}

func TestParsePoolStatus(t *testing.T) {
	// The first thin-pool targets printed only the four counters.
	s, err := ParsePoolStatus("0 100/4096 0/16384 -")
	if err != nil || s.Mode != "rw" || s.Discard != DiscardUnknown || s.Fields != 4 || s.DataTotal != 16384 {
		t.Errorf("4-field status = %+v, %v", s, err)
	}
	// A newer kernel's extra trailing fields are ignored.
	s, err = ParsePoolStatus("5 1234/16384 82011/1638400 - rw discard_passdown queue_if_no_space - 1024 something new")
	if err != nil || s.MetaLowWatermark != 1024 {
		t.Errorf("extended status = %+v, %v", s, err)
	}

	s, _ = ParsePoolStatus("5 1234/16384 82011/1638400 - rw discard_passdown queue_if_no_space - 1024")
	used, total := s.MetaBytes()
	if used != 1234*4096 || total != 16384*4096 {
		t.Errorf("MetaBytes = %d/%d", used, total)
	}
	used, total = s.DataBytes(128)
	if used != 82011*65536 || total != 1638400*65536 {
		t.Errorf("DataBytes = %d/%d", used, total)
	}
	if r := s.DataUsedRatio(); math.Abs(r-82011.0/1638400) > 1e-12 {
		t.Errorf("DataUsedRatio = %v", r)
	}
	if r := s.MetaUsedRatio(); math.Abs(r-1234.0/16384) > 1e-12 {
		t.Errorf("MetaUsedRatio = %v", r)
	}
	huge, _ := ParsePoolStatus("1 18446744073709551615/18446744073709551615 0/0 -")
	if u, _ := huge.MetaBytes(); u != math.MaxUint64 {
		t.Errorf("MetaBytes overflow = %d, want saturated", u)
	}
	if huge.DataUsedRatio() != 0 {
		t.Errorf("ratio with zero total = %v", huge.DataUsedRatio())
	}

	bad := []string{
		"", "fail", "Fail Fail",
		"5 1234/16384 82011/1638400",
		"x 1234/16384 82011/1638400 -",
		"5 1234 82011/1638400 -",
		"5 1234/16384 82011/ -",
		"5 1234/16384 82011/1638400 root",
		"5 1234/16384 82011/1638400 - rwx",
		"5 1234/16384 82011/1638400 - rw passdown",
		"5 1234/16384 82011/1638400 - rw discard_passdown queue",
		"5 1234/16384 82011/1638400 - rw discard_passdown queue_if_no_space check",
		"5 1234/16384 82011/1638400 - rw discard_passdown queue_if_no_space - x",
	}
	for _, in := range bad {
		if got, err := ParsePoolStatus(in); !errors.Is(err, ErrSyntax) {
			t.Errorf("ParsePoolStatus(%q) = %+v, %v; want ErrSyntax", in, got, err)
		}
	}
}

func TestParseThinTable(t *testing.T) {
	got, err := ParseThinTable(fixtureTarget(t, "thin.table").Params)
	if err != nil || got != (ThinTable{PoolDev: "253:2", DevID: 1}) {
		t.Errorf("thin.table = %+v, %v", got, err)
	}
	got, err = ParseThinTable(fixtureTarget(t, "thin-external-origin.table").Params)
	if err != nil || got != (ThinTable{PoolDev: "253:1", DevID: 4, ExternalOrigin: "253:6"}) {
		t.Errorf("thin-external-origin.table = %+v, %v", got, err)
	}
	for _, bad := range []string{"", "253:2", "253:2 x", "pool 1", "253:2 1 origin", "253:2 1 253:6 extra"} {
		if _, err := ParseThinTable(bad); !errors.Is(err, ErrSyntax) {
			t.Errorf("ParseThinTable(%q): err = %v", bad, err)
		}
	}
}

func TestParseThinStatus(t *testing.T) {
	cases := []struct {
		file string
		want ThinStatus
	}{
		{"thin.status", ThinStatus{MappedSectors: 5238784, HighestMappedSector: 104857599, HasHighest: true}},
		{"thin-empty.status", ThinStatus{}},
		{"thin-fail.status", ThinStatus{Fail: true}},
	}
	for _, c := range cases {
		got, err := ParseThinStatus(fixtureTarget(t, c.file).Params)
		if err != nil || got != c.want {
			t.Errorf("%s = %+v, %v; want %+v", c.file, got, err, c.want)
		}
	}
	if s, _ := ParseThinStatus("5238784 104857599"); s.MappedBytes() != 5238784*512 {
		t.Errorf("MappedBytes = %d", s.MappedBytes())
	}
	if s, err := ParseThinStatus("-"); err != nil || !s.Unavailable {
		t.Errorf(`"-" = %+v, %v`, s, err)
	}
	if s, err := ParseThinStatus("Error"); err != nil || !s.Error {
		t.Errorf("Error = %+v, %v", s, err)
	}
	for _, bad := range []string{"", "12", "x -", "12 y", "1 2 3", "fail"} {
		if _, err := ParseThinStatus(bad); !errors.Is(err, ErrSyntax) {
			t.Errorf("ParseThinStatus(%q): err = %v", bad, err)
		}
	}
}

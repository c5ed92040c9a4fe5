package dm

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
)

// Formats from drivers/md/dm-thin.c (pool_status, emit_flags, thin_status)
// and Documentation/admin-guide/device-mapper/thin-provisioning.rst.

const (
	// MetadataBlockBytes is the size of a thin-pool metadata block.
	MetadataBlockBytes = 4096
	// SectorBytes is the unit of DM table lengths and thin block sizes.
	SectorBytes = 512

	maxFields   = 64 // params are short; anything longer is not a pool's
	maxFeatures = 16
)

// ErrSyntax is wrapped by every parse error.
var ErrSyntax = errors.New("unexpected device-mapper thin format")

// PoolFeatures are the thin-pool table's feature arguments.
type PoolFeatures struct {
	SkipBlockZeroing  bool
	IgnoreDiscard     bool
	NoDiscardPassdown bool
	ReadOnly          bool
	ErrorIfNoSpace    bool
	Unknown           []string // features this package does not know, in order
}

// PoolTable is a thin-pool table line's parameters:
// <metadata dev> <data dev> <block size> <low water mark> <#features> [features].
type PoolTable struct {
	MetaDev          string // "253:0"
	DataDev          string // "253:1"
	BlockSizeSectors uint64
	LowWaterMark     uint64 // in data blocks
	Features         PoolFeatures
}

// DataBlockBytes is the size of one data block.
func (t PoolTable) DataBlockBytes() uint64 { return mulSat(t.BlockSizeSectors, SectorBytes) }

// RequestsDiscardPassdown reports whether the table asks for discards to
// be passed to the data device. The kernel may still have disabled
// passdown; PoolStatus.Discard tells what is in effect.
func (t PoolTable) RequestsDiscardPassdown() bool {
	return !t.Features.IgnoreDiscard && !t.Features.NoDiscardPassdown
}

// ParsePoolTable parses a thin-pool table's parameters. Features are read
// as a set in any order; unknown ones are kept in Features.Unknown.
func ParsePoolTable(params string) (PoolTable, error) {
	f, err := fields(params)
	if err != nil {
		return PoolTable{}, err
	}
	if len(f) < 5 {
		return PoolTable{}, syntaxf("thin-pool table %q: %d fields, want at least 5", params, len(f))
	}
	var t PoolTable
	for i, dev := range f[:2] {
		if _, err := ParseDevNum(dev); err != nil {
			return PoolTable{}, syntaxf("thin-pool table %q: field %d: %v", params, i+1, err)
		}
	}
	t.MetaDev, t.DataDev = f[0], f[1]
	if t.BlockSizeSectors, err = parseU64(f[2]); err != nil {
		return PoolTable{}, syntaxf("thin-pool table %q: block size: %v", params, err)
	}
	if t.LowWaterMark, err = parseU64(f[3]); err != nil {
		return PoolTable{}, syntaxf("thin-pool table %q: low water mark: %v", params, err)
	}
	n, err := parseU64(f[4])
	if err != nil || n != uint64(len(f)-5) {
		return PoolTable{}, syntaxf("thin-pool table %q: feature count %q does not match %d features", params, f[4], len(f)-5)
	}
	for _, feat := range f[5:] {
		switch feat {
		case "skip_block_zeroing":
			t.Features.SkipBlockZeroing = true
		case "ignore_discard":
			t.Features.IgnoreDiscard = true
		case "no_discard_passdown":
			t.Features.NoDiscardPassdown = true
		case "read_only":
			t.Features.ReadOnly = true
		case "error_if_no_space":
			t.Features.ErrorIfNoSpace = true
		default:
			if len(t.Features.Unknown) < maxFeatures {
				t.Features.Unknown = append(t.Features.Unknown, feat)
			}
		}
	}
	return t, nil
}

// Pool modes and discard modes as the kernel prints them in status.
const (
	ModeReadWrite      = "rw"
	ModeReadOnly       = "ro"
	ModeOutOfDataSpace = "out_of_data_space"

	DiscardIgnore     = "ignore_discard"
	DiscardPassdown   = "discard_passdown"
	DiscardNoPassdown = "no_discard_passdown"
	DiscardUnknown    = "" // too old a kernel to say
)

// PoolStatus is a thin-pool status line. Counts are in metadata blocks
// (4 KiB) and data blocks (the table's block size).
type PoolStatus struct {
	// Fail: the pool is in fail mode; Error: the kernel could not read its
	// metadata to report. Either way no other field is set.
	Fail  bool
	Error bool

	TransactionID uint64
	MetaUsed      uint64
	MetaTotal     uint64
	DataUsed      uint64
	DataTotal     uint64
	HeldRoot      string // metadata snapshot root block, "" when none ("-")

	// Fields added in later kernels; defaults apply when a kernel omits
	// them: Mode "rw" (kernels without read-only mode), Discard "" (not
	// reported), ErrorIfNoSpace false (queueing was the only behaviour),
	// NeedsCheck false.
	Mode                string
	Discard             string
	ErrorIfNoSpace      bool
	NeedsCheck          bool
	MetaLowWatermark    uint64 // metadata blocks
	HasMetaLowWatermark bool

	Fields int // positional fields present
}

// MetaBytes returns used and total metadata space in bytes.
func (s PoolStatus) MetaBytes() (used, total uint64) {
	return mulSat(s.MetaUsed, MetadataBlockBytes), mulSat(s.MetaTotal, MetadataBlockBytes)
}

// DataBytes returns used and total data space in bytes, given the pool
// table's block size in sectors.
func (s PoolStatus) DataBytes(blockSizeSectors uint64) (used, total uint64) {
	bs := mulSat(blockSizeSectors, SectorBytes)
	return mulSat(s.DataUsed, bs), mulSat(s.DataTotal, bs)
}

// MetaUsedRatio is used/total metadata blocks, 0 when total is 0.
func (s PoolStatus) MetaUsedRatio() float64 { return ratio(s.MetaUsed, s.MetaTotal) }

// DataUsedRatio is used/total data blocks, 0 when total is 0.
func (s PoolStatus) DataUsedRatio() float64 { return ratio(s.DataUsed, s.DataTotal) }

// ParsePoolStatus parses a thin-pool status:
//
//	<transaction id> <used meta>/<total meta> <used data>/<total data>
//	<held root|-> rw|ro|out_of_data_space ignore_discard|discard_passdown|no_discard_passdown
//	error_if_no_space|queue_if_no_space needs_check|- <metadata low watermark>
//
// or "Fail" or "Error". Older kernels stop after the held root, after the
// discard mode, or after needs_check; fields beyond the known ones (a newer
// kernel) are ignored.
func ParsePoolStatus(params string) (PoolStatus, error) {
	f, err := fields(params)
	if err != nil {
		return PoolStatus{}, err
	}
	if len(f) == 1 {
		switch f[0] {
		case "Fail":
			return PoolStatus{Fail: true, Fields: 1}, nil
		case "Error":
			return PoolStatus{Error: true, Fields: 1}, nil
		}
	}
	if len(f) < 4 {
		return PoolStatus{}, syntaxf("thin-pool status %q: %d fields, want at least 4", params, len(f))
	}
	s := PoolStatus{Mode: ModeReadWrite, Discard: DiscardUnknown, Fields: len(f)}
	if s.TransactionID, err = parseU64(f[0]); err != nil {
		return PoolStatus{}, syntaxf("thin-pool status %q: transaction id: %v", params, err)
	}
	if s.MetaUsed, s.MetaTotal, err = parseRatio(f[1]); err != nil {
		return PoolStatus{}, syntaxf("thin-pool status %q: metadata: %v", params, err)
	}
	if s.DataUsed, s.DataTotal, err = parseRatio(f[2]); err != nil {
		return PoolStatus{}, syntaxf("thin-pool status %q: data: %v", params, err)
	}
	if f[3] != "-" {
		if _, err := parseU64(f[3]); err != nil {
			return PoolStatus{}, syntaxf("thin-pool status %q: held root: %v", params, err)
		}
		s.HeldRoot = f[3]
	}
	if len(f) > 4 {
		switch f[4] {
		case ModeReadWrite, ModeReadOnly, ModeOutOfDataSpace:
			s.Mode = f[4]
		default:
			return PoolStatus{}, syntaxf("thin-pool status %q: unknown mode %q", params, f[4])
		}
	}
	if len(f) > 5 {
		switch f[5] {
		case DiscardIgnore, DiscardPassdown, DiscardNoPassdown:
			s.Discard = f[5]
		default:
			return PoolStatus{}, syntaxf("thin-pool status %q: unknown discard mode %q", params, f[5])
		}
	}
	if len(f) > 6 {
		switch f[6] {
		case "error_if_no_space":
			s.ErrorIfNoSpace = true
		case "queue_if_no_space":
		default:
			return PoolStatus{}, syntaxf("thin-pool status %q: unknown no-space policy %q", params, f[6])
		}
	}
	if len(f) > 7 {
		switch f[7] {
		case "needs_check":
			s.NeedsCheck = true
		case "-":
		default:
			return PoolStatus{}, syntaxf("thin-pool status %q: unknown needs_check field %q", params, f[7])
		}
	}
	if len(f) > 8 {
		if s.MetaLowWatermark, err = parseU64(f[8]); err != nil {
			return PoolStatus{}, syntaxf("thin-pool status %q: metadata low watermark: %v", params, err)
		}
		s.HasMetaLowWatermark = true
	}
	return s, nil
}

// ThinTable is a thin target's table parameters:
// <pool dev> <dev id> [<external origin dev>].
type ThinTable struct {
	PoolDev        string // "253:2"
	DevID          uint64 // the thin device's id inside the pool
	ExternalOrigin string // "" when none
}

// ParseThinTable parses a thin target's table parameters.
func ParseThinTable(params string) (ThinTable, error) {
	f, err := fields(params)
	if err != nil {
		return ThinTable{}, err
	}
	if len(f) != 2 && len(f) != 3 {
		return ThinTable{}, syntaxf("thin table %q: %d fields, want 2 or 3", params, len(f))
	}
	if _, err := ParseDevNum(f[0]); err != nil {
		return ThinTable{}, syntaxf("thin table %q: pool: %v", params, err)
	}
	t := ThinTable{PoolDev: f[0]}
	if t.DevID, err = parseU64(f[1]); err != nil {
		return ThinTable{}, syntaxf("thin table %q: device id: %v", params, err)
	}
	if len(f) == 3 {
		if _, err := ParseDevNum(f[2]); err != nil {
			return ThinTable{}, syntaxf("thin table %q: external origin: %v", params, err)
		}
		t.ExternalOrigin = f[2]
	}
	return t, nil
}

// ThinStatus is a thin target's status: "<mapped sectors> <highest mapped
// sector|->", "Fail" (pool in fail mode), "Error", or "-" (no thin device
// open).
type ThinStatus struct {
	Fail        bool
	Error       bool
	Unavailable bool

	MappedSectors       uint64
	HighestMappedSector uint64
	HasHighest          bool // false when nothing is mapped ("-")
}

// MappedBytes is the space the volume occupies in its pool.
func (s ThinStatus) MappedBytes() uint64 { return mulSat(s.MappedSectors, SectorBytes) }

// ParseThinStatus parses a thin target's status.
func ParseThinStatus(params string) (ThinStatus, error) {
	f, err := fields(params)
	if err != nil {
		return ThinStatus{}, err
	}
	if len(f) == 1 {
		switch f[0] {
		case "Fail":
			return ThinStatus{Fail: true}, nil
		case "Error":
			return ThinStatus{Error: true}, nil
		case "-":
			return ThinStatus{Unavailable: true}, nil
		}
	}
	if len(f) != 2 {
		return ThinStatus{}, syntaxf("thin status %q: %d fields, want 2", params, len(f))
	}
	var s ThinStatus
	if s.MappedSectors, err = parseU64(f[0]); err != nil {
		return ThinStatus{}, syntaxf("thin status %q: mapped sectors: %v", params, err)
	}
	if f[1] != "-" {
		if s.HighestMappedSector, err = parseU64(f[1]); err != nil {
			return ThinStatus{}, syntaxf("thin status %q: highest mapped sector: %v", params, err)
		}
		s.HasHighest = true
	}
	return s, nil
}

// fields splits params on whitespace, refusing absurdly long input so the
// work stays bounded.
func fields(params string) ([]string, error) {
	if len(params) > 4096 {
		return nil, syntaxf("parameters of %d bytes", len(params))
	}
	f := strings.Fields(params)
	if len(f) > maxFields {
		return nil, syntaxf("%d fields", len(f))
	}
	return f, nil
}

func parseU64(s string) (uint64, error) {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", trunc(s))
	}
	return v, nil
}

func parseRatio(s string) (used, total uint64, err error) {
	a, b, ok := strings.Cut(s, "/")
	if !ok {
		return 0, 0, fmt.Errorf("%q is not used/total", trunc(s))
	}
	if used, err = parseU64(a); err != nil {
		return 0, 0, err
	}
	if total, err = parseU64(b); err != nil {
		return 0, 0, err
	}
	return used, total, nil
}

func syntaxf(format string, args ...any) error {
	for i, a := range args {
		if s, ok := a.(string); ok {
			args[i] = trunc(s)
		}
	}
	return fmt.Errorf("%w: %s", ErrSyntax, fmt.Sprintf(format, args...))
}

// mulSat multiplies, saturating instead of wrapping on garbage counts.
func mulSat(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	if hi != 0 {
		return math.MaxUint64
	}
	return lo
}

func ratio(used, total uint64) float64 {
	if total == 0 {
		return 0
	}
	return float64(used) / float64(total)
}

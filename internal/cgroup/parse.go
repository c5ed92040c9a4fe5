package cgroup

import (
	"errors"
	"fmt"
	"math"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

// Parse errors wrap fsutil.ErrGarbage so that fsutil.Reason reports them as
// "garbage".
var (
	errEmpty     = fmt.Errorf("%w: empty", fsutil.ErrGarbage)
	errLine      = fmt.Errorf("%w: line is not \"key value\"", fsutil.ErrGarbage)
	errNumber    = fmt.Errorf("%w: not an unsigned decimal", fsutil.ErrGarbage)
	errNoKnown   = fmt.Errorf("%w: no known key", fsutil.ErrGarbage)
	errMaxFormat = fmt.Errorf("%w: neither \"max\" nor a number", fsutil.ErrGarbage)
)

// v1Unlimited is the smallest value treated as "no limit" in v1 limit
// files. The kernel writes PAGE_COUNTER_MAX in bytes, LONG_MAX rounded down
// to the page size: 9223372036854771712 with 4 KiB pages,
// 9223372036854759424 with 16 KiB and 9223372036854710272 with 64 KiB. Any
// value of 2^62 (4 EiB) or more is far beyond any real limit, so all page
// sizes are covered without listing them.
const v1Unlimited = 1 << 62

// ParseUint parses a file holding one unsigned decimal (pids.current,
// memory.current, memory.failcnt, memory.usage_in_bytes).
func ParseUint(b []byte) (uint64, error) {
	b = trimSpace(b)
	if len(b) == 0 {
		return 0, errEmpty
	}
	return parseUint(b)
}

// ParseMax parses pids.max, memory.max, memory.high and similar files:
// "max" is +Inf, otherwise an unsigned decimal.
func ParseMax(b []byte) (float64, error) {
	b = trimSpace(b)
	if string(b) == "max" {
		return math.Inf(1), nil
	}
	if len(b) == 0 {
		return 0, errEmpty
	}
	v, err := parseUint(b)
	if err != nil {
		return 0, errMaxFormat
	}
	return float64(v), nil
}

// ParseV1Limit parses v1 memory.limit_in_bytes (and memsw/soft limits):
// the unlimited sentinel, any value ≥ 2^62, is +Inf. "max" is accepted too,
// as v1 pids.max writes it.
func ParseV1Limit(b []byte) (float64, error) {
	t := trimSpace(b)
	if string(t) == "max" {
		return math.Inf(1), nil
	}
	if len(t) == 0 {
		return 0, errEmpty
	}
	v, err := parseUint(t)
	if err != nil {
		return 0, errMaxFormat
	}
	if v >= v1Unlimited {
		return math.Inf(1), nil
	}
	return float64(v), nil
}

// ParseFlatKeyed calls fn for every "key value" line of a flat keyed file
// (memory.events, memory.stat, pids.events, memory.oom_control, …). key
// aliases b and is only valid during the call. Every value must be an
// unsigned decimal; empty lines are skipped. It does not allocate.
func ParseFlatKeyed(b []byte, fn func(key []byte, value uint64)) error {
	n := 0
	err := eachLine(b, func(key, val []byte) error {
		v, err := parseUint(val)
		if err != nil {
			return err
		}
		n++
		fn(key, v)
		return nil
	})
	if err == nil && n == 0 {
		err = errEmpty
	}
	return err
}

// MemoryEvents is v2 memory.events or memory.events.local. Each count has
// a Has flag: a key the file does not hold (oom_kill before 4.13,
// oom_group_kill before 5.17) is absent, not zero.
type MemoryEvents struct {
	Low, High, Max, OOM, OOMKill, OOMGroupKill                   uint64
	HasLow, HasHigh, HasMax, HasOOM, HasOOMKill, HasOOMGroupKill bool
}

// ParseMemoryEvents parses memory.events / memory.events.local by key;
// unknown keys (sock_throttled from 6.19, future ones) are ignored.
func ParseMemoryEvents(b []byte) (MemoryEvents, error) {
	var v [6]uint64
	seen, err := parseKnown(b, memoryEventsIndex, v[:])
	has := func(i int) bool { return seen&(1<<i) != 0 }
	return MemoryEvents{
		Low: v[0], High: v[1], Max: v[2], OOM: v[3], OOMKill: v[4], OOMGroupKill: v[5],
		HasLow: has(0), HasHigh: has(1), HasMax: has(2), HasOOM: has(3), HasOOMKill: has(4), HasOOMGroupKill: has(5),
	}, err
}

func memoryEventsIndex(key []byte) int {
	switch string(key) {
	case "low":
		return 0
	case "high":
		return 1
	case "max":
		return 2
	case "oom":
		return 3
	case "oom_kill":
		return 4
	case "oom_group_kill":
		return 5
	}
	return -1
}

// PidsEvents is pids.events or pids.events.local.
type PidsEvents struct {
	Max uint64
}

// ParsePidsEvents parses pids.events / pids.events.local by key.
func ParsePidsEvents(b []byte) (PidsEvents, error) {
	var v [1]uint64
	_, err := parseKnown(b, pidsEventsIndex, v[:])
	return PidsEvents{Max: v[0]}, err
}

func pidsEventsIndex(key []byte) int {
	if string(key) == "max" {
		return 0
	}
	return -1
}

// OOMControl is v1 memory.oom_control. The Has flags say which keys the
// file held: a missing one is unknown, not false or zero.
type OOMControl struct {
	OOMKillDisable    bool
	HasOOMKillDisable bool
	UnderOOM          bool
	HasUnderOOM       bool
	// OOMKill counts kills in this cgroup only (4.13+).
	OOMKill    uint64
	HasOOMKill bool
}

// ParseOOMControl parses v1 memory.oom_control.
func ParseOOMControl(b []byte) (OOMControl, error) {
	var v [3]uint64
	seen, err := parseKnown(b, oomControlIndex, v[:])
	return OOMControl{
		OOMKillDisable:    v[0] != 0,
		HasOOMKillDisable: seen&(1<<0) != 0,
		UnderOOM:          v[1] != 0,
		HasUnderOOM:       seen&(1<<1) != 0,
		OOMKill:           v[2],
		HasOOMKill:        seen&(1<<2) != 0,
	}, err
}

func oomControlIndex(key []byte) int {
	switch string(key) {
	case "oom_kill_disable":
		return 0
	case "under_oom":
		return 1
	case "oom_kill":
		return 2
	}
	return -1
}

// MemoryStat holds the memory.stat keys the exporter uses, v2 and v1
// names side by side; the hierarchy's Version says which are meaningful.
// All values are bytes.
type MemoryStat struct {
	// v2 (and the v1 names that mean the same).
	Anon, File, Shmem                    uint64
	Slab, SlabReclaimable, SlabUnreclaim uint64
	FileDirty, FileWriteback             uint64
	InactiveFile, ActiveFile             uint64
	InactiveAnon, ActiveAnon             uint64
	Kernel, Sock                         uint64

	// v1: this cgroup only.
	Cache, RSS, Dirty, Writeback uint64
	// v1: hierarchical, the total_ keys.
	TotalCache, TotalRSS, TotalDirty, TotalWriteback uint64
	TotalInactiveFile, TotalActiveFile, TotalShmem   uint64

	// Seen says which keys the file held; a key it lacks (one added by a
	// later kernel, say) is absent, not zero.
	Seen StatKeys
}

// StatKeys is a set of memory.stat keys, one bit per MemoryStat field.
type StatKeys uint64

// The memory.stat keys of MemoryStat, in field order.
const (
	StatAnon StatKeys = 1 << iota
	StatFile
	StatShmem
	StatSlab
	StatSlabReclaimable
	StatSlabUnreclaim
	StatFileDirty
	StatFileWriteback
	StatInactiveFile
	StatActiveFile
	StatInactiveAnon
	StatActiveAnon
	StatKernel
	StatSock
	StatCache
	StatRSS
	StatDirty
	StatWriteback
	StatTotalCache
	StatTotalRSS
	StatTotalDirty
	StatTotalWriteback
	StatTotalInactiveFile
	StatTotalActiveFile
	StatTotalShmem
)

// Has reports whether every key of k was in the file.
func (s MemoryStat) Has(k StatKeys) bool { return s.Seen&k == k }

// maxStatLines bounds the work on a runaway file; a 6.x memory.stat has
// about 70 lines, v1 about 40.
const maxStatLines = 1024

// ParseMemoryStat parses v2 or v1 memory.stat by key, ignoring keys it
// does not know.
func ParseMemoryStat(b []byte) (MemoryStat, error) {
	var v [25]uint64
	seen, err := parseKnown(b, memoryStatIndex, v[:])
	return MemoryStat{
		Seen:              StatKeys(seen),
		Anon:              v[0],
		File:              v[1],
		Shmem:             v[2],
		Slab:              v[3],
		SlabReclaimable:   v[4],
		SlabUnreclaim:     v[5],
		FileDirty:         v[6],
		FileWriteback:     v[7],
		InactiveFile:      v[8],
		ActiveFile:        v[9],
		InactiveAnon:      v[10],
		ActiveAnon:        v[11],
		Kernel:            v[12],
		Sock:              v[13],
		Cache:             v[14],
		RSS:               v[15],
		Dirty:             v[16],
		Writeback:         v[17],
		TotalCache:        v[18],
		TotalRSS:          v[19],
		TotalDirty:        v[20],
		TotalWriteback:    v[21],
		TotalInactiveFile: v[22],
		TotalActiveFile:   v[23],
		TotalShmem:        v[24],
	}, err
}

func memoryStatIndex(key []byte) int {
	switch string(key) {
	case "anon":
		return 0
	case "file":
		return 1
	case "shmem":
		return 2
	case "slab":
		return 3
	case "slab_reclaimable":
		return 4
	case "slab_unreclaimable":
		return 5
	case "file_dirty":
		return 6
	case "file_writeback":
		return 7
	case "inactive_file":
		return 8
	case "active_file":
		return 9
	case "inactive_anon":
		return 10
	case "active_anon":
		return 11
	case "kernel":
		return 12
	case "sock":
		return 13
	case "cache":
		return 14
	case "rss":
		return 15
	case "dirty":
		return 16
	case "writeback":
		return 17
	case "total_cache":
		return 18
	case "total_rss":
		return 19
	case "total_dirty":
		return 20
	case "total_writeback":
		return 21
	case "total_inactive_file":
		return 22
	case "total_active_file":
		return 23
	case "total_shmem":
		return 24
	}
	return -1
}

// parseKnown walks "key value" lines, parsing the value only for keys that
// index maps to a slot of vals; seen has bit i set when slot i was found.
// The file must be well formed and hold at least one known key.
func parseKnown(b []byte, index func(key []byte) int, vals []uint64) (seen uint64, err error) {
	err = eachLine(b, func(key, val []byte) error {
		i := index(key)
		if i < 0 || i >= len(vals) {
			return nil
		}
		v, err := parseUint(val)
		if err != nil {
			return err
		}
		vals[i] = v
		seen |= 1 << uint(i)
		return nil
	})
	if err != nil {
		return seen, err
	}
	if seen == 0 {
		if len(trimSpace(b)) == 0 {
			return 0, errEmpty
		}
		return 0, errNoKnown
	}
	return seen, nil
}

var errTooManyLines = fmt.Errorf("%w: more than %d lines", fsutil.ErrGarbage, maxStatLines)

// eachLine splits b into "key value" lines. Exactly one run of spaces
// separates key and value (the kernel writes one); trailing spaces and
// a final newline are tolerated, empty lines skipped.
func eachLine(b []byte, fn func(key, val []byte) error) error {
	lines := 0
	for len(b) > 0 {
		var line []byte
		i := 0
		for i < len(b) && b[i] != '\n' {
			i++
		}
		line = b[:i]
		if i < len(b) {
			b = b[i+1:]
		} else {
			b = nil
		}
		line = trimSpace(line)
		if len(line) == 0 {
			continue
		}
		lines++
		if lines > maxStatLines {
			return errTooManyLines
		}
		sp := 0
		for sp < len(line) && line[sp] != ' ' && line[sp] != '\t' {
			sp++
		}
		if sp == 0 || sp == len(line) {
			return errLine
		}
		val := line[sp:]
		for len(val) > 0 && (val[0] == ' ' || val[0] == '\t') {
			val = val[1:]
		}
		for j := range val {
			if val[j] == ' ' || val[j] == '\t' {
				return errLine
			}
		}
		if err := fn(line[:sp], val); err != nil {
			return err
		}
	}
	return nil
}

func parseUint(b []byte) (uint64, error) {
	if len(b) == 0 || len(b) > 20 {
		return 0, errNumber
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, errNumber
		}
		d := uint64(c - '0')
		if v > (math.MaxUint64-d)/10 {
			return 0, errNumber
		}
		v = v*10 + d
	}
	return v, nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' }

// IsGarbage reports whether err came from unparsable contents.
func IsGarbage(err error) bool { return errors.Is(err, fsutil.ErrGarbage) }

package cgroup

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

func TestParseMax(t *testing.T) {
	inf := math.Inf(1)
	tests := []struct {
		in      string
		want    float64
		wantErr bool
	}{
		{"max\n", inf, false},
		{"max", inf, false},
		{"0\n", 0, false},
		{"4096\n", 4096, false},
		{"268435456\n", 268435456, false},
		{"18446744073709551615\n", 18446744073709551615, false},
		{"", 0, true},
		{"\n", 0, true},
		{"Max\n", 0, true},
		{"-1\n", 0, true},
		{"12 34\n", 0, true},
		{"18446744073709551616\n", 0, true},
		{"maxx\n", 0, true},
		{"0x10\n", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseMax([]byte(tt.in))
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseMax(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if err != nil && !errors.Is(err, fsutil.ErrGarbage) {
			t.Errorf("ParseMax(%q) error %v does not wrap ErrGarbage", tt.in, err)
		}
		if err == nil && got != tt.want {
			t.Errorf("ParseMax(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestParseV1Limit(t *testing.T) {
	inf := math.Inf(1)
	tests := []struct {
		in      string
		want    float64
		wantErr bool
	}{
		{"9223372036854771712\n", inf, false}, // 4 KiB pages
		{"9223372036854759424\n", inf, false}, // 16 KiB pages
		{"9223372036854710272\n", inf, false}, // 64 KiB pages
		{"4611686018427387904\n", inf, false}, // 2^62
		{"4611686018427387903\n", 4611686018427387903, false},
		{"268435456\n", 268435456, false},
		{"max\n", inf, false},
		{"-1\n", 0, true},
		{"unlimited\n", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseV1Limit([]byte(tt.in))
		if (err != nil) != tt.wantErr || (err == nil && got != tt.want) {
			t.Errorf("ParseV1Limit(%q) = %v, %v; want %v, err %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseUint(t *testing.T) {
	for in, want := range map[string]uint64{"0\n": 0, "42\n": 42, " 7 ": 7, "3221225472": 3221225472} {
		if got, err := ParseUint([]byte(in)); err != nil || got != want {
			t.Errorf("ParseUint(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "\n", "max\n", "-3\n", "1 2\n", "1.5\n", "99999999999999999999999\n"} {
		if _, err := ParseUint([]byte(in)); !IsGarbage(err) {
			t.Errorf("ParseUint(%q) error = %v, want garbage", in, err)
		}
	}
}

func TestParseMemoryEvents(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    MemoryEvents
		wantErr bool
	}{
		{"6.x", "low 0\nhigh 0\nmax 1532\noom 3\noom_kill 3\noom_group_kill 0\n",
			MemoryEvents{Max: 1532, OOM: 3, OOMKill: 3, HasLow: true, HasHigh: true, HasMax: true, HasOOM: true, HasOOMKill: true, HasOOMGroupKill: true}, false},
		{"6.19 sock_throttled", "low 1\nhigh 2\nmax 3\noom 4\noom_kill 5\noom_group_kill 6\nsock_throttled 7\n",
			MemoryEvents{Low: 1, High: 2, Max: 3, OOM: 4, OOMKill: 5, OOMGroupKill: 6, HasLow: true, HasHigh: true, HasMax: true, HasOOM: true, HasOOMKill: true, HasOOMGroupKill: true}, false},
		{"before 5.17", "low 0\nhigh 12\nmax 0\noom 0\noom_kill 0\n",
			MemoryEvents{High: 12, HasLow: true, HasHigh: true, HasMax: true, HasOOM: true, HasOOMKill: true}, false},
		// A key the file lacks is absent, not a zero count.
		{"before 4.13", "low 0\nhigh 0\nmax 2\noom 1\n",
			MemoryEvents{Max: 2, OOM: 1, HasLow: true, HasHigh: true, HasMax: true, HasOOM: true}, false},
		{"no final newline", "oom_kill 9", MemoryEvents{OOMKill: 9, HasOOMKill: true}, false},
		{"unknown key with odd value ignored", "oom 1\nfuture_key 18446744073709551616\n", MemoryEvents{OOM: 1, HasOOM: true}, false},
		{"empty", "", MemoryEvents{}, true},
		{"only unknown keys", "foo 1\nbar 2\n", MemoryEvents{}, true},
		{"key without value", "low 0\nhigh\n", MemoryEvents{}, true},
		{"three fields", "low 0 1\n", MemoryEvents{}, true},
		{"negative", "oom_kill -1\n", MemoryEvents{}, true},
		{"binary", "\x00\x01\x02", MemoryEvents{}, true},
	}
	for _, tt := range tests {
		got, err := ParseMemoryEvents([]byte(tt.in))
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: error = %v, wantErr %v", tt.name, err, tt.wantErr)
			continue
		}
		if err != nil && !IsGarbage(err) {
			t.Errorf("%s: error %v is not garbage", tt.name, err)
		}
		if err == nil && got != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestParsePidsEvents(t *testing.T) {
	for in, want := range map[string]uint64{"max 4\n": 4, "max 0\n": 0, "max 7\nmax.imposed 9\n": 7} {
		got, err := ParsePidsEvents([]byte(in))
		if err != nil || got.Max != want {
			t.Errorf("ParsePidsEvents(%q) = %+v, %v; want max %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "max\n", "max4\n", "MAX 1\n", "max x\n"} {
		if _, err := ParsePidsEvents([]byte(in)); err == nil {
			t.Errorf("ParsePidsEvents(%q) accepted garbage", in)
		}
	}
}

func TestParseOOMControl(t *testing.T) {
	got, err := ParseOOMControl([]byte("oom_kill_disable 0\nunder_oom 0\noom_kill 1\n"))
	if err != nil || got != (OOMControl{OOMKill: 1, HasOOMKill: true, HasOOMKillDisable: true, HasUnderOOM: true}) {
		t.Errorf("after one kill: %+v, %v", got, err)
	}
	got, err = ParseOOMControl([]byte("oom_kill_disable 1\nunder_oom 1\n"))
	if err != nil || got != (OOMControl{OOMKillDisable: true, UnderOOM: true, HasOOMKillDisable: true, HasUnderOOM: true}) {
		t.Errorf("paused, before 4.13: %+v, %v", got, err)
	}
	// under_oom missing is unknown, not "not under OOM".
	got, err = ParseOOMControl([]byte("oom_kill 2\n"))
	if err != nil || got != (OOMControl{OOMKill: 2, HasOOMKill: true}) {
		t.Errorf("only oom_kill: %+v, %v", got, err)
	}
	if _, err := ParseOOMControl([]byte("oom_kill_disable\n")); err == nil {
		t.Error("accepted a key without value")
	}
}

func TestParseMemoryStatFixtures(t *testing.T) {
	v2 := readFixture(t, "testdata/memory.stat.v2")
	s, err := ParseMemoryStat(v2)
	if err != nil {
		t.Fatal(err)
	}
	want := MemoryStat{
		Anon: 104857600, File: 52428800, Shmem: 1048576, Slab: 8388608,
		SlabReclaimable: 6291456, SlabUnreclaim: 2097152, FileDirty: 4194304,
		FileWriteback: 8192, InactiveFile: 31457280, ActiveFile: 20971520,
		InactiveAnon: 98304000, ActiveAnon: 6553600, Kernel: 12582912, Sock: 4096,
		Seen: StatAnon | StatFile | StatShmem | StatSlab | StatSlabReclaimable | StatSlabUnreclaim |
			StatFileDirty | StatFileWriteback | StatInactiveFile | StatActiveFile | StatInactiveAnon |
			StatActiveAnon | StatKernel | StatSock,
	}
	if s != want {
		t.Errorf("v2 memory.stat:\n got %+v\nwant %+v", s, want)
	}

	v1 := readFixture(t, "testdata/memory.stat.v1")
	s, err = ParseMemoryStat(v1)
	if err != nil {
		t.Fatal(err)
	}
	want = MemoryStat{
		Cache: 9547776, RSS: 10465280, Shmem: 9068544, Dirty: 12288,
		InactiveAnon: 0, ActiveAnon: 1531904, InactiveFile: 8192, ActiveFile: 471040,
		TotalCache: 2628280320, TotalRSS: 302985216, TotalDirty: 2291687424,
		TotalInactiveFile: 1981009920, TotalActiveFile: 638144512, TotalShmem: 9068544,
		Seen: StatShmem | StatInactiveFile | StatActiveFile | StatInactiveAnon | StatActiveAnon |
			StatCache | StatRSS | StatDirty | StatWriteback | StatTotalCache | StatTotalRSS | StatTotalDirty |
			StatTotalWriteback | StatTotalInactiveFile | StatTotalActiveFile | StatTotalShmem,
	}
	if s.Has(StatSlab) || !s.Has(StatTotalWriteback|StatTotalDirty) {
		t.Errorf("v1 Has: %b", s.Seen)
	}
	if s != want {
		t.Errorf("v1 memory.stat:\n got %+v\nwant %+v", s, want)
	}
}

func TestParseMemoryStatBounded(t *testing.T) {
	huge := strings.Repeat("pgfault 1\n", maxStatLines+1)
	if _, err := ParseMemoryStat([]byte(huge)); !IsGarbage(err) {
		t.Errorf("runaway file: error = %v, want garbage", err)
	}
}

func TestParseFlatKeyed(t *testing.T) {
	var keys []string
	var sum uint64
	err := ParseFlatKeyed([]byte("max 3\nmax.imposed 4\n\n"), func(k []byte, v uint64) {
		keys = append(keys, string(k))
		sum += v
	})
	if err != nil || strings.Join(keys, ",") != "max,max.imposed" || sum != 7 {
		t.Errorf("got keys %v sum %d err %v", keys, sum, err)
	}
	for _, in := range []string{"", "\n\n", "a\n", "a b c\n", "a -1\n", "a 1\nb x\n"} {
		if err := ParseFlatKeyed([]byte(in), func([]byte, uint64) {}); !IsGarbage(err) {
			t.Errorf("ParseFlatKeyed(%q) error = %v, want garbage", in, err)
		}
	}
}

func TestParsersDoNotAllocate(t *testing.T) {
	stat := readFixture(t, "testdata/memory.stat.v2")
	events := []byte("low 0\nhigh 0\nmax 1532\noom 3\noom_kill 3\noom_group_kill 0\n")
	pids, max := []byte("max 4\n"), []byte("max\n")
	n := testing.AllocsPerRun(100, func() {
		_, _ = ParseMemoryStat(stat)
		_, _ = ParseMemoryEvents(events)
		_, _ = ParsePidsEvents(pids)
		_, _ = ParseMax(max)
		_ = ParseFlatKeyed(events, func([]byte, uint64) {})
	})
	if n != 0 {
		t.Errorf("parsers allocate %v times per run", n)
	}
}

package cgroup

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/crashguard/crashguard_exporter/internal/cgroup/cgrouptest"
)

// The 10,000-cgroup trees are built once per test binary and removed by
// TestMain.
var (
	benchTrees   = map[cgrouptest.Shape]*cgrouptest.Tree{}
	benchTreesMu sync.Mutex
	benchDirs    []string
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range benchDirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

func benchTree(b *testing.B, shape cgrouptest.Shape) *cgrouptest.Tree {
	b.Helper()
	benchTreesMu.Lock()
	defer benchTreesMu.Unlock()
	if t, ok := benchTrees[shape]; ok {
		return t
	}
	base := os.TempDir()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		base = "/dev/shm"
	}
	dir, err := os.MkdirTemp(base, "cgroup-bench-")
	if err != nil {
		b.Fatal(err)
	}
	benchDirs = append(benchDirs, dir)
	t, err := cgrouptest.Generate(dir, 10000, shape)
	if err != nil {
		b.Fatal(err)
	}
	benchTrees[shape] = t
	return t
}

func BenchmarkWalk10k(b *testing.B) {
	tree := benchTree(b, cgrouptest.V2)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		st, err := Walker{}.Walk(ctx, tree.MemoryDir, func(string) error { return nil })
		if err != nil || st.Visited != 10000 {
			b.Fatal(st, err)
		}
	}
}

func BenchmarkParseMemoryStat(b *testing.B) {
	for _, f := range []string{"v2", "v1"} {
		data := readFixture(b, "testdata/memory.stat."+f)
		b.Run(f, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := ParseMemoryStat(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// The files the pids and memcg collectors read per cgroup.
var (
	v2Files       = []string{"pids.current", "pids.max", "pids.peak", "pids.events", "pids.events.local", "memory.current", "memory.max", "memory.high", "memory.events", "memory.events.local", "memory.stat"}
	v1PidsFiles   = []string{"pids.current", "pids.max", "pids.peak", "pids.events"}
	v1MemoryFiles = []string{"memory.usage_in_bytes", "memory.limit_in_bytes", "memory.failcnt", "memory.oom_control", "memory.stat"}
)

// BenchmarkScrape10k compares, side by side, a scrape's file work over
// 10,000 cgroups — walk, read each visited directory's files with the
// pooled Reader, parse, derive labels — with the bare cost of opening and
// reading the same files from a precomputed list with raw syscalls. The
// budget is scrape ≤ 1.5 × bare.
func BenchmarkScrape10k(b *testing.B) {
	for _, shape := range []cgrouptest.Shape{cgrouptest.V2, cgrouptest.V1} {
		tree := benchTree(b, shape)
		type hier struct {
			dir   string
			files []string
		}
		hiers := []hier{{tree.MemoryDir, v2Files}}
		if shape == cgrouptest.V1 {
			hiers = []hier{{tree.PidsDir, v1PidsFiles}, {tree.MemoryDir, v1MemoryFiles}}
		}
		var paths []string
		for _, h := range hiers {
			for _, cg := range tree.Cgroups {
				for _, f := range h.files {
					p := filepath.Join(h.dir, cg, f)
					if _, err := os.Stat(p); err == nil {
						paths = append(paths, p)
					}
				}
			}
		}

		b.Run(shape.String()+"/bare", func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, MaxFileSize)
			for b.Loop() {
				for _, p := range paths {
					fd, err := syscall.Open(p, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
					if err != nil {
						b.Fatal(err)
					}
					for {
						n, err := syscall.Read(fd, buf)
						if err != nil {
							b.Fatal(err)
						}
						if n == 0 {
							break
						}
					}
					syscall.Close(fd)
				}
			}
			b.ReportMetric(float64(len(paths)), "files/op")
		})

		b.Run(shape.String()+"/scrape", func(b *testing.B) {
			b.ReportAllocs()
			ctx := context.Background()
			r := GetReader()
			defer PutReader(r)
			var sink uint64
			files := 0
			for b.Loop() {
				files = 0
				for _, h := range hiers {
					_, err := Walker{}.WalkDirs(ctx, h.dir, func(d *Dir) error {
						l := Labels(d.Rel)
						sink += uint64(len(l.ContainerID))
						for _, f := range h.files {
							data, err := r.ReadIn(d, f)
							if err != nil {
								continue // the root lacks most files
							}
							files++
							sink += parseForBench(f, data)
						}
						return nil
					})
					if err != nil {
						b.Fatal(err)
					}
				}
			}
			if files != len(paths) {
				b.Fatalf("read %d files, bare reads %d", files, len(paths))
			}
			b.ReportMetric(float64(files), "files/op")
			_ = sink
		})
	}
}

func parseForBench(name string, data []byte) uint64 {
	switch name {
	case "memory.stat":
		s, _ := ParseMemoryStat(data)
		return s.Slab
	case "memory.events", "memory.events.local":
		e, _ := ParseMemoryEvents(data)
		return e.OOMKill
	case "pids.events", "pids.events.local":
		e, _ := ParsePidsEvents(data)
		return e.Max
	case "memory.oom_control":
		c, _ := ParseOOMControl(data)
		return c.OOMKill
	case "pids.max", "memory.max", "memory.high":
		v, _ := ParseMax(data)
		return uint64(v)
	case "memory.limit_in_bytes":
		v, _ := ParseV1Limit(data)
		return uint64(v)
	default:
		v, _ := ParseUint(data)
		return v
	}
}

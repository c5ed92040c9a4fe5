package collector

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crashguard/crashguard_exporter/internal/cgroup"
	"github.com/crashguard/crashguard_exporter/internal/cgroup/cgrouptest"
)

// Generated trees are shared by the benchmarks of one run.
var (
	cgBenchMu    sync.Mutex
	cgBenchTrees = map[string]*cgrouptest.Tree{}
)

func cgBenchTree(b *testing.B, n int, shape cgrouptest.Shape) *cgrouptest.Tree {
	b.Helper()
	cgBenchMu.Lock()
	defer cgBenchMu.Unlock()
	key := fmt.Sprint(n, shape)
	if t, ok := cgBenchTrees[key]; ok {
		return t
	}
	// Kept until TestMain removes it: building 10,000 cgroups takes seconds.
	base := os.TempDir()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		base = "/dev/shm"
	}
	dir, err := os.MkdirTemp(base, "crashguard-cgbench-")
	if err != nil {
		b.Fatal(err)
	}
	t, err := cgrouptest.Generate(dir, n, shape)
	if err != nil {
		b.Fatal(err)
	}
	cgBenchTrees[key] = t
	cgBenchDirs = append(cgBenchDirs, dir)
	return t
}

var cgBenchDirs []string

// BenchmarkCgroupScrape compares, side by side, a full pids+memcg scrape
// (discovery cached, one walk per hierarchy, selection, labels, metric
// construction) with the floor: opening and reading the same controller
// files from a precomputed list. Target: scrape ≤ 1.5 × floor at 10,000
// cgroups. "default" is the default selection (most generated cgroups have
// no limit and no events, so they are read but not exported); "all"
// exports every cgroup (--collector.cgroups.include=.* with a cap above N).
func BenchmarkCgroupScrape(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		for _, shape := range []cgrouptest.Shape{cgrouptest.V2, cgrouptest.V1, cgrouptest.Hybrid} {
			tree := cgBenchTree(b, n, shape)
			cfg := Config{ProcPath: tree.ProcPath, SysPath: tree.SysPath, RootPath: tree.Root}
			name := fmt.Sprintf("n=%d/%s", n, shape)
			paths := cgFloorPaths(b, tree, shape)
			b.Run(name+"/floor", func(b *testing.B) {
				b.ReportAllocs()
				buf := make([]byte, cgroup.MaxFileSize)
				for b.Loop() {
					for _, p := range paths {
						fd, err := syscall.Open(p, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
						if err != nil {
							b.Fatal(err)
						}
						for {
							m, err := syscall.Read(fd, buf)
							if err != nil {
								b.Fatal(err)
							}
							if m == 0 {
								break
							}
						}
						syscall.Close(fd)
					}
				}
				b.ReportMetric(float64(len(paths)), "files/op")
			})
			for _, sel := range []struct {
				name string
				args []string
			}{
				{"default", nil},
				{"all", []string{"--collector.cgroups.include=.*", fmt.Sprintf("--collector.cgroups.max=%d", n)}},
			} {
				b.Run(name+"/scrape-"+sel.name, func(b *testing.B) {
					p := build(b, "pids", cfg, sel.args...)
					m := build(b, "memcg", cfg, sel.args...)
					ch := make(chan prometheus.Metric, 1024)
					done := make(chan int)
					go func() {
						n := 0
						for range ch {
							n++
						}
						done <- n
					}()
					b.ReportAllocs()
					for b.Loop() {
						ctx := withShared(context.Background())
						var wg sync.WaitGroup
						for _, c := range []Collector{p, m} {
							wg.Add(1)
							go func() {
								defer wg.Done()
								if err := c.Update(ctx, ch); err != nil {
									b.Error(err)
								}
							}()
						}
						wg.Wait()
					}
					close(ch)
					b.ReportMetric(float64(<-done)/float64(b.N), "metrics/op")
				})
			}
		}
	}
}

// cgFloorPaths lists the controller files a scrape reads in tree.
func cgFloorPaths(b *testing.B, tree *cgrouptest.Tree, shape cgrouptest.Shape) []string {
	b.Helper()
	type hier struct {
		dir   string
		files []string
	}
	hiers := []hier{{tree.MemoryDir, []string{"pids.current", "pids.max", "pids.peak", "pids.events", "pids.events.local",
		"memory.current", "memory.max", "memory.high", "memory.events", "memory.events.local", "memory.stat"}}}
	if shape != cgrouptest.V2 {
		hiers = []hier{
			{tree.PidsDir, []string{"pids.current", "pids.max", "pids.peak", "pids.events"}},
			{tree.MemoryDir, []string{"memory.usage_in_bytes", "memory.limit_in_bytes", "memory.failcnt", "memory.oom_control", "memory.stat"}},
		}
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
	return paths
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range cgBenchDirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

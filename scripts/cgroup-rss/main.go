// Command cgroup-rss generates a synthetic cgroup tree (as the collector
// benchmarks do) so that scripts/cgroup-rss.sh can run the exporter binary
// against it through the path flags.
//
// Usage: go run ./scripts/cgroup-rss DIR N v2|v1|hybrid
package main

import (
	"fmt"
	"os"
	"strconv"

	"github.com/crashguard/crashguard_exporter/internal/cgroup/cgrouptest"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: cgroup-rss DIR N v2|v1|hybrid")
		os.Exit(2)
	}
	n, err := strconv.Atoi(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	shape := map[string]cgrouptest.Shape{"v2": cgrouptest.V2, "v1": cgrouptest.V1, "hybrid": cgrouptest.Hybrid}[os.Args[3]]
	t, err := cgrouptest.Generate(os.Args[1], n, shape)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// The host files the pids and memcg collectors read besides cgroups.
	files := map[string]string{
		"loadavg":                "0.52 0.58 0.59 3/41234 812331\n",
		"sys/kernel/pid_max":     "4194304\n",
		"sys/kernel/threads-max": "126789\n",
		"vmstat":                 "nr_free_pages 2298424\noom_kill 17\n",
	}
	for name, content := range files {
		p := t.ProcPath + "/" + name
		if err := os.MkdirAll(p[:len(p)-len(name[lastSlash(name)+1:])], 0o755); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	fmt.Printf("%s %s %s\n", t.ProcPath, t.SysPath, t.Root)
}

func lastSlash(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '/' {
			return i
		}
	}
	return -1
}

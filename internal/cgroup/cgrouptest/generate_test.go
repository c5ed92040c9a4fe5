package cgrouptest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGenerate(t *testing.T) {
	for _, shape := range []Shape{V2, V1, Hybrid} {
		t.Run(shape.String(), func(t *testing.T) {
			tree, err := Generate(TempDir(t), 57, shape)
			if err != nil {
				t.Fatal(err)
			}
			if len(tree.Cgroups) != 57 || tree.Cgroups[0] != "/" {
				t.Fatalf("%d cgroups, first %q", len(tree.Cgroups), tree.Cgroups[0])
			}
			if tree.Containers == 0 || tree.PidsLimited == 0 || tree.MemoryLimited == 0 || tree.OOMKilled == 0 || tree.PidsMaxHit == 0 {
				t.Errorf("no limits or events planted: %+v", tree)
			}
			for _, cg := range tree.Cgroups {
				if fi, err := os.Stat(filepath.Join(tree.MemoryDir, cg)); err != nil || !fi.IsDir() {
					t.Errorf("%s missing: %v", cg, err)
				}
			}
			read := func(dir, rel, name string) string {
				b, err := os.ReadFile(filepath.Join(dir, rel, name))
				if err != nil {
					t.Fatal(err)
				}
				return string(b)
			}
			mi := read(tree.ProcPath, "1", "mountinfo")
			if mi != Mountinfo(shape) || mi != read(tree.ProcPath, "self", "mountinfo") {
				t.Error("mountinfo differs from Mountinfo(shape)")
			}
			// The root of a pids hierarchy has no pids.* files.
			if _, err := os.Stat(filepath.Join(tree.PidsDir, "pids.max")); !os.IsNotExist(err) {
				t.Errorf("root pids.max: %v", err)
			}
			if shape == V2 {
				stat := read(tree.MemoryDir, "/", "memory.stat")
				if n := strings.Count(stat, "\n"); n != len(V2MemoryStatKeys) {
					t.Errorf("memory.stat has %d lines", n)
				}
				// Hierarchical events include the children's.
				ev := read(tree.MemoryDir, "/kubepods.slice", "memory.events")
				local := read(tree.MemoryDir, "/kubepods.slice", "memory.events.local")
				if ev == local || !strings.Contains(local, "oom_kill 0\n") {
					t.Errorf("kubepods.slice events %q, local %q", ev, local)
				}
			} else {
				if got := read(tree.MemoryDir, "/", "memory.limit_in_bytes"); got != "9223372036854771712\n" {
					t.Errorf("v1 root limit %q", got)
				}
				stat := read(tree.MemoryDir, "/", "memory.stat")
				if !strings.Contains(stat, "\ntotal_inactive_file ") || !strings.HasPrefix(stat, "cache ") {
					t.Errorf("v1 memory.stat %q", stat)
				}
			}
		})
	}
}

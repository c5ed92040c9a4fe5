package cgroup

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/crashguard/crashguard_exporter/internal/cgroup/cgrouptest"
)

// mkTree creates directories (paths relative to root) and, in each, a
// few controller files, since real cgroup directories mix both.
func mkTree(t *testing.T, root string, dirs ...string) {
	t.Helper()
	for _, d := range append([]string{""}, dirs...) {
		p := filepath.Join(root, d)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"cgroup.procs", "pids.current", "memory.stat"} {
			if err := os.WriteFile(filepath.Join(p, f), []byte("0\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func collect(t *testing.T, w Walker, dir string) ([]string, WalkStats) {
	t.Helper()
	var got []string
	st, err := w.Walk(context.Background(), dir, func(rel string) error {
		got = append(got, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got, st
}

func TestWalkOrderAndFiles(t *testing.T) {
	root := t.TempDir()
	mkTree(t, root, "system.slice/sshd.service", "kubepods.slice/kubepods-besteffort.slice/pod/c1",
		"kubepods.slice/kubepods-besteffort.slice/pod/c0", "init.scope", "a b")
	// Symlinks to directories are not cgroups and are never followed.
	if err := os.Symlink(filepath.Join(root, "system.slice"), filepath.Join(root, "kubepods.slice", "link")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(root, "init.scope", "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, st := collect(t, Walker{}, root+"/")
	want := []string{
		"/", "/a b", "/init.scope", "/kubepods.slice", "/kubepods.slice/kubepods-besteffort.slice",
		"/kubepods.slice/kubepods-besteffort.slice/pod", "/kubepods.slice/kubepods-besteffort.slice/pod/c0",
		"/kubepods.slice/kubepods-besteffort.slice/pod/c1", "/system.slice", "/system.slice/sshd.service",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("visited\n%q\nwant\n%q", got, want)
	}
	if !reflect.DeepEqual(st, WalkStats{Visited: len(want)}) {
		t.Errorf("stats %+v", st)
	}
}

func TestWalkRootThroughSymlink(t *testing.T) {
	// The configured root may itself be a symlink (a host mount point).
	base := t.TempDir()
	mkTree(t, filepath.Join(base, "real"), "x")
	if err := os.Symlink(filepath.Join(base, "real"), filepath.Join(base, "link")); err != nil {
		t.Fatal(err)
	}
	got, _ := collect(t, Walker{}, filepath.Join(base, "link"))
	if !reflect.DeepEqual(got, []string{"/", "/x"}) {
		t.Errorf("got %q", got)
	}
}

func TestWalkVanishing(t *testing.T) {
	root := t.TempDir()
	mkTree(t, root, "a/a1", "a/a2", "b/b1", "c")
	var got []string
	st, err := Walker{}.Walk(context.Background(), root, func(rel string) error {
		got = append(got, rel)
		switch rel {
		case "/a":
			// The cgroup goes away while visited: its children are never
			// listed.
			return os.RemoveAll(filepath.Join(root, "a"))
		case "/b/b1":
			// A sibling listed earlier vanishes before its turn and is
			// not visited.
			return os.RemoveAll(filepath.Join(root, "c"))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/", "/a", "/b", "/b/b1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("visited %q, want %q", got, want)
	}
	if st.Vanished != 2 || st.Errors != 0 || st.Visited != 4 {
		t.Errorf("stats %+v, want 2 vanished", st)
	}
}

func TestWalkUnreadableDir(t *testing.T) {
	if os.Geteuid() == 0 {
		// root reads a 0 mode directory anyway; replace it by a file, which
		// is not a vanish but not a directory either.
		root := t.TempDir()
		mkTree(t, root, "a", "b")
		st, err := Walker{}.Walk(context.Background(), root, func(rel string) error {
			if rel == "/a" {
				if err := os.RemoveAll(filepath.Join(root, "b")); err != nil {
					return err
				}
				return os.WriteFile(filepath.Join(root, "b"), nil, 0o644)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if st.Vanished != 1 || st.Errors != 0 || st.Visited != 2 {
			t.Errorf("directory replaced by a file: %+v", st)
		}
		return
	}
	root := t.TempDir()
	mkTree(t, root, "a/x", "b")
	if err := os.Chmod(filepath.Join(root, "a"), 0); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(filepath.Join(root, "a"), 0o755)
	got, st := collect(t, Walker{}, root)
	if !reflect.DeepEqual(got, []string{"/", "/b"}) || st.Errors != 1 || st.Err == nil {
		t.Errorf("got %q, stats %+v", got, st)
	}
}

func TestWalkCaps(t *testing.T) {
	root := t.TempDir()
	deep := strings.Repeat("d/", 10)
	mkTree(t, root, deep, "e", "f")

	got, st := collect(t, Walker{MaxCgroups: 4}, root)
	if len(got) != 4 || !st.Capped || st.Visited != 4 {
		t.Errorf("total cap: %q %+v", got, st)
	}

	got, st = collect(t, Walker{MaxDepth: 3}, root)
	// "/", "/d", "/d/d", "/d/d/d", "/e", "/f"; /d/d/d/d is left out.
	if len(got) != 6 || st.DepthCapped != 1 || st.Capped {
		t.Errorf("depth cap: %q %+v", got, st)
	}
	for _, rel := range got {
		if strings.Count(rel, "/") > 3 {
			t.Errorf("visited %q below the depth cap", rel)
		}
	}
}

func TestWalkSkipDirAndErrors(t *testing.T) {
	root := t.TempDir()
	mkTree(t, root, "a/x", "b/y")
	var got []string
	_, err := Walker{}.Walk(context.Background(), root, func(rel string) error {
		got = append(got, rel)
		if rel == "/a" {
			return SkipDir
		}
		return nil
	})
	if err != nil || !reflect.DeepEqual(got, []string{"/", "/a", "/b", "/b/y"}) {
		t.Errorf("SkipDir: %q, %v", got, err)
	}

	boom := errors.New("boom")
	err = Walk(context.Background(), root, func(rel string) error {
		if rel == "/b" {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Errorf("callback error: %v", err)
	}

	if err := Walk(context.Background(), filepath.Join(root, "missing"), func(string) error { return nil }); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing root: %v", err)
	}
	if err := Walk(context.Background(), filepath.Join(root, "cgroup.procs"), func(string) error { return nil }); err == nil {
		t.Error("file as root: want error")
	}
}

func TestWalkContext(t *testing.T) {
	tree, err := cgrouptest.Generate(cgrouptest.TempDir(t), 300, cgrouptest.V2)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	st, err := Walker{}.Walk(ctx, tree.MemoryDir, func(string) error {
		n++
		if n == 10 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || st.Visited > 10+ctxCheckEvery {
		t.Errorf("after cancel: %v, %+v", err, st)
	}
}

func TestWalkGeneratedTrees(t *testing.T) {
	for _, shape := range []cgrouptest.Shape{cgrouptest.V2, cgrouptest.V1, cgrouptest.Hybrid} {
		t.Run(shape.String(), func(t *testing.T) {
			tree, err := cgrouptest.Generate(cgrouptest.TempDir(t), 500, shape)
			if err != nil {
				t.Fatal(err)
			}
			h, err := Discover(tree.ProcPath, tree.SysPath, tree.Root)
			if err != nil {
				t.Fatal(err)
			}
			if h.Pids.Dir != tree.PidsDir || h.Memory.Dir != tree.MemoryDir {
				t.Fatalf("discovered %+v, generated %s %s", h, tree.PidsDir, tree.MemoryDir)
			}
			for _, hier := range []Hierarchy{h.Pids, h.Memory} {
				got, st := collect(t, Walker{}, hier.Dir)
				if st.Visited != len(tree.Cgroups) || st.Vanished+st.Errors != 0 {
					t.Errorf("%s: %+v, generated %d cgroups", hier.Dir, st, len(tree.Cgroups))
				}
				if got[0] != "/" || len(got) != len(tree.Cgroups) {
					t.Errorf("%s: visited %d", hier.Dir, len(got))
				}
			}
			// Every generated file parses, and the counts match what the
			// generator says it planted.
			r := NewReader(0)
			var oomKilled, pidsHit, containers int
			_, err = Walker{}.WalkDirs(context.Background(), h.Memory.Dir, func(d *Dir) error {
				rel := d.Rel
				l := Labels(rel)
				if l.ContainerID != "" {
					containers++
					if l.Runtime != RuntimeContainerd || l.PodUID == "" {
						t.Errorf("%s: labels %+v", rel, l)
					}
				}
				if rel == "/" {
					return nil
				}
				if h.Memory.Version == V2 {
					b, err := r.ReadIn(d, "memory.events.local")
					if err != nil {
						return err
					}
					e, err := ParseMemoryEvents(b)
					if err != nil {
						return err
					}
					if e.OOMKill > 0 {
						oomKilled++
					}
					b, err = r.ReadFile(h.Pids.Dir, rel, "pids.events.local")
					if err != nil {
						return err
					}
					p, err := ParsePidsEvents(b)
					if err != nil {
						return err
					}
					if p.Max > 0 {
						pidsHit++
					}
				} else {
					b, err := r.ReadFile(h.Memory.Dir, rel, "memory.oom_control")
					if err != nil {
						return err
					}
					c, err := ParseOOMControl(b)
					if err != nil {
						return err
					}
					if c.OOMKill > 0 {
						oomKilled++
					}
					b, err = r.ReadFile(h.Pids.Dir, rel, "pids.events")
					if err != nil {
						return err
					}
					p, err := ParsePidsEvents(b)
					if err != nil {
						return err
					}
					if p.Max > 0 {
						pidsHit++
					}
				}
				b, err := r.ReadIn(d, "memory.stat")
				if err != nil {
					return err
				}
				_, err = ParseMemoryStat(b)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if oomKilled != tree.OOMKilled || pidsHit != tree.PidsMaxHit || containers != tree.Containers || oomKilled == 0 || pidsHit == 0 {
				t.Errorf("found %d OOM-killed, %d pids-limited, %d containers; generated %d, %d, %d",
					oomKilled, pidsHit, containers, tree.OOMKilled, tree.PidsMaxHit, tree.Containers)
			}
		})
	}
}

// TestWalkErrorsKeepTheirCause: each directory that cannot be opened is
// kept with its own path and cause, not only the first. A path beyond
// PATH_MAX (ENAMETOOLONG) is used because root opens any directory
// whatever its mode.
func TestWalkErrorsKeepTheirCause(t *testing.T) {
	root := t.TempDir()
	long := strings.Repeat("n", 250)
	for _, top := range []string{"a", "b"} {
		// Built one level at a time relative to an open directory: the
		// full path is too long for mkdir(2).
		fd, err := syscall.Open(root, syscall.O_RDONLY|syscall.O_DIRECTORY, 0)
		if err != nil {
			t.Fatal(err)
		}
		for i, name := range append([]string{top}, slices.Repeat([]string{long}, 17)...) {
			if err := syscall.Mkdirat(fd, name, 0o755); err != nil {
				t.Fatalf("level %d: %v", i, err)
			}
			next, err := syscall.Openat(fd, name, syscall.O_RDONLY|syscall.O_DIRECTORY, 0)
			syscall.Close(fd)
			if err != nil {
				t.Fatal(err)
			}
			fd = next
		}
		syscall.Close(fd)
	}
	// t.TempDir's cleanup cannot remove paths this long either.
	t.Cleanup(func() {
		for _, top := range []string{"a", "b"} {
			dir := filepath.Join(root, top)
			for {
				if err := os.Rename(filepath.Join(dir, long), filepath.Join(root, "up")); err != nil {
					break
				}
				os.RemoveAll(dir)
				os.Rename(filepath.Join(root, "up"), dir)
			}
			os.RemoveAll(dir)
		}
	})
	_, st := collect(t, Walker{}, root)
	if st.Errors != 2 || len(st.Errs) != 2 || st.Err != st.Errs[0] {
		t.Fatalf("stats %+v", st)
	}
	for i, prefix := range []string{root + "/a/", root + "/b/"} {
		var pe *fs.PathError
		if !errors.As(st.Errs[i], &pe) || !strings.HasPrefix(pe.Path, prefix) || !errors.Is(pe.Err, syscall.ENAMETOOLONG) {
			t.Errorf("error %d: %v", i, st.Errs[i])
		}
	}
}

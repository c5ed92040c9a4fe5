package collector

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crashguard/crashguard_exporter/internal/cgroup"
)

const cgKernelChildEnv = "CRASHGUARD_CGROUP_KERNEL_CHILD"

// TestCgroupsKernel creates cgroups below this test's own cgroups (read from
// /proc/self/cgroup, so that the machine's accounting and limits keep
// applying), lets the real kernel refuse forks at a small pids.max and
// OOM-kill a child at a small memory limit, and checks that the pids and
// memcg collectors, reading the real /proc and /sys, report both with the
// right cgroup label. The cgroups are removed afterwards.
//
// It needs root and the pids and memory controllers. Where those are
// missing it says why, visibly, and checks nothing else; when CI=true and
// running as root a missing prerequisite fails the test.
func TestCgroupsKernel(t *testing.T) {
	switch os.Getenv(cgKernelChildEnv) {
	case "alloc":
		cgAllocChild()
		return
	case "":
	default:
		t.Fatalf("unknown child mode %q", os.Getenv(cgKernelChildEnv))
	}
	notRun := func(why string) {
		msg := "TestCgroupsKernel did not run against the kernel: " + why
		t.Log(msg)
		fmt.Fprintln(os.Stderr, msg)
	}
	missing := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...)
		if os.Getenv("CI") == "true" && os.Geteuid() == 0 {
			t.Fatalf("prerequisite missing (fatal when CI=true and root): %s", msg)
		}
		notRun(msg)
	}
	if os.Geteuid() != 0 {
		missing("not running as root (creating cgroups needs it)")
		return
	}
	hs, err := cgroup.Discover("/proc", "/sys", "/")
	if err != nil && !hs.Pids.Available() && !hs.Memory.Available() {
		missing("cgroup discovery: %v", err)
		return
	}
	if !hs.Pids.Available() || !hs.Memory.Available() {
		missing("pids controller %v, memory controller %v", hs.Pids.Version, hs.Memory.Version)
		return
	}
	if hs.Unified.Available() && hs.Pids.Version == cgroup.V1 && hs.Memory.Version == cgroup.V1 {
		t.Logf("hybrid host: cgroup2 at %s provides %v, so the v1 hierarchies are exercised", hs.Unified.Dir, hs.UnifiedControllers)
	}
	name := fmt.Sprintf("crashguard-cgtest-%d-%d", os.Getpid(), time.Now().UnixNano()%1e9)
	cfg := Config{ProcPath: "/proc", SysPath: "/sys", RootPath: "/"}
	// Only these cgroups are of interest; the cap must not hide them on a
	// busy machine.
	include := "--collector.cgroups.include=.*/" + name

	t.Run("pids", func(t *testing.T) {
		dir, path, ok := cgMkdir(t, hs.Pids, "pids", name, missing)
		if !ok {
			return
		}
		// A single-threaded shell that forks more sleepers than the limit
		// allows; each refused fork is counted in pids.events.
		const limit = 3
		cgMust(t, os.WriteFile(filepath.Join(dir, "pids.max"), []byte(strconv.Itoa(limit)), 0o644))
		sh := exec.Command("/bin/sh", "-c", "read go; i=0; while [ $i -lt 8 ]; do sleep 60 & i=$((i+1)); done; wait")
		stdin := cgStart(t, sh, dir)
		io.WriteString(stdin, "go\n")
		stdin.Close()
		cgWaitFor(t, "a refused fork in "+dir, func() bool {
			b, _ := os.ReadFile(filepath.Join(dir, "pids.events"))
			e, err := cgroup.ParsePidsEvents(b)
			return err == nil && e.Max > 0
		})

		p := build(t, "pids", cfg, include)
		out := cgSeries(t, p)
		lbl := `{cgroup="` + path + `",container_id="",pod_uid="",runtime="none"}`
		for _, want := range []string{"crashguard_cgroup_pids_limit" + lbl + " 3"} {
			if !strings.Contains(out, want+"\n") {
				t.Errorf("want %s in:\n%s", want, out)
			}
		}
		hits := cgSample(t, out, "crashguard_cgroup_pids_limit_hits_total"+lbl)
		if hits < 1 {
			t.Errorf("limit hits %v, want at least 1 refused fork", hits)
		}
		if cur := cgSample(t, out, "crashguard_cgroup_pids"+lbl); cur < 1 || cur > limit {
			t.Errorf("pids %v, want 1..%d", cur, limit)
		}
		if v := cgSample(t, out, "crashguard_pids_in_use"); v < 1 {
			t.Errorf("pids in use %v", v)
		}
		t.Logf("fork rejections in %s: %v (%s)", path, hits, hs.Pids.Version)
	})

	t.Run("memory", func(t *testing.T) {
		dir, path, ok := cgMkdir(t, hs.Memory, "memory", name, missing)
		if !ok {
			return
		}
		const limit = 32 << 20
		files := []string{"memory.limit_in_bytes", "memory.memsw.limit_in_bytes"}
		if hs.Memory.Version == cgroup.V2 {
			files = []string{"memory.max", "memory.swap.max"}
		}
		cgMust(t, os.WriteFile(filepath.Join(dir, files[0]), []byte(strconv.Itoa(limit)), 0o644))
		// No swap escape: without swap accounting the file is absent.
		swapLimit := strconv.Itoa(limit)
		if hs.Memory.Version == cgroup.V2 {
			swapLimit = "0"
		}
		if err := os.WriteFile(filepath.Join(dir, files[1]), []byte(swapLimit), 0o644); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s: %v", files[1], err)
		}
		child := exec.Command(os.Args[0], "-test.run=^TestCgroupsKernel$", "-test.count=1")
		child.Env = append(os.Environ(), cgKernelChildEnv+"=alloc")
		stdin := cgStart(t, child, dir)
		io.WriteString(stdin, "go\n")
		stdin.Close()
		done := make(chan error, 1)
		go func() { done <- child.Wait() }()
		select {
		case err := <-done:
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("the child was not OOM-killed: %v", err)
			}
		case <-time.After(2 * time.Minute):
			t.Fatal("watchdog: the child was not OOM-killed within 2 minutes")
		}

		m := build(t, "memcg", cfg, include)
		out := cgSeries(t, m)
		lbl := `{cgroup="` + path + `",container_id="",pod_uid="",runtime="none"}`
		if kills := cgSample(t, out, "crashguard_cgroup_memory_oom_kills_total"+lbl); kills < 1 {
			t.Errorf("oom kills %v, want at least 1", kills)
		}
		if !strings.Contains(out, "crashguard_cgroup_memory_limit_bytes"+lbl+" 3.3554432e+07\n") {
			t.Errorf("want the 32 MiB limit in:\n%s", out)
		}
		if hs.Memory.Version == cgroup.V1 {
			// failcnt counts charges that failed against the limit; kernels
			// that reclaim and retry first may leave it at 0 for one kill.
			t.Logf("v1 failcnt after the kill: %v", cgSample(t, out, "crashguard_cgroup_memory_failcnt_total"+lbl))
		}
		if v := cgSample(t, out, "crashguard_memory_oom_kills_total"); v < 1 {
			t.Errorf("host oom kills %v", v)
		}
	})
}

// cgMkdir creates name below this process's cgroup in h and registers its
// removal: every process in it is killed and reaped, then it is removed.
func cgMkdir(t *testing.T, h cgroup.Hierarchy, controller, name string, missing func(string, ...any)) (dir, path string, ok bool) {
	t.Helper()
	own, err := cgOwnPath(controller, h.Version)
	if err != nil {
		missing("%v", err)
		return "", "", false
	}
	if h.Version == cgroup.V2 {
		ctl, _ := os.ReadFile(filepath.Join(h.Dir, own, "cgroup.subtree_control"))
		if !strings.Contains(" "+string(ctl)+" ", " "+controller+" ") && !strings.Contains(string(ctl), controller) {
			missing("cgroup v2: %s is not enabled for children of %s (cgroup.subtree_control %q); enabling it there would move this process", controller, own, strings.TrimSpace(string(ctl)))
			return "", "", false
		}
	}
	rel := strings.TrimSuffix(own, "/") + "/" + name
	dir = filepath.Join(h.Dir, rel)
	if err := os.Mkdir(dir, 0o755); err != nil {
		missing("cannot create a %s cgroup below this process's: %v", controller, err)
		return "", "", false
	}
	t.Cleanup(func() { cgRemove(t, dir) })
	return dir, h.CgroupPath(rel), true
}

// cgOwnPath reads this process's cgroup for controller from /proc/self/cgroup.
func cgOwnPath(controller string, v cgroup.Version) (string, error) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if v == cgroup.V2 && parts[0] == "0" && parts[1] == "" {
			return parts[2], nil
		}
		if v == cgroup.V1 {
			for _, c := range strings.Split(parts[1], ",") {
				if c == controller {
					return parts[2], nil
				}
			}
		}
	}
	return "", fmt.Errorf("/proc/self/cgroup lists no %s cgroup (%v)", controller, v)
}

// cgStart starts cmd, waiting on its stdin, and moves it into dir before
// returning the pipe that releases it.
func cgStart(t *testing.T, cmd *exec.Cmd, dir string) io.WriteCloser {
	t.Helper()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		if cmd.ProcessState == nil {
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(time.Minute):
				t.Errorf("watchdog: child %d not reaped", cmd.Process.Pid)
			}
		}
	})
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
		t.Fatalf("moving child into %s: %v", dir, err)
	}
	return stdin
}

// cgRemove kills whatever is left in dir, then removes it.
func cgRemove(t *testing.T, dir string) {
	deadline := time.Now().Add(time.Minute)
	for {
		b, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil && pid != os.Getpid() {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		// Reap killed grandchildren that were reparented to us, if any.
		var ws syscall.WaitStatus
		for {
			if pid, _ := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil); pid <= 0 {
				break
			}
		}
		err := os.Remove(dir)
		if err == nil || errors.Is(err, os.ErrNotExist) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("cannot remove test cgroup %s: %v", dir, err)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func cgWaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("watchdog: no %s within a minute", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// cgSample returns the value of the series line, or -1 when absent.
func cgSample(t *testing.T, out, series string) float64 {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, series+" ") {
			v, err := strconv.ParseFloat(strings.TrimPrefix(l, series+" "), 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	t.Errorf("no series %s", series)
	return -1
}

// cgAllocChild waits for its go-ahead, then touches memory until killed.
func cgAllocChild() {
	bufio.NewReader(os.Stdin).ReadString('\n')
	var keep [][]byte
	for i := 0; i < 1024; i++ {
		b := make([]byte, 1<<20)
		for j := 0; j < len(b); j += 4096 {
			b[j] = 1
		}
		keep = append(keep, b)
	}
	// Not killed after 1 GiB: exit so that the parent reports it.
	fmt.Fprintln(os.Stderr, "allocated", len(keep), "MiB without being killed")
	os.Exit(3)
}

package collector

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// kmsgOOMChildEnv makes the test binary, re-executed inside a memory-limited
// cgroup, allocate until the kernel OOM-kills it.
const kmsgOOMChildEnv = "CRASHGUARD_TEST_KMSG_OOM_CHILD"

// oomChild waits for its parent to move it into the cgroup, then touches
// 256 MiB, keeping it all reachable.
func oomChild() {
	bufio.NewReader(os.Stdin).ReadString('\n')
	var keep [][]byte
	for i := 0; i < 256; i++ {
		b := make([]byte, 1<<20)
		for j := 0; j < len(b); j += 4096 {
			b[j] = 1
		}
		keep = append(keep, b)
	}
	fmt.Println("allocated", len(keep), "MiB without being killed")
}

// memoryCgroup finds the test process's own memory cgroup: the directory,
// the path the kernel prints for it, and whether it is cgroup v1.
func memoryCgroup() (dir, path string, v1 bool, err error) {
	own, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", "", false, err
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", "", false, err
	}
	// mountinfo: id parent maj:min root mountpoint opts ... - fstype source superopts
	type mount struct{ root, point, fstype, super string }
	var ms []mount
	for _, l := range strings.Split(string(mounts), "\n") {
		pre, post, ok := strings.Cut(l, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(g) < 3 {
			continue
		}
		ms = append(ms, mount{root: f[3], point: f[4], fstype: g[0], super: g[2]})
	}
	below := func(m mount, p string) string {
		rel := p
		if m.root != "/" {
			rel = strings.TrimPrefix(p, m.root)
		}
		return filepath.Join(m.point, rel)
	}
	var v2path string
	for _, l := range strings.Split(strings.TrimSpace(string(own)), "\n") {
		parts := strings.SplitN(l, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			v2path = parts[2]
			continue
		}
		for _, ctl := range strings.Split(parts[1], ",") {
			if ctl != "memory" {
				continue
			}
			for _, m := range ms {
				if m.fstype == "cgroup" && strings.Contains(","+m.super+",", ",memory,") {
					return below(m, parts[2]), parts[2], true, nil
				}
			}
		}
	}
	if v2path != "" {
		for _, m := range ms {
			if m.fstype != "cgroup2" {
				continue
			}
			d := below(m, v2path)
			ctl, err := os.ReadFile(filepath.Join(d, "cgroup.subtree_control"))
			if err == nil && strings.Contains(" "+strings.TrimSpace(string(ctl))+" ", " memory ") {
				return d, v2path, false, nil
			}
			return "", "", false, fmt.Errorf("cgroup v2 at %s: the memory controller is not enabled for children of %s (cgroup.subtree_control %q), and enabling it there would move this process", m.point, v2path, strings.TrimSpace(string(ctl)))
		}
	}
	return "", "", false, errors.New("no memory cgroup controller is mounted for this process")
}

// TestKmsgKernelOOM lets the real kernel OOM-kill a child in a cgroup of
// its own (created below the test's own cgroup, so the machine's accounting
// still applies) and checks that a collector following /dev/kmsg counts the
// kill with the cgroup's path, and keeps counting it after the cgroup is
// removed.
//
// It needs root, a readable /dev/kmsg and a writable memory controller.
// Where those are missing it says why and does nothing else; where they are
// present, a problem of the environment (no kill because of swap, say)
// fails the test when CI=true and is reported otherwise; a wrong count
// always fails it.
func TestKmsgKernelOOM(t *testing.T) {
	if os.Getenv(kmsgOOMChildEnv) == "1" {
		oomChild()
		return
	}
	notRun := func(why string) {
		msg := "TestKmsgKernelOOM did not run against the kernel: " + why
		t.Log(msg)
		fmt.Fprintln(os.Stderr, msg)
	}
	envFail := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...)
		if os.Getenv("CI") == "true" {
			t.Fatalf("prerequisites present but the kernel OOM test could not complete: %s", msg)
		}
		notRun(msg + " (fatal when CI=true)")
	}
	if os.Geteuid() != 0 {
		notRun("not running as root (creating cgroups and reading /dev/kmsg need it)")
		return
	}
	parent, parentPath, v1, err := memoryCgroup()
	if err != nil {
		notRun(err.Error())
		return
	}
	name := fmt.Sprintf("crashguard-oomtest-%d-%d", os.Getpid(), time.Now().UnixNano())
	dir := filepath.Join(parent, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		notRun(fmt.Sprintf("memory controller not writable below this process's cgroup: %v", err))
		return
	}
	var child *exec.Cmd
	t.Cleanup(func() {
		if child != nil && child.ProcessState == nil {
			child.Process.Kill()
			child.Wait()
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			err := os.Remove(dir)
			if err == nil || errors.Is(err, os.ErrNotExist) {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("cannot remove test cgroup %s: %v", dir, err)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	})

	const limit = "33554432" // 32 MiB
	limits := map[string]string{"memory.limit_in_bytes": limit, "memory.memsw.limit_in_bytes": limit}
	order := []string{"memory.limit_in_bytes", "memory.memsw.limit_in_bytes"}
	if !v1 {
		limits = map[string]string{"memory.max": limit, "memory.swap.max": "0"}
		order = []string{"memory.max", "memory.swap.max"}
	}
	for i, f := range order {
		err := os.WriteFile(filepath.Join(dir, f), []byte(limits[f]), 0o644)
		if err != nil && (i == 0 || !errors.Is(err, os.ErrNotExist)) {
			envFail("setting %s: %v", f, err)
			return
		}
	}

	// Follow the real kernel log from its end, without a state file.
	cfg := Config{ProcPath: "/proc", SysPath: "/sys", RootPath: "/"}
	c := newTestKmsg(t, cfg, kmsgOptions{path: "/dev/kmsg"})
	if v, _ := value(t, c, "crashguard_kmsg_follower_running", nil); v != 1 {
		envFail("the follower cannot read /dev/kmsg (state %v)", c.follower.Stats().Reason)
		return
	}
	wantValue(t, c, "crashguard_kmsg_start_mode", map[string]string{"mode": "end"}, 1)

	victim := strings.TrimSuffix(parentPath, "/") + "/" + name
	labels := map[string]string{"cgroup": victim, "constraint": "memcg"}
	if _, ok := value(t, c, "crashguard_kernel_oom_kills_total", labels); ok {
		t.Fatalf("a kill in %s counted before the child ran", victim)
	}

	child = exec.Command(os.Args[0], "-test.run=^TestKmsgKernelOOM$", "-test.count=1")
	child.Env = append(os.Environ(), kmsgOOMChildEnv+"=1")
	stdin, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	child.Stdout, child.Stderr = &out, &out
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(fmt.Sprint(child.Process.Pid)), 0o644); err != nil {
		envFail("moving the child into %s: %v", dir, err)
		return
	}
	io.WriteString(stdin, "go\n")
	stdin.Close()
	waited := make(chan error, 1)
	go func() { waited <- child.Wait() }()
	select {
	case <-waited:
	case <-time.After(2 * time.Minute):
		child.Process.Kill()
		<-waited
		envFail("the child neither finished nor was killed within 2 minutes")
		return
	}
	ws, _ := child.ProcessState.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		envFail("the child was not OOM-killed (%v; swap outside the limit?): %s", child.ProcessState, shortErr(out.String(), 300))
		return
	}

	waitFor(t, "the kill to be counted", func() bool {
		v, _ := value(t, c, "crashguard_kernel_oom_kills_total", labels)
		return v >= 1
	})
	comm := filepath.Base(os.Args[0])
	if len(comm) > 15 { // TASK_COMM_LEN - 1
		comm = comm[:15]
	}
	wantValue(t, c, "crashguard_kernel_oom_last_kill_info", map[string]string{"cgroup": victim, "comm": comm}, 1)
	if v, _ := value(t, c, "crashguard_kernel_oom_kills_all_total", map[string]string{"constraint": "memcg"}); v < 1 {
		t.Errorf("oom_kills_all_total{constraint=memcg} = %v after a memcg kill", v)
	}

	// The cgroup goes away with its container; the count stays.
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := os.Remove(dir)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cannot remove %s after the child was reaped: %v", dir, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if v, _ := value(t, c, "crashguard_kernel_oom_kills_total", labels); v < 1 {
		t.Errorf("kill count for %s lost when the cgroup was removed: %v", victim, v)
	}
	t.Logf("kernel OOM-killed pid %d in %s; counted as %s", child.Process.Pid, victim, labels)
}

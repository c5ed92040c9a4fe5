package cgroup

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/crashguard/crashguard_exporter/internal/ident"
)

func FuzzLabels(f *testing.F) {
	for _, p := range []string{
		"/", "/system.slice/docker-" + id1 + ".scope/init.scope", "/docker/" + id1,
		"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidU + ".slice/cri-containerd-" + id1 + ".scope",
		"/kubepods/besteffort/pod" + uid + "/" + id1, "/kubepods/pod" + uidStatic + "/" + id1,
		"/machine.slice/libpod-conmon-" + id1 + ".scope", "/libpod_parent/libpod-" + id1,
		"/lxc.payload.web01", "/lxc/web01", "/mesos/" + mesosID, `/system.slice/foo\x2dbar.service`,
		"/kubepods.slice/kubepods-pod" + uidU + ".slice/crio-conmon-" + id1 + ".scope",
		`/lxc.payload.\xff\x2f\x2d`, "//docker//" + id1 + "//",
	} {
		f.Add(p)
	}
	runtimes := map[string]bool{RuntimeDocker: true, RuntimeContainerd: true, RuntimeCRIO: true, RuntimePodman: true,
		RuntimeLXC: true, RuntimeMesos: true, RuntimeSystemd: true, RuntimeUnknown: true, RuntimeNone: true}
	f.Fuzz(func(t *testing.T, path string) {
		l := Labels(path)
		if !runtimes[l.Runtime] {
			t.Fatalf("runtime %q outside the set", l.Runtime)
		}
		if len(l.ContainerID) > maxNameLen || !utf8.ValidString(l.ContainerID) {
			t.Fatalf("unbounded container id %q", l.ContainerID)
		}
		for _, r := range l.ContainerID {
			if r < 0x20 || r == 0x7f {
				t.Fatalf("control character in %q", l.ContainerID)
			}
		}
		if l.PodUID != "" && !ident.IsUUID(l.PodUID) && !ident.IsLowerHex(l.PodUID, 32) {
			t.Fatalf("invalid pod uid %q", l.PodUID)
		}
		if l.ContainerID != "" && l.Runtime != RuntimeLXC && !isHexID(l.ContainerID) && !ident.IsUUID(l.ContainerID) {
			t.Fatalf("invalid container id %q for %s", l.ContainerID, l.Runtime)
		}
		if l.ContainerID != "" && (l.Runtime == RuntimeNone || l.Runtime == RuntimeSystemd) {
			t.Fatalf("container %q with runtime %s", l.ContainerID, l.Runtime)
		}
	})
}

func FuzzParseFlatKeyed(f *testing.F) {
	f.Add([]byte("low 0\nhigh 0\nmax 1532\noom 3\noom_kill 3\noom_group_kill 0\n"))
	f.Add([]byte("low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\nsock_throttled 2\n"))
	f.Add([]byte("max 4\n"))
	f.Add([]byte("oom_kill_disable 0\nunder_oom 0\noom_kill 1\n"))
	if b, err := os.ReadFile("testdata/memory.stat.v2"); err == nil {
		f.Add(b)
	}
	if b, err := os.ReadFile("testdata/memory.stat.v1"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("max -1\n"))
	f.Add([]byte("a  1 \r\n\n\tb\t2"))
	f.Fuzz(func(t *testing.T, b []byte) {
		n := 0
		err := ParseFlatKeyed(b, func(k []byte, v uint64) {
			if len(k) == 0 {
				t.Fatal("empty key")
			}
			n++
		})
		if err == nil && n == 0 {
			t.Fatal("no error and no keys")
		}
		if err != nil && !IsGarbage(err) {
			t.Fatalf("error %v is not garbage", err)
		}
		ev, err1 := ParseMemoryEvents(b)
		_, err2 := ParseMemoryStat(b)
		_, err3 := ParsePidsEvents(b)
		_, err4 := ParseOOMControl(b)
		for _, e := range []error{err1, err2, err3, err4} {
			if e != nil && !IsGarbage(e) {
				t.Fatalf("error %v is not garbage", e)
			}
		}
		// A file every value of which parses also parses by key.
		if err == nil && err1 == nil && ev.HasOOMGroupKill && !strings.Contains(string(b), "oom_group_kill") {
			t.Fatal("oom_group_kill reported but absent")
		}
	})
}

func FuzzParseMax(f *testing.F) {
	for _, s := range []string{"max\n", "0\n", "268435456\n", "9223372036854771712\n", "18446744073709551615\n", "-1\n", "max max\n", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ParseMax(b)
		if err == nil && (v < 0 || math.IsNaN(v)) {
			t.Fatalf("ParseMax(%q) = %v", b, v)
		}
		if err != nil && !IsGarbage(err) {
			t.Fatalf("error %v is not garbage", err)
		}
		l, lerr := ParseV1Limit(b)
		if (lerr == nil) != (err == nil) {
			t.Fatalf("ParseMax and ParseV1Limit disagree on %q: %v, %v", b, err, lerr)
		}
		if lerr == nil && l != v && !math.IsInf(l, 1) {
			t.Fatalf("ParseV1Limit(%q) = %v, ParseMax %v", b, l, v)
		}
		if u, uerr := ParseUint(b); uerr == nil && float64(u) != v {
			t.Fatalf("ParseUint(%q) = %d, ParseMax %v", b, u, v)
		}
	})
}

func FuzzDiscover(f *testing.F) {
	for _, name := range []string{"v2", "v2-localevents", "v1", "hybrid", "hybrid-pids-v2-localevents", "docker-v1-self"} {
		if b, err := os.ReadFile(filepath.Join("testdata", "mountinfo", name)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("1 2 3 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,pids_localevents\n"))
	f.Add([]byte("1 2 3 /\\134\\040 /sys/fs/cgroup/a\\012b rw - cgroup x rw,pids,memory\n"))
	f.Add([]byte("- - - - - - - - -\n"))
	root := f.TempDir()
	sys := filepath.Join(root, "sys")
	if err := os.MkdirAll(filepath.Join(sys, "fs", "cgroup", "unified"), 0o755); err != nil {
		f.Fatal(err)
	}
	for _, p := range []string{"fs/cgroup/cgroup.controllers", "fs/cgroup/unified/cgroup.controllers"} {
		if err := os.WriteFile(filepath.Join(sys, p), []byte("memory pids\n"), 0o644); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, mountinfo []byte) {
		h, _, _ := discoverFrom(mountinfo, sys, root)
		for _, x := range []Hierarchy{h.Pids, h.Memory, h.Unified} {
			if x.Available() != (x.Dir != "") {
				t.Fatalf("inconsistent hierarchy %+v", x)
			}
			if x.Available() && !strings.HasPrefix(x.Dir, root) && !strings.HasPrefix(x.Dir, sys) {
				t.Fatalf("directory %q escapes the host root", x.Dir)
			}
			if x.Version == V1 && !x.LocalEvents {
				t.Fatalf("v1 events not local: %+v", x)
			}
		}
	})
}

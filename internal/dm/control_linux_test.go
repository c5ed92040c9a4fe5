package dm

import (
	"golang.org/x/sys/unix"

	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

var (
	_ Source = (*Control)(nil)
	_ Source = (*DirSource)(nil)
)

func TestIoctlError(t *testing.T) {
	cases := []struct {
		errno  syscall.Errno
		target error
		reason string
	}{
		{syscall.EACCES, fs.ErrPermission, "permission"},
		{syscall.EPERM, fs.ErrPermission, "permission"},
		{syscall.ENXIO, fs.ErrNotExist, "missing"},
		{syscall.ENOTTY, syscall.ENOTTY, "io"},
	}
	for _, c := range cases {
		err := error(&IoctlError{Op: "status", Dev: DevNum{253, 2}, Errno: c.errno})
		if !errors.Is(err, c.target) || !errors.Is(err, c.errno) {
			t.Errorf("%v: not %v", err, c.target)
		}
		if got := fsutil.Reason(err); got != c.reason {
			t.Errorf("Reason(%v) = %q, want %q", err, got, c.reason)
		}
		if !strings.Contains(err.Error(), "253:2") {
			t.Errorf("message %q lacks the device", err)
		}
	}
}

func TestOpenControlRefusesNonDevices(t *testing.T) {
	regular := filepath.Join(t.TempDir(), "control")
	if err := os.WriteFile(regular, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err := OpenControl(regular); !errors.Is(err, ErrNotControl) {
		t.Errorf("regular file: %v, %v; want ErrNotControl", c, err)
	}
	if c, err := OpenControl(filepath.Join(t.TempDir(), "absent")); !fsutil.IsNotExist(err) {
		t.Errorf("absent node: %v, %v; want not-exist", c, err)
	}
	// A FIFO is refused before any open, which could block.
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := mkfifo(fifo); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := OpenControl(fifo); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrNotControl) {
			t.Errorf("FIFO: %v; want ErrNotControl", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("OpenControl blocked on a FIFO")
	}
	// Character devices other than 10:236 are refused unopened: opening
	// a watchdog would arm it.
	if c, err := OpenControl("/dev/null"); !errors.Is(err, ErrNotControl) {
		t.Errorf("/dev/null: %v, %v; want ErrNotControl", c, err)
	}
	wd := filepath.Join(t.TempDir(), "watchdog")
	if err := unix.Mknod(wd, unix.S_IFCHR|0o600, int(unix.Mkdev(10, 130))); err != nil {
		t.Fatalf("mknod a watchdog-like node (needs root): %v", err)
	}
	if c, err := OpenControl(wd); !errors.Is(err, ErrNotControl) {
		t.Errorf("misc 10:130 (watchdog): %v, %v; want ErrNotControl", c, err)
	}
}

// TestControlIoctlReachesKernel sends real DM ioctls to /dev/null: the
// kernel answers ENOTTY, which shows the request numbers and the buffer
// reach the syscall and errors come back typed.
func TestControlIoctlReachesKernel(t *testing.T) {
	c, err := openControl("/dev/null", isCharDevice)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Version(); !errors.Is(err, syscall.ENOTTY) {
		t.Errorf("Version on /dev/null: %v, want ENOTTY", err)
	}
	_, err = c.Status(DevNum{253, 0})
	var ie *IoctlError
	if !errors.As(err, &ie) || ie.Errno != syscall.ENOTTY || ie.Op != "status" {
		t.Errorf("Status on /dev/null: %v, want IoctlError ENOTTY", err)
	}
	if _, err := c.Table(DevNum{253, 0}); !errors.Is(err, syscall.ENOTTY) {
		t.Errorf("Table on /dev/null: %v, want ENOTTY", err)
	}
	if _, err := c.ListDevices(); !errors.Is(err, syscall.ENOTTY) {
		t.Errorf("ListDevices on /dev/null: %v, want ENOTTY", err)
	}
}

// controlExpected reports whether this host should have the control node:
// the kernel registered the device-mapper misc device and /dev is a
// devtmpfs, which creates /dev/mapper/control by itself.
func controlExpected() bool {
	misc, err := os.ReadFile("/proc/misc")
	if err != nil {
		return false
	}
	hasDM := false
	for _, l := range strings.Split(string(misc), "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[1] == "device-mapper" {
			hasDM = true
		}
	}
	mounts, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(mounts), "\n") {
		if f := strings.Fields(l); len(f) >= 3 && f[1] == "/dev" && f[2] == "devtmpfs" {
			return hasDM
		}
	}
	return false
}

// TestControlLive talks to the real control node when there is one: as
// root DM_VERSION and DM_LIST_DEVICES (both read-only) must succeed and
// every listed device's status must decode; otherwise the error must be
// the documented one.
func TestControlLive(t *testing.T) {
	root := os.Geteuid() == 0
	c, err := OpenControl(DefaultControlPath)
	switch {
	case err == nil:
		defer c.Close()
		v, err := c.Version()
		if !root {
			if !errors.Is(err, fs.ErrPermission) {
				t.Fatalf("DM_VERSION without root: %v, want permission error", err)
			}
			return
		}
		if err != nil || v[0] != 4 {
			t.Fatalf("DM_VERSION = %v, %v; want interface 4.x", v, err)
		}
		devs, err := c.ListDevices()
		if err != nil {
			t.Fatalf("DM_LIST_DEVICES: %v", err)
		}
		for _, d := range devs {
			if _, err := c.Status(d.Dev); err != nil && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("status of %s (%v): %v", d.Name, d.Dev, err)
			}
		}
	case fsutil.IsNotExist(err):
		if controlExpected() {
			t.Fatalf("/proc/misc lists device-mapper and /dev is devtmpfs, yet %s is missing: %v", DefaultControlPath, err)
		}
		var pe *fs.PathError
		if !errors.As(err, &pe) || pe.Path != DefaultControlPath {
			t.Errorf("absent control node: %v, want a path error naming %s", err, DefaultControlPath)
		}
	case errors.Is(err, fs.ErrPermission):
		if root {
			t.Fatalf("root cannot open %s: %v", DefaultControlPath, err)
		}
	default:
		t.Fatalf("open %s: %v", DefaultControlPath, err)
	}
}

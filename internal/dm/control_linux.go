package dm

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// DefaultControlPath is the device-mapper control node.
const DefaultControlPath = "/dev/mapper/control"

// Buffer sizes for DM_TABLE_STATUS: a thin pool's status fits in a few
// hundred bytes; the kernel flags a short buffer and the request is
// repeated with a doubled one, up to maxBuf.
const (
	initialBuf = 16 << 10
	maxBuf     = 1 << 20
)

// ErrNotControl is returned when the control path is not a character
// device, so that no ioctl is ever sent to an unrelated file.
var ErrNotControl = errors.New("not a character device")

// IoctlError is a failed device-mapper ioctl. It matches fs.ErrPermission
// for EACCES/EPERM (the kernel requires CAP_SYS_ADMIN) and fs.ErrNotExist
// for ENXIO (the device went away).
type IoctlError struct {
	Op    string // "table", "status", "version", "list"
	Dev   DevNum
	Errno syscall.Errno
}

func (e *IoctlError) Error() string {
	if e.Op == "table" || e.Op == "status" {
		return fmt.Sprintf("device-mapper %s of %s: %v", e.Op, e.Dev, e.Errno)
	}
	return fmt.Sprintf("device-mapper %s: %v", e.Op, e.Errno)
}

// Unwrap exposes the errno and, for ENXIO, fs.ErrNotExist.
func (e *IoctlError) Unwrap() []error {
	if e.Errno == syscall.ENXIO {
		return []error{e.Errno, fs.ErrNotExist}
	}
	return []error{e.Errno}
}

// Control is an open device-mapper control node. It implements Client.
// It is safe for concurrent use.
type Control struct {
	f *os.File
}

// OpenControl opens the control node. The kernel checks no open mode (only
// CAP_SYS_ADMIN, at ioctl time); it is opened read-write like
// libdevmapper does, falling back to read-only where policy allows only
// that. A missing node (no dm support, or not visible in this container)
// matches fs.ErrNotExist. A path that is not a character device is refused
// before it is opened, so that a misconfigured path (a FIFO) never blocks.
func OpenControl(path string) (*Control, error) {
	return openControl(path, isControlNode)
}

// The device-mapper control node is the misc device 10:236
// (MAPPER_CTRL_MINOR). Any other character device is refused unopened: a
// misconfigured path such as /dev/watchdog would be armed by an open.
const (
	miscMajor        = 10
	mapperCtrlMinor  = 236
	charDeviceFormat = unix.S_IFCHR
)

func isControlNode(st *unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == charDeviceFormat &&
		unix.Major(uint64(st.Rdev)) == miscMajor && unix.Minor(uint64(st.Rdev)) == mapperCtrlMinor
}

func isCharDevice(st *unix.Stat_t) bool { return st.Mode&unix.S_IFMT == charDeviceFormat }

// openControl opens path when accept approves what stat says it is, and
// checks the opened file again: the path may have been replaced meanwhile.
func openControl(path string, accept func(*unix.Stat_t) bool) (*Control, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if !accept(&st) {
		return nil, &fs.PathError{Op: "open", Path: path, Err: ErrNotControl}
	}
	f, err := os.OpenFile(path, os.O_RDWR|syscall.O_CLOEXEC, 0)
	if errors.Is(err, fs.ErrPermission) {
		f, err = os.OpenFile(path, os.O_RDONLY|syscall.O_CLOEXEC, 0)
	}
	if err != nil {
		return nil, err
	}
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, &fs.PathError{Op: "fstat", Path: path, Err: err}
	}
	if !accept(&st) {
		f.Close()
		return nil, &fs.PathError{Op: "open", Path: path, Err: ErrNotControl}
	}
	return &Control{f: f}, nil
}

// Close closes the control node.
func (c *Control) Close() error { return c.f.Close() }

// Version returns the kernel's device-mapper interface version
// (DM_VERSION, which has no effect on any device).
func (c *Control) Version() ([3]uint32, error) {
	buf := EncodeRequest(0, 0, HeaderSize)
	if errno := c.ioctl(ioctlVersion, buf); errno != 0 {
		return [3]uint32{}, &IoctlError{Op: "version", Errno: errno}
	}
	h, err := DecodeHeader(buf)
	return h.Version, err
}

// ListDevices returns every dm device's number and name (DM_LIST_DEVICES).
func (c *Control) ListDevices() ([]NamedDevice, error) {
	for size := initialBuf; ; size *= 2 {
		buf := EncodeRequest(0, 0, size)
		if errno := c.ioctl(ioctlListDevices, buf); errno != 0 {
			return nil, &IoctlError{Op: "list", Errno: errno}
		}
		devs, _, err := DecodeNameList(buf)
		if errors.Is(err, ErrBufferFull) && size < maxBuf {
			continue
		}
		return devs, err
	}
}

// Table returns the live table (DM_TABLE_STATUS with DM_STATUS_TABLE_FLAG).
func (c *Control) Table(dev DevNum) ([]Target, error) {
	return c.tableStatus("table", dev, FlagStatusTable)
}

// Status returns the live status. DM_NOFLUSH_FLAG keeps thin-pool from
// committing its metadata before reporting, so reading has no write side
// effect; the figures may lag the last commit by up to a second.
func (c *Control) Status(dev DevNum) ([]Target, error) {
	return c.tableStatus("status", dev, FlagNoFlush)
}

func (c *Control) tableStatus(op string, dev DevNum, flags uint32) ([]Target, error) {
	for size := initialBuf; ; size *= 2 {
		buf := EncodeRequest(dev.Encode(), flags, size)
		if errno := c.ioctl(ioctlTableStatus, buf); errno != 0 {
			return nil, &IoctlError{Op: op, Dev: dev, Errno: errno}
		}
		targets, _, err := DecodeTargets(buf)
		if errors.Is(err, ErrBufferFull) && size < maxBuf {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("device-mapper %s of %s: %w", op, dev, err)
		}
		return targets, nil
	}
}

// ioctl issues req on the control node with buf as the argument and
// returns 0 or the errno.
func (c *Control) ioctl(req uint32, buf []byte) syscall.Errno {
	rc, err := c.f.SyscallConn()
	if err != nil {
		return syscall.EBADF
	}
	var errno syscall.Errno
	cerr := rc.Control(func(fd uintptr) {
		for {
			_, _, errno = unix.Syscall(unix.SYS_IOCTL, fd, uintptr(req), uintptr(unsafe.Pointer(&buf[0])))
			if errno != syscall.EINTR {
				return
			}
		}
	})
	if cerr != nil {
		return syscall.EBADF
	}
	return errno
}

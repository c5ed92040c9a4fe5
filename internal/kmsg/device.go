package kmsg

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// DeviceOpener opens a /dev/kmsg-like character device at path (the
// collector's flag), non-blocking, positioned with lseek(2): SEEK_SET 0 for
// the oldest record, SEEK_END for after the newest.
func DeviceOpener(path string) Opener {
	return func(pos Position) (Source, error) {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: path, Err: err}
		}
		whence := unix.SEEK_SET
		if pos == FromEnd {
			whence = unix.SEEK_END
		}
		if _, err := unix.Seek(fd, 0, whence); err != nil {
			unix.Close(fd)
			return nil, &os.PathError{Op: "seek", Path: path, Err: err}
		}
		return &device{fd: fd, path: path}, nil
	}
}

type device struct {
	fd   int
	path string
}

func (d *device) Read(b []byte) (int, error) {
	for {
		n, err := unix.Read(d.fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, err // bare errno: the follower tests for EAGAIN/EPIPE/EINVAL
		}
		return n, nil
	}
}

// Wait blocks in poll(2) until a record is readable or timeout passes.
// POLLERR (records overwritten) also wakes it; the read then gives EPIPE.
func (d *device) Wait(timeout time.Duration) error {
	fds := []unix.PollFd{{Fd: int32(d.fd), Events: unix.POLLIN}}
	_, err := unix.Poll(fds, int(timeout.Milliseconds()))
	if err == unix.EINTR {
		return nil
	}
	return err
}

func (d *device) Close() error {
	if d.fd < 0 {
		return nil
	}
	err := unix.Close(d.fd)
	d.fd = -1
	return err
}

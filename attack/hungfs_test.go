package attack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// Operations on the served directory that hungFS can hold.
const (
	opStatfs  = "statfs"
	opGetattr = "getattr" // GETATTR and STATX: stat(2)
	opLookup  = "lookup"  // a name in the directory
	opOpendir = "opendir" // listing the directory
)

// deadServer is every operation on the directory: what a hard NFS mount
// does when its server is gone.
var deadServer = []string{opStatfs, opGetattr, opLookup, opOpendir}

// hungFS is a FUSE mount that serves a copy of a directory and can hold
// chosen operations on its top directory unanswered, so the process that
// asked sits in the kernel exactly as on a hung NFS mount, until release.
type hungFS struct {
	t      testing.TB
	dir    string // the mount point
	conn   uint64 // the FUSE connection number, for /sys/fs/fuse/connections
	server *fuse.Server
	closed sync.Once

	mu      sync.Mutex
	blocked map[string]bool
	held    map[string]int // calls held so far, by operation
	release chan struct{}
}

// requireFUSE skips the test where FUSE cannot be mounted.
func requireFUSE(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skipf("hung-mount tests need /dev/fuse (and root, to mount without fusermount): %v", err)
	}
	if os.Geteuid() != 0 {
		t.Skip("hung-mount tests need root to mount FUSE without fusermount")
	}
}

// mountHung moves the contents of dir aside and mounts a FUSE file system
// serving them at dir. Nothing is held until block. The mount is always
// taken down when the test ends: held calls are answered, the file system
// is unmounted, and if that fails it is detached lazily and its connection
// aborted, so nothing stays hung. A process that made a held call cannot
// exit, even on SIGKILL, until the call is answered: register h.unblock as
// a cleanup after starting such a process.
func mountHung(t *testing.T, dir string) *hungFS {
	t.Helper()
	backing := filepath.Join(t.TempDir(), "backing")
	if err := os.Rename(dir, backing); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(backing, &st); err != nil {
		t.Fatal(err)
	}
	h := &hungFS{t: t, dir: dir, blocked: map[string]bool{}, held: map[string]int{}, release: make(chan struct{})}
	lr := &fs.LoopbackRoot{Path: backing, Dev: uint64(st.Dev)}
	root := &gatedNode{LoopbackNode: fs.LoopbackNode{RootData: lr}, h: h}
	lr.RootNode = root
	// No kernel caching: every stat and lookup reaches the server.
	zero := time.Duration(0)
	server, err := fs.Mount(dir, root, &fs.Options{
		AttrTimeout:     &zero,
		EntryTimeout:    &zero,
		NegativeTimeout: &zero,
		MountOptions: fuse.MountOptions{
			DirectMountStrict: true, // mount(2) itself: no fusermount binary
			FsName:            "crashguard-hungfs",
			Name:              "hungfs",
		},
	})
	if err != nil {
		t.Fatalf("mounting FUSE at %s: %v", dir, err)
	}
	h.server = server
	t.Cleanup(h.close)
	var mst unix.Stat_t
	if err := unix.Stat(dir, &mst); err != nil {
		t.Fatalf("stat of the fresh mount: %v", err)
	}
	// fusectl names a connection by the super block's device number.
	h.conn = uint64(unix.Major(mst.Dev))<<20 | uint64(unix.Minor(mst.Dev))
	return h
}

// block holds the given operations on the top directory from now on.
func (h *hungFS) block(ops ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, op := range ops {
		h.blocked[op] = true
	}
}

// unblock answers every held call and holds nothing more.
func (h *hungFS) unblock() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.blocked = map[string]bool{}
	select {
	case <-h.release:
	default:
		close(h.release)
	}
}

// heldCalls reports how many calls of op were held so far.
func (h *hungFS) heldCalls(op string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.held[op]
}

// wait holds a call of op until unblock, if op is blocked. It ignores the
// kernel's interrupts, as a hard NFS mount does.
func (h *hungFS) wait(op string) {
	h.mu.Lock()
	if !h.blocked[op] {
		h.mu.Unlock()
		return
	}
	h.held[op]++
	ch := h.release
	h.mu.Unlock()
	<-ch
}

func (h *hungFS) close() { h.closed.Do(h.unmount) }

func (h *hungFS) unmount() {
	h.unblock()
	done := make(chan error, 1)
	go func() { done <- h.server.Unmount() }()
	select {
	case err := <-done:
		if err == nil {
			return
		}
		h.t.Logf("unmounting %s: %v; detaching it and aborting the connection", h.dir, err)
	case <-time.After(20 * time.Second):
		h.t.Logf("unmounting %s did not finish; detaching it and aborting the connection", h.dir)
	}
	if err := unix.Unmount(h.dir, unix.MNT_DETACH); err != nil {
		h.t.Logf("lazy unmount of %s: %v", h.dir, err)
	}
	h.abort()
}

// abort ends the FUSE connection through fusectl, mounting fusectl for the
// purpose if it is not mounted, so that any process still waiting on the
// file system gets an error instead of hanging.
func (h *hungFS) abort() {
	const ctl = "/sys/fs/fuse/connections"
	abort := filepath.Join(ctl, fmt.Sprint(h.conn), "abort")
	if _, err := os.Stat(abort); err != nil {
		if err := unix.Mount("fusectl", ctl, "fusectl", 0, ""); err != nil {
			h.t.Logf("mounting fusectl to abort connection %d: %v", h.conn, err)
			return
		}
		defer unix.Unmount(ctl, 0)
	}
	if err := os.WriteFile(abort, []byte("1"), 0); err != nil {
		h.t.Logf("aborting FUSE connection %d: %v", h.conn, err)
	}
}

// gatedNode is the top directory: a loopback node whose operations wait
// at the gate first. Entries below it are plain loopback nodes.
type gatedNode struct {
	fs.LoopbackNode
	h *hungFS
}

var (
	_ fs.NodeStatfser       = (*gatedNode)(nil)
	_ fs.NodeGetattrer      = (*gatedNode)(nil)
	_ fs.NodeStatxer        = (*gatedNode)(nil)
	_ fs.NodeLookuper       = (*gatedNode)(nil)
	_ fs.NodeOpendirHandler = (*gatedNode)(nil)
	_ fs.NodeReaddirer      = (*gatedNode)(nil)
)

func (n *gatedNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	n.h.wait(opStatfs)
	return n.LoopbackNode.Statfs(ctx, out)
}

func (n *gatedNode) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	n.h.wait(opGetattr)
	return n.LoopbackNode.Getattr(ctx, f, out)
}

func (n *gatedNode) Statx(ctx context.Context, f fs.FileHandle, flags, mask uint32, out *fuse.StatxOut) syscall.Errno {
	n.h.wait(opGetattr)
	return n.LoopbackNode.Statx(ctx, f, flags, mask, out)
}

func (n *gatedNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	n.h.wait(opLookup)
	return n.LoopbackNode.Lookup(ctx, name, out)
}

func (n *gatedNode) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	n.h.wait(opOpendir)
	return n.LoopbackNode.OpendirHandle(ctx, flags)
}

func (n *gatedNode) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	n.h.wait(opOpendir)
	return n.LoopbackNode.Readdir(ctx)
}

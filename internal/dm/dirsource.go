package dm

import (
	"fmt"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

// maxDirSourceBytes caps one table or status file of a DirSource.
const maxDirSourceBytes = 1 << 20

// DirSource is a Source that reads tables and status as dmsetup prints
// them from <dir>/<major:minor>.table and .status: a stand-in for the
// control node on fixture hosts. A missing file is a device that
// device-mapper does not know (ENXIO, as from the kernel). Files are read
// through the guarded reader and must lie inside dir.
type DirSource struct {
	dir  string
	tree *fsutil.Tree
}

// NewDirSource returns the source reading below dir.
func NewDirSource(dir string) *DirSource { return &DirSource{dir: dir, tree: fsutil.NewTree(dir)} }

// Table returns the table of dev from <dir>/<dev>.table.
func (s *DirSource) Table(dev DevNum) ([]Target, error) { return s.read("table", dev) }

// Status returns the status of dev from <dir>/<dev>.status.
func (s *DirSource) Status(dev DevNum) ([]Target, error) { return s.read("status", dev) }

// Close does nothing: no file stays open.
func (s *DirSource) Close() error { return nil }

func (s *DirSource) read(op string, dev DevNum) ([]Target, error) {
	p := filepath.Join(s.dir, dev.String()+"."+op)
	b, err := s.tree.ReadFile(p, maxDirSourceBytes)
	if err != nil {
		if fsutil.IsNotExist(err) {
			return nil, &IoctlError{Op: op, Dev: dev, Errno: syscall.ENXIO}
		}
		return nil, err
	}
	var out []Target
	for line := range strings.Lines(string(b)) {
		if strings.TrimSpace(line) == "" {
			continue
		}
		t, err := ParseTargetLine(line)
		if err != nil {
			return nil, fmt.Errorf("%s: %w: %v", p, ErrMalformed, err)
		}
		out = append(out, t)
	}
	return out, nil
}

package collector

import (
	"context"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

// The helpers below read one small kernel or configuration file. An absent
// file means the host lacks the feature: ok is false and nothing is reported.
// Any other problem (permission, garbage, FIFO, too large, a symlink leading
// out of the mount the path was joined below) is counted in the scrape's
// file-error metric, logged once with the path, and ok is false.

func readString(ctx context.Context, path string) (string, bool) {
	s, err := treeFor(ctx, path).ReadString(path)
	return s, check(ctx, path, err)
}

func readInt(ctx context.Context, path string) (int64, bool) {
	v, err := treeFor(ctx, path).ReadInt(path)
	return v, check(ctx, path, err)
}

func readUint(ctx context.Context, path string) (uint64, bool) {
	v, err := treeFor(ctx, path).ReadUint(path)
	return v, check(ctx, path, err)
}

func readBytes(ctx context.Context, path string, max int64) ([]byte, bool) {
	b, err := treeFor(ctx, path).ReadFile(path, max)
	return b, check(ctx, path, err)
}

// check reports err unless it is nil or means absence.
func check(ctx context.Context, path string, err error) bool {
	if err == nil {
		return true
	}
	if !fsutil.IsNotExist(err) {
		reportFileError(ctx, path, fsutil.Reason(err), err)
	}
	return false
}

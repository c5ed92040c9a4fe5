package collector

import (
	"context"
	"errors"
	"io/fs"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

// scrapeTrees is the reader domain packages read the host through in this
// scrape: each path is checked against the mount it was joined below. It
// checks nothing outside a scrape with trees (collectors driven by tests).
func scrapeTrees(ctx context.Context) fsutil.Reader {
	ts, _ := ctx.Value(treesKey{}).(fsutil.Trees)
	return ts
}

// reportProblems counts and logs once the files a domain package could not
// use; each error names its file (*fs.PathError).
func reportProblems(ctx context.Context, problems []error) {
	for _, err := range problems {
		path := "unknown"
		var pe *fs.PathError
		if errors.As(err, &pe) {
			path = pe.Path
		}
		reportFileError(ctx, path, fsutil.Reason(err), err)
	}
}

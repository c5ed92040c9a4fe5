package collector

import (
	"fmt"

	"bytes"
	"context"
	"github.com/alecthomas/kingpin/v2"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// cgSeries returns one collector's samples of the named families (all when
// none is named) as sorted exposition lines without HELP and TYPE, after
// checking the run with the pedantic registry.
func cgSeries(t *testing.T, c Collector, names ...string) string {
	t.Helper()
	reg := registry(t, map[string]Collector{"c": c})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var lines []string
	for _, mf := range mfs {
		if len(names) > 0 && !want[mf.GetName()] {
			continue
		}
		if strings.HasPrefix(mf.GetName(), "crashguard_scrape_") {
			continue
		}
		mf.Help = nil
		var b bytes.Buffer
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(b.String(), "\n") {
			if l != "" && !strings.HasPrefix(l, "#") {
				lines = append(lines, l)
			}
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

// cgCompare fails with a line diff when got and want differ.
func cgCompare(t *testing.T, got, want string) {
	t.Helper()
	want = strings.TrimLeft(want, "\n")
	if got == want {
		return
	}
	g, w := map[string]bool{}, map[string]bool{}
	for _, l := range strings.Split(got, "\n") {
		g[l] = true
	}
	for _, l := range strings.Split(want, "\n") {
		w[l] = true
	}
	var d []string
	for _, l := range strings.Split(want, "\n") {
		if !g[l] {
			d = append(d, "- "+l)
		}
	}
	for _, l := range strings.Split(got, "\n") {
		if !w[l] {
			d = append(d, "+ "+l)
		}
	}
	t.Errorf("series differ (- want, + got):\n%s", strings.Join(d, "\n"))
}

// cgRunUpdate drives a collector directly, outside a scrape.
func cgRunUpdate(t testing.TB, ctx context.Context, c Collector) error {
	t.Helper()
	ch := make(chan prometheus.Metric, 1<<16)
	err := c.Update(ctx, ch)
	close(ch)
	for range ch {
	}
	return err
}

func fmtSscan(s string, v *int) (int, error) { return fmt.Sscan(s, v) }

// parseCgroupSelectionArgs parses selection flags the way the binary does.
func parseCgroupSelectionArgs(args []string) (cgroupSelection, error) {
	app := kingpin.New("test", "")
	get := cgroupFlags(app)
	if _, err := app.Parse(args); err != nil {
		return cgroupSelection{}, err
	}
	return get()
}

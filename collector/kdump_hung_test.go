package collector

import (
	"context"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestKdumpHungTargetIsATimeoutNotAFailure: a stat or statfs of the dump
// directory that never returns (a hard NFS mount whose server is gone) is a
// timeout for that path; everything else the collector knows is still
// exported with success 1, later scrapes do not wait for the stuck call
// again, and the values come back once it returns.
func TestKdumpHungTargetIsATimeoutNotAFailure(t *testing.T) {
	for _, hang := range []string{"statfs", "stat"} {
		t.Run(hang, func(t *testing.T) {
			cfg := profileConfig(t, "rhel9")
			dumpDir := cfg.Root("/var/crash")
			c := build(t, "kdump", cfg).(*kdumpCollector)
			release := make(chan struct{})
			var once atomic.Bool
			unblock := func() {
				if once.CompareAndSwap(false, true) {
					close(release)
				}
			}
			defer unblock()
			var calls atomic.Int32
			c.space = newTargetSpace(func(p string) (os.FileInfo, error) {
				if hang == "stat" && p == dumpDir {
					calls.Add(1)
					<-release
				}
				return os.Stat(p)
			}, func(string) (uint64, uint64, error) {
				if hang == "statfs" {
					calls.Add(1)
					<-release
				}
				return 40 << 30, 100 << 30, nil
			})
			// Waiting for a stuck call at all would now hang a scrape that
			// has no deadline of its own.
			c.space.maxWait = time.Hour
			e := NewExporter(map[string]Collector{"kdump": c}, log.NewNopLogger())

			for i := 0; i < 3; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
				if i > 0 {
					// Later scrapes: no deadline, so only skipping the
					// call known to be stuck lets them return.
					ctx, cancel = context.WithCancel(context.Background())
				}
				fams := scrapeWithin(t, e, ctx)
				cancel()
				if v, ok := familyValue(fams, "crashguard_scrape_collector_success", "collector", "kdump"); !ok || v != 1 {
					t.Errorf("scrape %d: kdump success %v (present %v), want 1", i, v, ok)
				}
				if v, _ := familyValue(fams, "crashguard_scrape_collector_file_errors", "reason", "timeout"); v != 1 {
					t.Errorf("scrape %d: file_errors{reason=timeout} = %v, want 1", i, v)
				}
				for _, want := range []string{"crashguard_kdump_crash_kernel_loaded", "crashguard_kdump_target_info", "crashguard_kdump_memory_bytes"} {
					if _, ok := familyValue(fams, want, "", ""); !ok {
						t.Errorf("scrape %d: %s missing; the rest of the collector must still report", i, want)
					}
				}
				for _, absent := range []string{"crashguard_kdump_target_filesystem_free_bytes", "crashguard_kdump_target_filesystem_size_bytes"} {
					if _, ok := familyValue(fams, absent, "", ""); ok {
						t.Errorf("scrape %d: %s exported without a statfs result", i, absent)
					}
				}
			}
			if n := calls.Load(); n != 1 {
				t.Errorf("%d calls reached the hung %s, want 1 (one blocked goroutine per path)", n, hang)
			}

			unblock()
			for deadline := time.Now().Add(30 * time.Second); c.space.calls.running() != 0; {
				if time.Now().After(deadline) {
					t.Fatal("released call never returned")
				}
				time.Sleep(time.Millisecond)
			}
			fams := scrapeWithin(t, e, context.Background())
			if v, ok := familyValue(fams, "crashguard_kdump_target_filesystem_free_bytes", "", ""); !ok || v != 40<<30 {
				t.Errorf("after recovery free bytes = %v (present %v), want %v", v, ok, 40<<30)
			}
			if _, ok := familyValue(fams, "crashguard_scrape_collector_file_errors", "reason", "timeout"); ok {
				t.Error("timeout still reported after the mount recovered")
			}
		})
	}
}

// scrapeWithin gathers the exporter under ctx, failing the test if that
// takes more than 30s (a scrape hung on the stuck call).
func scrapeWithin(t *testing.T, e *Exporter, ctx context.Context) map[string]*dto.MetricFamily {
	t.Helper()
	type gathered struct {
		mfs []*dto.MetricFamily
		err error
	}
	done := make(chan gathered, 1)
	go func() {
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(e.Bind(ctx))
		mfs, err := reg.Gather()
		done <- gathered{mfs, err}
	}()
	select {
	case g := <-done:
		if g.err != nil {
			t.Fatal(g.err)
		}
		out := map[string]*dto.MetricFamily{}
		for _, mf := range g.mfs {
			out[mf.GetName()] = mf
		}
		return out
	case <-time.After(30 * time.Second):
		t.Fatal("scrape waited for a call already known to be stuck")
		return nil
	}
}

// familyValue returns the value of the first series of family name with
// label == value (any series when label is "").
func familyValue(fams map[string]*dto.MetricFamily, name, label, value string) (float64, bool) {
	for _, m := range fams[name].GetMetric() {
		if label != "" {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					found = true
				}
			}
			if !found {
				continue
			}
		}
		return m.GetGauge().GetValue(), true
	}
	return 0, false
}

package attack

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// scraperTimeout is what the test scraper sends in
// X-Prometheus-Scrape-Timeout-Seconds and how long it waits for an answer,
// as Prometheus does.
const scraperTimeout = 3 * time.Second

// TestHungDumpTargetKeepsCollectorsReporting: the local kdump target
// (/var/crash of the rhel9 fixture) sits on a FUSE mount that stops
// answering, the way a hard NFS mount does when its server is gone. Every
// scrape still answers before the scraper's timeout, with every collector
// at success 1 and everything they know exported; the hung directory is a
// file error of reason timeout (logged once), its free and size series are
// left out rather than invented, and blocked goroutines do not pile up
// scrape after scrape. Once the mount answers again the values come back.
func TestHungDumpTargetKeepsCollectorsReporting(t *testing.T) {
	requireFUSE(t)
	for _, tc := range []struct {
		name string
		ops  []string
		// crashfiles is set when the hold also stops listing the
		// directory, so crashfiles reports it as a timeout too.
		crashfiles bool
	}{
		{"statfs", []string{opStatfs}, false},
		{"getattr", []string{opGetattr}, false},
		{"dead server", deadServer, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyProfile(t, "rhel9")
			target := filepath.Join(dir, "root", "var", "crash")
			h := mountHung(t, target)
			h.block(tc.ops...)
			e := start(t, profileArgs(t, dir)...)
			// A FUSE request the server has read is waited out even by a
			// SIGKILLed process: answer held calls before the exporter is
			// killed (cleanups run last registered first).
			t.Cleanup(h.unblock)
			client := &http.Client{Timeout: scraperTimeout}

			var goroutines []float64
			for i := 0; i < 6; i++ {
				begin := time.Now()
				fams := scrapeAsPrometheus(t, client, e)
				took := time.Since(begin)
				if f := failed(fams); len(f) > 0 {
					t.Errorf("scrape %d: collectors failed: %v", i, f)
				}
				errs := fileErrors(fams)
				if errs["kdump/timeout"] < 1 {
					t.Errorf("scrape %d: kdump file_errors{reason=timeout} = %v, want >= 1 (all: %v)", i, errs["kdump/timeout"], errs)
				}
				for _, want := range []string{"crashguard_kdump_crash_kernel_loaded", "crashguard_kdump_crash_kernel_reserved_bytes",
					"crashguard_kdump_memory_bytes", "crashguard_kdump_target_configured", "crashguard_kdump_target_info"} {
					if _, ok := value(fams, want, nil); !ok {
						t.Errorf("scrape %d: %s missing while the dump target hangs", i, want)
					}
				}
				for _, absent := range []string{"crashguard_kdump_target_filesystem_free_bytes", "crashguard_kdump_target_filesystem_size_bytes"} {
					if v, ok := value(fams, absent, nil); ok {
						t.Errorf("scrape %d: %s = %v exported without a statfs answer", i, absent, v)
					}
				}
				_, listed := value(fams, "crashguard_crash_dumps", map[string]string{"dir": "/var/crash", "state": "complete"})
				if tc.crashfiles {
					if errs["crashfiles/timeout"] < 1 {
						t.Errorf("scrape %d: crashfiles file_errors{reason=timeout} = %v, want >= 1 (all: %v)", i, errs["crashfiles/timeout"], errs)
					}
					if listed {
						t.Errorf("scrape %d: crash dumps of /var/crash exported although it cannot be listed", i)
					}
				} else if !listed {
					t.Errorf("scrape %d: crash dumps of /var/crash missing; listing it does not hang", i)
				}
				if _, ok := value(fams, "crashguard_pstore_records", nil); !ok {
					t.Errorf("scrape %d: pstore records missing; crashfiles must report what is not on the hung mount", i)
				}
				g, ok := value(fams, "go_goroutines", nil)
				if !ok {
					t.Fatalf("scrape %d: no go_goroutines", i)
				}
				goroutines = append(goroutines, g)
				kd, _ := value(fams, "crashguard_scrape_collector_duration_seconds", map[string]string{"collector": "kdump"})
				t.Logf("scrape %d answered in %v (kdump %.2fs), %v goroutines", i, took.Round(time.Millisecond), kd, g)
				if t.Failed() {
					t.FailNow()
				}
			}
			held := 0
			for _, op := range tc.ops {
				held += h.heldCalls(op)
			}
			if held == 0 {
				t.Fatalf("no call reached the held operations %v: the test did not exercise a hang", tc.ops)
			}
			// The first scrape starts the calls that stay blocked; after
			// it, more scrapes must not add goroutines.
			if goroutines[len(goroutines)-1] > goroutines[1]+3 {
				t.Errorf("goroutines grow with every scrape on a hung mount: %v", goroutines)
			}
			if n := countLines(e.Logs(), "collector=kdump", "reason=timeout", "path="+target); n != 1 {
				t.Errorf("the kdump timeout of %s is logged %d times, want once:\n%s", target, n, e.Logs())
			}

			h.unblock()
			deadline := time.Now().Add(30 * time.Second)
			for {
				fams := scrapeAsPrometheus(t, client, e)
				free, okFree := value(fams, "crashguard_kdump_target_filesystem_free_bytes", nil)
				size, okSize := value(fams, "crashguard_kdump_target_filesystem_size_bytes", nil)
				_, listed := value(fams, "crashguard_crash_dumps", map[string]string{"dir": "/var/crash", "state": "complete"})
				errs := fileErrors(fams)
				if okFree && okSize && listed && errs["kdump/timeout"] == 0 && errs["crashfiles/timeout"] == 0 {
					if f := failed(fams); len(f) > 0 {
						t.Errorf("after recovery collectors failed: %v", f)
					}
					if size <= 0 || free > size {
						t.Errorf("after recovery free %v, size %v", free, size)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("values did not come back within 30s of the mount recovering: free %v size %v listed %v errors %v", okFree, okSize, listed, errs)
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
}

// scrapeAsPrometheus scrapes /metrics the way Prometheus does: with its
// timeout in the header, giving up when that timeout passes.
func scrapeAsPrometheus(t *testing.T, client *http.Client, e *exporter) map[string]*dto.MetricFamily {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.URL+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", fmt.Sprint(scraperTimeout.Seconds()))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("no answer within the scraper's %v timeout: %v", scraperTimeout, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the answer within the scraper's %v timeout: %v", scraperTimeout, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, truncate(string(body), 300))
	}
	return families(t, string(body))
}

// countLines counts the lines of s that contain every one of subs.
func countLines(s string, subs ...string) int {
	n := 0
next:
	for _, l := range strings.Split(s, "\n") {
		for _, sub := range subs {
			if !strings.Contains(l, sub) {
				continue next
			}
		}
		n++
	}
	return n
}

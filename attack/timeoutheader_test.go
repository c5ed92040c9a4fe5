package attack

import (
	"testing"
	"time"
)

// TestHostileTimeoutHeader: whatever a scraper sends as
// X-Prometheus-Scrape-Timeout-Seconds, the scrape keeps a finite deadline
// (--scrape.timeout) and every collector reports normally; a huge value
// must not overflow into an instant timeout of the crash directory scans.
func TestHostileTimeoutHeader(t *testing.T) {
	dir := profileDir(t, "rhel9")
	e := start(t, append(profileArgs(t, dir), "--scrape.timeout=5s")...)
	want := fileErrors(families(t, e.scrape(t, nil)))
	for _, v := range []string{"Inf", "+Inf", "-Inf", "NaN", "0", "-1", "9.3e9", "1e10", "1e300", "garbage", ""} {
		t.Run(v, func(t *testing.T) {
			began := time.Now()
			fams := families(t, e.scrape(t, map[string]string{"X-Prometheus-Scrape-Timeout-Seconds": v}))
			if f := failed(fams); len(f) > 0 {
				t.Errorf("collectors failed: %v", f)
			}
			got := fileErrors(fams)
			for k, n := range got {
				if want[k] != n {
					t.Errorf("file errors %s = %v, want %v as without the header", k, n, want[k])
				}
			}
			if _, ok := value(fams, "crashguard_crash_dumps", map[string]string{"state": "complete"}); !ok {
				t.Error("crashguard_crash_dumps{state=\"complete\"} missing")
			}
			// A hang guard, not a performance claim: the deadline stays finite.
			if d := time.Since(began); d > 30*time.Second {
				t.Errorf("scrape took %v", d)
			}
		})
	}
}

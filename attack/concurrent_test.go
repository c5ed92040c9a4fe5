package attack

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
)

// TestSimultaneousScrapes: an HA pair of Prometheus servers (or fifty
// scrapers) hitting the exporter at the same moment each get every
// collector's full result, and the same series.
func TestSimultaneousScrapes(t *testing.T) {
	for _, profile := range []string{"broken-host", "rhel9"} {
		t.Run(profile, func(t *testing.T) {
			e := start(t, append(profileArgs(t, profileDir(t, profile)), "--web.max-requests=64")...)
			want := seriesSet(families(t, e.scrape(t, nil)))
			for _, n := range []int{2, 10, 50} {
				for round := range 3 {
					results := make([]scrapeResult, n)
					var wg sync.WaitGroup
					gate := make(chan struct{})
					for i := range n {
						wg.Add(1)
						go func() {
							defer wg.Done()
							<-gate
							results[i] = e.get("/metrics", map[string]string{"X-Prometheus-Scrape-Timeout-Seconds": "10"})
						}()
					}
					close(gate)
					wg.Wait()
					partial := 0
					for i, r := range results {
						if r.Err != nil || r.Status != http.StatusOK {
							t.Fatalf("%d simultaneous, round %d, scrape %d: status %d, %v", n, round, i, r.Status, r.Err)
						}
						fams := families(t, r.Body)
						if f := failed(fams); len(f) > 0 {
							partial++
							t.Errorf("%d simultaneous, round %d, scrape %d: collectors failed: %v", n, round, i, f)
							continue
						}
						if got := seriesSet(fams); !slices.Equal(got, want) {
							t.Errorf("%d simultaneous, round %d, scrape %d: series differ from a lone scrape:\n%s", n, round, i, setDiff(want, got))
						}
					}
					if partial > 0 {
						t.Logf("%d simultaneous, round %d: %d of %d responses partial", n, round, partial, n)
					}
				}
			}
		})
	}
}

// setDiff lists the series only one side has.
func setDiff(want, got []string) string {
	w := map[string]bool{}
	for _, s := range want {
		w[s] = true
	}
	g := map[string]bool{}
	for _, s := range got {
		g[s] = true
	}
	out := ""
	for _, s := range want {
		if !g[s] {
			out += fmt.Sprintln("-", s)
		}
	}
	for _, s := range got {
		if !w[s] {
			out += fmt.Sprintln("+", s)
		}
	}
	return out
}

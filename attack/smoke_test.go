package attack

import "testing"

// TestHarnessScrapesEveryProfile: the harness itself, on the unmodified
// fixtures: every profile serves valid exposition with every collector
// succeeding.
func TestHarnessScrapesEveryProfile(t *testing.T) {
	for _, name := range profiles(t) {
		t.Run(name, func(t *testing.T) {
			e := start(t, profileArgs(t, profileDir(t, name))...)
			fams := families(t, e.scrape(t, nil))
			if len(success(fams)) == 0 {
				t.Fatal("no crashguard_scrape_collector_success series")
			}
			if f := failed(fams); len(f) > 0 {
				t.Errorf("collectors failed: %v", f)
			}
		})
	}
}

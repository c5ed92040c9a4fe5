package collector

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
)

// defaultExporter builds every collector enabled by default, as the binary
// does without flags.
func defaultExporter(tb testing.TB, cfg Config) *Exporter {
	tb.Helper()
	app := kingpin.New("test", "")
	sel := AddFlags(app)
	if _, err := app.Parse(nil); err != nil {
		tb.Fatal(err)
	}
	cols, err := sel.Build(cfg, log.NewNopLogger())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		for _, c := range cols {
			if cl, ok := c.(interface{ Close() error }); ok {
				cl.Close()
			}
		}
	})
	return NewExporter(cols, log.NewNopLogger(), cfg.Trees()...)
}

func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("cannot count open fds: %v", err)
	}
	return len(entries)
}

// TestNoFDLeak scrapes every fixture profile repeatedly with all default
// collectors and checks that no file descriptor is left open.
func TestNoFDLeak(t *testing.T) {
	profiles, _ := filepath.Glob(filepath.Join(profilesDir, "*"))
	for _, dir := range profiles {
		profile := filepath.Base(dir)
		reg := prometheus.NewRegistry()
		reg.MustRegister(defaultExporter(t, profileConfig(t, profile)).Bind(context.Background()))
		if _, err := reg.Gather(); err != nil { // warm up lazily opened files
			t.Fatal(err)
		}
		before := openFDs(t)
		for i := 0; i < 50; i++ {
			if _, err := reg.Gather(); err != nil {
				t.Fatal(err)
			}
		}
		if after := openFDs(t); after > before {
			t.Errorf("%s: %d fds open before 50 scrapes, %d after", profile, before, after)
		}
	}
}

// BenchmarkDefaultScrapeHost measures a whole default scrape of the machine
// the benchmark runs on.
func BenchmarkDefaultScrapeHost(b *testing.B) {
	benchScrape(b, Config{ProcPath: "/proc", SysPath: "/sys", RootPath: "/"})
}

// BenchmarkDefaultScrapeRHEL measures a whole default scrape of the rhel9
// fixture profile.
func BenchmarkDefaultScrapeRHEL(b *testing.B) {
	benchScrape(b, profileConfig(b, "rhel9"))
}

func benchScrape(b *testing.B, cfg Config) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(defaultExporter(b, cfg).Bind(context.Background()))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
}

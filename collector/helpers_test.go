package collector

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/crashguard/crashguard_exporter/internal/fixture"
)

const profilesDir = "../testdata/profiles"

func profileConfig(t testing.TB, profile string) Config {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join(profilesDir, profile))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("fixture profile %s: %v", profile, err)
	}
	// Git keeps no mtimes; the profile's manifest sets those that matter.
	if err := fixture.ApplyMtimes(dir); err != nil {
		t.Fatal(err)
	}
	return Config{ProcPath: filepath.Join(dir, "proc"), SysPath: filepath.Join(dir, "sys"), RootPath: filepath.Join(dir, "root")}
}

// build constructs one collector the way the binary does, from flags.
func build(t testing.TB, name string, cfg Config, args ...string) Collector {
	t.Helper()
	app := kingpin.New("test", "")
	sel := AddFlags(app)
	if _, err := app.Parse(append([]string{"--collector.disable-defaults", "--collector." + name}, args...)); err != nil {
		t.Fatal(err)
	}
	cols, err := sel.Build(cfg, log.NewNopLogger())
	if err != nil {
		t.Fatal(err)
	}
	c, ok := cols[name]
	if !ok || len(cols) != 1 {
		t.Fatalf("collector %s not built alone: %v", name, cols)
	}
	// Collectors with a background reader (kmsg) must stop with the test.
	if cl, ok := c.(interface{ Close() error }); ok {
		t.Cleanup(func() { cl.Close() })
	}
	return c
}

// registry wraps collectors in a pedantic registry, which checks every
// metric against the collector's descriptors.
func registry(t testing.TB, cols map[string]Collector) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewExporter(cols, log.NewNopLogger()).Bind(context.Background()))
	return reg
}

// compare checks the named families of one collector against want.
func compare(t *testing.T, c Collector, want string, names ...string) {
	t.Helper()
	reg := registry(t, map[string]Collector{"c": c})
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
}

// gather returns the exposition text of one collector's run.
func gather(t *testing.T, c Collector) string {
	t.Helper()
	reg := registry(t, map[string]Collector{"c": c})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			b.WriteString(mf.GetName())
			for _, l := range m.GetLabel() {
				b.WriteString(" " + l.GetName() + "=" + l.GetValue())
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

// copyProfile copies a fixture profile into a temp dir that a test may break.
func copyProfile(t *testing.T, profile string) Config {
	t.Helper()
	src := profileConfig(t, profile)
	dst := t.TempDir()
	base := filepath.Dir(src.ProcPath)
	err := filepath.Walk(base, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(base, p)
		target := filepath.Join(dst, rel)
		if fi.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err == nil {
		err = fixture.ApplyMtimes(dst)
	}
	if err != nil {
		t.Fatal(err)
	}
	return Config{ProcPath: filepath.Join(dst, "proc"), SysPath: filepath.Join(dst, "sys"), RootPath: filepath.Join(dst, "root")}
}

// fileErrors returns the scrape's file-error counts by reason.
func fileErrors(t *testing.T, c Collector) map[string]float64 {
	t.Helper()
	reg := registry(t, map[string]Collector{"c": c})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "crashguard_scrape_collector_file_errors" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" {
					out[l.GetValue()] = m.GetGauge().GetValue()
				}
			}
		}
	}
	return out
}

func mkfifo(t *testing.T, path string) {
	t.Helper()
	os.Remove(path)
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestAllCollectorsOnAllProfiles runs every collector with its default flags
// on every fixture profile: the pedantic registry checks descriptors and
// consistency, the linter checks names and help, and none may fail.
func TestAllCollectorsOnAllProfiles(t *testing.T) {
	profiles, _ := filepath.Glob(filepath.Join(profilesDir, "*"))
	if len(profiles) == 0 {
		t.Fatal("no fixture profiles")
	}
	for _, p := range profiles {
		cfg := profileConfig(t, filepath.Base(p))
		disabled, args := profileFlags(t, p)
		for _, name := range Names() {
			if disabled[name] {
				continue
			}
			t.Run(filepath.Base(p)+"/"+name, func(t *testing.T) {
				c := build(t, name, cfg, args...)
				reg := registry(t, map[string]Collector{name: c})
				problems, err := testutil.GatherAndLint(reg)
				if err != nil {
					t.Fatal(err)
				}
				for _, pr := range problems {
					t.Errorf("lint %s: %s", pr.Metric, pr.Text)
				}
				if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP crashguard_scrape_collector_success 1 if the collector succeeded in this scrape; 0 if it failed or missed the scrape deadline. A feature the host lacks is not a failure.
# TYPE crashguard_scrape_collector_success gauge
crashguard_scrape_collector_success{collector="`+name+`"} 1
`), "crashguard_scrape_collector_success"); err != nil {
					t.Error(err)
				}
				if errs := fileErrors(t, c); len(errs) != 0 {
					t.Errorf("file errors on a clean fixture: %v", errs)
				}
			})
		}
	}
}

// profileFlags reads a profile's flags file the way the golden end-to-end
// test does: the collectors it disables, and its other flags with $PROFILE
// expanded.
func profileFlags(t *testing.T, dir string) (disabled map[string]bool, args []string) {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	disabled = map[string]bool{}
	b, err := os.ReadFile(filepath.Join(abs, "flags"))
	if err != nil {
		return disabled, nil
	}
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		switch {
		case l == "" || strings.HasPrefix(l, "#"):
		case strings.HasPrefix(l, "--no-collector."):
			disabled[strings.TrimPrefix(l, "--no-collector.")] = true
		default:
			args = append(args, strings.ReplaceAll(l, "$PROFILE", abs))
		}
	}
	return disabled, args
}

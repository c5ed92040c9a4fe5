package e2e

import (
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/crashguard/crashguard_exporter/collector"
)

// repoRoot is where the rules, dashboards, deployment files and fixtures live.
const repoRoot = ".."

var descFields = regexp.MustCompile(`^Desc\{fqName: "([a-zA-Z_:][a-zA-Z0-9_:]*)", help: ".*", (?:unit: "[^"]*", )?constLabels: \{.*\}, variableLabels: \{(.*)\}\}$`)

// exporterMetrics returns every metric name the exporter can serve with its
// label names, read from the descriptors of all collectors (enabled or not)
// plus the families the binary adds itself.
func exporterMetrics(t testing.TB) map[string][]string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join(repoRoot, "testdata", "profiles", "minimal"))
	if err != nil {
		t.Fatal(err)
	}
	app := kingpin.New("describe", "")
	sel := collector.AddFlags(app)
	args := []string{"--collector.kmsg.path=" + filepath.Join(t.TempDir(), "kmsg"), "--collector.kmsg.state-file="}
	for _, n := range collector.Names() {
		args = append(args, "--collector."+n)
	}
	if _, err := app.Parse(args); err != nil {
		t.Fatal(err)
	}
	cols, err := sel.Build(collector.Config{
		ProcPath: filepath.Join(dir, "proc"),
		SysPath:  filepath.Join(dir, "sys"),
		RootPath: filepath.Join(dir, "root"),
	}, log.NewNopLogger())
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan *prometheus.Desc, 10000)
	collector.NewExporter(cols, log.NewNopLogger()).Describe(ch)
	close(ch)
	out := map[string][]string{
		// client_golang's version collector, registered by main.
		"crashguard_build_info": {"branch", "goarch", "goos", "goversion", "revision", "tags", "version"},
	}
	for d := range ch {
		m := descFields.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("cannot read descriptor %s", d)
		}
		var labels []string
		if m[2] != "" {
			labels = strings.Split(m[2], ",")
		}
		sort.Strings(labels)
		out[m[1]] = labels
	}
	return out
}

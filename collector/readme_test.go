package collector

import (
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

var updateREADME = flag.Bool("update-readme", false, "rewrite the metric reference in README.md")

var descFields = regexp.MustCompile(`^Desc\{fqName: "([a-z_:]+)", help: "(.*?)", (?:unit: "[^"]*", )?constLabels: \{.*\}, variableLabels: \{(.*)\}\}$`)

// metricReference renders every collector's descriptors as Markdown tables.
func metricReference(t *testing.T) string {
	t.Helper()
	cfg := profileConfig(t, "minimal")
	var b strings.Builder
	section := func(title string, descs []*prometheus.Desc) {
		fmt.Fprintf(&b, "\n#### %s\n\n| metric | labels | meaning |\n|---|---|---|\n", title)
		for _, d := range descs {
			m := descFields.FindStringSubmatch(d.String())
			if m == nil {
				t.Fatalf("cannot read descriptor %s", d)
			}
			labels := strings.ReplaceAll(m[3], ",", ", ")
			if labels != "" {
				labels = "`" + strings.ReplaceAll(labels, ", ", "`, `") + "`"
			}
			help := strings.ReplaceAll(strings.ReplaceAll(m[2], `\"`, `"`), "|", `\|`)
			fmt.Fprintf(&b, "| `%s` | %s | %s |\n", m[1], labels, help)
		}
	}
	describe := func(c interface{ Describe(chan<- *prometheus.Desc) }) []*prometheus.Desc {
		ch := make(chan *prometheus.Desc, 1000)
		c.Describe(ch)
		close(ch)
		var out []*prometheus.Desc
		for d := range ch {
			out = append(out, d)
		}
		return out
	}
	section("framework (always)", []*prometheus.Desc{scrapeDurationDesc, scrapeSuccessDesc, scrapeFileErrorsDesc})
	for _, name := range Names() {
		def := "disabled by default"
		if registrations[name].enabled {
			def = "enabled by default"
		}
		section(fmt.Sprintf("`%s` (%s)", name, def), describe(build(t, name, cfg)))
	}
	return b.String()
}

// TestREADMEMetricReference keeps the README's metric reference generated
// from the code: run `go test ./collector -update-readme` after changing a
// metric.
func TestREADMEMetricReference(t *testing.T) {
	const path = "../README.md"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	const startMark, endMark = "<!-- metrics:start -->\n", "<!-- metrics:end -->"
	start := strings.Index(readme, startMark)
	end := strings.Index(readme, endMark)
	if start < 0 || end < start {
		t.Fatal("README.md lacks the <!-- metrics:start --> ... <!-- metrics:end --> section")
	}
	want := metricReference(t) + "\n"
	got := readme[start+len(startMark) : end]
	if got == want {
		return
	}
	if *updateREADME {
		if err := os.WriteFile(path, []byte(readme[:start+len(startMark)]+want+readme[end:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README.md metric reference is out of date; run `go test ./collector -run TestREADMEMetricReference -update-readme`")
}

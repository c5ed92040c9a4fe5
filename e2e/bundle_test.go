package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v2"
)

// Rule is one entry of a Prometheus rule group.
type Rule struct {
	Record        string            `yaml:"record,omitempty" json:"record,omitempty"`
	Alert         string            `yaml:"alert,omitempty" json:"alert,omitempty"`
	Expr          string            `yaml:"expr" json:"expr"`
	For           string            `yaml:"for,omitempty" json:"for,omitempty"`
	KeepFiringFor string            `yaml:"keep_firing_for,omitempty" json:"keep_firing_for,omitempty"`
	Labels        map[string]string `yaml:"labels,omitempty" json:"labels,omitempty"`
	Annotations   map[string]string `yaml:"annotations,omitempty" json:"annotations,omitempty"`
}

// RuleGroup is a Prometheus rule group.
type RuleGroup struct {
	Name     string `yaml:"name" json:"name"`
	Interval string `yaml:"interval,omitempty" json:"interval,omitempty"`
	Rules    []Rule `yaml:"rules" json:"rules"`
}

// RuleFile is a Prometheus rule file.
type RuleFile struct {
	Groups []RuleGroup `yaml:"groups" json:"groups"`
}

// ruleFiles returns the shipped rule files by base name, parsed strictly.
func ruleFiles(t testing.TB) map[string]RuleFile {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(repoRoot, "rules", "*.rules.yml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no rule files in rules/: %v", err)
	}
	out := map[string]RuleFile{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var f RuleFile
		if err := yaml.UnmarshalStrict(b, &f); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out[filepath.Base(p)] = f
	}
	return out
}

// sortedKeys returns m's keys in order, so that output is stable.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// allRules lists every rule with the file it is in, in file order.
func allRules(t testing.TB) []struct {
	File string
	Rule
} {
	files := ruleFiles(t)
	var out []struct {
		File string
		Rule
	}
	for _, name := range sortedKeys(files) {
		for _, g := range files[name].Groups {
			for _, r := range g.Rules {
				out = append(out, struct {
					File string
					Rule
				}{name, r})
			}
		}
	}
	return out
}

// PromtoolTest is a promtool rule unit-test file.
type PromtoolTest struct {
	RuleFiles          []string `yaml:"rule_files"`
	EvaluationInterval string   `yaml:"evaluation_interval"`
	Tests              []struct {
		Name        string `yaml:"name"`
		Interval    string `yaml:"interval"`
		InputSeries []struct {
			Series string `yaml:"series"`
			Values string `yaml:"values"`
		} `yaml:"input_series"`
		AlertRuleTest []struct {
			EvalTime  string `yaml:"eval_time"`
			Alertname string `yaml:"alertname"`
			ExpAlerts []struct {
				ExpLabels      map[string]string `yaml:"exp_labels"`
				ExpAnnotations map[string]string `yaml:"exp_annotations"`
			} `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
		PromqlExprTest []struct {
			Expr       string `yaml:"expr"`
			EvalTime   string `yaml:"eval_time"`
			ExpSamples []struct {
				Labels string  `yaml:"labels"`
				Value  float64 `yaml:"value"`
			} `yaml:"exp_samples"`
		} `yaml:"promql_expr_test"`
	} `yaml:"tests"`
}

func promtoolTests(t testing.TB) map[string]PromtoolTest {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(repoRoot, "rules", "tests", "*.test.yml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no promtool tests in rules/tests/: %v", err)
	}
	out := map[string]PromtoolTest{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var f PromtoolTest
		if err := yaml.UnmarshalStrict(b, &f); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out[filepath.Base(p)] = f
	}
	return out
}

var (
	// identifier matches PromQL identifiers, recording-rule names with
	// colons included, so that they can be told apart from metric names.
	identifier = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	// selector matches "name{matchers}" in an expression.
	selector = regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^{}]*)\}`)
	// matcherName matches the label name of each matcher inside braces.
	matcherName = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)`)
)

// targetLabels are the labels Prometheus adds from the scrape target (the
// bundle documents kdump="required").
var targetLabels = map[string]bool{"instance": true, "job": true, "kdump": true}

// crashguardNames returns the crashguard metric names and recording-rule
// names (those with a colon) mentioned in PromQL or template text.
func crashguardNames(text string) (metrics, recorded []string) {
	for _, id := range identifier.FindAllString(text, -1) {
		if !strings.Contains(id, "crashguard_") {
			continue
		}
		if strings.Contains(id, ":") {
			recorded = append(recorded, id)
		} else if strings.HasPrefix(id, "crashguard_") {
			metrics = append(metrics, id)
		}
	}
	return metrics, recorded
}

// checkNames reports crashguard names in text that the exporter does not
// export, recording rules that do not exist, and label matchers on a
// crashguard metric naming a label it does not have.
func checkNames(t *testing.T, where, text string, metrics map[string][]string, records map[string]bool) {
	t.Helper()
	ms, rs := crashguardNames(text)
	for _, m := range ms {
		if _, ok := metrics[m]; !ok {
			t.Errorf("%s: metric %s is not exported by crashguard_exporter", where, m)
		}
	}
	for _, r := range rs {
		if !records[r] {
			t.Errorf("%s: %s is not a recording rule in rules/", where, r)
		}
	}
	for _, sel := range selector.FindAllStringSubmatch(text, -1) {
		labels, ok := metrics[sel[1]]
		if !ok {
			continue
		}
		have := map[string]bool{}
		for _, l := range labels {
			have[l] = true
		}
		for _, mn := range matcherName.FindAllStringSubmatch(sel[2], -1) {
			if n := mn[1]; !have[n] && !targetLabels[n] && n != "__name__" {
				t.Errorf("%s: %s has no label %q (it has %v)", where, sel[1], n, labels)
			}
		}
	}
}

func recordingRules(t testing.TB) map[string]bool {
	out := map[string]bool{}
	for _, r := range allRules(t) {
		if r.Record != "" {
			out[r.Record] = true
		}
	}
	return out
}

package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const runbookBase = "https://github.com/crashguard/crashguard_exporter/blob/main/rules/RUNBOOK.md#"

var severities = map[string]bool{"critical": true, "warning": true, "info": true}

// runbookAnchors returns the GitHub anchors of RUNBOOK.md's headings.
func runbookAnchors(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "rules", "RUNBOOK.md"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	strip := regexp.MustCompile(`[^a-z0-9 _-]`)
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		h := strings.ToLower(strings.TrimSpace(strings.TrimLeft(line, "#")))
		out[strings.ReplaceAll(strip.ReplaceAllString(h, ""), " ", "-")] = true
	}
	return out
}

// TestRuleConventions checks every rule against the bundle's conventions.
func TestRuleConventions(t *testing.T) {
	anchors := runbookAnchors(t)
	seen := map[string]bool{}
	camel := regexp.MustCompile(`^Crashguard[A-Z][A-Za-z0-9]+$`)
	recordName := regexp.MustCompile(`^[a-z_]+:crashguard_[a-z0-9_]+:[a-z0-9_]+$`)
	files := ruleFiles(t)
	for _, name := range sortedKeys(files) {
		f := files[name]
		if len(f.Groups) != 1 {
			t.Errorf("%s: %d groups, want one group per component file", name, len(f.Groups))
		}
		for _, g := range f.Groups {
			if !strings.HasPrefix(g.Name, "crashguard-") {
				t.Errorf("%s: group %q should be named crashguard-<component>", name, g.Name)
			}
			for _, r := range g.Rules {
				if r.Record != "" {
					if !recordName.MatchString(r.Record) {
						t.Errorf("%s: recording rule %q is not level:crashguard_metric:operations", name, r.Record)
					}
					continue
				}
				a := r.Alert
				if !camel.MatchString(a) {
					t.Errorf("%s: alert %q is not CamelCase with the Crashguard prefix", name, a)
				}
				if seen[a] {
					t.Errorf("alert %s defined twice", a)
				}
				seen[a] = true
				if !severities[r.Labels["severity"]] {
					t.Errorf("%s: severity %q, want critical, warning or info", a, r.Labels["severity"])
				}
				for _, k := range []string{"summary", "description", "runbook_url"} {
					if strings.TrimSpace(r.Annotations[k]) == "" {
						t.Errorf("%s: no %s annotation", a, k)
					}
				}
				if strings.Contains(r.Annotations["summary"], "{{") {
					t.Errorf("%s: summary should be a static sentence", a)
				}
				if !strings.Contains(r.Annotations["description"], "$labels.instance") {
					t.Errorf("%s: description does not name the host ($labels.instance)", a)
				}
				if strings.Contains(r.Expr, "cgroup") && !strings.Contains(r.Annotations["description"], "$labels.container_id") {
					t.Errorf("%s: a cgroup alert's description must name the container and pod", a)
				}
				url := r.Annotations["runbook_url"]
				anchor, ok := strings.CutPrefix(url, runbookBase)
				if !ok {
					t.Errorf("%s: runbook_url %q does not start with %s", a, url, runbookBase)
				} else if !anchors[anchor] {
					t.Errorf("%s: runbook_url anchor #%s is not a heading of rules/RUNBOOK.md", a, anchor)
				} else if anchor != strings.ToLower(a) {
					t.Errorf("%s: runbook_url anchor #%s is not the alert's own section", a, anchor)
				}
			}
		}
	}
	if len(seen) == 0 {
		t.Fatal("no alerts found")
	}
}

// TestRulesUseExportedMetrics checks that every crashguard metric a rule
// (expression or templated annotation) or a promtool test's input names is
// one the exporter exports, with the labels it has.
func TestRulesUseExportedMetrics(t *testing.T) {
	metrics := exporterMetrics(t)
	records := recordingRules(t)
	for _, r := range allRules(t) {
		name := r.Alert + r.Record
		checkNames(t, r.File+": "+name, r.Expr, metrics, records)
		for k, v := range r.Annotations {
			if k == "runbook_url" {
				continue
			}
			checkNames(t, r.File+": "+name+" "+k, v, metrics, records)
		}
	}
	tests := promtoolTests(t)
	for _, file := range sortedKeys(tests) {
		for _, tc := range tests[file].Tests {
			for _, s := range tc.InputSeries {
				checkNames(t, "rules/tests/"+file, s.Series, metrics, records)
			}
		}
	}
}

// TestEveryRuleIsUnitTested requires, for every alert, a promtool case in
// which it fires and one in which it must not, and a promql_expr_test for
// every recording rule; and that each test file loads only shipped rules.
func TestEveryRuleIsUnitTested(t *testing.T) {
	firing, silent, exprs := map[string]bool{}, map[string]bool{}, map[string]bool{}
	tests := promtoolTests(t)
	for _, file := range sortedKeys(tests) {
		pt := tests[file]
		for _, rf := range pt.RuleFiles {
			if _, err := os.Stat(filepath.Join(repoRoot, "rules", "tests", rf)); err != nil {
				t.Errorf("rules/tests/%s loads %s: %v", file, rf, err)
			}
		}
		for _, tc := range pt.Tests {
			for _, at := range tc.AlertRuleTest {
				if len(at.ExpAlerts) == 0 {
					silent[at.Alertname] = true
					continue
				}
				firing[at.Alertname] = true
				for _, ea := range at.ExpAlerts {
					if ea.ExpLabels["severity"] == "" || ea.ExpAnnotations["description"] == "" {
						t.Errorf("rules/tests/%s: %s expects an alert without checking its severity and description", file, at.Alertname)
					}
				}
			}
			for _, pe := range tc.PromqlExprTest {
				_, recorded := crashguardNames(pe.Expr)
				for _, r := range recorded {
					exprs[r] = true
				}
			}
		}
	}
	for _, r := range allRules(t) {
		switch {
		case r.Alert != "":
			if !firing[r.Alert] {
				t.Errorf("alert %s has no promtool case in which it fires", r.Alert)
			}
			if !silent[r.Alert] {
				t.Errorf("alert %s has no promtool case in which it must not fire (exp_alerts: [])", r.Alert)
			}
		case !exprs[r.Record]:
			t.Errorf("recording rule %s has no promql_expr_test", r.Record)
		}
	}
}

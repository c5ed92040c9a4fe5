package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// dashboard is the part of a Grafana dashboard the tests look at; the JSON
// itself is checked key by key below.
type dashboardPanel struct {
	Type        string            `json:"type"`
	Title       string            `json:"title"`
	Datasource  map[string]string `json:"datasource"`
	FieldConfig struct {
		Defaults map[string]any `json:"defaults"`
	} `json:"fieldConfig"`
	Targets []struct {
		Datasource map[string]string `json:"datasource"`
		Expr       string            `json:"expr"`
		RefID      string            `json:"refId"`
	} `json:"targets"`
	Panels []dashboardPanel `json:"panels"`
}

type dashboard struct {
	UID           string           `json:"uid"`
	Title         string           `json:"title"`
	SchemaVersion int              `json:"schemaVersion"`
	Panels        []dashboardPanel `json:"panels"`
	Templating    struct {
		List []struct {
			Name       string            `json:"name"`
			Type       string            `json:"type"`
			Query      any               `json:"query"`
			Datasource map[string]string `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
	raw map[string]any
}

func loadDashboards(t *testing.T) map[string]dashboard {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(repoRoot, "dashboards", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]dashboard{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if err := json.Unmarshal(b, &d.raw); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out[filepath.Base(p)] = d
	}
	return out
}

// panels flattens rows (collapsed rows keep their panels inside).
func panels(ps []dashboardPanel) []dashboardPanel {
	var out []dashboardPanel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, panels(p.Panels)...)
	}
	return out
}

type dashboardTarget struct{ Panel, Expr string }

func dashboardTargets(d dashboard) []dashboardTarget {
	var out []dashboardTarget
	for _, p := range panels(d.Panels) {
		for _, tg := range p.Targets {
			out = append(out, dashboardTarget{p.Title, tg.Expr})
		}
	}
	return out
}

var labelValues = regexp.MustCompile(`^label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$`)

// dashboardVariableQueries returns the series selectors of the query
// variables (label_values(selector, label) → selector).
func dashboardVariableQueries(d dashboard) []string {
	var out []string
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		q := ""
		switch x := v.Query.(type) {
		case string:
			q = x
		case map[string]any:
			q, _ = x["query"].(string)
		}
		if m := labelValues.FindStringSubmatch(q); m != nil {
			out = append(out, m[1])
		} else {
			out = append(out, q)
		}
	}
	return out
}

// noise lists keys Grafana adds on export that do not belong in files kept
// under version control.
var noise = map[string]bool{"id": true, "iteration": true, "gnetId": true, "__inputs": true, "__requires": true}

func findNoise(v any, path string, found *[]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			// Grafana's numeric "id" of the dashboard and its panels, not
			// the "id" of matchers, properties and transformations.
			if noise[k] && (k != "id" || path == "" || strings.HasSuffix(path, "panels[]")) {
				*found = append(*found, path+"."+k)
			}
			findNoise(c, path+"."+k, found)
		}
	case []any:
		for _, c := range x {
			findNoise(c, path+"[]", found)
		}
	}
}

// TestDashboardStructure checks the shape every shipped dashboard must have.
func TestDashboardStructure(t *testing.T) {
	dashboards := loadDashboards(t)
	if len(dashboards) < 3 {
		t.Fatalf("%d dashboards in dashboards/, want the fleet readiness, container isolation and kernel/storage ones", len(dashboards))
	}
	metrics := exporterMetrics(t)
	records := recordingRules(t)
	uidRE := regexp.MustCompile(`^crashguard-[a-z0-9-]+$`)
	uids := map[string]string{}
	for _, file := range sortedKeys(dashboards) {
		d := dashboards[file]
		if !uidRE.MatchString(d.UID) || len(d.UID) > 40 {
			t.Errorf("%s: uid %q is not a stable crashguard-* uid of at most 40 characters", file, d.UID)
		}
		if other, dup := uids[d.UID]; dup {
			t.Errorf("%s: uid %q also used by %s", file, d.UID, other)
		}
		uids[d.UID] = file
		if d.SchemaVersion < 39 {
			t.Errorf("%s: schemaVersion %d, want 39 or later", file, d.SchemaVersion)
		}
		if !strings.HasPrefix(d.Title, "Crashguard / ") {
			t.Errorf("%s: title %q should start with \"Crashguard / \"", file, d.Title)
		}
		var found []string
		findNoise(d.raw, "", &found)
		if len(found) > 0 {
			t.Errorf("%s: exported noise keys %v", file, found)
		}
		vars := map[string]string{}
		for _, v := range d.Templating.List {
			vars[v.Name] = v.Type
			if v.Type == "query" && v.Datasource["uid"] != "${datasource}" {
				t.Errorf("%s: variable %s does not use the datasource variable", file, v.Name)
			}
		}
		if vars["datasource"] != "datasource" || vars["job"] != "query" || vars["instance"] != "query" {
			t.Errorf("%s: variables %v, want datasource (datasource), job and instance (query)", file, vars)
		}
		for _, q := range dashboardVariableQueries(d) {
			if !strings.Contains(q, "crashguard_build_info") && !strings.Contains(q, "crashguard_kernel_boot_info") {
				t.Errorf("%s: variable query %q does not come from an info metric", file, q)
			}
		}
		ps := panels(d.Panels)
		if len(ps) == 0 {
			t.Errorf("%s: no panels", file)
		}
		for _, p := range ps {
			if p.Type == "row" {
				continue
			}
			where := file + ": panel " + p.Title
			if p.Title == "" {
				t.Errorf("%s: a %s panel has no title", file, p.Type)
			}
			if p.Datasource["uid"] != "${datasource}" {
				t.Errorf("%s: datasource %v, want the ${datasource} variable", where, p.Datasource)
			}
			if u, _ := p.FieldConfig.Defaults["unit"].(string); u == "" {
				t.Errorf("%s: no unit", where)
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s: no queries", where)
			}
			for _, tg := range p.Targets {
				if tg.Datasource["uid"] != "${datasource}" {
					t.Errorf("%s: target %s does not use the ${datasource} variable", where, tg.RefID)
				}
				if strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("%s: target %s has no expression", where, tg.RefID)
					continue
				}
				if strings.Contains(tg.Expr, "crashguard_") && !strings.Contains(tg.Expr, `job=~"$job"`) {
					t.Errorf("%s: %s does not select $job", where, tg.Expr)
				}
				if strings.Contains(tg.Expr, "crashguard_") && !strings.Contains(tg.Expr, `instance=~"$instance"`) {
					t.Errorf("%s: %s does not select $instance", where, tg.Expr)
				}
				if regexp.MustCompile(`\b(rate|increase|irate)\([^)]*\[[0-9]+[smhd]\]`).MatchString(tg.Expr) {
					t.Errorf("%s: %s uses a fixed range in a rate; use $__rate_interval", where, tg.Expr)
				}
				checkNames(t, where, tg.Expr, metrics, records)
			}
		}
	}
}

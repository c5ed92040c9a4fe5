package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	yaml "go.yaml.in/yaml/v2"
)

// liveTimeout bounds every wait of the live test; it fails instead of
// hanging when something never arrives.
const liveTimeout = 3 * time.Minute

var (
	buildOnce   sync.Once
	buildErr    error
	exporterBin string
	toolsOnce   sync.Once
	toolsErr    error
	toolsBin    string
)

// exporterBinary builds the exporter once per test binary.
func exporterBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "crashguard-bundle-bin")
		if err != nil {
			buildErr = err
			return
		}
		exporterBin = filepath.Join(dir, "crashguard_exporter")
		build := exec.Command("go", "build", "-o", exporterBin, "./cmd/crashguard_exporter")
		build.Dir = repoRoot
		if out, err := build.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("building the exporter: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return exporterBin
}

// liveBinaries builds the exporter and makes sure the pinned Prometheus and
// Alertmanager are in .tools/bin (scripts/install-tools.sh is idempotent
// and needs only Go).
func liveBinaries(t *testing.T) {
	t.Helper()
	exporterBinary(t)
	toolsOnce.Do(func() {
		root, err := filepath.Abs(repoRoot)
		if err != nil {
			toolsErr = err
			return
		}
		install := exec.Command(filepath.Join(root, "scripts", "install-tools.sh"))
		install.Dir = root
		if out, err := install.CombinedOutput(); err != nil {
			toolsErr = fmt.Errorf("scripts/install-tools.sh: %v\n%s", err, out)
			return
		}
		toolsBin = filepath.Join(root, ".tools", "bin")
	})
	if toolsErr != nil {
		t.Fatal(toolsErr)
	}
}

// lockedBuffer collects a process's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startProcess runs bin until the test ends, then kills it; its output is
// shown when the test failed.
func startProcess(t *testing.T, name, bin string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			s := out.String()
			if len(s) > 4000 {
				s = "…" + s[len(s)-4000:]
			}
			t.Logf("%s output:\n%s", name, s)
		}
	})
}

// waitFor polls cond until it returns nil or the deadline passes.
func waitFor(t *testing.T, deadline time.Time, what string, cond func() error) {
	t.Helper()
	var err error
	for {
		if err = cond(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %v", what, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func httpGet(u string) ([]byte, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return b, fmt.Errorf("GET %s: %s: %s", u, resp.Status, bytes.TrimSpace(b))
	}
	return b, nil
}

// copyTree copies a fixture profile so that the test may change it.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
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
	if err != nil {
		t.Fatal(err)
	}
}

// profileArgs are the flags that run the exporter on a profile directory.
func profileArgs(t *testing.T, dir string) []string {
	t.Helper()
	args := []string{
		"--path.procfs=" + filepath.Join(dir, "proc"),
		"--path.sysfs=" + filepath.Join(dir, "sys"),
		"--path.rootfs=" + filepath.Join(dir, "root"),
	}
	b, err := os.ReadFile(filepath.Join(dir, "flags"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			args = append(args, strings.ReplaceAll(l, "$PROFILE", dir))
		}
	}
	return args
}

// startExporter runs the exporter with args and waits until it answers.
func startExporter(t *testing.T, name string, deadline time.Time, args ...string) string {
	t.Helper()
	addr := freeAddr(t)
	startProcess(t, "exporter "+name, exporterBin, append([]string{"--web.listen-address=" + addr}, args...)...)
	waitFor(t, deadline, "exporter "+name, func() error { _, err := httpGet("http://" + addr + "/"); return err })
	return addr
}

// rulesForTest writes the shipped rules with every for: shortened to 1s, so
// that an alert fires within seconds of its condition becoming true.
func rulesForTest(t *testing.T, dir string) string {
	t.Helper()
	files := ruleFiles(t)
	for _, name := range sortedKeys(files) {
		f := files[name]
		for gi := range f.Groups {
			for ri := range f.Groups[gi].Rules {
				if f.Groups[gi].Rules[ri].Alert != "" {
					f.Groups[gi].Rules[ri].For = "1s"
				}
			}
		}
		b, err := yaml.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "*.rules.yml")
}

type promResponse struct {
	Status    string          `json:"status"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Data      json.RawMessage `json:"data"`
}

type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// instantQuery runs an instant query; a PromQL error is returned as error.
func instantQuery(promURL, q string) ([]promSample, error) {
	b, err := httpGet(promURL + "/api/v1/query?query=" + url.QueryEscape(q))
	var r promResponse
	if jerr := json.Unmarshal(b, &r); jerr != nil {
		if err != nil {
			return nil, err
		}
		return nil, jerr
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("%s: %s", r.ErrorType, r.Error)
	}
	var data struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(r.Data, &data); err != nil {
		return nil, err
	}
	if data.ResultType != "vector" {
		return nil, fmt.Errorf("result type %s, want vector", data.ResultType)
	}
	var out []promSample
	return out, json.Unmarshal(data.Result, &out)
}

type amAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	Status      struct {
		State string `json:"state"`
	} `json:"status"`
}

func amAlerts(amURL string) ([]amAlert, error) {
	b, err := httpGet(amURL + "/api/v2/alerts")
	if err != nil {
		return nil, err
	}
	var out []amAlert
	return out, json.Unmarshal(b, &out)
}

// webhook records the alerts Alertmanager delivers.
type webhook struct {
	mu    sync.Mutex
	names map[string]bool // instance/alertname
}

func (w *webhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	var msg struct {
		Alerts []struct {
			Status string            `json:"status"`
			Labels map[string]string `json:"labels"`
		} `json:"alerts"`
	}
	if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	w.mu.Lock()
	for _, a := range msg.Alerts {
		w.names[a.Labels["instance"]+"/"+a.Labels["alertname"]] = true
	}
	w.mu.Unlock()
}

func (w *webhook) has(key string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.names[key]
}

// expectation is an alert the live run must deliver, with labels it must
// carry.
type expectation struct {
	alert  string
	labels map[string]string
}

// Alerts the fixtures trip as soon as they are scraped.
var brokenHostAlerts = []expectation{
	{"CrashguardCrashDumpNotReady", map[string]string{"kdump": "required"}},
	{"CrashguardCrashKernelReservedNotLoaded", nil},
	{"CrashguardDumpTargetTooSmall", nil},
	{"CrashguardKernelCrashDumpFound", map[string]string{"dir": "/var/crash", "class": "thin_metadata_bug", "kernel": "5.15.0-91-generic"}},
	{"CrashguardIncompleteCrashDump", map[string]string{"dir": "/var/crash"}},
	{"CrashguardPstoreRecordFound", map[string]string{"source": "sysfs"}},
	{"CrashguardKernelTaintedDied", map[string]string{"letter": "D"}},
	{"CrashguardSysRqFullyEnabled", nil},
	{"CrashguardHostPIDUsageHigh", nil},
	{"CrashguardCgroupPIDsNearLimit", map[string]string{"pod_uid": podA}},
	{"CrashguardCgroupMemoryNearLimit", map[string]string{"container_id": containerB, "pod_uid": podB}},
	{"CrashguardThinPoolDiscardEnabled", map[string]string{"pool": "vg0-pool0-tpool", "discards": "passdown"}},
	{"CrashguardThinPoolDataFilling", map[string]string{"pool": "vg0-pool0-tpool"}},
	{"CrashguardThinPoolOutOfDataSpace", map[string]string{"pool": "vg0-pool0-tpool"}},
}

// Alerts on counters that must rise: the test raises them in its copy of
// the profile once Prometheus has scraped the old values.
var brokenHostRisingAlerts = []expectation{
	{"CrashguardKernelOopsing", nil},
	{"CrashguardKernelWarnings", nil},
	{"CrashguardCgroupForkRejected", map[string]string{"pod_uid": podA}},
	{"CrashguardContainerOOMKilled", map[string]string{"container_id": containerB, "pod_uid": podB}},
}

// The healthy profile run without /dev/kmsg and without access to
// device-mapper: only the monitoring-gap alerts.
var blindHostAlerts = []expectation{
	{"CrashguardKmsgFollowerDown", map[string]string{"reason": "not_found"}},
	{"CrashguardThinPoolStatusUnreadable", map[string]string{"reason": "no_control_node"}},
}

const (
	podA       = "6f1c2d3e-4b5a-4c7d-9e8f-0a1b2c3d4e5f"
	podB       = "0d9e8f7a-6b5c-4d3e-2f1a-0b9c8d7e6f5a"
	containerB = "9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0"
	podAPath   = "sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod6f1c2d3e_4b5a_4c7d_9e8f_0a1b2c3d4e5f.slice"
	ctrBPath   = "sys/fs/cgroup/kubepods.slice/kubepods-pod0d9e8f7a_6b5c_4d3e_2f1a_0b9c8d7e6f5a.slice/cri-containerd-" + containerB + ".scope"
)

// liveStack is one run of exporters, Prometheus and Alertmanager.
type liveStack struct {
	promURL, amURL string
	hook           *webhook
	broken         string // the broken-host profile copy
	deadline       time.Time
}

func startStack(t *testing.T) *liveStack {
	t.Helper()
	liveBinaries(t)
	deadline := time.Now().Add(liveTimeout)
	tmp := t.TempDir()
	profiles, err := filepath.Abs(filepath.Join(repoRoot, "testdata", "profiles"))
	if err != nil {
		t.Fatal(err)
	}

	broken := filepath.Join(tmp, "broken-host")
	copyTree(t, filepath.Join(profiles, "broken-host"), broken)
	healthy := filepath.Join(profiles, "healthy-host")
	brokenAddr := startExporter(t, "broken-host", deadline, profileArgs(t, broken)...)
	healthyAddr := startExporter(t, "healthy-host", deadline, profileArgs(t, healthy)...)
	blindAddr := startExporter(t, "blind-host", deadline,
		"--path.procfs="+filepath.Join(healthy, "proc"),
		"--path.sysfs="+filepath.Join(healthy, "sys"),
		"--path.rootfs="+filepath.Join(healthy, "root"),
		"--collector.kmsg.path="+filepath.Join(tmp, "no-kmsg"),
		"--collector.kmsg.state-file=",
		"--collector.dmthin.control-path="+filepath.Join(tmp, "no-control"))

	hook := &webhook{names: map[string]bool{}}
	hookSrv := httptest.NewServer(hook)
	t.Cleanup(hookSrv.Close)

	amAddr := freeAddr(t)
	amDir := filepath.Join(tmp, "alertmanager")
	os.MkdirAll(amDir, 0o755)
	amConfig := fmt.Sprintf(`route:
  receiver: hook
  group_by: [alertname, instance]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: %s/hook
        send_resolved: false
`, hookSrv.URL)
	writeFile(t, filepath.Join(amDir, "alertmanager.yml"), amConfig)
	startProcess(t, "alertmanager", filepath.Join(toolsBin, "alertmanager"),
		"--config.file="+filepath.Join(amDir, "alertmanager.yml"),
		"--storage.path="+amDir,
		"--web.listen-address="+amAddr,
		"--cluster.listen-address=")
	amURL := "http://" + amAddr
	waitFor(t, deadline, "alertmanager", func() error { _, err := httpGet(amURL + "/-/ready"); return err })

	promDir := filepath.Join(tmp, "prometheus")
	rulesDir := filepath.Join(tmp, "rules")
	os.MkdirAll(rulesDir, 0o755)
	rules := rulesForTest(t, rulesDir)
	promAddr := freeAddr(t)
	promConfig := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: [%q]
alerting:
  alertmanagers:
    - static_configs:
        - targets: [%q]
scrape_configs:
  - job_name: crashguard
    static_configs:
      - targets: [%q]
        labels: {instance: broken-host, kdump: required}
      - targets: [%q]
        labels: {instance: healthy-host, kdump: required}
      - targets: [%q]
        labels: {instance: blind-host}
`, rules, amAddr, brokenAddr, healthyAddr, blindAddr)
	writeFile(t, filepath.Join(tmp, "prometheus.yml"), promConfig)
	startProcess(t, "prometheus", filepath.Join(toolsBin, "prometheus"),
		"--config.file="+filepath.Join(tmp, "prometheus.yml"),
		"--storage.tsdb.path="+promDir,
		"--web.listen-address="+promAddr)
	promURL := "http://" + promAddr
	waitFor(t, deadline, "prometheus", func() error { _, err := httpGet(promURL + "/-/ready"); return err })
	waitFor(t, deadline, "three targets up", func() error {
		s, err := instantQuery(promURL, `count(up == 1) == 3`)
		if err == nil && len(s) == 0 {
			err = fmt.Errorf("not all targets are up yet")
		}
		return err
	})
	return &liveStack{promURL: promURL, amURL: amURL, hook: hook, broken: broken, deadline: deadline}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// replaceInFile edits a file of the profile copy.
func replaceInFile(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s does not contain %q", path, old)
	}
	writeFile(t, path, strings.Replace(string(b), old, new, 1))
}

// waitForAlerts waits until Alertmanager holds every expected alert of
// instance, and checks their labels and annotations.
func (s *liveStack) waitForAlerts(t *testing.T, instance string, want []expectation) {
	t.Helper()
	var got []amAlert
	waitFor(t, s.deadline, "alerts of "+instance+" in Alertmanager", func() error {
		var err error
		if got, err = amAlerts(s.amURL); err != nil {
			return err
		}
		var missing []string
		for _, e := range want {
			if find(got, instance, e.alert) == nil {
				missing = append(missing, e.alert)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("missing %v", missing)
		}
		return nil
	})
	for _, e := range want {
		a := find(got, instance, e.alert)
		for k, v := range e.labels {
			if a.Labels[k] != v {
				t.Errorf("%s on %s: label %s=%q, want %q", e.alert, instance, k, a.Labels[k], v)
			}
		}
		if !severities[a.Labels["severity"]] || a.Labels["job"] != "crashguard" {
			t.Errorf("%s on %s: labels %v lack severity or job", e.alert, instance, a.Labels)
		}
		if a.Annotations["summary"] == "" || !strings.HasPrefix(a.Annotations["runbook_url"], runbookBase) {
			t.Errorf("%s on %s: annotations %v", e.alert, instance, a.Annotations)
		}
		if d := a.Annotations["description"]; !strings.Contains(d, instance) || strings.Contains(d, "<no value>") || strings.Contains(d, "{{") {
			t.Errorf("%s on %s: description %q does not name the host or is not fully rendered", e.alert, instance, d)
		}
	}
	waitFor(t, s.deadline, "webhook deliveries of "+instance, func() error {
		for _, e := range want {
			if !s.hook.has(instance + "/" + e.alert) {
				return fmt.Errorf("%s not delivered to the webhook", e.alert)
			}
		}
		return nil
	})
}

func find(alerts []amAlert, instance, name string) *amAlert {
	for i := range alerts {
		if alerts[i].Labels["instance"] == instance && alerts[i].Labels["alertname"] == name {
			return &alerts[i]
		}
	}
	return nil
}

// alertNames lists the alert names Alertmanager holds for instance.
func (s *liveStack) alertNames(t *testing.T, instance string) []string {
	t.Helper()
	got, err := amAlerts(s.amURL)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range got {
		if a.Labels["instance"] == instance {
			names = append(names, a.Labels["alertname"])
		}
	}
	sort.Strings(names)
	return names
}

func names(es ...[]expectation) []string {
	var out []string
	for _, l := range es {
		for _, e := range l {
			out = append(out, e.alert)
		}
	}
	sort.Strings(out)
	return out
}

// TestLiveAlerts runs the exporter on the broken-host, healthy-host and a
// "blind" healthy host (no kernel log, no device-mapper access) under a real
// Prometheus evaluating the shipped rules (for: shortened to 1s) and a real
// Alertmanager with a webhook receiver, and checks what arrives.
func TestLiveAlerts(t *testing.T) {
	s := startStack(t)

	// CrashguardDumpTargetTooSmall needs the filesystem of the test's temp
	// directory (the broken-host's /var/crash) to have less free space than
	// half of the profile's 2 TiB of RAM.
	waitFor(t, s.deadline, "the broken-host's dump target ratio", func() error {
		r, err := instantQuery(s.promURL, `instance:crashguard_kdump_target_free_to_memory:ratio{instance="broken-host"}`)
		if err == nil && len(r) == 0 {
			err = fmt.Errorf("not recorded yet")
		}
		if err != nil {
			return err
		}
		if v, _ := strconv.ParseFloat(fmt.Sprint(r[0].Value[1]), 64); v >= 0.5 {
			t.Fatalf("the temp directory's filesystem has %v of the broken-host's RAM free; CrashguardDumpTargetTooSmall cannot fire", r[0].Value[1])
		}
		return err
	})

	s.waitForAlerts(t, "broken-host", brokenHostAlerts)
	s.waitForAlerts(t, "blind-host", blindHostAlerts)

	// Counters rise: the kernel oopses and warns again, the pod's pids limit
	// refuses more forks, container B is OOM-killed once more. Prometheus
	// has the old values by now (the alerts above needed them).
	replaceInFile(t, filepath.Join(s.broken, "sys/kernel/oops_count"), "1", "2")
	replaceInFile(t, filepath.Join(s.broken, "sys/kernel/warn_count"), "2", "3")
	replaceInFile(t, filepath.Join(s.broken, podAPath, "pids.events"), "max 37", "max 41")
	for _, f := range []string{"memory.events", "memory.events.local"} {
		replaceInFile(t, filepath.Join(s.broken, ctrBPath, f), "oom_kill 3", "oom_kill 4")
	}
	s.waitForAlerts(t, "broken-host", brokenHostRisingAlerts)

	// Let the healthy host be scraped and evaluated a while (for: is 1s),
	// then require exactly the expected alerts, and none for it: neither in
	// Alertmanager nor pending in Prometheus.
	waitFor(t, s.deadline, "ten scrapes of healthy-host", func() error {
		r, err := instantQuery(s.promURL, `count_over_time(up{instance="healthy-host"}[5m]) >= 10`)
		if err == nil && len(r) == 0 {
			err = fmt.Errorf("fewer than 10 scrapes")
		}
		return err
	})
	if got, want := s.alertNames(t, "broken-host"), names(brokenHostAlerts, brokenHostRisingAlerts); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("broken-host alerts in Alertmanager:\n got %v\nwant %v", got, want)
	}
	if got, want := s.alertNames(t, "blind-host"), names(blindHostAlerts); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("blind-host alerts in Alertmanager:\n got %v\nwant %v", got, want)
	}
	if got := s.alertNames(t, "healthy-host"); len(got) != 0 {
		t.Errorf("healthy-host has alerts in Alertmanager: %v", got)
	}
	pending, err := instantQuery(s.promURL, `ALERTS{instance="healthy-host"}`)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pending {
		t.Errorf("healthy-host: %s is %s in Prometheus", p.Metric["alertname"], p.Metric["alertstate"])
	}
	t.Logf("alerts in Alertmanager: broken-host %v; blind-host %v; healthy-host none",
		s.alertNames(t, "broken-host"), s.alertNames(t, "blind-host"))

	t.Run("dashboards", func(t *testing.T) { s.checkDashboardQueries(t) })
}

// grafanaVars replaces Grafana's variables by values that select the
// broken-host, which has a series for every panel.
var grafanaVars = strings.NewReplacer(
	"${datasource}", "prom", "$datasource", "prom",
	"${job}", "crashguard", "$job", "crashguard",
	"${instance}", "broken-host", "$instance", "broken-host",
	"$__rate_interval", "1m", "$__interval", "15s", "$__range", "5m",
)

var templateVar = regexp.MustCompile(`\$\{?[A-Za-z_]+`)

// checkDashboardQueries runs every panel target of every dashboard as an
// instant query against the live Prometheus: it must parse and return data.
func (s *liveStack) checkDashboardQueries(t *testing.T) {
	dashboards := loadDashboards(t)
	if len(dashboards) == 0 {
		t.Fatal("no dashboards")
	}
	// rate() needs two samples in its window.
	waitFor(t, s.deadline, "enough samples for rate()", func() error {
		r, err := instantQuery(s.promURL, `count_over_time(up{instance="broken-host"}[1m]) >= 5`)
		if err == nil && len(r) == 0 {
			err = fmt.Errorf("fewer than 5 scrapes")
		}
		return err
	})
	for _, file := range sortedKeys(dashboards) {
		for _, tgt := range dashboardTargets(dashboards[file]) {
			q := grafanaVars.Replace(tgt.Expr)
			if v := templateVar.FindString(q); v != "" {
				t.Errorf("%s: panel %q: unknown variable %s in %s", file, tgt.Panel, v, tgt.Expr)
				continue
			}
			res, err := instantQuery(s.promURL, q)
			switch {
			case err != nil:
				t.Errorf("%s: panel %q: %v\n%s", file, tgt.Panel, err, q)
			case len(res) == 0:
				t.Errorf("%s: panel %q returns no data on broken-host:\n%s", file, tgt.Panel, q)
			}
		}
		for _, v := range dashboardVariableQueries(dashboards[file]) {
			q := grafanaVars.Replace(v)
			if _, err := instantQuery(s.promURL, q); err != nil {
				t.Errorf("%s: variable query %s: %v", file, v, err)
			}
		}
	}
}

package e2e

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v2"
)

var updatePrometheusRule = flag.Bool("update", false, "rewrite deploy/kubernetes/prometheusrule.yaml from rules/")

const prometheusRulePath = "deploy/kubernetes/prometheusrule.yaml"

type objectMeta struct {
	Name      string            `yaml:"name"`
	Namespace string            `yaml:"namespace,omitempty"`
	Labels    map[string]string `yaml:"labels,omitempty"`
}

type prometheusRule struct {
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Metadata   objectMeta `yaml:"metadata"`
	Spec       struct {
		Groups []RuleGroup `yaml:"groups"`
	} `yaml:"spec"`
}

// generatePrometheusRule renders every rule group of rules/ (files in name
// order) as one PrometheusRule.
func generatePrometheusRule(t *testing.T) []byte {
	t.Helper()
	pr := prometheusRule{APIVersion: "monitoring.coreos.com/v1", Kind: "PrometheusRule"}
	pr.Metadata = objectMeta{Name: "crashguard-exporter", Namespace: "monitoring", Labels: map[string]string{
		"app.kubernetes.io/name":      "crashguard-exporter",
		"app.kubernetes.io/component": "alert-rules",
	}}
	files := ruleFiles(t)
	for _, name := range sortedKeys(files) {
		pr.Spec.Groups = append(pr.Spec.Groups, files[name].Groups...)
	}
	b, err := yaml.Marshal(pr)
	if err != nil {
		t.Fatal(err)
	}
	header := "# Generated from rules/*.rules.yml; do not edit. Regenerate with\n# `go test ./e2e -run TestPrometheusRule -update` (make update-prometheusrule).\n"
	return append([]byte(header), b...)
}

// TestPrometheusRule keeps the PrometheusRule in step with rules/.
func TestPrometheusRule(t *testing.T) {
	want := generatePrometheusRule(t)
	path := filepath.Join(repoRoot, prometheusRulePath)
	if *updatePrometheusRule {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is out of date with rules/; run `make update-prometheusrule`", prometheusRulePath)
	}
	var pr prometheusRule
	if err := yaml.UnmarshalStrict(got, &pr); err != nil {
		t.Fatal(err)
	}
	if n := len(pr.Spec.Groups); n != len(ruleFiles(t)) {
		t.Errorf("%d groups, want one per rule file", n)
	}
}

// exporterFlags returns the long flags `crashguard_exporter --help` lists,
// each with and without its kingpin "no-" negation.
func exporterFlags(t *testing.T) map[string]bool {
	t.Helper()
	out, err := exec.Command(exporterBinary(t), "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("--help: %v\n%s", err, out)
	}
	flags := map[string]bool{}
	re := regexp.MustCompile(`(?m)^\s+--(\[no-\])?([a-z0-9][a-z0-9.-]*)`)
	for _, m := range re.FindAllStringSubmatch(string(out), -1) {
		flags[m[2]] = true
		if m[1] != "" {
			flags["no-"+m[2]] = true
		}
	}
	if !flags["path.procfs"] || !flags["collector.kmsg.path"] {
		t.Fatalf("--help lists no path or collector flags:\n%s", out)
	}
	return flags
}

// splitFlag returns the name and value of "--name=value".
func splitFlag(arg string) (name, value string, ok bool) {
	s, ok := strings.CutPrefix(arg, "--")
	if !ok {
		return "", "", false
	}
	name, value, _ = strings.Cut(s, "=")
	return name, value, true
}

type probe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
	PeriodSeconds int `yaml:"periodSeconds,omitempty"`
}

type container struct {
	Name  string   `yaml:"name"`
	Image string   `yaml:"image"`
	Args  []string `yaml:"args"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
		Protocol      string `yaml:"protocol"`
	} `yaml:"ports"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	SecurityContext struct {
		Privileged               *bool  `yaml:"privileged"`
		RunAsUser                *int64 `yaml:"runAsUser"`
		RunAsNonRoot             *bool  `yaml:"runAsNonRoot"`
		AllowPrivilegeEscalation *bool  `yaml:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   *bool  `yaml:"readOnlyRootFilesystem"`
		Capabilities             struct {
			Drop []string `yaml:"drop"`
			Add  []string `yaml:"add"`
		} `yaml:"capabilities"`
	} `yaml:"securityContext"`
	VolumeMounts []struct {
		Name             string `yaml:"name"`
		MountPath        string `yaml:"mountPath"`
		ReadOnly         bool   `yaml:"readOnly"`
		MountPropagation string `yaml:"mountPropagation"`
	} `yaml:"volumeMounts"`
}

type daemonSet struct {
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Metadata   objectMeta `yaml:"metadata"`
	Spec       struct {
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		UpdateStrategy struct {
			Type          string `yaml:"type"`
			RollingUpdate struct {
				MaxUnavailable string `yaml:"maxUnavailable"`
			} `yaml:"rollingUpdate"`
		} `yaml:"updateStrategy"`
		Template struct {
			Metadata objectMeta `yaml:"metadata"`
			Spec     struct {
				HostPID                      bool   `yaml:"hostPID"`
				HostNetwork                  bool   `yaml:"hostNetwork"`
				AutomountServiceAccountToken *bool  `yaml:"automountServiceAccountToken"`
				EnableServiceLinks           *bool  `yaml:"enableServiceLinks"`
				PriorityClassName            string `yaml:"priorityClassName"`
				Tolerations                  []struct {
					Operator string `yaml:"operator"`
					Key      string `yaml:"key"`
					Effect   string `yaml:"effect"`
				} `yaml:"tolerations"`
				SecurityContext struct {
					SeccompProfile struct {
						Type string `yaml:"type"`
					} `yaml:"seccompProfile"`
				} `yaml:"securityContext"`
				Containers []container `yaml:"containers"`
				Volumes    []struct {
					Name     string `yaml:"name"`
					HostPath *struct {
						Path string `yaml:"path"`
						Type string `yaml:"type"`
					} `yaml:"hostPath"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type service struct {
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Metadata   objectMeta `yaml:"metadata"`
	Spec       struct {
		ClusterIP string            `yaml:"clusterIP"`
		Selector  map[string]string `yaml:"selector"`
		Ports     []struct {
			Name       string `yaml:"name"`
			Port       int    `yaml:"port"`
			TargetPort string `yaml:"targetPort"`
			Protocol   string `yaml:"protocol"`
		} `yaml:"ports"`
	} `yaml:"spec"`
}

type serviceMonitor struct {
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Metadata   objectMeta `yaml:"metadata"`
	Spec       struct {
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		NamespaceSelector struct {
			MatchNames []string `yaml:"matchNames"`
		} `yaml:"namespaceSelector"`
		AttachMetadata struct {
			Node bool `yaml:"node"`
		} `yaml:"attachMetadata"`
		Endpoints []struct {
			Port          string `yaml:"port"`
			Interval      string `yaml:"interval"`
			ScrapeTimeout string `yaml:"scrapeTimeout"`
			Relabelings   []struct {
				SourceLabels []string `yaml:"sourceLabels"`
				Regex        string   `yaml:"regex"`
				TargetLabel  string   `yaml:"targetLabel"`
			} `yaml:"relabelings"`
		} `yaml:"endpoints"`
	} `yaml:"spec"`
}

// decodeManifest strictly decodes a single-document manifest: a field the
// Go type does not know (a typo, or a field in the wrong place) fails.
func decodeManifest(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "deploy", "kubernetes", name))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte("\n---")) {
		t.Fatalf("%s: one object per file", name)
	}
	if err := yaml.UnmarshalStrict(b, v); err != nil {
		t.Fatalf("deploy/kubernetes/%s: %v", name, err)
	}
}

func subset(small, big map[string]string) bool {
	if len(small) == 0 {
		return false
	}
	for k, v := range small {
		if big[k] != v {
			return false
		}
	}
	return true
}

func TestKubernetesManifests(t *testing.T) {
	flags := exporterFlags(t)

	var ds daemonSet
	decodeManifest(t, "daemonset.yaml", &ds)
	if ds.APIVersion != "apps/v1" || ds.Kind != "DaemonSet" || ds.Metadata.Name == "" || ds.Metadata.Namespace == "" {
		t.Errorf("daemonset.yaml: %s/%s %s/%s", ds.APIVersion, ds.Kind, ds.Metadata.Namespace, ds.Metadata.Name)
	}
	tmpl := ds.Spec.Template
	if !subset(ds.Spec.Selector.MatchLabels, tmpl.Metadata.Labels) {
		t.Errorf("daemonset.yaml: selector %v does not match the pod labels %v", ds.Spec.Selector.MatchLabels, tmpl.Metadata.Labels)
	}
	pod := tmpl.Spec
	if !pod.HostPID || pod.HostNetwork {
		t.Errorf("daemonset.yaml: want hostPID (for /proc/1) and no hostNetwork")
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("daemonset.yaml: the exporter needs no API token; set automountServiceAccountToken: false")
	}
	if pod.SecurityContext.SeccompProfile.Type != "RuntimeDefault" {
		t.Errorf("daemonset.yaml: want seccompProfile RuntimeDefault")
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("daemonset.yaml: %d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	sc := c.SecurityContext
	if sc.Privileged == nil || *sc.Privileged || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("daemonset.yaml: want privileged false, allowPrivilegeEscalation false, readOnlyRootFilesystem true")
	}
	if strings.Join(sc.Capabilities.Drop, ",") != "ALL" {
		t.Errorf("daemonset.yaml: capabilities.drop %v, want [ALL]", sc.Capabilities.Drop)
	}
	allowedCaps := map[string]bool{"SYSLOG": true, "DAC_READ_SEARCH": true}
	for _, a := range sc.Capabilities.Add {
		if !allowedCaps[a] {
			t.Errorf("daemonset.yaml: capability %s is more than the exporter needs", a)
		}
	}
	for _, r := range []string{"cpu", "memory"} {
		if c.Resources.Requests[r] == "" || (r == "memory" && c.Resources.Limits[r] == "") {
			t.Errorf("daemonset.yaml: resources lack a %s request or limit", r)
		}
	}
	if c.ReadinessProbe == nil || c.LivenessProbe == nil {
		t.Errorf("daemonset.yaml: want readiness and liveness probes")
	}

	volumes := map[string]string{} // name → host path
	for _, v := range pod.Volumes {
		if v.HostPath == nil {
			t.Errorf("daemonset.yaml: volume %s is not a hostPath", v.Name)
			continue
		}
		volumes[v.Name] = v.HostPath.Path
	}
	hostPathAt := map[string]string{} // mount path → host path
	mounted := map[string]bool{}
	for _, m := range c.VolumeMounts {
		hp, ok := volumes[m.Name]
		if !ok {
			t.Errorf("daemonset.yaml: volumeMount %s names no declared volume", m.Name)
			continue
		}
		mounted[m.Name] = true
		hostPathAt[m.MountPath] = hp
		if hp != "/var/lib/crashguard_exporter" && !m.ReadOnly {
			t.Errorf("daemonset.yaml: host path %s is mounted writable", hp)
		}
	}
	for name := range volumes {
		if !mounted[name] {
			t.Errorf("daemonset.yaml: volume %s is never mounted", name)
		}
	}

	wantHost := map[string]string{"path.procfs": "/proc", "path.sysfs": "/sys", "path.rootfs": "/", "collector.kmsg.path": "/dev/kmsg"}
	seen := map[string]bool{}
	listenPort := ""
	for _, arg := range c.Args {
		name, value, ok := splitFlag(arg)
		if !ok {
			t.Errorf("daemonset.yaml: argument %q is not a --flag", arg)
			continue
		}
		if !flags[name] {
			t.Errorf("daemonset.yaml: --%s is not a flag of crashguard_exporter (see --help)", name)
		}
		seen[name] = true
		if hp, ok := wantHost[name]; ok && hostPathAt[value] != hp {
			t.Errorf("daemonset.yaml: --%s=%s is not where the host's %s is mounted", name, value, hp)
		}
		if name == "collector.kmsg.state-file" && hostPathAt[filepath.Dir(value)] != "/var/lib/crashguard_exporter" {
			t.Errorf("daemonset.yaml: the kmsg state file %s is not on the state volume", value)
		}
		if name == "web.listen-address" {
			listenPort = value[strings.LastIndex(value, ":")+1:]
		}
	}
	for name := range wantHost {
		if !seen[name] {
			t.Errorf("daemonset.yaml: --%s is not set", name)
		}
	}
	portName := ""
	for _, p := range c.Ports {
		if p.ContainerPort > 0 && listenPort == strconv.Itoa(p.ContainerPort) {
			portName = p.Name
		}
	}
	if portName == "" {
		t.Errorf("daemonset.yaml: no container port matches --web.listen-address port %q", listenPort)
	}

	var svc service
	decodeManifest(t, "service.yaml", &svc)
	if svc.APIVersion != "v1" || svc.Kind != "Service" || svc.Metadata.Namespace != ds.Metadata.Namespace {
		t.Errorf("service.yaml: %s/%s in %q", svc.APIVersion, svc.Kind, svc.Metadata.Namespace)
	}
	if !subset(svc.Spec.Selector, tmpl.Metadata.Labels) {
		t.Errorf("service.yaml: selector %v does not select the DaemonSet's pods", svc.Spec.Selector)
	}
	svcPort := ""
	for _, p := range svc.Spec.Ports {
		if p.TargetPort == portName {
			svcPort = p.Name
		}
	}
	if svcPort == "" {
		t.Errorf("service.yaml: no port targets the container port %q", portName)
	}

	var sm serviceMonitor
	decodeManifest(t, "servicemonitor.yaml", &sm)
	if sm.APIVersion != "monitoring.coreos.com/v1" || sm.Kind != "ServiceMonitor" {
		t.Errorf("servicemonitor.yaml: %s/%s", sm.APIVersion, sm.Kind)
	}
	if !subset(sm.Spec.Selector.MatchLabels, svc.Metadata.Labels) {
		t.Errorf("servicemonitor.yaml: selector %v does not select the Service", sm.Spec.Selector.MatchLabels)
	}
	if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != svcPort {
		t.Errorf("servicemonitor.yaml: endpoints %+v do not name the Service port %q", sm.Spec.Endpoints, svcPort)
	} else {
		targets := map[string]bool{}
		for _, r := range sm.Spec.Endpoints[0].Relabelings {
			targets[r.TargetLabel] = true
		}
		if !targets["instance"] || !targets["kdump"] || !sm.Spec.AttachMetadata.Node {
			t.Errorf("servicemonitor.yaml: want instance from the node name and kdump from the node label (attachMetadata.node)")
		}
	}
}

// TestSystemdUnit checks the hardening of the shipped unit and that its
// command line uses real flags.
func TestSystemdUnit(t *testing.T) {
	flags := exporterFlags(t)
	b, err := os.ReadFile(filepath.Join(repoRoot, "deploy", "systemd", "crashguard_exporter.service"))
	if err != nil {
		t.Fatal(err)
	}
	unit := string(b)
	directives := map[string][]string{}
	var execStart string
	lines := strings.Split(strings.ReplaceAll(unit, "\\\n", " "), "\n")
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, "[") {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			t.Errorf("unit line %q is not Key=Value", l)
			continue
		}
		directives[k] = append(directives[k], v)
		if k == "ExecStart" {
			execStart = v
		}
	}
	for k, want := range map[string]string{
		"DynamicUser": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
		"NoNewPrivileges": "yes", "StateDirectory": "crashguard_exporter", "DevicePolicy": "closed",
	} {
		if got := strings.Join(directives[k], " "); got != want {
			t.Errorf("%s=%q, want %q", k, got, want)
		}
	}
	if !contains(directives["DeviceAllow"], "/dev/kmsg r") {
		t.Errorf("DeviceAllow lacks /dev/kmsg r: %v", directives["DeviceAllow"])
	}
	for _, k := range []string{"CapabilityBoundingSet", "AmbientCapabilities"} {
		if got := strings.Join(directives[k], " "); got != "CAP_SYSLOG CAP_DAC_READ_SEARCH" {
			t.Errorf("%s=%q, want CAP_SYSLOG CAP_DAC_READ_SEARCH (CAP_SYS_ADMIN only as a commented opt-in)", k, got)
		}
	}
	if !strings.Contains(unit, "#AmbientCapabilities=CAP_SYSLOG CAP_DAC_READ_SEARCH CAP_SYS_ADMIN") {
		t.Errorf("the CAP_SYS_ADMIN opt-in for dm-thin pool status is missing")
	}
	fields := strings.Fields(execStart)
	if len(fields) < 2 || fields[0] != "/usr/local/bin/crashguard_exporter" {
		t.Fatalf("ExecStart=%q", execStart)
	}
	hasStateFile := false
	for _, arg := range fields[1:] {
		name, value, ok := splitFlag(arg)
		if !ok || !flags[name] {
			t.Errorf("ExecStart argument %q is not a flag of crashguard_exporter", arg)
		}
		if name == "collector.kmsg.state-file" && strings.HasPrefix(value, "${STATE_DIRECTORY}/") {
			hasStateFile = true
		}
	}
	if !hasStateFile {
		t.Errorf("ExecStart does not keep the kmsg state file in the StateDirectory")
	}
	if !contains(fields, "--web.systemd-socket") {
		t.Errorf("ExecStart does not use the socket unit")
	}
	sock, err := os.ReadFile(filepath.Join(repoRoot, "deploy", "systemd", "crashguard_exporter.socket"))
	if err != nil || !strings.Contains(string(sock), "ListenStream=9865") {
		t.Errorf("crashguard_exporter.socket does not listen on 9865: %v", err)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestDockerfile checks the image runs the static binary as non-root on a
// minimal base.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot, "deploy", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var from, user, entry string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "FROM":
			from = f[1]
		case "USER":
			user = f[1]
		case "ENTRYPOINT":
			entry = strings.Join(f[1:], " ")
		}
	}
	if !strings.HasPrefix(from, "gcr.io/distroless/static") && from != "scratch" {
		t.Errorf("final stage FROM %s, want distroless static or scratch", from)
	}
	if user == "" || strings.HasPrefix(user, "0") || strings.HasPrefix(user, "root") {
		t.Errorf("USER %q, want a non-root user", user)
	}
	if !strings.Contains(entry, "crashguard_exporter") {
		t.Errorf("ENTRYPOINT %s does not run the exporter", entry)
	}
	if !strings.Contains(string(b), "CGO_ENABLED=0") {
		t.Errorf("the binary must be static (CGO_ENABLED=0) for a distroless/static base")
	}
}

package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"golang.org/x/crypto/bcrypt"

	"github.com/crashguard/crashguard_exporter/internal/fixture"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const testdataDir = "../../testdata"

var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "crashguard-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "crashguard_exporter")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the exporter:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// exporter is one running instance of the binary.
type exporter struct {
	url  string
	cmd  *exec.Cmd
	logs *strings.Builder
	stop func() string // ends the process and returns what it logged
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// start runs the binary with args and waits until it answers.
func start(t *testing.T, args ...string) *exporter {
	t.Helper()
	addr := freePort(t)
	cmd := exec.Command(binary, append([]string{"--web.listen-address=" + addr}, args...)...)
	logs := &strings.Builder{}
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	cmd.Stdout = pw
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			logs.WriteString(sc.Text() + "\n")
		}
	}()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() string {
		once.Do(func() {
			cmd.Process.Kill()
			cmd.Wait()
			pw.Close()
			<-logDone
		})
		return logs.String()
	}
	e := &exporter{url: "http://" + addr, cmd: cmd, logs: logs, stop: stop}
	t.Cleanup(func() { stop() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(e.url + "/")
		if err == nil {
			resp.Body.Close()
			return e
		}
		if time.Now().After(deadline) {
			t.Fatalf("exporter did not answer on %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (e *exporter) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(e.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// volatile families change from run to run or machine to machine and are
// checked by unit tests instead of the golden files.
var volatile = []string{
	"go_", "process_", "promhttp_",
	"crashguard_build_info",
	"crashguard_scrape_collector_duration_seconds",
	"crashguard_kdump_target_filesystem_",
	"crashguard_pstore_last_timestamp_seconds", // file mtimes: git does not keep them
}

func stable(exposition string) string {
	var out []string
	for _, line := range strings.Split(exposition, "\n") {
		name := line
		if strings.HasPrefix(line, "# HELP ") || strings.HasPrefix(line, "# TYPE ") {
			name = line[len("# HELP "):]
		}
		skip := line == ""
		for _, p := range volatile {
			if strings.HasPrefix(name, p) {
				skip = true
			}
		}
		if !skip {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n") + "\n"
}

func profileArgs(t *testing.T, dir string) []string {
	args := []string{
		"--path.procfs=" + filepath.Join(dir, "proc"),
		"--path.sysfs=" + filepath.Join(dir, "sys"),
		"--path.rootfs=" + filepath.Join(dir, "root"),
	}
	if b, err := os.ReadFile(filepath.Join(dir, "flags")); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			l = strings.TrimSpace(l)
			if l != "" && !strings.HasPrefix(l, "#") {
				args = append(args, strings.ReplaceAll(l, "$PROFILE", dir))
			}
		}
	}
	return args
}

// TestGolden runs the binary on every fixture profile and compares the
// deterministic part of /metrics with testdata/e2e-output-<profile>.txt.
func TestGolden(t *testing.T) {
	profiles, err := filepath.Glob(filepath.Join(testdataDir, "profiles", "*"))
	if err != nil || len(profiles) == 0 {
		t.Fatalf("no fixture profiles found under %s/profiles", testdataDir)
	}
	sort.Strings(profiles)
	for _, dir := range profiles {
		name := filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			abs, _ := filepath.Abs(dir)
			// Git keeps no mtimes; the profile's manifest sets those that
			// matter (idempotent, and only times change).
			if err := fixture.ApplyMtimes(abs); err != nil {
				t.Fatal(err)
			}
			e := start(t, profileArgs(t, abs)...)
			code, body := e.get(t, "/metrics")
			if code != 200 {
				t.Fatalf("status %d", code)
			}
			problems, err := promlint.New(strings.NewReader(body)).Lint()
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range problems {
				t.Errorf("metric lint: %s: %s", p.Metric, p.Text)
			}
			if strings.Contains(body, "crashguard_scrape_collector_success") &&
				strings.Contains(body, "} 0\n") {
				for _, l := range strings.Split(body, "\n") {
					if strings.HasPrefix(l, "crashguard_scrape_collector_success") && strings.HasSuffix(l, " 0") {
						t.Errorf("collector failed on fixture profile: %s", l)
					}
				}
			}
			got := stable(body)
			golden := filepath.Join(testdataDir, "e2e-output-"+name+".txt")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run `make update-golden` to create it)", err)
			}
			if got != string(want) {
				t.Errorf("output differs from %s (run `make update-golden` after checking the change):\n%s", golden, diff(string(want), got))
			}
			for _, l := range strings.Split(e.stop(), "\n") {
				if strings.Contains(l, "level=error") {
					t.Errorf("error logged on fixture profile: %s", l)
				}
			}
		})
	}
}

// diff lists the lines only one side has; enough to see what changed.
func diff(want, got string) string {
	w := map[string]bool{}
	for _, l := range strings.Split(want, "\n") {
		w[l] = true
	}
	g := map[string]bool{}
	for _, l := range strings.Split(got, "\n") {
		g[l] = true
	}
	var b strings.Builder
	for _, l := range strings.Split(want, "\n") {
		if !g[l] {
			b.WriteString("- " + l + "\n")
		}
	}
	for _, l := range strings.Split(got, "\n") {
		if !w[l] {
			b.WriteString("+ " + l + "\n")
		}
	}
	return b.String()
}

func TestBasicAuth(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(cfg, []byte("basic_auth_users:\n  prometheus: "+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	minimal, _ := filepath.Abs(filepath.Join(testdataDir, "profiles", "minimal"))
	e := start(t, append(profileArgs(t, minimal), "--web.config.file="+cfg)...)
	for _, tc := range []struct {
		user, pass string
		want       int
	}{
		{"", "", http.StatusUnauthorized},
		{"prometheus", "wrong", http.StatusUnauthorized},
		{"prometheus", "s3cret", http.StatusOK},
	} {
		req, _ := http.NewRequest("GET", e.url+"/metrics", nil)
		if tc.user != "" {
			req.SetBasicAuth(tc.user, tc.pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("user %q: status %d, want %d", tc.user, resp.StatusCode, tc.want)
		}
	}
}

func TestLandingPageAndVersion(t *testing.T) {
	minimal, _ := filepath.Abs(filepath.Join(testdataDir, "profiles", "minimal"))
	e := start(t, profileArgs(t, minimal)...)
	code, body := e.get(t, "/")
	if code != 200 || !strings.Contains(body, `href="/metrics"`) || strings.Contains(body, "debug/pprof") {
		t.Errorf("landing page (status %d) must link /metrics and nothing it does not serve:\n%s", code, body)
	}
	_, body = e.get(t, "/metrics")
	if !strings.Contains(body, "crashguard_build_info{") || !strings.Contains(body, "process_open_fds") {
		t.Error("build info or process metrics missing")
	}
	out, err := exec.Command(binary, "--version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "crashguard_exporter, version") {
		t.Errorf("--version: %v: %s", err, out)
	}
}

func TestDisableExporterMetrics(t *testing.T) {
	minimal, _ := filepath.Abs(filepath.Join(testdataDir, "profiles", "minimal"))
	e := start(t, append(profileArgs(t, minimal), "--web.disable-exporter-metrics", "--web.telemetry-path=/m")...)
	code, body := e.get(t, "/m")
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	if strings.Contains(body, "go_goroutines") || strings.Contains(body, "process_open_fds") {
		t.Error("exporter metrics present despite --web.disable-exporter-metrics")
	}
	if !strings.Contains(body, "crashguard_build_info") {
		t.Error("build info should stay")
	}
}

func TestBadFlagExits(t *testing.T) {
	out, err := exec.Command(binary, "--log.format=xml").CombinedOutput()
	if err == nil {
		t.Fatalf("expected failure, got: %s", out)
	}
}

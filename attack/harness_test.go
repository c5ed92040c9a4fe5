package attack

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/crashguard/crashguard_exporter/internal/fixture"
)

// repoRoot is the module root, relative to this package.
const repoRoot = ".."

var (
	binary  string
	scratch string // removed after all tests ran
)

func TestMain(m *testing.M) {
	// Generated trees of thousands of small files take seconds on a disk
	// filesystem and a fraction of that in memory.
	base := ""
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() && syscall.Access("/dev/shm", 2) == nil {
		base = "/dev/shm"
	}
	dir, err := os.MkdirTemp(base, "crashguard-attack")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "crashguard_exporter")
	scratch = dir
	build := exec.Command("go", "build", "-o", binary, "./cmd/crashguard_exporter")
	build.Dir = repoRoot
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the exporter:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// profileDir is the absolute path of a fixture profile.
func profileDir(t testing.TB, name string) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join(repoRoot, "testdata", "profiles", name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("fixture profile %s: %v", name, err)
	}
	return dir
}

// profiles lists every fixture profile by name.
func profiles(t testing.TB) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(repoRoot, "testdata", "profiles", "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no fixture profiles: %v", err)
	}
	var out []string
	for _, d := range dirs {
		out = append(out, filepath.Base(d))
	}
	sort.Strings(out)
	return out
}

// profileArgs are the flags that point the binary at a profile tree,
// including the profile's own flags file ($PROFILE expands to dir).
func profileArgs(t testing.TB, dir string) []string {
	t.Helper()
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

// copyProfile copies a profile tree (regular files, directories and
// symlinks as they are) into a fresh temporary directory, so a test can
// mutate it.
func copyProfile(t testing.TB, name string) string {
	t.Helper()
	src := profileDir(t, name)
	dst := filepath.Join(t.TempDir(), name)
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(out, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, out)
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			if err := os.WriteFile(out, b, fi.Mode().Perm()); err != nil {
				return err
			}
			return os.Chtimes(out, fi.ModTime(), fi.ModTime())
		}
	})
	if err != nil {
		t.Fatalf("copying profile %s: %v", name, err)
	}
	if err := fixture.ApplyMtimes(dst); err != nil {
		t.Fatalf("profile %s: %v", name, err)
	}
	return dst
}

// exporter is one running instance of the binary.
type exporter struct {
	t    testing.TB
	URL  string
	Addr string
	cmd  *exec.Cmd

	mu      sync.Mutex
	logs    bytes.Buffer
	logDone chan struct{}
	exited  chan struct{}
	exitErr error
}

// Logs returns what the process has logged so far.
func (e *exporter) Logs() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.logs.String()
}

// Signal sends sig to the process.
func (e *exporter) Signal(sig os.Signal) {
	e.t.Helper()
	if err := e.cmd.Process.Signal(sig); err != nil {
		e.t.Fatalf("signal %v: %v", sig, err)
	}
}

// Wait waits up to d for the process to exit and returns its exit code;
// ok is false when it did not exit in time.
func (e *exporter) Wait(d time.Duration) (code int, ok bool) {
	select {
	case <-e.exited:
	case <-time.After(d):
		return 0, false
	}
	<-e.logDone
	var ee *exec.ExitError
	switch {
	case e.exitErr == nil:
		return 0, true
	case errors.As(e.exitErr, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), true
		}
		return ee.ExitCode(), true
	default:
		return -1, true
	}
}

// Kill ends the process at once (SIGKILL) and waits for it.
func (e *exporter) Kill() {
	e.cmd.Process.Kill()
	e.Wait(time.Minute)
}

type startOpts struct {
	env []string // extra environment, KEY=VALUE
	// noWait returns as soon as the process started, without waiting for
	// it to answer.
	noWait bool
	// addr to listen on; a free 127.0.0.1 port when empty.
	addr string
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// start runs the binary with args on a free 127.0.0.1 port and waits until
// it answers on /. The process is killed when the test ends.
func start(t testing.TB, args ...string) *exporter {
	t.Helper()
	return startWith(t, startOpts{}, args...)
}

func startWith(t testing.TB, o startOpts, args ...string) *exporter {
	t.Helper()
	addr := o.addr
	if addr == "" {
		addr = freeAddr(t)
	}
	cmd := exec.Command(binary, append([]string{"--web.listen-address=" + addr}, args...)...)
	cmd.Env = append(os.Environ(), o.env...)
	e := &exporter{t: t, URL: "http://" + addr, Addr: addr, cmd: cmd, logDone: make(chan struct{}), exited: make(chan struct{})}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	go func() {
		defer close(e.logDone)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			e.mu.Lock()
			e.logs.WriteString(sc.Text() + "\n")
			e.mu.Unlock()
		}
		io.Copy(io.Discard, pr)
	}()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		e.exitErr = cmd.Wait()
		pw.Close()
		close(e.exited)
	}()
	t.Cleanup(func() {
		e.Kill()
		if t.Failed() {
			t.Logf("exporter log:\n%s", e.Logs())
		}
	})
	if o.noWait {
		return e
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(e.URL + "/")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return e
		}
		select {
		case <-e.exited:
			t.Fatalf("exporter exited before answering: %v\n%s", e.exitErr, e.Logs())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("exporter did not answer on %s within 30s: %v\n%s", addr, err, e.Logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// scrapeResult is one response of /metrics.
type scrapeResult struct {
	Status int
	Body   string
	Err    error
}

// get fetches path with the given headers; the request gives up after a
// minute so a hung server fails the test instead of hanging it.
func (e *exporter) get(path string, hdr map[string]string) scrapeResult {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.URL+path, nil)
	if err != nil {
		return scrapeResult{Err: err}
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return scrapeResult{Err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return scrapeResult{Status: resp.StatusCode, Body: string(b), Err: err}
}

// scrape fetches /metrics and fails the test unless it answers 200.
func (e *exporter) scrape(t testing.TB, hdr map[string]string) string {
	t.Helper()
	r := e.get("/metrics", hdr)
	if r.Err != nil {
		t.Fatalf("scrape: %v", r.Err)
	}
	if r.Status != http.StatusOK {
		t.Fatalf("scrape: status %d: %s", r.Status, truncate(r.Body, 300))
	}
	return r.Body
}

// families parses an exposition and lints it like promtool check metrics;
// any problem is a test error.
func families(t testing.TB, body string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Errorf("exposition does not parse: %v", err)
		return nil
	}
	problems, err := promlint.New(strings.NewReader(body)).Lint()
	if err != nil {
		t.Errorf("lint: %v", err)
	}
	for _, pr := range problems {
		t.Errorf("metric lint: %s: %s", pr.Metric, pr.Text)
	}
	return fams
}

func labelMap(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

func metricValue(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Untyped != nil:
		return m.GetUntyped().GetValue()
	}
	return 0
}

// success maps each collector to its crashguard_scrape_collector_success.
func success(fams map[string]*dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	if f := fams["crashguard_scrape_collector_success"]; f != nil {
		for _, m := range f.GetMetric() {
			out[labelMap(m)["collector"]] = metricValue(m)
		}
	}
	return out
}

// failed lists the collectors whose success is not 1.
func failed(fams map[string]*dto.MetricFamily) []string {
	var out []string
	for c, v := range success(fams) {
		if v != 1 {
			out = append(out, c)
		}
	}
	sort.Strings(out)
	return out
}

// fileErrors maps "collector/reason" to crashguard_scrape_collector_file_errors.
func fileErrors(fams map[string]*dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	if f := fams["crashguard_scrape_collector_file_errors"]; f != nil {
		for _, m := range f.GetMetric() {
			l := labelMap(m)
			out[l["collector"]+"/"+l["reason"]] = metricValue(m)
		}
	}
	return out
}

// value returns the value of the series of family name whose labels
// include want; ok is false when there is none.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		l := labelMap(m)
		for k, v := range want {
			if l[k] != v {
				continue next
			}
		}
		return metricValue(m), true
	}
	return 0, false
}

// volatile families differ between two scrapes of the same host.
var volatile = []string{"go_", "process_", "promhttp_", "crashguard_scrape_collector_duration_seconds"}

func isVolatile(name string) bool {
	for _, p := range volatile {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// seriesSet lists every series (name and labels, not values) of the
// non-volatile families, sorted.
func seriesSet(fams map[string]*dto.MetricFamily) []string {
	var out []string
	for name, f := range fams {
		if isVolatile(name) {
			continue
		}
		for _, m := range f.GetMetric() {
			l := labelMap(m)
			keys := make([]string, 0, len(l))
			for k := range l {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var b strings.Builder
			b.WriteString(name + "{")
			for i, k := range keys {
				if i > 0 {
					b.WriteString(",")
				}
				fmt.Fprintf(&b, "%s=%q", k, l[k])
			}
			b.WriteString("}")
			out = append(out, b.String())
		}
	}
	sort.Strings(out)
	return out
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

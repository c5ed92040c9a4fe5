package collector

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

var fakeDesc = prometheus.NewDesc("crashguard_fake_value", "A value from a fake collector.", nil, nil)

type fakeCollector struct {
	value   float64
	block   <-chan struct{} // when set, Update ignores ctx and waits on it
	err     error
	onStart func(ctx context.Context)
	silent  bool // sends no metric
}

func (f *fakeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- fakeDesc }

func (f *fakeCollector) Update(ctx context.Context, ch chan<- prometheus.Metric) error {
	if f.onStart != nil {
		f.onStart(ctx)
	}
	if !f.silent {
		ch <- prometheus.MustNewConstMetric(fakeDesc, prometheus.GaugeValue, f.value)
	}
	if f.block != nil {
		<-f.block
	}
	return f.err
}

// scrape runs the handler in the background and fails the test if it does
// not answer at all; the deadline itself is what is under test, so the
// watchdog is far longer than any budget used here.
func scrape(t *testing.T, h http.Handler, header http.Header) string {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/metrics", nil)
	for k, v := range header {
		req.Header[k] = v
	}
	done := make(chan struct{})
	go func() { h.ServeHTTP(rec, req); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("scrape did not return: the deadline was not honoured")
	}
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body.String())
	}
	return rec.Body.String()
}

func TestScrapeReturnsWhenACollectorBlocks(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	e := NewExporter(map[string]Collector{
		"good":  &fakeCollector{value: 1},
		"stuck": &fakeCollector{value: 2, block: release},
	}, log.NewNopLogger())
	h := NewHandler(e, HandlerOpts{Timeout: 10 * time.Second, Offset: 100 * time.Millisecond}, log.NewNopLogger())
	hdr := http.Header{"X-Prometheus-Scrape-Timeout-Seconds": []string{"0.3"}}

	body := scrape(t, h, hdr)
	for _, want := range []string{
		`crashguard_scrape_collector_success{collector="good"} 1`,
		`crashguard_scrape_collector_success{collector="stuck"} 0`,
		`crashguard_fake_value 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("missing %q in:\n%s", want, body)
		}
	}
	// The stuck collector's partial output must not leak into the scrape.
	if strings.Contains(body, "crashguard_fake_value 2") {
		t.Errorf("abandoned collector's metrics were exported:\n%s", body)
	}

	// While the first run is still blocked, a second scrape must not start
	// another one behind it.
	body = scrape(t, h, hdr)
	if !strings.Contains(body, `crashguard_scrape_collector_success{collector="stuck"} 0`) {
		t.Errorf("second scrape should report the stuck collector as failed:\n%s", body)
	}
}

func TestFailingCollectorDoesNotFailScrape(t *testing.T) {
	e := NewExporter(map[string]Collector{
		"good": &fakeCollector{value: 1},
		"bad":  &fakeCollector{value: 3, err: errors.New("boom")},
	}, log.NewNopLogger())
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(e.Bind(context.Background()))
	got, err := testutil.GatherAndCount(reg, "crashguard_fake_value")
	if err != nil {
		t.Fatal(err)
	}
	if got != 1 {
		t.Errorf("want only the good collector's value, got %d series", got)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP crashguard_scrape_collector_success 1 if the collector succeeded in this scrape; 0 if it failed or missed the scrape deadline. A feature the host lacks is not a failure.
# TYPE crashguard_scrape_collector_success gauge
crashguard_scrape_collector_success{collector="bad"} 0
crashguard_scrape_collector_success{collector="good"} 1
`), "crashguard_scrape_collector_success"); err != nil {
		t.Error(err)
	}
}

func TestPanickingCollectorIsContained(t *testing.T) {
	e := NewExporter(map[string]Collector{
		"panics": &fakeCollector{onStart: func(context.Context) { panic("bad input") }},
	}, log.NewNopLogger())
	reg := prometheus.NewRegistry()
	reg.MustRegister(e.Bind(context.Background()))
	n, err := testutil.GatherAndCount(reg, "crashguard_scrape_collector_success")
	if err != nil || n != 1 {
		t.Fatalf("got %d series, err %v", n, err)
	}
}

func TestFileErrorsAreCountedPerScrape(t *testing.T) {
	c := &fakeCollector{value: 1, onStart: func(ctx context.Context) {
		reportFileError(ctx, "/proc/x", "permission", fs.ErrPermission)
		reportFileError(ctx, "/proc/y", "permission", fs.ErrPermission)
		reportFileError(ctx, "/proc/z", "garbage", errors.New("bad"))
	}}
	e := NewExporter(map[string]Collector{"files": c}, log.NewNopLogger())
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(e.Bind(context.Background()))
	for i := 0; i < 2; i++ { // counts are per scrape, not cumulative
		if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP crashguard_scrape_collector_file_errors Files or directories a collector could not use in this scrape, by reason (permission, too_large, not_regular, symlink, garbage, timeout, io). Only non-zero reasons are exported; each path is logged once.
# TYPE crashguard_scrape_collector_file_errors gauge
crashguard_scrape_collector_file_errors{collector="files",reason="garbage"} 1
crashguard_scrape_collector_file_errors{collector="files",reason="permission"} 2
`), "crashguard_scrape_collector_file_errors"); err != nil {
			t.Error(err)
		}
	}
	if e.logged.first("files\x00/proc/x\x00permission") {
		t.Error("a reported path should be remembered as logged")
	}
}

func TestScrapeBudget(t *testing.T) {
	for _, tc := range []struct {
		header string
		want   time.Duration
	}{
		{"", 9500 * time.Millisecond},
		{"5", 4500 * time.Millisecond},
		{"0.2", 20 * time.Millisecond}, // floor: a tenth of the timeout
		{"120", 9500 * time.Millisecond},
		{"garbage", 9500 * time.Millisecond},
		{"-3", 9500 * time.Millisecond},
		{"0", 9500 * time.Millisecond},
		{"-0", 9500 * time.Millisecond},
		{"NaN", 9500 * time.Millisecond},
		{"nan", 9500 * time.Millisecond},
		{"Inf", 9500 * time.Millisecond},
		{"+Inf", 9500 * time.Millisecond},
		{"-Inf", 9500 * time.Millisecond},
		{"infinity", 9500 * time.Millisecond},
		{"9.3e9", 9500 * time.Millisecond},
		{"1e10", 9500 * time.Millisecond},
		{"1e300", 9500 * time.Millisecond},
		{"1e-300", 9500 * time.Millisecond},
		{"10", 9500 * time.Millisecond},
		{"9.999", 9499 * time.Millisecond},
		{"0x10", 9500 * time.Millisecond},
		{"5e-324", 9500 * time.Millisecond},
	} {
		h := http.Header{}
		if tc.header != "" {
			h.Set("X-Prometheus-Scrape-Timeout-Seconds", tc.header)
		}
		if got := ScrapeBudget(h, 10*time.Second, 500*time.Millisecond); got != tc.want {
			t.Errorf("header %q: got %v, want %v", tc.header, got, tc.want)
		}
	}
}

func TestOnceLogIsBounded(t *testing.T) {
	o := newOnceLog(2)
	if !o.first("a") || !o.first("b") || o.first("a") {
		t.Fatal("first-time detection broken")
	}
	if o.first("c") {
		t.Error("beyond the bound nothing more is remembered or logged")
	}
}

func TestSharedComputesOncePerScrape(t *testing.T) {
	var calls int
	var mu sync.Mutex
	work := func() (any, error) {
		mu.Lock()
		calls++
		mu.Unlock()
		time.Sleep(10 * time.Millisecond)
		return 42, nil
	}
	user := func(ctx context.Context) {
		v, err := shared(ctx, "walk", work)
		if err != nil || v.(int) != 42 {
			t.Errorf("got %v, %v", v, err)
		}
	}
	e := NewExporter(map[string]Collector{
		"a": &fakeCollector{onStart: user, silent: true},
		"b": &fakeCollector{onStart: user, silent: true},
		"c": &fakeCollector{onStart: user, silent: true},
	}, log.NewNopLogger())
	reg := prometheus.NewRegistry()
	reg.MustRegister(e.Bind(context.Background()))
	for i := 0; i < 2; i++ {
		if _, err := reg.Gather(); err != nil {
			t.Fatal(err)
		}
	}
	if calls != 2 {
		t.Errorf("want one computation per scrape (2), got %d", calls)
	}
}

// Back-to-back scrapes must never see a finished run as still running.
func TestConsecutiveScrapesNeverOverlap(t *testing.T) {
	cols := map[string]Collector{}
	for i := 0; i < 8; i++ {
		cols[fmt.Sprint("c", i)] = &fakeCollector{silent: true}
	}
	e := NewExporter(cols, log.NewNopLogger())
	reg := prometheus.NewRegistry()
	reg.MustRegister(e.Bind(context.Background()))
	for i := 0; i < 2000; i++ {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != "crashguard_scrape_collector_success" {
				continue
			}
			for _, m := range mf.GetMetric() {
				if m.GetGauge().GetValue() != 1 {
					t.Fatalf("scrape %d: a finished run was reported as still running", i)
				}
			}
		}
	}
}

// slowCollector takes a while (honouring ctx) and counts its runs.
type slowCollector struct {
	delay time.Duration
	runs  atomic.Int32
	fail  atomic.Bool
}

var slowDesc = prometheus.NewDesc("crashguard_slow_value", "A value from a slow collector.", nil, nil)

func (s *slowCollector) Describe(ch chan<- *prometheus.Desc) { ch <- slowDesc }

func (s *slowCollector) Update(ctx context.Context, ch chan<- prometheus.Metric) error {
	s.runs.Add(1)
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
		return ctx.Err()
	}
	if s.fail.Load() {
		return errors.New("boom")
	}
	ch <- prometheus.MustNewConstMetric(slowDesc, prometheus.GaugeValue, 7)
	return nil
}

// Simultaneous scrapes (an HA pair of Prometheus servers, or many) must each
// get every collector's full result: they share the run in progress.
func TestSimultaneousScrapesGetFullResults(t *testing.T) {
	for _, n := range []int{2, 10, 50} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			slow := &slowCollector{delay: 50 * time.Millisecond}
			e := NewExporter(map[string]Collector{"slow": slow, "fast": &fakeCollector{value: 1}}, log.NewNopLogger())
			h := NewHandler(e, HandlerOpts{Timeout: 10 * time.Second, Offset: 100 * time.Millisecond}, log.NewNopLogger())
			hdr := http.Header{"X-Prometheus-Scrape-Timeout-Seconds": []string{"10"}}
			bodies := make([]string, n)
			var wg sync.WaitGroup
			startLine := make(chan struct{})
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-startLine
					bodies[i] = scrape(t, h, hdr)
				}()
			}
			close(startLine)
			wg.Wait()
			for i, b := range bodies {
				for _, want := range []string{
					`crashguard_scrape_collector_success{collector="slow"} 1`,
					`crashguard_scrape_collector_success{collector="fast"} 1`,
					"crashguard_slow_value 7",
					"crashguard_fake_value 1",
				} {
					if !strings.Contains(b, want) {
						t.Fatalf("scrape %d of %d lacks %q:\n%s", i, n, want, b)
					}
				}
			}
			if r := slow.runs.Load(); r > int32(n) {
				t.Errorf("%d runs for %d scrapes", r, n)
			}
		})
	}
}

// A scrape with a short deadline that gives up on a run does not keep
// scrapes with longer deadlines from sharing it: only a run that outlived
// its own deadline is refused.
func TestOnlyAnOverdueRunIsRefused(t *testing.T) {
	slow := &slowCollector{delay: 400 * time.Millisecond}
	e := NewExporter(map[string]Collector{"slow": slow}, log.NewNopLogger())
	h := NewHandler(e, HandlerOpts{Timeout: 10 * time.Second, Offset: 0}, log.NewNopLogger())
	long := http.Header{"X-Prometheus-Scrape-Timeout-Seconds": []string{"5"}}
	short := http.Header{"X-Prometheus-Scrape-Timeout-Seconds": []string{"0.05"}}
	first := make(chan string)
	go func() { first <- scrape(t, h, long) }()
	time.Sleep(50 * time.Millisecond) // let the first scrape start the run
	if b := scrape(t, h, short); !strings.Contains(b, `crashguard_scrape_collector_success{collector="slow"} 0`) {
		t.Errorf("a scrape whose deadline passed must report the collector failed:\n%s", b)
	}
	if b := scrape(t, h, long); !strings.Contains(b, `crashguard_scrape_collector_success{collector="slow"} 1`) {
		t.Errorf("a run within its deadline must be shared, not refused:\n%s", b)
	}
	if b := <-first; !strings.Contains(b, `crashguard_scrape_collector_success{collector="slow"} 1`) {
		t.Errorf("first scrape:\n%s", b)
	}
	if r := slow.runs.Load(); r != 1 {
		t.Errorf("%d runs, want the one run shared by all three scrapes", r)
	}
}

// A stuck run is refused only until it returns; then runs start again.
func TestStuckRunRefusedUntilItReturns(t *testing.T) {
	release := make(chan struct{})
	stuck := &fakeCollector{value: 2, block: release}
	e := NewExporter(map[string]Collector{"stuck": stuck}, log.NewNopLogger())
	h := NewHandler(e, HandlerOpts{Timeout: 10 * time.Second, Offset: 0}, log.NewNopLogger())
	hdr := http.Header{"X-Prometheus-Scrape-Timeout-Seconds": []string{"0.1"}}
	for i := 0; i < 3; i++ {
		if b := scrape(t, h, hdr); !strings.Contains(b, `crashguard_scrape_collector_success{collector="stuck"} 0`) {
			t.Fatalf("scrape %d while stuck:\n%s", i, b)
		}
	}
	close(release)
	// Once the stuck run has returned, a scrape starts a fresh run.
	waitUntil(t, func() bool {
		return strings.Contains(scrape(t, h, hdr), `crashguard_scrape_collector_success{collector="stuck"} 1`)
	})
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 30s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A failing collector is logged when it starts failing and when it
// recovers, not on every scrape in between.
func TestFailureLoggedOncePerEpisode(t *testing.T) {
	var logs syncBuffer
	slow := &slowCollector{}
	e := NewExporter(map[string]Collector{"flaky": slow}, log.NewLogfmtLogger(&logs))
	reg := prometheus.NewRegistry()
	reg.MustRegister(e.Bind(context.Background()))
	gather := func(n int) {
		for range n {
			if _, err := reg.Gather(); err != nil {
				t.Fatal(err)
			}
		}
	}
	slow.fail.Store(true)
	gather(5)
	slow.fail.Store(false)
	gather(3)
	slow.fail.Store(true)
	gather(4)
	out := logs.String()
	if n := strings.Count(out, "collector failed"); n != 2 {
		t.Errorf("failure logged %d times over two episodes, want 2:\n%s", n, out)
	}
	if n := strings.Count(out, "collector recovered"); n != 1 {
		t.Errorf("recovery logged %d times, want 1:\n%s", n, out)
	}
}

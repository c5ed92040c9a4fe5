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

// Package collector holds the exporter's collectors and the framework that
// runs them: registration by name with a default, flags parsed into values
// handed to each constructor, concurrent runs bounded by the scrape deadline.
package collector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

const namespace = "crashguard"

// Collector is one group of metrics read from one source.
//
// Update must honour ctx: the framework abandons an Update that outlives the
// scrape deadline, reports it as failed and drops what it sent. A feature the
// host does not have (its files are absent) is not an error: Update returns
// nil and simply omits those metrics.
type Collector interface {
	Describe(ch chan<- *prometheus.Desc)
	Update(ctx context.Context, ch chan<- prometheus.Metric) error
}

// Config is the part of the configuration every collector shares.
type Config struct {
	ProcPath string
	SysPath  string
	RootPath string
}

// Proc joins elements below the procfs mount.
func (c Config) Proc(elem ...string) string {
	return filepath.Join(append([]string{c.ProcPath}, elem...)...)
}

// Sys joins elements below the sysfs mount.
func (c Config) Sys(elem ...string) string {
	return filepath.Join(append([]string{c.SysPath}, elem...)...)
}

// Root joins a host path (absolute or not) below the root filesystem; ".."
// cannot climb above it.
func (c Config) Root(elem ...string) string {
	return filepath.Join(c.RootPath, filepath.Clean("/"+filepath.Join(elem...)))
}

// Trees are the mounts paths are joined below. A file read below one of
// them must resolve inside it (see fsutil.Tree); pass them to NewExporter.
func (c Config) Trees() []string { return []string{c.ProcPath, c.SysPath, c.RootPath} }

// tree is the tree of cfg that path was joined below, for reads outside a
// scrape (collector constructors); nil when none.
func (c Config) tree(path string) *fsutil.Tree { return fsutil.NewTrees(c.Trees()...).Find(path) }

// Factory builds a collector from the shared configuration. Collector-specific
// options are captured by the closure that FlagSetup returns.
type Factory func(cfg Config, logger log.Logger) (Collector, error)

// FlagGroup is the part of kingpin a collector needs to declare its flags.
type FlagGroup interface {
	Flag(name, help string) *kingpin.FlagClause
}

// FlagSetup declares a collector's own flags and returns the factory that
// reads their parsed values.
type FlagSetup func(app FlagGroup) Factory

type registration struct {
	name    string
	enabled bool
	setup   FlagSetup
}

// The table of known collectors is static, filled by each collector file's
// init; configuration never lives in package state.
var registrations = map[string]registration{}

func registerCollector(name string, enabledByDefault bool, setup FlagSetup) {
	if _, dup := registrations[name]; dup {
		panic("collector registered twice: " + name)
	}
	registrations[name] = registration{name: name, enabled: enabledByDefault, setup: setup}
}

// Names returns every known collector name, sorted.
func Names() []string {
	names := make([]string, 0, len(registrations))
	for n := range registrations {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Selection is the parsed --collector.* flags of one application.
type Selection struct {
	enabled         map[string]*bool
	explicit        map[string]bool
	factories       map[string]Factory
	disableDefaults *bool
}

// AddFlags declares --collector.NAME, --no-collector.NAME (kingpin's negation),
// --collector.disable-defaults and every collector's own flags on app.
func AddFlags(app FlagGroup) *Selection {
	s := &Selection{
		enabled:   map[string]*bool{},
		explicit:  map[string]bool{},
		factories: map[string]Factory{},
	}
	for _, name := range Names() {
		r := registrations[name]
		def := "disabled"
		if r.enabled {
			def = "enabled"
		}
		s.enabled[name] = app.Flag("collector."+name, fmt.Sprintf("Enable the %s collector (default: %s).", name, def)).
			Default(fmt.Sprint(r.enabled)).
			Action(func(*kingpin.ParseContext) error { s.explicit[name] = true; return nil }).
			Bool()
		s.factories[name] = r.setup(app)
	}
	s.disableDefaults = app.Flag("collector.disable-defaults",
		"Disable all collectors that are not explicitly enabled with --collector.NAME.").Default("false").Bool()
	return s
}

// Enabled lists the collectors the flags turned on, sorted.
func (s *Selection) Enabled() []string {
	var out []string
	for _, name := range Names() {
		on := *s.enabled[name]
		if *s.disableDefaults && !s.explicit[name] {
			on = false
		}
		if on {
			out = append(out, name)
		}
	}
	return out
}

// Build constructs the enabled collectors.
func (s *Selection) Build(cfg Config, logger log.Logger) (map[string]Collector, error) {
	out := map[string]Collector{}
	for _, name := range s.Enabled() {
		c, err := s.factories[name](cfg, log.With(logger, "collector", name))
		if err != nil {
			return nil, fmt.Errorf("collector %s: %w", name, err)
		}
		out[name] = c
	}
	return out, nil
}

var (
	scrapeDurationDesc = prometheus.NewDesc(
		prometheus.BuildFQName(namespace, "scrape", "collector_duration_seconds"),
		"Time a collector took in this scrape (up to the scrape deadline if it missed it).",
		[]string{"collector"}, nil)
	scrapeSuccessDesc = prometheus.NewDesc(
		prometheus.BuildFQName(namespace, "scrape", "collector_success"),
		"1 if the collector succeeded in this scrape; 0 if it failed or missed the scrape deadline. A feature the host lacks is not a failure.",
		[]string{"collector"}, nil)
	scrapeFileErrorsDesc = prometheus.NewDesc(
		prometheus.BuildFQName(namespace, "scrape", "collector_file_errors"),
		"Files or directories a collector could not use in this scrape, by reason (permission, too_large, not_regular, symlink, garbage, timeout, io). Only non-zero reasons are exported; each path is logged once.",
		[]string{"collector", "reason"}, nil)
)

// errStillRunning marks a collector whose run outlived its deadline and has
// not returned: starting another would pile up goroutines behind a hung
// filesystem, so later scrapes report it failed at once until it returns.
var errStillRunning = errors.New("previous run still in progress after missing its deadline")

// Exporter runs the enabled collectors.
type Exporter struct {
	names      []string
	collectors map[string]Collector
	logger     log.Logger
	logged     *onceLog
	trees      fsutil.Trees

	mu      sync.Mutex
	flights map[string]*flight // the run in progress per collector
	failing map[string]bool    // collectors whose last result was a failure
}

// flight is one Update of one collector. Every scrape that wants the
// collector while it runs waits for this run instead of starting another:
// simultaneous scrapes (an HA pair of Prometheus servers) all get its full
// result, and a collector never runs twice at once.
type flight struct {
	started  time.Time
	deadline time.Time // the run's own deadline; zero when it has none
	issues   *issues   // the run's file errors so far
	done     chan struct{}
	res      result // set before done is closed
}

// overdue reports whether the run has outlived its own deadline.
func (f *flight) overdue(now time.Time) bool {
	return !f.deadline.IsZero() && now.After(f.deadline)
}

// NewExporter wraps the collectors. trees (normally Config.Trees) are the
// mounts their files are read below: during a scrape a file read below one
// of them that resolves outside it is refused and reported as a "symlink"
// file error. Without trees nothing is checked.
func NewExporter(collectors map[string]Collector, logger log.Logger, trees ...string) *Exporter {
	e := &Exporter{
		collectors: collectors,
		logger:     logger,
		logged:     newOnceLog(10000),
		flights:    map[string]*flight{},
		failing:    map[string]bool{},
		trees:      fsutil.NewTrees(trees...),
	}
	for name := range collectors {
		e.names = append(e.names, name)
	}
	sort.Strings(e.names)
	return e
}

// Describe sends the framework's descriptors and every collector's.
func (e *Exporter) Describe(ch chan<- *prometheus.Desc) {
	ch <- scrapeDurationDesc
	ch <- scrapeSuccessDesc
	ch <- scrapeFileErrorsDesc
	for _, name := range e.names {
		e.collectors[name].Describe(ch)
	}
}

// Close releases every collector that holds resources (the kernel log
// follower saves its position), waiting at most until ctx ends. It is meant
// for shutdown, after the server stopped serving scrapes.
func (e *Exporter) Close(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make([]error, len(e.names))
	for i, name := range e.names {
		c, ok := e.collectors[name].(io.Closer)
		if !ok {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Close(); err != nil {
				errs[i] = fmt.Errorf("collector %s: %w", name, err)
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return errors.Join(errs...)
	case <-ctx.Done():
		return fmt.Errorf("closing collectors: %w", ctx.Err())
	}
}

// Bind returns a prometheus.Collector whose Collect runs every collector
// under ctx's deadline.
func (e *Exporter) Bind(ctx context.Context) prometheus.Collector {
	return &boundExporter{e: e, ctx: ctx}
}

type boundExporter struct {
	e   *Exporter
	ctx context.Context
}

func (b *boundExporter) Describe(ch chan<- *prometheus.Desc) { b.e.Describe(ch) }

func (b *boundExporter) Collect(ch chan<- prometheus.Metric) { b.e.collect(b.ctx, ch) }

type result struct {
	metrics  []prometheus.Metric
	err      error
	duration time.Duration
	issues   map[string]int
}

func (e *Exporter) collect(ctx context.Context, ch chan<- prometheus.Metric) {
	ctx = withShared(ctx)
	if len(e.trees) > 0 {
		ctx = context.WithValue(ctx, treesKey{}, e.trees)
	}
	results := make([]result, len(e.names))
	var wg sync.WaitGroup
	for i, name := range e.names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = e.run(ctx, name)
		}()
	}
	wg.Wait()
	for i, name := range e.names {
		r := results[i]
		success := 1.0
		if r.err != nil {
			success = 0
		} else {
			for _, m := range r.metrics {
				ch <- m
			}
		}
		e.logEpisode(name, r)
		ch <- prometheus.MustNewConstMetric(scrapeDurationDesc, prometheus.GaugeValue, r.duration.Seconds(), name)
		ch <- prometheus.MustNewConstMetric(scrapeSuccessDesc, prometheus.GaugeValue, success, name)
		reasons := make([]string, 0, len(r.issues))
		for reason := range r.issues {
			reasons = append(reasons, reason)
		}
		sort.Strings(reasons)
		for _, reason := range reasons {
			ch <- prometheus.MustNewConstMetric(scrapeFileErrorsDesc, prometheus.GaugeValue, float64(r.issues[reason]), name, reason)
		}
	}
}

// logEpisode logs a collector's failure when it starts failing and its
// recovery when it succeeds again, not every scrape in between.
func (e *Exporter) logEpisode(name string, r result) {
	e.mu.Lock()
	was := e.failing[name]
	now := r.err != nil
	e.failing[name] = now
	e.mu.Unlock()
	switch {
	case now && !was:
		level.Warn(e.logger).Log("msg", "collector failed; not logged again until it recovers (crashguard_scrape_collector_success 0)", "collector", name, "duration_seconds", r.duration.Seconds(), "err", r.err)
	case !now && was:
		level.Info(e.logger).Log("msg", "collector recovered", "collector", name)
	}
}

// run returns the result of one run of the collector: the one in progress
// if there is one (unless it outlived its deadline), else a new one. It
// waits no longer than ctx allows.
func (e *Exporter) run(ctx context.Context, name string) result {
	start := time.Now()
	e.mu.Lock()
	f := e.flights[name]
	if f != nil && f.overdue(start) {
		e.mu.Unlock()
		return result{err: errStillRunning}
	}
	if f == nil {
		f = e.launch(ctx, name)
	}
	e.mu.Unlock()
	select {
	case <-f.done:
		return f.res
	case <-ctx.Done():
		return result{err: fmt.Errorf("missed the scrape deadline: %w", ctx.Err()), duration: time.Since(f.started), issues: f.issues.snapshot()}
	}
}

// launch starts a run of the collector; e.mu is held. The run keeps the
// values of the scrape that started it (the per-scrape memo) and its
// deadline, but not its cancellation: a scraper that disconnects does not
// cut short a run that other scrapes are waiting for. The run's metrics are
// buffered, so a run abandoned at the deadline contributes nothing
// half-done.
func (e *Exporter) launch(ctx context.Context, name string) *flight {
	f := &flight{started: time.Now(), done: make(chan struct{})}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	if dl, ok := ctx.Deadline(); ok {
		f.deadline = dl
		rctx, cancel = context.WithDeadline(context.WithoutCancel(ctx), dl)
	}
	iss := &issues{collector: name, logger: e.logger, once: e.logged}
	f.issues = iss
	rctx = context.WithValue(rctx, issuesKey{}, iss)
	e.flights[name] = f
	go func() {
		defer cancel()
		mch := make(chan prometheus.Metric, 256)
		errc := make(chan error, 1)
		go func() {
			var err error
			defer func() {
				if p := recover(); p != nil {
					err = fmt.Errorf("collector panicked: %v", p)
				}
				close(mch)
				errc <- err
			}()
			err = e.collectors[name].Update(rctx, mch)
		}()
		var metrics []prometheus.Metric
		for m := range mch {
			metrics = append(metrics, m)
		}
		res := result{metrics: metrics, err: <-errc, duration: time.Since(f.started), issues: iss.snapshot()}
		// Forget the run before its result is seen, so that a scrape
		// following at once starts a fresh run rather than joining this one.
		e.mu.Lock()
		delete(e.flights, name)
		e.mu.Unlock()
		f.res = res
		close(f.done)
	}()
	return f
}

type issuesKey struct{}

type treesKey struct{}

// treeFor is the tree of this scrape that path was joined below; nil (no
// containment check) outside a scrape with trees, or for a path below none.
func treeFor(ctx context.Context, path string) *fsutil.Tree {
	ts, _ := ctx.Value(treesKey{}).(fsutil.Trees)
	return ts.Find(path)
}

// issues counts, per scrape, the files a collector could not use.
type issues struct {
	collector string
	logger    log.Logger
	once      *onceLog
	mu        sync.Mutex
	counts    map[string]int
}

func (i *issues) snapshot() map[string]int {
	i.mu.Lock()
	defer i.mu.Unlock()
	out := make(map[string]int, len(i.counts))
	for k, v := range i.counts {
		out[k] = v
	}
	return out
}

// reportFileError records that path could not be used for reason. It is
// logged once per path and reason for the life of the process and counted in
// every scrape it happens in.
func reportFileError(ctx context.Context, path, reason string, err error) {
	i, _ := ctx.Value(issuesKey{}).(*issues)
	if i == nil {
		return
	}
	i.mu.Lock()
	if i.counts == nil {
		i.counts = map[string]int{}
	}
	i.counts[reason]++
	i.mu.Unlock()
	if i.once.first(i.collector + "\x00" + path + "\x00" + reason) {
		level.Warn(i.logger).Log("msg", "cannot use file; reported in crashguard_scrape_collector_file_errors and not logged again", "collector", i.collector, "path", path, "reason", reason, "err", err)
	}
}

// onceLog remembers which messages were logged, up to a bound so that a
// flood of distinct paths cannot grow memory without limit.
type onceLog struct {
	mu   sync.Mutex
	max  int
	seen map[string]struct{}
}

func newOnceLog(max int) *onceLog { return &onceLog{max: max, seen: map[string]struct{}{}} }

func (o *onceLog) first(key string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.seen[key]; ok {
		return false
	}
	if len(o.seen) >= o.max {
		return false
	}
	o.seen[key] = struct{}{}
	return true
}

// shortErr keeps label values and log lines bounded.
func shortErr(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return s[:n]
	}
	return s
}

func fmtArgs(v []interface{}) string { return shortErr(fmt.Sprint(v...), 500) }

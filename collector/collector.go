// Package collector holds the exporter's collectors and the framework that
// runs them: registration by name with a default, flags parsed into values
// handed to each constructor, concurrent runs bounded by the scrape deadline.
package collector

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
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

// errStillRunning marks a collector whose previous Update has not returned:
// starting another would pile up goroutines behind a hung filesystem.
var errStillRunning = errors.New("previous run still in progress after missing its deadline")

// Exporter runs the enabled collectors.
type Exporter struct {
	names      []string
	collectors map[string]Collector
	running    map[string]*atomic.Bool
	logger     log.Logger
	logged     *onceLog
	trees      fsutil.Trees
}

// NewExporter wraps the collectors. trees (normally Config.Trees) are the
// mounts their files are read below: during a scrape a file read below one
// of them that resolves outside it is refused and reported as a "symlink"
// file error. Without trees nothing is checked.
func NewExporter(collectors map[string]Collector, logger log.Logger, trees ...string) *Exporter {
	e := &Exporter{
		collectors: collectors,
		running:    map[string]*atomic.Bool{},
		logger:     logger,
		logged:     newOnceLog(10000),
		trees:      fsutil.NewTrees(trees...),
	}
	for name := range collectors {
		e.names = append(e.names, name)
		e.running[name] = new(atomic.Bool)
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
			level.Warn(e.logger).Log("msg", "collector failed", "collector", name, "duration_seconds", r.duration.Seconds(), "err", r.err)
		} else {
			for _, m := range r.metrics {
				ch <- m
			}
		}
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

// run executes one collector, buffering its metrics so that a collector
// abandoned at the deadline contributes nothing half-done.
func (e *Exporter) run(ctx context.Context, name string) result {
	start := time.Now()
	guard := e.running[name]
	if !guard.CompareAndSwap(false, true) {
		return result{err: errStillRunning}
	}
	iss := &issues{collector: name, logger: e.logger, once: e.logged}
	cctx := context.WithValue(ctx, issuesKey{}, iss)
	mch := make(chan prometheus.Metric, 256)
	done := make(chan error, 1)
	go func() {
		var err error
		func() {
			defer func() {
				if p := recover(); p != nil {
					err = fmt.Errorf("collector panicked: %v", p)
				}
			}()
			err = e.collectors[name].Update(cctx, mch)
		}()
		// Free the guard before the result is seen, so that a scrape
		// following at once never finds this finished run still "running".
		guard.Store(false)
		close(mch)
		done <- err
	}()
	var metrics []prometheus.Metric
	for {
		select {
		case m, ok := <-mch:
			if ok {
				metrics = append(metrics, m)
				continue
			}
			err := <-done
			return result{metrics: metrics, err: err, duration: time.Since(start), issues: iss.snapshot()}
		case <-ctx.Done():
			// Keep draining so the abandoned Update never blocks on send.
			go func() {
				for range mch {
				}
			}()
			return result{err: fmt.Errorf("missed the scrape deadline: %w", ctx.Err()), duration: time.Since(start), issues: iss.snapshot()}
		}
	}
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

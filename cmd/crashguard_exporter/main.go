// Command crashguard_exporter exposes Linux crash readiness, crash evidence
// and container-host failure signals as Prometheus metrics.
package main

import (
	"fmt"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/crashguard/crashguard_exporter/collector"
	"github.com/crashguard/crashguard_exporter/internal/logging"
)

const name = "crashguard_exporter"

// defaultGCPercent is used unless GOGC is set. A scrape allocates mostly
// short-lived metrics over a small live heap; halving the collector's
// headroom keeps resident memory low on hosts with thousands of cgroups for
// a few extra, cheap collections.
const defaultGCPercent = 50

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	app := kingpin.New(name, "Prometheus exporter for Linux crash readiness, crash evidence and container-host failure signals.")
	var (
		metricsPath = app.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").String()
		maxRequests = app.Flag("web.max-requests", "Maximum number of parallel scrape requests. Use 0 to disable.").Default("40").Int()
		noExporter  = app.Flag("web.disable-exporter-metrics", "Exclude metrics about the exporter itself (process_*, go_*).").Bool()
		timeout     = app.Flag("scrape.timeout", "Scrape deadline when the scraper sends no X-Prometheus-Scrape-Timeout-Seconds header; also caps that header.").Default("10s").Duration()
		offset      = app.Flag("scrape.timeout-offset", "Time kept back from the scraper's timeout so the response arrives before it gives up.").Default("500ms").Duration()
		procPath    = app.Flag("path.procfs", "procfs mountpoint.").Default("/proc").String()
		sysPath     = app.Flag("path.sysfs", "sysfs mountpoint.").Default("/sys").String()
		rootPath    = app.Flag("path.rootfs", "Root of the host filesystem (configuration files, crash directories), e.g. /host in a container.").Default("/").String()
		webFlags    = kingpinflag.AddFlags(app, ":9865")
		logCfg      = logging.AddFlags(app)
	)
	selection := collector.AddFlags(app)
	app.Version(version.Print(name))
	app.HelpFlag.Short('h')
	if _, err := app.Parse(args); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	logger, slogBase, err := logging.New(os.Stderr, *logCfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	level.Info(logger).Log("msg", "Starting "+name, "version", version.Info())
	level.Info(logger).Log("msg", "Build context", "build_context", version.BuildContext())
	// The effective uid, not user.Current: that reads /etc/passwd, which
	// nothing at start-up may depend on.
	if os.Geteuid() == 0 {
		level.Warn(logger).Log("msg", "Running as root; the README lists the capabilities each collector needs instead.")
	}

	cfg := collector.Config{ProcPath: *procPath, SysPath: *sysPath, RootPath: *rootPath}
	enabled := selection.Enabled()
	level.Info(logger).Log("msg", "Enabled collectors", "collectors", strings.Join(enabled, ","))
	cols, err := selection.Build(cfg, logger)
	if err != nil {
		level.Error(logger).Log("msg", "Cannot create collectors", "err", err)
		return 1
	}
	exporter := collector.NewExporter(cols, logger, cfg.Trees()...)

	own := prometheus.NewRegistry()
	own.MustRegister(versioncollector.NewCollector("crashguard"))
	if !*noExporter {
		own.MustRegister(
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
			collectors.NewGoCollector(),
		)
	}
	var metrics http.Handler = collector.NewHandler(exporter, collector.HandlerOpts{
		Timeout: *timeout,
		Offset:  *offset,
		Extra:   own,
	}, logger)
	if *maxRequests > 0 {
		metrics = limitRequests(metrics, *maxRequests)
	}

	mux := http.NewServeMux()
	mux.Handle(*metricsPath, metrics)
	if *metricsPath != "/" {
		landing, err := web.NewLandingPage(web.LandingConfig{
			Name:        "Crashguard Exporter",
			Description: "Prometheus exporter for Linux crash readiness, crash evidence and container-host failure signals",
			Version:     version.Info(),
			Profiling:   "false",
			Links: []web.LandingLinks{
				{Address: *metricsPath, Text: "Metrics"},
			},
		})
		if err != nil {
			level.Error(logger).Log("msg", "Cannot build landing page", "err", err)
			return 1
		}
		mux.Handle("/", landing)
	}

	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if err := web.ListenAndServe(srv, webFlags, logging.Slog(slogBase, *logCfg)); err != nil {
		level.Error(logger).Log("msg", "Server stopped", "err", err)
		return 1
	}
	return 0
}

// limitRequests answers 503 beyond n concurrent scrapes rather than queueing
// them behind a slow one.
func limitRequests(next http.Handler, n int) http.Handler {
	sem := make(chan struct{}, n)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case sem <- struct{}{}:
			defer func() { <-sem }()
			next.ServeHTTP(w, r)
		default:
			http.Error(w, fmt.Sprintf("too many concurrent scrapes (limit %d)", n), http.StatusServiceUnavailable)
		}
	})
}

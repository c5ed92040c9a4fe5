// Command crashguard_exporter exposes Linux crash readiness, crash evidence
// and container-host failure signals as Prometheus metrics.
package main

import (
	"context"
	"errors"
	"fmt"
	stdlog "log"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log"
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

// closeTimeout bounds how long shutdown waits for collectors to release
// their resources (the kernel log follower saving its position).
const closeTimeout = 5 * time.Second

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	// SIGTERM and SIGINT shut down gracefully; a second one kills at once,
	// because stop() restores the default action.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := run(ctx, os.Args[1:], stop)
	stop()
	os.Exit(code)
}

// run serves until ctx ends, then shuts down: it stops accepting, lets the
// scrapes in flight finish within their deadline, closes the collectors and
// returns 0. onShutdown is called when shutdown begins.
func run(ctx context.Context, args []string, onShutdown func()) int {
	app := kingpin.New(name, "Prometheus exporter for Linux crash readiness, crash evidence and container-host failure signals.")
	var (
		metricsPath = app.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").String()
		maxRequests = app.Flag("web.max-requests", "Maximum number of parallel scrape requests. Use 0 to disable.").Default("40").Int()
		noExporter  = app.Flag("web.disable-exporter-metrics", "Exclude metrics about the exporter itself (process_*, go_*).").Bool()
		timeout     = app.Flag("scrape.timeout", "Scrape deadline when the scraper sends no X-Prometheus-Scrape-Timeout-Seconds header; also caps that header.").Default("10s").Duration()
		offset      = app.Flag("scrape.timeout-offset", "Time kept back from the scraper's timeout so the response arrives before it gives up.").Default("500ms").Duration()
		idleTimeout = app.Flag("web.idle-timeout", "Close keep-alive connections idle for this long.").Default("2m").Duration()
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
	if *timeout <= 0 || *offset < 0 || *idleTimeout <= 0 {
		fmt.Fprintln(os.Stderr, "--scrape.timeout and --web.idle-timeout must be positive, --scrape.timeout-offset not negative")
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

	srv := &http.Server{
		Handler:           onlyGetAndHead(mux),
		ReadHeaderTimeout: 10 * time.Second,
		// Responses other than /metrics (which sets its own write deadline
		// from the scraper's timeout) get the longest scrape timeout.
		WriteTimeout: *timeout,
		IdleTimeout:  *idleTimeout,
		// Connection-level errors (TLS handshakes) go to the structured log.
		ErrorLog: stdlog.New(logWriter{level.Warn(logger)}, "", 0),
	}
	served := make(chan error, 1)
	go func() { served <- web.ListenAndServe(srv, webFlags, logging.Slog(slogBase, *logCfg)) }()
	select {
	case err := <-served:
		level.Error(logger).Log("msg", "Server stopped", "err", err)
		closeCollectors(exporter, logger)
		return 1
	case <-ctx.Done():
	}
	onShutdown()
	level.Info(logger).Log("msg", "Shutting down: no new connections; waiting for scrapes in flight", "bound", *timeout)
	sctx, cancel := context.WithTimeout(context.Background(), *timeout+time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		level.Warn(logger).Log("msg", "Scrapes still in flight at the shutdown bound; closing their connections", "err", err)
		srv.Close()
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		level.Warn(logger).Log("msg", "Server stopped with an error", "err", err)
	}
	if !closeCollectors(exporter, logger) {
		return 1
	}
	level.Info(logger).Log("msg", "Stopped")
	return 0
}

// closeCollectors releases the collectors within closeTimeout.
func closeCollectors(e *collector.Exporter, logger log.Logger) bool {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	if err := e.Close(ctx); err != nil {
		level.Error(logger).Log("msg", "Cannot close collectors", "err", err)
		return false
	}
	return true
}

// onlyGetAndHead answers every other method with 405: the exporter only
// serves reads.
func onlyGetAndHead(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// logWriter turns the standard library's log lines into structured ones.
type logWriter struct{ l log.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	w.l.Log("msg", "HTTP server error", "err", strings.TrimSpace(string(p)))
	return len(p), nil
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

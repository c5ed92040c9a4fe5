package collector

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// HandlerOpts configures the metrics handler.
type HandlerOpts struct {
	// MaxRequests bounds concurrent scrapes; 0 means no bound.
	MaxRequests int
	// Timeout is used when the scraper sends no
	// X-Prometheus-Scrape-Timeout-Seconds header, and caps the header's value.
	Timeout time.Duration
	// Offset is kept back from the scraper's timeout so that the response,
	// rendered after the deadline, still reaches it in time.
	Offset time.Duration
	// Extra is gathered alongside the collectors (process, Go, build info).
	Extra prometheus.Gatherer
}

// NewHandler serves the collectors' metrics, each scrape under a deadline
// derived from the scraper's timeout.
func NewHandler(e *Exporter, opts HandlerOpts, logger log.Logger) http.Handler {
	return &handler{e: e, opts: opts, logger: logger}
}

type handler struct {
	e      *Exporter
	opts   HandlerOpts
	logger log.Logger
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), ScrapeBudget(r.Header, h.opts.Timeout, h.opts.Offset))
	defer cancel()
	reg := prometheus.NewRegistry()
	if err := reg.Register(h.e.Bind(ctx)); err != nil {
		level.Error(h.logger).Log("msg", "cannot register collectors", "err", err)
		http.Error(w, "cannot register collectors: "+err.Error(), http.StatusInternalServerError)
		return
	}
	gatherers := prometheus.Gatherers{reg}
	if h.opts.Extra != nil {
		gatherers = append(gatherers, h.opts.Extra)
	}
	promhttp.HandlerFor(gatherers, promhttp.HandlerOpts{
		ErrorLog:      promLogger{h.logger},
		ErrorHandling: promhttp.ContinueOnError,
	}).ServeHTTP(w, r)
}

// ScrapeBudget is the time a scrape may take: the scraper's timeout from the
// X-Prometheus-Scrape-Timeout-Seconds header less offset, and never less
// than a tenth of the timeout. A header that is absent, unparsable, NaN,
// infinite, zero (or below a nanosecond), negative or above max counts as max, so no header can
// lift or overflow the deadline.
func ScrapeBudget(h http.Header, max, offset time.Duration) time.Duration {
	timeout := max
	if v := h.Get("X-Prometheus-Scrape-Timeout-Seconds"); v != "" {
		// Compared as floats: converting a huge or infinite value to a
		// Duration first would overflow.
		if s, err := strconv.ParseFloat(v, 64); err == nil && s > 0 && s < max.Seconds() {
			if d := time.Duration(s * float64(time.Second)); d > 0 {
				timeout = d
			}
		}
	}
	budget := timeout - offset
	if budget < timeout/10 {
		budget = timeout / 10
	}
	return budget
}

type promLogger struct{ l log.Logger }

func (p promLogger) Println(v ...interface{}) {
	level.Error(p.l).Log("msg", "error gathering metrics", "err", fmtArgs(v))
}

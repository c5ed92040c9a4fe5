package collector

import (
	"context"
	"net/http"
	"strconv"
	"strings"
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
	timeout := scrapeTimeout(r.Header, h.opts.Timeout)
	ctx, cancel := context.WithTimeout(r.Context(), budget(timeout, h.opts.Offset))
	defer cancel()
	// A client that never reads its response must not hold the connection,
	// the handler and a --web.max-requests slot past the scraper's own
	// timeout; by then the scraper has given up anyway.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(timeout))
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
	errs := &responseErrors{}
	promhttp.HandlerFor(gatherers, promhttp.HandlerOpts{
		ErrorLog:      errs,
		ErrorHandling: promhttp.ContinueOnError,
	}).ServeHTTP(w, r)
	errs.log(h.logger, r)
}

// responseErrors gathers what promhttp reports while serving one response:
// it reports a failed write once per metric family, so a scraper that went
// away would otherwise produce a hundred lines for one response.
type responseErrors struct {
	n      int
	first  string
	gather bool // the registry itself failed, not the client
}

func (e *responseErrors) Println(v ...interface{}) {
	msg := fmtArgs(v)
	if e.n == 0 {
		e.first = msg
	}
	e.n++
	e.gather = e.gather || strings.HasPrefix(msg, "error gathering metrics")
}

// log writes one line for a response that had errors.
func (e *responseErrors) log(logger log.Logger, r *http.Request) {
	if e.n == 0 {
		return
	}
	if e.gather {
		level.Error(logger).Log("msg", "error gathering metrics", "err", e.first, "errors", e.n)
		return
	}
	level.Warn(logger).Log("msg", "could not send the whole response; the scraper may have gone away or timed out", "remote", r.RemoteAddr, "err", e.first, "errors", e.n)
}

// ScrapeBudget is the time a scrape may take: the scraper's timeout from the
// X-Prometheus-Scrape-Timeout-Seconds header less offset, and never less
// than a tenth of the timeout. A header that is absent, unparsable, NaN,
// infinite, zero (or below a nanosecond), negative or above max counts as
// max, so no header can lift or overflow the deadline.
func ScrapeBudget(h http.Header, max, offset time.Duration) time.Duration {
	return budget(scrapeTimeout(h, max), offset)
}

// scrapeTimeout is the scraper's timeout, as ScrapeBudget explains.
func scrapeTimeout(h http.Header, max time.Duration) time.Duration {
	v := h.Get("X-Prometheus-Scrape-Timeout-Seconds")
	if v == "" {
		return max
	}
	// Compared as floats: converting a huge or infinite value to a Duration
	// first would overflow.
	s, err := strconv.ParseFloat(v, 64)
	if err != nil || !(s > 0) || s >= max.Seconds() {
		return max
	}
	if d := time.Duration(s * float64(time.Second)); d > 0 {
		return d
	}
	return max
}

func budget(timeout, offset time.Duration) time.Duration {
	b := timeout - offset
	if b < timeout/10 {
		b = timeout / 10
	}
	return b
}

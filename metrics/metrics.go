// Package metrics owns every Prometheus series cashpool exports. It observes the pipeline through
// batch.Observer and the broker through an http.RoundTripper and hooks the command wires in, so
// no pipeline package depends on Prometheus. Its series live on registries of its own, never the
// global default: serve exposes them on /metrics, a one-shot command writes them to a
// node_exporter textfile or pushes them to a Pushgateway.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cashpool/cashpool/alpaca"
	"github.com/cashpool/cashpool/batch"
	"github.com/cashpool/cashpool/batch/ingest"
	"github.com/cashpool/cashpool/reconcile"
)

// SweepLabel is the label naming the sweep account of a night's series (and the Pushgateway
// grouping key).
const SweepLabel = "sweep_account"

// Build is what the binary was built from, as `cashpool version` prints it.
type Build struct {
	Version, Revision, GoVersion string
}

// Metrics holds the series. It is safe for concurrent use.
type Metrics struct {
	own     *prometheus.Registry // cashpool_ series: /metrics, textfile, Pushgateway
	runtime *prometheus.Registry // Go runtime and process: /metrics only (node_exporter and the Pushgateway have their own)

	lastSuccess, lastFailure *prometheus.GaugeVec
	reportExit, balanced     *prometheus.GaugeVec
	journals, amount, totals *prometheus.GaugeVec
	exceptions, unfinished   *prometheus.GaugeVec
	step                     *prometheus.HistogramVec
	files                    *prometheus.CounterVec
	brokerDuration           *prometheus.HistogramVec
	brokerRequests           *prometheus.CounterVec
	brokerErrors             *prometheus.CounterVec
	rateWaits, rateWaitSecs  prometheus.Counter
	reconnects               prometheus.Counter
	heals                    *prometheus.CounterVec
	leader                   prometheus.Gauge
}

var _ batch.Observer = (*Metrics)(nil)

// New registers every series; build info is set at once.
func New(b Build) *Metrics {
	m := &Metrics{own: prometheus.NewRegistry(), runtime: prometheus.NewRegistry()}
	m.runtime.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f := factory{m.own}
	night := []string{SweepLabel}

	m.lastSuccess = f.gauge("cashpool_night_last_success_timestamp_seconds", "When a night of the sweep account last finished (report written, run marked finished), exceptions or not.", night)
	m.lastFailure = f.gauge("cashpool_night_last_failure_timestamp_seconds", "When a run of the sweep account last stopped with an error (exit 1 or 2).", night)
	m.reportExit = f.gauge("cashpool_night_report_exit_code", "Exit status of the last finished night's report: 0 nothing to do, 3 exceptions for a person.", night)
	m.balanced = f.gauge("cashpool_night_balanced", "1 when the last finished night's totals balance to the cent, 0 otherwise.", night)
	m.journals = f.gauge("cashpool_night_journals", "Journals of the last finished night by status (executed, failed, in_flight); they add up to the planned journals.", []string{SweepLabel, "status"})
	m.amount = f.gauge("cashpool_night_journal_amount_usd", "Amount of the last finished night's journals by status (executed, failed, in_flight), in USD.", []string{SweepLabel, "status"})
	m.totals = f.gauge("cashpool_night_total_usd", "Control totals of the last finished night (receipts, allocated, unallocated, held, planned), in USD.", []string{SweepLabel, "total"})
	m.exceptions = f.gauge("cashpool_night_exceptions", "Rows of the last finished night's report by exception kind.", []string{SweepLabel, "kind"})
	m.unfinished = f.gauge("cashpool_unfinished_nights", "Earlier nights of the sweep account whose run is not finished, counted after each run.", night)
	m.step = f.histogram("cashpool_step_duration_seconds", "Time one pipeline step took (ingest, plan, submit, track, reconcile).", []string{"step"},
		[]float64{0.1, 0.5, 1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14400, 21600})
	m.files = f.counter("cashpool_files_total", "Drop-folder files by what ingest did with them: loaded (taken) or rejected, duplicate, changed-while-read (refused).", []string{"outcome"})
	m.brokerDuration = f.histogram("cashpool_broker_request_duration_seconds", "Time to the answer's headers of one HTTP attempt to Alpaca, by endpoint template and method.", []string{"endpoint", "method"},
		[]float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30})
	m.brokerRequests = f.counter("cashpool_broker_requests_total", "HTTP attempts to Alpaca (retries included) by endpoint template, method and HTTP code (no_answer: no HTTP answer).", []string{"endpoint", "method", "code"})
	m.brokerErrors = f.counter("cashpool_broker_request_errors_total", "HTTP attempts to Alpaca that got no 2xx answer, by endpoint template and HTTP code (no_answer: timeout, reset, refused).", []string{"endpoint", "code"})
	m.rateWaits = f.counter("cashpool_broker_rate_limit_waits_total", "Pauses the broker's rate limit imposed (pacing within the announced budget, or a 429's reset).", nil).WithLabelValues()
	m.rateWaitSecs = f.counter("cashpool_broker_rate_limit_wait_seconds_total", "Time spent in those pauses.", nil).WithLabelValues()
	m.reconnects = f.counter("cashpool_track_stream_reconnects_total", "Reconnects of Alpaca's journal event stream while tracking.", nil).WithLabelValues()
	m.heals = f.counter("cashpool_track_heal_passes_total", "Heal passes (journals looked up by id or listed) while tracking, by reason.", []string{"reason"})
	m.leader = f.gauge("cashpool_leader", "1 when this serve replica holds the runner lock.", nil).WithLabelValues()
	f.gauge("cashpool_build_info", "What the binary was built from (always 1), as `cashpool version` prints it.", []string{"version", "revision", "goversion"}).
		WithLabelValues(b.Version, b.Revision, b.GoVersion).Set(1)
	return m
}

// factory registers on one registry.
type factory struct{ r *prometheus.Registry }

func (f factory) gauge(name, help string, labels []string) *prometheus.GaugeVec {
	v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	f.r.MustRegister(v)
	return v
}

func (f factory) counter(name, help string, labels []string) *prometheus.CounterVec {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	f.r.MustRegister(v)
	return v
}

func (f factory) histogram(name, help string, labels []string, buckets []float64) *prometheus.HistogramVec {
	v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
	f.r.MustRegister(v)
	return v
}

// Gatherer gathers everything: cashpool's series, the Go runtime's and the process's.
func (m *Metrics) Gatherer() prometheus.Gatherer { return prometheus.Gatherers{m.own, m.runtime} }

// Handler serves Gatherer in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Gatherer(), promhttp.HandlerOpts{})
}

// Leader records whether this replica holds the runner lock.
func (m *Metrics) Leader(held bool) {
	if held {
		m.leader.Set(1)
	} else {
		m.leader.Set(0)
	}
}

// Step implements batch.Observer.
func (m *Metrics) Step(step string, d time.Duration) {
	m.step.WithLabelValues(step).Observe(d.Seconds())
}

// Files implements batch.Observer: files not known to be complete yet, or of no kind, are neither
// taken nor refused.
func (m *Metrics) Files(res ingest.Result) {
	for _, f := range res.Files {
		switch f.Outcome {
		case ingest.OutcomeLoaded, ingest.OutcomeRejected, ingest.OutcomeDuplicate, ingest.OutcomeChanged:
			m.files.WithLabelValues(string(f.Outcome)).Inc()
		}
	}
}

// NightFinished implements batch.Observer. Every exception kind is set, zero included, so a kind
// that went away shows 0 rather than the last night it had one. Amounts become float64 here
// only: a metric is for a person's eye and alerting, never for money.
func (m *Metrics) NightFinished(rep *reconcile.Report, at time.Time) {
	s, t := rep.SweepAccount, rep.Totals
	m.lastSuccess.WithLabelValues(s).Set(seconds(at))
	m.reportExit.WithLabelValues(s).Set(float64(rep.ExitCode()))
	m.balanced.WithLabelValues(s).Set(map[bool]float64{true: 1}[t.Balanced])
	for status, n := range map[string]int{"executed": t.ExecutedCount, "failed": t.FailedCount, "in_flight": t.InFlightCount} {
		m.journals.WithLabelValues(s, status).Set(float64(n))
	}
	for status, a := range map[string]float64{"executed": t.Executed.InexactFloat64(), "failed": t.Failed.InexactFloat64(), "in_flight": t.InFlight.InexactFloat64()} {
		m.amount.WithLabelValues(s, status).Set(a)
	}
	for total, a := range map[string]float64{"receipts": t.Receipts.InexactFloat64(), "allocated": t.Allocated.InexactFloat64(),
		"unallocated": t.Unallocated.InexactFloat64(), "held": t.Held.InexactFloat64(), "planned": t.Planned.InexactFloat64()} {
		m.totals.WithLabelValues(s, total).Set(a)
	}
	kinds := map[string]int{}
	for _, e := range rep.Exceptions {
		kinds[e.Kind]++
	}
	for _, k := range reconcile.Kinds {
		m.exceptions.WithLabelValues(s, k).Set(float64(kinds[k]))
	}
}

// NightFailed implements batch.Observer.
func (m *Metrics) NightFailed(sweep string, at time.Time) {
	m.lastFailure.WithLabelValues(sweep).Set(seconds(at))
}

// Unfinished implements batch.Observer.
func (m *Metrics) Unfinished(sweep string, n int) {
	m.unfinished.WithLabelValues(sweep).Set(float64(n))
}

// StreamReconnect implements batch.Observer.
func (m *Metrics) StreamReconnect() { m.reconnects.Inc() }

// Heal implements batch.Observer.
func (m *Metrics) Heal(reason string) { m.heals.WithLabelValues(reason).Inc() }

// RateLimitWait is the broker client's alpaca.Options.OnRateLimitWait.
func (m *Metrics) RateLimitWait(d time.Duration) {
	m.rateWaits.Inc()
	m.rateWaitSecs.Add(d.Seconds())
}

// Broker wraps the broker client's transport: every attempt's latency, answer code and failure,
// labelled by endpoint template (alpaca.Route), never by an id.
func (m *Metrics) Broker(next http.RoundTripper) http.RoundTripper {
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		start := time.Now()
		resp, err := next.RoundTrip(req)
		route := alpaca.Route(req.URL.Path)
		m.brokerDuration.WithLabelValues(route, req.Method).Observe(time.Since(start).Seconds())
		code := "no_answer"
		if err == nil {
			code = strconv.Itoa(resp.StatusCode)
		}
		m.brokerRequests.WithLabelValues(route, req.Method, code).Inc()
		if err != nil || resp.StatusCode < 200 || resp.StatusCode > 299 {
			m.brokerErrors.WithLabelValues(route, code).Inc()
		}
		return resp, err
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

func seconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

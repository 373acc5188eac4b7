package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/alpaca"
	"github.com/cashpool/cashpool/alpaca/sandbox"
	"github.com/cashpool/cashpool/metrics"
	"github.com/cashpool/cashpool/reconcile"
)

const sweep = "8f8c8cee-2591-4f83-be12-82c659b5e748"

// series flattens families into "name{label="value",...} value" lines, labels sorted as gathered.
func series(mfs []*dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			key := mf.GetName() + "{" + strings.Join(ls, ",") + "}"
			switch {
			case m.Gauge != nil:
				out[key] = m.GetGauge().GetValue()
			case m.Counter != nil:
				out[key] = m.GetCounter().GetValue()
			case m.Histogram != nil:
				out[key] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

func gather(t *testing.T, m *metrics.Metrics) map[string]float64 {
	t.Helper()
	mfs, err := m.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	return series(mfs)
}

var uuid = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// Broker calls are counted and timed by endpoint template and code, over real HTTP against the
// simulator: a journal looked up by its id is "/v1/journals/{id}", and no id reaches a label.
func TestBrokerSeriesCarryRouteTemplates(t *testing.T) {
	t.Parallel()
	seed := sandbox.Seed{SweepAccount: sweep, SweepCash: decimal.RequireFromString("1000.00")}
	ts := httptest.NewServer(sandbox.New(sandbox.Options{Seed: seed, KeyID: "k", Secret: "s"}))
	defer ts.Close()
	m := metrics.New(metrics.Build{Version: "v1", Revision: "abc", GoVersion: "go1"})
	c := alpaca.NewClient(alpaca.Options{BaseURL: ts.URL, KeyID: "k", Secret: "s",
		HTTPClient: &http.Client{Transport: m.Broker(alpaca.NewTransport())}})
	ctx := context.Background()
	if _, err := c.GetAccount(ctx, sweep); err != nil {
		t.Fatal(err)
	}
	var apiErr *alpaca.APIError
	if _, err := c.GetJournal(ctx, "1c7f3a52-0e5b-4d4e-9c1f-2b3c4d5e6f70"); !errors.As(err, &apiErr) || apiErr.HTTPStatus != 404 {
		t.Fatalf("GetJournal of an unknown id: %v, want a 404", err)
	}
	if err := c.EachJournal(ctx, alpaca.ListFilter{FromAccount: sweep}, func(alpaca.Journal) error { return nil }); err != nil {
		t.Fatal(err)
	}
	got := gather(t, m)
	for key, want := range map[string]float64{
		`cashpool_broker_requests_total{code=200,endpoint=/v1/accounts/{id},method=GET}`:  1,
		`cashpool_broker_requests_total{code=404,endpoint=/v1/journals/{id},method=GET}`:  1,
		`cashpool_broker_requests_total{code=200,endpoint=/v1/journals,method=GET}`:       1,
		`cashpool_broker_request_errors_total{code=404,endpoint=/v1/journals/{id}}`:       1,
		`cashpool_broker_request_duration_seconds{endpoint=/v1/journals/{id},method=GET}`: 1,
		`cashpool_broker_request_duration_seconds{endpoint=/v1/accounts/{id},method=GET}`: 1,
	} {
		if got[key] != want {
			t.Errorf("%s = %v, want %v", key, got[key], want)
		}
	}
	for key := range got {
		if strings.HasPrefix(key, "cashpool_broker") && uuid.MatchString(key) {
			t.Errorf("an id in a label: %s", key)
		}
	}
	if _, ok := got[`cashpool_broker_request_errors_total{code=200,endpoint=/v1/accounts/{id}}`]; ok {
		t.Error("a 200 counted as an error")
	}
}

// A refused connection is an error with code no_answer.
func TestBrokerSeriesNoAnswer(t *testing.T) {
	t.Parallel()
	ts := httptest.NewServer(http.NotFoundHandler())
	url := ts.URL
	ts.Close()
	m := metrics.New(metrics.Build{})
	c := alpaca.NewClient(alpaca.Options{BaseURL: url, KeyID: "k", Secret: "s",
		HTTPClient: &http.Client{Transport: m.Broker(alpaca.NewTransport())}})
	if err := c.DeleteJournal(context.Background(), "1c7f3a52-0e5b-4d4e-9c1f-2b3c4d5e6f70"); err == nil {
		t.Fatal("a closed server answered")
	}
	if got := gather(t, m)[`cashpool_broker_request_errors_total{code=no_answer,endpoint=/v1/journals/{id}}`]; got != 1 {
		t.Errorf("errors without an answer: %v, want 1", got)
	}
}

// finished is a night as reconcile reports it, written by hand.
func finished() *reconcile.Report {
	d := decimal.RequireFromString
	return &reconcile.Report{BusinessDate: "2026-11-20", SweepAccount: sweep, Totals: reconcile.Totals{
		Receipts: d("5000.00"), Allocated: d("4500.00"), Unallocated: d("500.00"), Planned: d("4500.00"),
		Executed: d("3000.00"), Failed: d("1000.50"), InFlight: d("499.50"),
		Journals: 4, ExecutedCount: 2, FailedCount: 1, InFlightCount: 1, Balanced: true,
	}, Exceptions: []reconcile.Exception{{Kind: "failed"}, {Kind: "in_flight"}, {Kind: "unallocated"}}}
}

// A finished night's report sets the night's gauges; every exception kind is present, zero or not.
func TestNightFinishedSetsTheReportTotals(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Build{})
	at := time.Date(2026, 11, 21, 6, 30, 0, 0, time.UTC)
	m.NightFinished(finished(), at)
	got := gather(t, m)
	for key, want := range map[string]float64{
		`cashpool_night_last_success_timestamp_seconds{sweep_account=` + sweep + `}`:      1795242600,
		`cashpool_night_report_exit_code{sweep_account=` + sweep + `}`:                    3,
		`cashpool_night_balanced{sweep_account=` + sweep + `}`:                            1,
		`cashpool_night_journals{status=executed,sweep_account=` + sweep + `}`:            2,
		`cashpool_night_journals{status=failed,sweep_account=` + sweep + `}`:              1,
		`cashpool_night_journals{status=in_flight,sweep_account=` + sweep + `}`:           1,
		`cashpool_night_journal_amount_usd{status=executed,sweep_account=` + sweep + `}`:  3000,
		`cashpool_night_journal_amount_usd{status=failed,sweep_account=` + sweep + `}`:    1000.5,
		`cashpool_night_journal_amount_usd{status=in_flight,sweep_account=` + sweep + `}`: 499.5,
		`cashpool_night_total_usd{sweep_account=` + sweep + `,total=receipts}`:            5000,
		`cashpool_night_total_usd{sweep_account=` + sweep + `,total=unallocated}`:         500,
		`cashpool_night_exceptions{kind=failed,sweep_account=` + sweep + `}`:              1,
		`cashpool_night_exceptions{kind=stuck,sweep_account=` + sweep + `}`:               0,
		`cashpool_night_exceptions{kind=rejected_file,sweep_account=` + sweep + `}`:       0,
		`cashpool_build_info{goversion=,revision=,version=}`:                              1,
	} {
		if v, ok := got[key]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", key, v, ok, want)
		}
	}
	if _, ok := got["go_goroutines{}"]; !ok {
		t.Error("no Go runtime series")
	}
}

// The textfile is replaced whole (never half written), created with the modes the umask allows,
// holds no runtime series (node_exporter has its own), and a later command's textfile keeps the
// last success of an earlier one. Not parallel: the umask belongs to the whole process.
func TestTextfile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cashpool.prom")
	m := metrics.New(metrics.Build{})
	m.NightFinished(finished(), time.Unix(1795242600, 0))
	old := syscall.Umask(0o027)
	err := m.WriteTextfile(path)
	syscall.Umask(old)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %04o, want 0640 under umask 027", fi.Mode().Perm())
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("left beside the textfile: %v", entries)
	}

	later := metrics.New(metrics.Build{})
	if err := later.CarryOver(path); err != nil {
		t.Fatal(err)
	}
	later.NightFailed(sweep, time.Unix(1795329000, 0))
	if err := later.WriteTextfile(path); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(f)
	if err != nil {
		t.Fatal(err)
	}
	var fams []*dto.MetricFamily
	for name, mf := range mfs {
		if !strings.HasPrefix(name, "cashpool_") {
			t.Errorf("textfile holds %s: node_exporter's own series would clash", name)
		}
		fams = append(fams, mf)
	}
	got := series(fams)
	for key, want := range map[string]float64{
		`cashpool_night_last_success_timestamp_seconds{sweep_account=` + sweep + `}`: 1795242600,
		`cashpool_night_last_failure_timestamp_seconds{sweep_account=` + sweep + `}`: 1795329000,
	} {
		if got[key] != want {
			t.Errorf("%s = %v, want %v", key, got[key], want)
		}
	}
}

// A push goes to job "cashpool" grouped by the sweep account, adds (POST) rather than replaces,
// and carries the sweep account in the grouping key only.
func TestPushGroupsBySweepAccount(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var method, path string
	var got map[string]float64
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		method, path = r.Method, r.URL.Path
		dec := expfmt.NewDecoder(r.Body, expfmt.ResponseFormat(r.Header))
		var fams []*dto.MetricFamily
		for {
			mf := &dto.MetricFamily{}
			if err := dec.Decode(mf); err != nil {
				if err != io.EOF {
					t.Errorf("decode push: %v", err)
				}
				break
			}
			fams = append(fams, mf)
		}
		got = series(fams)
		w.WriteHeader(http.StatusOK)
	}))
	defer gw.Close()
	m := metrics.New(metrics.Build{})
	m.NightFinished(finished(), time.Unix(1795242600, 0))
	m.NightFailed("c0000000-0000-4000-8000-000000000001", time.Unix(1, 0)) // another account's: left out
	if err := m.Push(context.Background(), gw.URL, sweep, nil); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if method != http.MethodPost || path != "/metrics/job/cashpool/sweep_account/"+sweep {
		t.Errorf("pushed %s %s, want POST /metrics/job/cashpool/sweep_account/%s", method, path, sweep)
	}
	if got["cashpool_night_last_success_timestamp_seconds{}"] != 1795242600 ||
		got["cashpool_night_journals{status=executed}"] != 2 {
		t.Errorf("pushed series: %v", got)
	}
	for key := range got {
		if strings.Contains(key, "sweep_account") || strings.HasPrefix(key, "go_") || strings.HasPrefix(key, "process_") {
			t.Errorf("pushed %s", key)
		}
	}
	if _, ok := got["cashpool_night_last_failure_timestamp_seconds{}"]; ok {
		t.Error("another sweep account's failure was pushed into this group")
	}
}

// The Pushgateway's URL may carry its password: an error never shows it.
func TestPushErrorHidesThePassword(t *testing.T) {
	t.Parallel()
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no", http.StatusInternalServerError)
	}))
	defer gw.Close()
	url := strings.Replace(gw.URL, "http://", "http://ops:hunter2@", 1)
	err := metrics.New(metrics.Build{}).Push(context.Background(), url, sweep, nil)
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("push error: %v", err)
	}
}

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// textSeries reads Prometheus text into "name{label=value,...}" → value (a histogram: its count).
func textSeries(t *testing.T, text string) map[string]float64 {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("not Prometheus text: %v\n%s", err, text)
	}
	out := map[string]float64{}
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			key := name + "{" + strings.Join(ls, ",") + "}"
			switch {
			case m.Gauge != nil:
				out[key] = m.GetGauge().GetValue()
			case m.Counter != nil:
				out[key] = m.GetCounter().GetValue()
			case m.Histogram != nil:
				out[key] = float64(m.GetHistogram().GetSampleCount())
			case m.Untyped != nil:
				out[key] = m.GetUntyped().GetValue()
			}
		}
	}
	return out
}

// A one-shot `cashpool run` against the simulator writes the textfile node_exporter reads, with
// the night as it came out: two journals of 600.00 and 400.00 executed, two files taken and one
// refused, every step timed once, the broker's calls by route. A later run that fails keeps the
// earlier success and adds its failure.
func TestRunWritesTheMetricsTextfile(t *testing.T) {
	const date = "2026-11-20"
	prom := filepath.Join(t.TempDir(), "cashpool.prom")
	night := newSimNight(t, map[string]string{
		"receipts-1.csv": receiptsCSVHeader + "W1," + date + ",1000.00,USD,Acme Corp,123,First Bank,1 Main St,wire 1\n",
		"allocations-1.csv": "receipt_id,account_id,amount,weight,client_ref,description\n" +
			"W1,c0000000-0000-4000-8000-000000000001,600.00,,A-001,Funding\n" +
			"W1,c0000000-0000-4000-8000-000000000002,400.00,,A-002,Funding\n",
		"receipts-bad.csv": receiptsCSVHeader + "W2," + date + ",\"1,000.00\",USD,A,B,C,D,E\n",
	}, map[string]string{"CASHPOOL_METRICS_TEXTFILE": prom})
	seed := night.seed
	start := float64(time.Now().Unix())
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"run", "--date", date}, &stdout, &stderr); code != exitExceptions {
		t.Fatalf("run: exit %d, want 3 (the refused file)\n%s%s", code, stdout.String(), stderr.String())
	}
	b, err := os.ReadFile(prom)
	if err != nil {
		t.Fatal(err)
	}
	got := textSeries(t, string(b))
	sw := "sweep_account=" + seed.SweepAccount
	for key, want := range map[string]float64{
		"cashpool_night_journals{status=executed," + sw + "}":                              2,
		"cashpool_night_journals{status=failed," + sw + "}":                                0,
		"cashpool_night_journals{status=in_flight," + sw + "}":                             0,
		"cashpool_night_journal_amount_usd{status=executed," + sw + "}":                    1000,
		"cashpool_night_journal_amount_usd{status=failed," + sw + "}":                      0,
		"cashpool_night_total_usd{" + sw + ",total=receipts}":                              1000,
		"cashpool_night_total_usd{" + sw + ",total=planned}":                               1000,
		"cashpool_night_total_usd{" + sw + ",total=unallocated}":                           0,
		"cashpool_night_exceptions{kind=rejected_file," + sw + "}":                         1,
		"cashpool_night_exceptions{kind=failed," + sw + "}":                                0,
		"cashpool_night_report_exit_code{" + sw + "}":                                      3,
		"cashpool_night_balanced{" + sw + "}":                                              1,
		"cashpool_unfinished_nights{" + sw + "}":                                           0,
		"cashpool_files_total{outcome=loaded}":                                             2,
		"cashpool_files_total{outcome=rejected}":                                           1,
		"cashpool_step_duration_seconds{step=ingest}":                                      1,
		"cashpool_step_duration_seconds{step=plan}":                                        1,
		"cashpool_step_duration_seconds{step=submit}":                                      1,
		"cashpool_step_duration_seconds{step=track}":                                       1,
		"cashpool_step_duration_seconds{step=reconcile}":                                   1,
		"cashpool_broker_requests_total{code=200,endpoint=/v1/accounts/{id},method=GET}":   1,
		"cashpool_broker_requests_total{code=200,endpoint=/v1/journals/batch,method=POST}": 1,
	} {
		if v, ok := got[key]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", key, v, ok, want)
		}
	}
	success := got["cashpool_night_last_success_timestamp_seconds{"+sw+"}"]
	if success < start || success > float64(time.Now().Unix())+1 {
		t.Errorf("last success %v, want between %v and now", success, start)
	}
	for key := range got {
		if !strings.HasPrefix(key, "cashpool_") {
			t.Errorf("the textfile holds %s: node_exporter has its own runtime series", key)
		}
	}

	// The broker refuses the credentials: exit 2, nothing sent, a failure; the success stays.
	t.Setenv("APCA_API_SECRET_KEY", "wrong")
	stdout.Reset()
	stderr.Reset()
	if code := run(context.Background(), []string{"run", "--date", "2026-11-21"}, &stdout, &stderr); code != exitUsage {
		t.Fatalf("run with refused credentials: exit %d, want 2\n%s%s", code, stdout.String(), stderr.String())
	}
	if b, err = os.ReadFile(prom); err != nil {
		t.Fatal(err)
	}
	got = textSeries(t, string(b))
	if v := got["cashpool_night_last_success_timestamp_seconds{"+sw+"}"]; v != success {
		t.Errorf("last success after a failed run: %v, want the earlier %v", v, success)
	}
	if v := got["cashpool_night_last_failure_timestamp_seconds{"+sw+"}"]; v < success {
		t.Errorf("last failure %v, want after the success %v", v, success)
	}
}

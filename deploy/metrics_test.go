package deploy

import (
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"sigs.k8s.io/yaml"

	"github.com/cashpool/cashpool/batch/ingest"
	"github.com/cashpool/cashpool/metrics"
	"github.com/cashpool/cashpool/reconcile"
)

// exported gathers the names of every series cashpool exports, each series touched once through
// the hooks the command wires in (a histogram also as its _bucket, _sum and _count).
func exported(t *testing.T) map[string]bool {
	t.Helper()
	m := metrics.New(metrics.Build{Version: "v", Revision: "r", GoVersion: "go"})
	const sweep = "8f8c8cee-2591-4f83-be12-82c659b5e748"
	m.NightFinished(&reconcile.Report{SweepAccount: sweep}, time.Now())
	m.NightFailed(sweep, time.Now())
	m.Unfinished(sweep, 1)
	m.Step("ingest", time.Second)
	m.Files(ingest.Result{Files: []ingest.FileResult{{Outcome: ingest.OutcomeLoaded}}})
	m.StreamReconnect()
	m.Heal("reconnect")
	m.RateLimitWait(time.Second)
	m.Leader(true)
	rt := m.Broker(roundTrip(func(*http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 500, Body: http.NoBody}, nil
	}))
	req, _ := http.NewRequest(http.MethodGet, "http://broker/v1/journals", nil)
	if _, err := rt.RoundTrip(req); err != nil {
		t.Fatal(err)
	}
	mfs, err := m.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
		if mf.GetType() == dto.MetricType_HISTOGRAM {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				names[mf.GetName()+s] = true
			}
		}
	}
	return names
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// metricName finds the series names an expression uses: cashpool's, the Go runtime's, the process's.
var metricName = regexp.MustCompile(`\b(?:cashpool|go|process)_[A-Za-z0-9_:]*`)

// checkNames fails for every series expr names that cashpool does not export, and for an expr
// that names none.
func checkNames(t *testing.T, where, expr string, exists map[string]bool) {
	t.Helper()
	found := metricName.FindAllString(expr, -1)
	if len(found) == 0 {
		t.Errorf("%s: %q names no cashpool series", where, expr)
	}
	for _, n := range found {
		if !exists[n] {
			t.Errorf("%s names %s, which cashpool does not export", where, n)
		}
	}
}

// The alert rules parse, each is complete (alert, expr, for, severity, summary), they cover what
// operations must hear about, and they name only series that exist.
func TestPrometheusAlertRules(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("prometheus/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Name  string
			Rules []struct {
				Alert, Expr, For string
				Labels           map[string]string
				Annotations      map[string]string
			}
		}
	}
	if err := yaml.UnmarshalStrict(b, &file); err != nil {
		t.Fatalf("alerts.yaml: %v", err)
	}
	exists := exported(t)
	var alerts []string
	used := map[string]bool{}
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			where := "alert " + r.Alert
			if r.Alert == "" || r.Expr == "" || r.For == "" {
				t.Errorf("%s: want alert, expr and for; got %+v", where, r)
			}
			if _, err := time.ParseDuration(r.For); err != nil {
				t.Errorf("%s: for %q: %v", where, r.For, err)
			}
			if s := r.Labels["severity"]; s != "critical" && s != "warning" {
				t.Errorf("%s: severity %q, want critical or warning", where, s)
			}
			if r.Annotations["summary"] == "" {
				t.Errorf("%s: no summary", where)
			}
			checkNames(t, where, r.Expr, exists)
			for _, n := range metricName.FindAllString(r.Expr, -1) {
				used[n] = true
			}
			alerts = append(alerts, r.Alert)
		}
	}
	// What the operations desk must hear about, by the series that tell it.
	for _, n := range []string{
		"cashpool_night_last_success_timestamp_seconds", // a night not finished by its deadline
		"cashpool_night_last_failure_timestamp_seconds", // a run failed
		"cashpool_night_exceptions",                     // journals stuck, files refused
		"cashpool_unfinished_nights",                    // earlier nights left behind
		"cashpool_files_total",
	} {
		if !used[n] {
			t.Errorf("no alert rule watches %s", n)
		}
	}
	for _, a := range []string{"CashpoolNightNotFinished", "CashpoolRunFailed", "CashpoolJournalsStuck", "CashpoolFilesRefused", "CashpoolUnfinishedEarlierNights"} {
		if !slices.Contains(alerts, a) {
			t.Errorf("no alert %s", a)
		}
	}
}

// The Grafana dashboard is JSON with panels, and every query in it names only series that exist.
func TestGrafanaDashboard(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("grafana/cashpool.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash map[string]any
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("cashpool.json: %v", err)
	}
	panels, _ := dash["panels"].([]any)
	if len(panels) < 10 {
		t.Fatalf("%d panels, want the dashboard's at least 10", len(panels))
	}
	exists := exported(t)
	queries := 0
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && (k == "expr" || (k == "query" && strings.Contains(s, "("))) {
					checkNames(t, path+"."+k, s, exists)
					queries++
				}
				walk(path+"."+k, x)
			}
		case []any:
			for _, x := range v {
				walk(path+"[]", x)
			}
		}
	}
	walk("dashboard", dash)
	if queries < len(panels) {
		t.Errorf("%d queries for %d panels", queries, len(panels))
	}
}

// README's Metrics section documents every series cashpool exports.
func TestReadmeListsEveryMetric(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(b)
	start := strings.Index(section, "\n## Metrics\n")
	if start < 0 {
		t.Fatal("README has no ## Metrics section")
	}
	section = section[start+1:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	for n := range exported(t) {
		if strings.HasPrefix(n, "cashpool_") && !strings.HasSuffix(n, "_bucket") && !strings.HasSuffix(n, "_sum") &&
			!strings.HasSuffix(n, "_count") && !strings.Contains(section, "`"+n+"`") {
			t.Errorf("README's Metrics section does not list %s", n)
		}
	}
}

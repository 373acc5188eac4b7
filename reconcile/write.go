package reconcile

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gocarina/gocsv"
	"github.com/shopspring/decimal"
)

// File names Write produces inside its directory.
const (
	FileCSV    = "reconciliation.csv"
	FileTotals = "totals.csv"
	FileJSON   = "reconciliation.json"
	FileHTML   = "reconciliation.html"
)

// FormatDefault is the report's format when none is given. Defaults to csv.
const FormatDefault = "csv"

// Write writes r into dir, creating dir, in each of formats: "csv" (reconciliation.csv and
// totals.csv; the default when no format is given), "json" and "html". Each file is replaced
// atomically, so a reader never sees half a report. It returns the paths written and remembers
// them for WriteSummary.
func Write(dir string, r *Report, formats ...string) ([]string, error) {
	if len(formats) == 0 {
		formats = []string{FormatDefault}
	}
	// Check every format before writing anything, so a typo writes nothing.
	type output struct {
		name   string
		render func(io.Writer, *Report) error
	}
	var outs []output
	seen := map[string]bool{}
	for _, f := range formats {
		if seen[f] {
			continue
		}
		seen[f] = true
		switch f {
		case "csv":
			outs = append(outs, output{FileCSV, renderCSV}, output{FileTotals, renderTotalsCSV})
		case "json":
			outs = append(outs, output{FileJSON, renderJSON})
		case "html":
			outs = append(outs, output{FileHTML, renderHTML})
		default:
			return nil, fmt.Errorf("report format %q: want csv, json or html", f)
		}
	}
	// Reports hold account ids and amounts: the umask, not cashpool, decides who may read them.
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, fmt.Errorf("report directory: %w", err)
	}
	var paths []string
	for _, o := range outs {
		var buf bytes.Buffer
		if err := o.render(&buf, r); err != nil {
			return paths, fmt.Errorf("render %s: %w", o.name, err)
		}
		p := filepath.Join(dir, o.name)
		if err := writeAtomic(p, buf.Bytes()); err != nil {
			return paths, fmt.Errorf("write %s: %w", o.name, err)
		}
		paths = append(paths, p)
		if !slices.Contains(r.paths, p) {
			r.paths = append(r.paths, p)
		}
	}
	return paths, nil
}

// writeAtomic writes a temporary file beside path and renames it over path. The file is created
// with mode 0666 less the umask, as any file a user's program writes.
func writeAtomic(path string, data []byte) (err error) {
	dir, name := filepath.Split(path)
	f, err := createTemp(dir, "."+name+".tmp-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	// Make the rename itself durable; not every filesystem can sync a directory, so best effort.
	if d, derr := os.Open(filepath.Clean(dir)); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// createTemp creates a new file named prefix plus a random suffix in dir, with mode 0666 less the
// umask (os.CreateTemp would make it 0600 whatever the umask says).
func createTemp(dir, prefix string) (*os.File, error) {
	for range 100 {
		var b [8]byte
		rand.Read(b[:])
		f, err := os.OpenFile(filepath.Join(dir, prefix+hex.EncodeToString(b[:])), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
	return nil, fmt.Errorf("no free temporary name for %s in %s", prefix, dir)
}

// csvRow is one line of reconciliation.csv. Every field is text so empty means empty (no amount,
// no line) instead of a misleading 0.
type csvRow struct {
	Kind       string `csv:"kind"`
	ReceiptID  string `csv:"receipt_id"`
	ClientRef  string `csv:"client_ref"`
	AccountID  string `csv:"account_id"`
	Amount     string `csv:"amount"`
	JournalID  string `csv:"journal_id"`
	JournalKey string `csv:"journal_key"`
	Status     string `csv:"status"`
	Reason     string `csv:"reason"`
	NextAction string `csv:"next_action"`
	File       string `csv:"file"`
	Line       string `csv:"line"`
	// A reward's columns, last so the cash columns keep their places.
	RewardID string `csv:"reward_id"`
	Symbol   string `csv:"symbol"`
	Qty      string `csv:"qty"`
}

func renderCSV(w io.Writer, r *Report) error {
	rows := make([]csvRow, 0, len(r.Exceptions))
	for _, e := range r.Exceptions {
		rows = append(rows, csvRow{
			Kind: e.Kind, ReceiptID: cell(e.ReceiptID), ClientRef: cell(e.ClientRef), AccountID: e.AccountID,
			Amount: amountText(e.Amount), JournalID: e.JournalID, JournalKey: e.JournalKey,
			Status: cell(e.Status), Reason: cell(e.Reason), NextAction: e.NextAction, File: cell(e.File),
			Line: lineText(e.Line), RewardID: cell(e.RewardID), Symbol: cell(e.Symbol), Qty: qtyText(e.Qty),
		})
	}
	return gocsv.Marshal(rows, w)
}

// cell keeps a spreadsheet from running a value as a formula: text from input files and from
// Alpaca that starts with = + - @ or a control character gets a leading apostrophe.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

type metricRow struct {
	Metric string `csv:"metric"`
	Value  string `csv:"value"`
}

// rewardMetricPrefix starts the names of a symbol's rewards metrics (rewards_requested:AAPL).
const rewardMetricPrefix = "rewards_"

// metrics is the totals as (name, value) pairs, in the order totals.csv and the summary show them.
func metrics(t Totals) []metricRow {
	m := []metricRow{
		{"receipts", t.Receipts.StringFixed(2)},
		{"allocated", t.Allocated.StringFixed(2)},
		{"unallocated", t.Unallocated.StringFixed(2)},
		{"held", t.Held.StringFixed(2)},
		{"planned", t.Planned.StringFixed(2)},
		{"executed", t.Executed.StringFixed(2)},
		{"failed", t.Failed.StringFixed(2)},
		{"in_flight", t.InFlight.StringFixed(2)},
		{"journals", strconv.Itoa(t.Journals)},
		{"executed_count", strconv.Itoa(t.ExecutedCount)},
		{"failed_count", strconv.Itoa(t.FailedCount)},
		{"in_flight_count", strconv.Itoa(t.InFlightCount)},
		{"exceptions", strconv.Itoa(t.Exceptions)},
	}
	for _, s := range t.Rewards {
		m = append(m,
			metricRow{rewardMetricPrefix + "requested:" + s.Symbol, s.Requested.String()},
			metricRow{rewardMetricPrefix + "delivered:" + s.Symbol, s.Delivered.String()},
			metricRow{rewardMetricPrefix + "failed:" + s.Symbol, s.Failed.String()},
			metricRow{rewardMetricPrefix + "open:" + s.Symbol, s.Open.String()},
			metricRow{rewardMetricPrefix + "count:" + s.Symbol, strconv.Itoa(s.Rewards)},
		)
	}
	return append(m, metricRow{"balanced", strconv.FormatBool(t.Balanced)})
}

// cashMetrics is metrics without the rewards' per-symbol rows, for the summary and the HTML
// report, which show the rewards apart in shares.
func cashMetrics(t Totals) []metricRow {
	var ms []metricRow
	for _, m := range metrics(t) {
		if !strings.HasPrefix(m.Metric, rewardMetricPrefix) {
			ms = append(ms, m)
		}
	}
	return ms
}

// TotalsRows is r's totals and sweep proof as (metric, value) pairs, named and formatted as
// totals.csv has them.
func TotalsRows(r *Report) [][2]string {
	m := totalsCSV(r)
	out := make([][2]string, len(m))
	for i, r := range m {
		out[i] = [2]string{r.Metric, r.Value}
	}
	return out
}

// totalsCSV is the rows of totals.csv: the totals, then the sweep account's proof.
func totalsCSV(r *Report) []metricRow {
	return append(metrics(r.Totals), sweepMetrics(r.Sweep)...)
}

func renderTotalsCSV(w io.Writer, r *Report) error {
	return gocsv.Marshal(totalsCSV(r), w)
}

func renderJSON(w io.Writer, r *Report) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// qtyText is a reward's quantity of shares as the reports show it: empty when no reward applies,
// else exact without trailing zeros.
func qtyText(d decimal.Decimal) string {
	if d.IsZero() {
		return ""
	}
	return d.String()
}

func lineText(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// SeverityCSS colours the severities of Summary (classes ok, info, watch, action) with inline CSS:
// the report is one file that opens anywhere, and the console uses the same colours.
const SeverityCSS = `.sev-action { background: #fde8e8; border-left: 6px solid #b91c1c; color: #7f1d1d; }
.sev-watch { background: #fff4d6; border-left: 6px solid #b45309; color: #78350f; }
.sev-info { background: #eef2f7; border-left: 6px solid #64748b; color: #334155; }
.sev-ok { background: #e7f6ec; border-left: 6px solid #15803d; color: #14532d; }
.headline { font-size: 1.4em; font-weight: bold; padding: 0.6em 0.8em; margin: 0.5em 0; }
tr.sev-action td:first-child, tr.sev-watch td:first-child, tr.sev-info td:first-child { font-weight: bold; }`

var htmlReport = template.Must(template.New("report").Funcs(template.FuncMap{
	"money": FormatAmount,
	"line":  lineText,
	"qty":   qtyText,
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>cashpool reconciliation {{.BusinessDate}}</title>
<style>
body { font-family: sans-serif; margin: 2em; }
table { border-collapse: collapse; margin-bottom: 2em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.bad { color: #a00; font-weight: bold; }
{{.CSS}}
</style>
</head>
<body>
<h1>Reconciliation {{.BusinessDate}}</h1>
<p class="headline sev-{{.Summary.Severity.Class}}" id="headline">{{.Summary.Headline}}</p>
<p id="funded">{{.Summary.Funded}}.</p>
{{with .Summary.Rewards}}<p id="rewards">{{.}}.</p>{{end}}
{{with .Summary.Sweep}}<p id="sweep">{{.}}.</p>{{end}}
<p>Sweep account {{.SweepAccount}}, run {{.RunID}}, generated {{.GeneratedAt.Format "2006-01-02 15:04:05 MST"}}.</p>
{{if .Totals.Balanced}}<p>Totals balance.</p>{{else}}<p class="bad">Totals do not balance:</p>
<ul>{{range .Totals.Problems}}<li>{{.}}</li>{{end}}</ul>{{end}}
<h2>Exceptions ({{len .Exceptions}})</h2>
{{range .Summary.Groups}}<h3 class="sev-{{.Severity.Class}}">{{.Title}}: {{len .Exceptions}}{{if .Amount.IsPositive}}, {{money .Amount}}{{end}}</h3>
<table class="exceptions">
<tr><th>kind</th><th>receipt</th><th>client ref</th><th>account</th><th>amount</th><th>journal id</th><th>journal key</th><th>status</th><th>reason</th><th>next action</th><th>file</th><th>line</th><th>reward</th><th>symbol</th><th>qty</th></tr>
{{$sev := .Severity.Class}}{{range .Exceptions}}<tr class="sev-{{$sev}}"><td>{{.Kind}}</td><td>{{.ReceiptID}}</td><td>{{.ClientRef}}</td><td>{{.AccountID}}</td><td class="num">{{if not .Amount.IsZero}}{{money .Amount}}{{end}}</td><td>{{.JournalID}}</td><td>{{.JournalKey}}</td><td>{{.Status}}</td><td>{{.Reason}}</td><td>{{.NextAction}}</td><td>{{.File}}</td><td class="num">{{line .Line}}</td><td>{{.RewardID}}</td><td>{{.Symbol}}</td><td class="num">{{qty .Qty}}</td></tr>
{{end}}</table>
{{else}}<p>None.</p>{{end}}
{{with .Totals.Rewards}}<h2>Rewards by symbol (shares)</h2>
<table id="rewards-by-symbol">
<tr><th>symbol</th><th>rewards</th><th>requested</th><th>delivered</th><th>failed</th><th>open</th></tr>
{{range .}}<tr><td>{{.Symbol}}</td><td class="num">{{.Rewards}}</td><td class="num">{{.Requested}}</td><td class="num">{{.Delivered}}</td><td class="num">{{.Failed}}</td><td class="num">{{.Open}}</td></tr>
{{end}}</table>{{end}}
<h2>Totals</h2>
<table>
{{range .Metrics}}<tr><th>{{.Metric}}</th><td class="num">{{.Value}}</td></tr>
{{end}}</table>
</body>
</html>
`))

func renderHTML(w io.Writer, r *Report) error {
	return htmlReport.Execute(w, struct {
		*Report
		Metrics []metricRow
		Summary Summary
		CSS     template.CSS
	}{r, cashMetrics(r.Totals), Summarize(r), template.CSS(SeverityCSS)})
}

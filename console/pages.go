package console

import (
	"html/template"
	"time"

	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/reconcile"
)

// severityCSS is the report's colours, so a night looks the same in the console and in its report.
var severityCSS = template.CSS(reconcile.SeverityCSS)

var pages = template.Must(template.New("console").Funcs(template.FuncMap{
	"money": reconcile.FormatAmount,
	"moneyOrBlank": func(d decimal.Decimal) string {
		if d.IsZero() {
			return ""
		}
		return reconcile.FormatAmount(d)
	},
	// shares is a reward's quantity and symbol, as a cash journal shows its amount.
	"shares": func(qty decimal.Decimal, symbol string) string { return qty.String() + " " + symbol },
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.Format("2006-01-02 15:04:05 MST")
	},
}).Parse(`
{{define "top"}}<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>cashpool · {{.Title}}</title>
<style>
body { font-family: sans-serif; margin: 1.5em 2em; color: #111; }
nav { border-bottom: 1px solid #ccc; padding-bottom: 0.5em; margin-bottom: 1em; }
nav a { margin-right: 1.2em; }
nav .who { float: right; color: #555; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.unfinished td { background: #fff4d6; }
pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; }
form { margin: 0.8em 0; }
textarea { width: 40em; height: 4em; }
.muted { color: #666; }
{{.CSS}}
</style>
</head>
<body>
<nav><a href="/">Nights</a><a href="/files">Rejected files</a>
<span class="who">{{if .Person}}signed in as <b id="person">{{.Person}}</b>{{else if .Writable}}not identified: read-only{{else}}read-only console{{end}}</span></nav>
<p class="muted" id="schedule">Next scheduled run: {{when .NextRun}} · this replica ({{.Host}}) {{if .Leader}}is the leader{{else}}is not the leader (standby){{end}}{{if .LeaderKnown}} · <span id="leader">{{if .LeaderName}}leader: {{.LeaderName}} since {{when .LeaderSince}}{{else}}no replica leads now{{end}}</span>{{end}}</p>
<h1>{{.Title}}</h1>
{{end}}

{{define "bottom"}}</body>
</html>
{{end}}

{{define "error"}}<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>cashpool · {{.Title}}</title></head>
<body><h1>{{.Title}}</h1><p id="error">{{.Message}}</p><p><a href="/">Back to the nights</a></p></body></html>
{{end}}

{{define "nights"}}{{template "top" .}}
{{if .Nights}}<table id="nights">
<tr><th>date</th><th>state</th><th>money in</th><th>funded</th><th>failed</th><th>in flight</th><th>journals</th><th>rewards</th><th>exceptions</th><th>duration</th></tr>
{{range .Nights}}<tr{{if .Unfinished}} class="unfinished"{{end}}><td><a href="/nights/{{.Date}}">{{.Date}}</a></td><td>{{.Status}}{{if .Unfinished}} (unfinished){{end}}</td>
<td class="num">{{money .MoneyIn}}</td><td class="num">{{money .Funded}}</td><td class="num">{{money .Failed}}</td><td class="num">{{money .InFlight}}</td>
<td class="num">{{.Journals}}</td><td class="num">{{.Rewards}}</td><td class="num">{{if .Exceptions.Valid}}{{.Exceptions.Int64}}{{else}}—{{end}}</td><td class="num">{{if .Duration}}{{.Duration}}{{else}}—{{end}}</td></tr>
{{end}}</table>
<p class="muted">Unfinished nights first, then the latest; exceptions are counted by the night's report.</p>
{{else}}<p>No nights yet.</p>{{end}}
{{template "bottom"}}{{end}}

{{define "night"}}{{template "top" .}}
<p class="headline sev-{{.Summary.Severity.Class}}" id="headline">{{.Summary.Headline}}</p>
<p id="funded">{{.Summary.Funded}}. Run {{.Report.RunID}}, as of {{when .Report.GeneratedAt}}.
{{if not .Report.Totals.Balanced}}<b>Totals do not balance.</b>{{end}}</p>
{{with .Summary.Rewards}}<p id="rewards">{{.}}.</p>{{end}}
{{with .Summary.Sweep}}<p id="sweep">{{.}}.</p>{{end}}
<h2>Exceptions ({{len .Report.Exceptions}})</h2>
{{range .Summary.Groups}}<h3 class="sev-{{.Severity.Class}}">{{.Title}}: {{len .Exceptions}}{{if .Amount.IsPositive}}, {{money .Amount}}{{end}}</h3>
<table class="exceptions">
<tr><th>kind</th><th>receipt or reward</th><th>client ref</th><th>account</th><th>amount or shares</th><th>status</th><th>reason</th><th>next action</th><th>file</th></tr>
{{$sev := .Severity.Class}}{{range .Exceptions}}<tr class="sev-{{$sev}}"><td>{{.Kind}}</td><td>{{.ReceiptID}}{{.RewardID}}</td><td>{{.ClientRef}}</td><td>{{.AccountID}}</td><td class="num">{{if .Symbol}}{{shares .Qty .Symbol}}{{else}}{{moneyOrBlank .Amount}}{{end}}</td><td>{{.Status}}</td><td>{{.Reason}}</td><td>{{.NextAction}}</td><td>{{.File}}</td></tr>
{{end}}</table>
{{else}}<p>None.</p>{{end}}

<h2>Batches</h2>
{{if .Batches}}<table id="batches">
<tr><th>batch</th><th>seq</th><th>status</th><th>entries</th><th>attempts</th><th>HTTP</th><th>sending at</th><th>sent at</th><th>error</th></tr>
{{range .Batches}}<tr><td><a href="/nights/{{$.Date}}/batches/{{.ID}}">{{.ID}}</a></td><td>{{.Seq}}</td><td>{{.Status}}</td><td class="num">{{.Entries}}</td><td class="num">{{.Attempts}}</td>
<td>{{if .HTTPStatus.Valid}}{{.HTTPStatus.Int64}}{{end}}</td><td>{{if .SendingAt.Valid}}{{when .SendingAt.Time}}{{end}}</td><td>{{if .SentAt.Valid}}{{when .SentAt.Time}}{{end}}</td><td>{{.Error}}</td></tr>
{{end}}</table>{{else}}<p>No batches.</p>{{end}}

<h2>Redrive</h2>
<p>What a redrive of this night would do now (the same preview as <code>cashpool redrive --date {{.Date}}</code>):</p>
<pre id="preview">{{.Preview}}</pre>
{{range .Requests}}<div class="request {{if eq .State "requested"}}sev-watch{{else}}sev-ok{{end}}" id="request-{{.ID}}">
<p><b>Request {{.ID}}</b>: {{.State}}. Filed by <b class="requester">{{.Requester}}</b> at {{when .CreatedAt}}: “{{.Reason}}”.
{{if .Approver.Valid}}Approved by <b class="approver">{{.Approver.String}}</b> at {{when .ApprovedAt.Time}}.{{end}}</p>
{{if and (eq .State "requested") $.CSRF}}<form method="post" action="/redrive/{{.ID}}/approve"><input type="hidden" name="csrf" value="{{$.CSRF}}">
<button type="submit" id="approve-{{.ID}}">Approve and redrive</button> <span class="muted">(a second person: not the requester)</span></form>{{end}}
<details><summary>Preview when filed</summary><pre>{{.Preview}}</pre></details>
</div>
{{end}}
{{if and .CSRF (gt .Redrive 0) (not .Open)}}<form method="post" action="/nights/{{.Date}}/redrive" id="request-form">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<p><label>Why (what was fixed)<br><textarea name="reason" id="reason" required maxlength="1000"></textarea></label></p>
<button type="submit" id="request-redrive">Request redrive of {{.Redrive}} journals</button> <span class="muted">a second person approves it</span>
</form>{{else if not .Writable}}<p class="muted">Read-only: set a console token to redrive from here, or use <code>cashpool redrive</code>.</p>{{end}}
{{template "bottom"}}{{end}}

{{define "batch"}}{{template "top" .}}
<p><a href="/nights/{{.Date}}">Back to the night of {{.Date}}</a></p>
{{if .Journals}}<table id="journals">
<tr><th>receipt or reward</th><th>client ref</th><th>account</th><th>amount or shares</th><th>attempt</th><th>status</th><th>journal key</th><th>Alpaca id</th><th>Alpaca said</th><th>history</th></tr>
{{range .Journals}}<tr><td>{{.ReceiptID}}{{.RewardID}}</td><td>{{.ClientRef}}</td><td>{{.ToAccount}}</td><td class="num">{{if .Qty.Valid}}{{shares .Qty.Decimal .Symbol}}{{else}}{{money .Amount.Decimal}}{{end}}</td><td class="num">{{.Attempt}}</td><td>{{.Status}}</td>
<td>{{.JournalKey}}</td><td>{{if .AlpacaID.Valid}}{{.AlpacaID.String}}{{end}}</td><td>{{.ErrorMessage}}</td>
<td><ol>{{range .History}}<li>{{when .At}}: {{if .From}}{{.From}} → {{end}}{{.To}} ({{.Source}}){{if .Actor}} by {{.Actor}}{{end}}{{if .Reason}}: “{{.Reason}}”{{end}}{{if .Detail}} [{{.Detail}}]{{end}}</li>{{end}}</ol></td></tr>
{{end}}</table>{{else}}<p>No journals in this batch.</p>{{end}}
{{template "bottom"}}{{end}}

{{define "files"}}{{template "top" .}}
{{if .Files}}<table id="files">
<tr><th>received</th><th>file</th><th>kind</th><th>refused as</th><th>problems</th><th>first problem</th></tr>
{{range .Files}}<tr class="sev-action"><td>{{when .ReceivedAt}}</td><td>{{.Name}}</td><td>{{.Kind}}</td><td>{{.Status}}</td><td class="num">{{.Errors}}</td><td>{{.Reason}}</td></tr>
{{end}}</table>
<p class="muted">Every problem of a refused file is listed in <code>rejected/&lt;file&gt;.errors.csv</code> beside it in the drop folder.</p>
{{else}}<p>No file was refused.</p>{{end}}
{{template "bottom"}}{{end}}
`))

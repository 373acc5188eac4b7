package reconcile_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/reconcile"
)

func TestFormatAmount(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"0":             "0.00 USD",
		"5":             "5.00 USD",
		"999.99":        "999.99 USD",
		"1000":          "1,000.00 USD",
		"3000.5":        "3,000.50 USD",
		"66000":         "66,000.00 USD",
		"123456":        "123,456.00 USD",
		"1234567.89":    "1,234,567.89 USD",
		"1000000000.00": "1,000,000,000.00 USD",
		"-1234.5":       "-1,234.50 USD",
	} {
		if got := reconcile.FormatAmount(decimal.RequireFromString(in)); got != want {
			t.Errorf("FormatAmount(%s) = %q, want %q", in, got, want)
		}
	}
}

func ex(kind, ref, amount string) reconcile.Exception {
	e := reconcile.Exception{Kind: kind, ClientRef: ref}
	if amount != "" {
		e.Amount = decimal.RequireFromString(amount)
	}
	return e
}

// TestSummarize: the headline and the groups of hand-made reports, against texts written out here.
func TestSummarize(t *testing.T) {
	t.Parallel()
	type group struct {
		title  string
		sev    reconcile.Severity
		refs   []string
		amount string
	}
	cases := []struct {
		name     string
		report   reconcile.Report
		severity reconcile.Severity
		headline string
		funded   string
		groups   []group
	}{{
		name: "all funded",
		report: reconcile.Report{Totals: reconcile.Totals{Journals: 24, ExecutedCount: 24, Planned: dec("66000"),
			Executed: dec("66000"), Balanced: true}},
		severity: reconcile.SeverityOK,
		headline: "All 24 journals funded, 66,000.00 USD",
		funded:   "Funded 24 of 24 journals, 66,000.00 USD of 66,000.00 USD planned",
	}, {
		name: "awaiting receipt only is information",
		report: reconcile.Report{Totals: reconcile.Totals{Journals: 1, ExecutedCount: 1, Planned: dec("10"),
			Executed: dec("10"), Balanced: true}, Exceptions: []reconcile.Exception{ex(reconcile.KindAwaitingReceipt, "A1", "5")}},
		severity: reconcile.SeverityInfo,
		headline: "All 1 journal funded, 10.00 USD",
		funded:   "Funded 1 of 1 journal, 10.00 USD of 10.00 USD planned",
		groups:   []group{{"For information", reconcile.SeverityInfo, []string{"A1"}, "5"}},
	}, {
		// The report's order puts rejected files and in-flight rows before failures; the summary
		// puts failures first, stuck next, information last.
		name: "failures first",
		report: reconcile.Report{Totals: reconcile.Totals{Journals: 6, ExecutedCount: 2, Planned: dec("7000"),
			Executed: dec("1500"), Balanced: true},
			Exceptions: []reconcile.Exception{
				ex(reconcile.KindRejectedFile, "file", ""),
				ex(reconcile.KindAwaitingReceipt, "wait", "10"),
				ex(reconcile.KindFailed, "F1", "1000"),
				ex(reconcile.KindFailed, "F2", "2000"),
				ex(reconcile.KindStuckPending, "P1", "12000.50"),
				ex(reconcile.KindInFlight, "I1", "500"),
			}},
		severity: reconcile.SeverityAction,
		headline: "2 journals failed, 3,000.00 USD — redrive after fixing; 1 stuck, 12,000.50 USD — ask Alpaca; " +
			"1 still in flight, 500.00 USD; 1 other exception to resolve",
		funded: "Funded 2 of 6 journals, 1,500.00 USD of 7,000.00 USD planned",
		groups: []group{
			{"Needs action", reconcile.SeverityAction, []string{"F1", "F2", "file"}, "3000"},
			{"Stuck or still in flight", reconcile.SeverityWatch, []string{"P1", "I1"}, "12500.50"},
			{"For information", reconcile.SeverityInfo, []string{"wait"}, "10"},
		},
	}, {
		// A receipt held whole is counted once: its skipped allocations are part of it.
		name: "held receipt counted once",
		report: reconcile.Report{Totals: reconcile.Totals{Balanced: true},
			Exceptions: []reconcile.Exception{
				{Kind: reconcile.KindOverAllocated, ReceiptID: "W3", Amount: dec("12000")},
				{Kind: reconcile.KindSkippedAllocation, ReceiptID: "W3", ClientRef: "S1", Amount: dec("8000")},
				{Kind: reconcile.KindSkippedAllocation, ReceiptID: "W3", ClientRef: "S2", Amount: dec("6000")},
				{Kind: reconcile.KindSkippedAllocation, ReceiptID: "W9", ClientRef: "late", Amount: dec("25")},
			}},
		severity: reconcile.SeverityAction,
		headline: "4 other exceptions to resolve",
		funded:   "Funded 0 of 0 journals, 0.00 USD of 0.00 USD planned",
		groups:   []group{{"Needs action", reconcile.SeverityAction, []string{"", "S1", "S2", "late"}, "12025"}},
	}, {
		name: "unbalanced",
		report: reconcile.Report{Totals: reconcile.Totals{Journals: 1, Planned: dec("1"), Balanced: false},
			Exceptions: []reconcile.Exception{ex(reconcile.KindUnbalanced, "", "")}},
		severity: reconcile.SeverityAction,
		headline: "Totals do not balance — escalate to engineering, do not redrive",
		funded:   "Funded 0 of 1 journal, 0.00 USD of 1.00 USD planned",
		groups:   []group{{"Needs action", reconcile.SeverityAction, []string{""}, "0"}},
	}, {
		name:     "empty night",
		report:   reconcile.Report{Totals: reconcile.Totals{Balanced: true}},
		severity: reconcile.SeverityOK,
		headline: "Nothing to fund",
		funded:   "Funded 0 of 0 journals, 0.00 USD of 0.00 USD planned",
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := reconcile.Summarize(&c.report)
			if s.Headline != c.headline {
				t.Errorf("headline\n got %q\nwant %q", s.Headline, c.headline)
			}
			if s.Funded != c.funded {
				t.Errorf("funded\n got %q\nwant %q", s.Funded, c.funded)
			}
			if s.Severity != c.severity {
				t.Errorf("severity %v, want %v", s.Severity, c.severity)
			}
			if len(s.Groups) != len(c.groups) {
				t.Fatalf("%d groups, want %d: %+v", len(s.Groups), len(c.groups), s.Groups)
			}
			for i, g := range s.Groups {
				w := c.groups[i]
				var refs []string
				for _, e := range g.Exceptions {
					refs = append(refs, e.ClientRef)
				}
				if g.Title != w.title || g.Severity != w.sev || !g.Amount.Equal(dec(w.amount)) || len(refs) != len(w.refs) {
					t.Errorf("group %d: %q %v %s %v, want %q %v %s %v", i, g.Title, g.Severity, g.Amount, refs, w.title, w.sev, w.amount, w.refs)
					continue
				}
				for j := range refs {
					if refs[j] != w.refs[j] {
						t.Errorf("group %d: rows %v, want %v", i, refs, w.refs)
						break
					}
				}
			}
		})
	}
}

// TestHTMLReportHeadlineFirst: the HTML report opens with the headline, shows failed rows before
// stuck ones and those before informational ones, with formatted amounts and severity colours.
func TestHTMLReportHeadlineFirst(t *testing.T) {
	t.Parallel()
	r := &reconcile.Report{BusinessDate: "2026-11-20", Totals: reconcile.Totals{Journals: 4, ExecutedCount: 1,
		Planned: dec("16000"), Executed: dec("1000"), Balanced: true},
		Exceptions: []reconcile.Exception{
			ex(reconcile.KindAwaitingReceipt, "ref-info", "7"),
			ex(reconcile.KindFailed, "ref-failed", "3000"),
			ex(reconcile.KindStuck, "ref-stuck", "12000"),
		}}
	dir := t.TempDir()
	if _, err := reconcile.Write(dir, r, "html"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, reconcile.FileHTML))
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	order := []string{
		`<p class="headline sev-action" id="headline">1 journal failed, 3,000.00 USD — redrive after fixing; 1 stuck, 12,000.00 USD — ask Alpaca</p>`,
		`<h3 class="sev-action">Needs action: 1, 3,000.00 USD</h3>`,
		`<tr class="sev-action"><td>failed</td><td></td><td>ref-failed</td>`,
		`<h3 class="sev-watch">Stuck or still in flight: 1, 12,000.00 USD</h3>`,
		`<tr class="sev-watch"><td>stuck</td><td></td><td>ref-stuck</td>`,
		`<h3 class="sev-info">For information: 1, 7.00 USD</h3>`,
		`<tr class="sev-info"><td>awaiting_receipt</td><td></td><td>ref-info</td>`,
		`<h2>Totals</h2>`,
	}
	at := 0
	for _, want := range order {
		i := strings.Index(page[at:], want)
		if i < 0 {
			t.Fatalf("after byte %d the page lacks %s\n%s", at, want, page)
		}
		at += i + len(want)
	}
}

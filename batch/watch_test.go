package batch_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cashpool/cashpool/alpaca"
	"github.com/cashpool/cashpool/alpaca/sandbox"
	"github.com/cashpool/cashpool/fixtures"
	"github.com/cashpool/cashpool/reconcile"
)

// admin calls the simulator's operations API, as Alpaca's cashiering team acting on a journal.
func admin(t *testing.T, b *bundle, path, body string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.simURL+"/sandbox/v1/"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("k", "s")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("admin %s: HTTP %d", path, resp.StatusCode)
	}
}

func alpacaID(t *testing.T, b *bundle, clientRef string) string {
	t.Helper()
	var id string
	if err := b.db.Get(&id, `SELECT alpaca_id::text FROM journals WHERE client_ref = $1`, clientRef); err != nil {
		t.Fatal(err)
	}
	return id
}

// After a night, Alpaca's cashiering reverses one funded journal and corrects another. The next
// night's report lists both, once; the corrected journal is linked to its replacement.
func TestReversalAndCorrectionReportedTheNextNight(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	if _, err := b.runner.Run(ctx, fixtures.BusinessDate); err != nil {
		t.Fatal(err)
	}
	admin(t, b, "journals/"+alpacaID(t, b, "ACME-001")+"/reverse", "")
	admin(t, b, "journals/"+alpacaID(t, b, "ACME-002")+"/correct", `{"amount":"2999.00"}`)

	b.clock.Advance(24 * time.Hour)
	next, err := b.runner.Run(ctx, "2026-11-21")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]reconcile.Exception{}
	for _, e := range next.Report.Exceptions {
		if e.Kind == reconcile.KindReversed {
			got[e.ClientRef] = e
		}
	}
	if got["ACME-001"].Status != "canceled" || got["ACME-002"].Status != "correct" || len(got) != 2 {
		t.Fatalf("reversals in the next night's report: %+v", got)
	}
	var replacement string
	if err := b.db.Get(&replacement, `SELECT amount::text FROM journal_replacements`); err != nil {
		t.Fatalf("no replacement linked: %v", err)
	}
	if replacement != "2999.00" {
		t.Fatalf("replacement amount %s", replacement)
	}
	// The night after that does not list them again.
	b.clock.Advance(24 * time.Hour)
	third, err := b.runner.Run(ctx, "2026-11-22")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range third.Report.Exceptions {
		if e.Kind == reconcile.KindReversed {
			t.Fatalf("reversal reported twice: %+v", e)
		}
	}
	// The first night's report, rewritten, shows the correction with its replacement.
	first, err := b.runner.Report(ctx, fixtures.BusinessDate)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range first.Report.Exceptions {
		if e.Kind == reconcile.KindCorrected && e.ClientRef == "ACME-002" && strings.Contains(e.Reason, "2999.00") {
			found = true
		}
	}
	if !found {
		t.Fatalf("corrected journal not reported with its replacement: %+v", first.Report.Exceptions)
	}
}

// A corrected journal of a night older than the watch is no longer looked for: each night reads
// only the watched runs' journals (not every night the account ever had) and asks Alpaca only
// for their replacements.
func TestCorrectionsOutsideTheWatchAreNotLookedFor(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	if _, err := b.runner.Run(ctx, fixtures.BusinessDate); err != nil {
		t.Fatal(err)
	}
	// Alpaca corrects a journal (its replacement is there to be found), and the journal is known as
	// corrected, but its replacement was never linked while its night was watched.
	admin(t, b, "journals/"+alpacaID(t, b, "ACME-002")+"/correct", `{"amount":"2999.00"}`)
	b.db.MustExec(`UPDATE journals SET status = 'correct' WHERE client_ref = 'ACME-002'`)

	b.clock.Advance(reconcile.WatchForDefault + 48*time.Hour)
	later := b.clock.Now().Format(time.DateOnly)
	if _, err := b.runner.Run(ctx, later); err != nil {
		t.Fatal(err)
	}
	var linked int
	if err := b.db.Get(&linked, `SELECT count(*) FROM journal_replacements`); err != nil {
		t.Fatal(err)
	}
	if linked != 0 {
		t.Fatalf("the night of %s linked %d replacements of a night no longer watched", later, linked)
	}
}

// A journal still queued when its night was reported, rejected by Alpaca afterwards, is news for
// the next night's report, once. A failure the first report already showed is not repeated.
func TestLateFailureOfAStuckJournalIsReportedOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	first, err := b.runner.Run(ctx, fixtures.BusinessDate) // no end of day yet: BWP-002's fixture is still queued
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]string{}
	for _, e := range first.Report.Exceptions {
		kinds[e.ClientRef] = e.Kind
	}
	if kinds["BWP-002"] != reconcile.KindStuck || kinds["BWP-003"] != reconcile.KindFailed {
		t.Fatalf("setup: first night BWP-002 %q, BWP-003 %q", kinds["BWP-002"], kinds["BWP-003"])
	}
	b.sim.EndOfDay()       // the rejected fixture resolves
	b.sim.BeginningOfDay() // the over-limit journal executes: good news, nothing to report

	b.clock.Advance(24 * time.Hour)
	next, err := b.runner.Run(ctx, "2026-11-21")
	if err != nil {
		t.Fatal(err)
	}
	var late []string
	for _, e := range next.Report.Exceptions {
		if e.Kind == reconcile.KindFailedLate || e.Kind == reconcile.KindReversed {
			late = append(late, e.Kind+" "+e.ClientRef+" "+e.Status)
		}
	}
	if strings.Join(late, ";") != "failed_late BWP-002 rejected" {
		t.Fatalf("late news in the next night's report: %v", late)
	}
	var status string
	if err := b.db.Get(&status, `SELECT status FROM journals WHERE client_ref = 'BWP-001'`); err != nil || status != "executed" {
		t.Fatalf("the over-limit journal executed at BOD is %q (%v)", status, err)
	}

	b.clock.Advance(24 * time.Hour)
	third, err := b.runner.Run(ctx, "2026-11-22")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range third.Report.Exceptions {
		if e.Kind == reconcile.KindFailedLate {
			t.Fatalf("late failure reported twice: %+v", e)
		}
	}
}

// A reversal check that cannot list what it must (Alpaca's list limit, here lowered so the sample
// night's rejected journals cross it) stops the night with an error naming the window: never only
// a warning in the log while the check silently does not happen.
func TestWatchThatCannotListStopsTheNight(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *sandbox.Options) { o.MaxListResults = 1 })
	_, err := b.runner.Run(context.Background(), fixtures.BusinessDate)
	if !errors.Is(err, alpaca.ErrWindowTooLarge) || !strings.Contains(err.Error(), "watch") {
		t.Fatalf("run: %v; want the watch's uncovered window", err)
	}
}

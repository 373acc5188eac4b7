package batch_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/alpaca"
	"github.com/cashpool/cashpool/fixtures"
	"github.com/cashpool/cashpool/reconcile"
)

// sampleOpening is the sweep account's cash in fixtures/accounts.json: the sample night's opening.
var sampleOpening = decimal.RequireFromString("1000000.00")

// ledgerSums adds up, from the simulator's own ledger, the journals from the sweep account whose
// money left it (executed, activity_created, or taken back after execution: correct, or one of
// the ids in reversed) and those of them whose money came back.
func ledgerSums(b *bundle, reversed ...string) (funded, back decimal.Decimal) {
	for _, e := range b.sim.Ledger() {
		if e.FromAccount != b.runner.Config.SweepAccount {
			continue
		}
		wasReversed := false
		for _, id := range reversed {
			wasReversed = wasReversed || e.ID == id
		}
		if alpaca.Funded(e.Status) || e.Status == alpaca.StatusCorrect || wasReversed {
			funded = funded.Add(e.Amount)
		}
		if e.Status == alpaca.StatusCorrect || wasReversed {
			back = back.Add(e.Amount)
		}
	}
	return funded, back
}

// A night in which Alpaca reverses one funded journal and corrects another (3,000.00 to
// 2,999.00) after cashpool saw them funded still proves: the report's sweep line counts both
// journals funded, both 3,000.00 back, and the replacement funded, and the closing cash Alpaca
// reports is the expected one, to the cent. Every report format carries the line.
func TestSweepProvedWithReversalAndCorrection(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.runner.Config.Formats = []string{"csv", "json", "html"}
	ctx := context.Background()
	date := fixtures.BusinessDate
	runID := trackedNight(t, b, date)
	// Taken back after cashpool saw them funded; the night is tracked again, as its next run does.
	reversed := alpacaID(t, b, "ACME-001")
	admin(t, b, "journals/"+reversed+"/reverse", "")
	admin(t, b, "journals/"+alpacaID(t, b, "ACME-002")+"/correct", `{"amount":"2999.00"}`)
	if err := b.runner.Track(ctx, runID); err != nil {
		t.Fatal(err)
	}
	out, err := b.runner.Reconcile(ctx, date)
	if err != nil {
		t.Fatal(err)
	}

	funded, back := ledgerSums(b, reversed)
	// The hand check: both taken-back journals are 3,000.00, and the replacement is 2,999.00.
	if !back.Equal(decimal.RequireFromString("6000.00")) {
		t.Fatalf("the simulator's ledger has %s taken back, want 6000.00", back)
	}
	closing := b.sim.BookedCash("")
	if want := sampleOpening.Sub(funded).Add(back); !closing.Equal(want) {
		t.Fatalf("simulator books %s, but its ledger says %s", closing, want)
	}
	s := out.Report.Sweep
	if s == nil || !s.Proved() {
		t.Fatalf("sweep not proved: %+v", s)
	}
	if !s.Opening.Decimal.Equal(sampleOpening) || !s.Funded.Equal(funded) || !s.Back.Equal(back) ||
		!s.Closing.Decimal.Equal(closing) || s.BackCount != 2 {
		t.Errorf("sweep lines %s; want opening %s, funded %s, back %s (2), closing %s", s.Line(), sampleOpening, funded, back, closing)
	}
	if _, ok := findException(out.Report, reconcile.KindSweepDifference); ok {
		t.Error("a proved night lists a sweep_difference")
	}
	dir := filepath.Join(b.runner.Config.OutDir, date)
	for file, want := range map[string]string{
		reconcile.FileTotals: "sweep_proved,true",
		reconcile.FileJSON:   `"proved": true`,
		reconcile.FileHTML:   "Sweep account proved: opening 1,000,000.00 USD",
	} {
		data, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), want) {
			t.Errorf("%s does not say %q", file, want)
		}
	}
	var summary strings.Builder
	reconcile.WriteSummary(&summary, out.Report)
	if !strings.Contains(summary.String(), "Sweep account proved") {
		t.Errorf("summary does not prove the sweep account:\n%s", summary.String())
	}
}

// A JNLC from the sweep account that is not cashpool's, made during the night, leaves the closing
// cash short of the expected by its amount: the report flags sweep_difference and lists that
// activity, and the night exits 3.
func TestForeignJournalOnSweepIsASweepDifference(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	date := fixtures.BusinessDate
	if _, err := b.runner.Ingest(ctx); err != nil {
		t.Fatal(err)
	}
	runID, err := b.runner.Plan(ctx, date)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.runner.Submit(ctx, date, runID); err != nil {
		t.Fatal(err)
	}
	foreign, err := b.client.CreateJournal(ctx, "0b9c3f5e-7a51-4c7e-9d0e-5f1d2c3b4a59", alpaca.CreateJournalRequest{EntryType: "JNLC",
		FromAccount: b.runner.Config.SweepAccount, ToAccount: cust("05"), Amount: "123.45", Description: "not cashpool's"})
	if err != nil {
		t.Fatal(err)
	}
	b.sim.EndOfDay()
	if err := b.runner.Track(ctx, runID); err != nil {
		t.Fatal(err)
	}
	out, err := b.runner.Reconcile(ctx, date)
	if err != nil {
		t.Fatal(err)
	}
	s := out.Report.Sweep
	if s == nil || !s.Read() || s.Proved() || !s.Difference.Equal(decimal.RequireFromString("-123.45")) {
		t.Fatalf("sweep %+v: want a difference of -123.45", s)
	}
	var rows []reconcile.Exception
	for _, e := range out.Report.Exceptions {
		if e.Kind == reconcile.KindSweepDifference {
			rows = append(rows, e)
		}
	}
	if len(rows) != 2 {
		t.Fatalf("sweep_difference rows %+v, want the difference and the foreign journal's activity", rows)
	}
	var act reconcile.Exception
	for _, e := range rows {
		if e.JournalID != "" {
			act = e
		}
	}
	if act.JournalID != foreign.ID || act.Amount.StringFixed(2) != "-123.45" || !strings.Contains(act.Reason, "not cashpool's") {
		t.Errorf("activity row %+v, want journal %s of -123.45 not cashpool's", act, foreign.ID)
	}
	if out.Report.ExitCode() != 3 {
		t.Errorf("exit code %d, want 3", out.Report.ExitCode())
	}
}

// A night stopped after its first POST keeps the opening it read before that POST: the resumed
// night does not read it again. Cash deposited while it was stopped is then a difference, not a
// new opening.
func TestResumedNightKeepsItsOpening(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	lossy := &lostAnswer{Broker: b.client}
	b.runner.Broker = lossy
	b.runner.Config.MaxInFlight = 1
	if _, err := b.runner.Run(ctx, fixtures.BusinessDate); err == nil {
		t.Fatal("run with a lost answer succeeded; want it to stop with the batch left sending")
	}
	if left := b.sim.Cash(""); left.Equal(sampleOpening) {
		t.Fatal("the first batch moved no money; the test needs money gone before the resume")
	}
	// 1,000,000.00 - paid + 500.00: a re-read opening would be this, not 1,000,000.00.
	admin(t, b, "cash", `{"amount":"`+b.sim.Cash("").Add(decimal.RequireFromString("500.00")).StringFixed(2)+`"}`)
	out, err := b.runner.Run(ctx, fixtures.BusinessDate)
	if err != nil {
		t.Fatal(err)
	}
	s := out.Report.Sweep
	if s == nil || !s.Opening.Valid || !s.Opening.Decimal.Equal(sampleOpening) {
		t.Fatalf("resumed night's opening %+v, want the 1000000.00 read before the first POST", s)
	}
	if !s.Difference.Equal(decimal.RequireFromString("500.00")) || len(s.Activities) != 0 {
		t.Errorf("sweep %s, activities %+v: want the 500.00 deposit as a difference no JNLC explains", s.Line(), s.Activities)
	}
}

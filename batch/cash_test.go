package batch_test

import (
	"context"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/batch/store"
	"github.com/cashpool/cashpool/fixtures"
	"github.com/cashpool/cashpool/reconcile"
)

// A sweep account that cannot cover the night holds it before the first POST: nothing reaches
// Alpaca, the report names the shortfall with its amounts and exits 3. Funded, the next run sends
// the night.
func TestCashShortfallHoldsTheNight(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	// The sample night plans 146,150.00: 169,650.00 of receipts less 23,500.00 unallocated.
	admin(t, b, "cash", `{"amount":"50000.00"}`)

	held, err := b.runner.Run(ctx, fixtures.BusinessDate)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(b.sim.Ledger()); n != 0 {
		t.Fatalf("a night short of cash sent %d journals", n)
	}
	if held.Report.ExitCode() != 3 {
		t.Errorf("exit code %d, want 3", held.Report.ExitCode())
	}
	var short []reconcile.Exception
	for _, e := range held.Report.Exceptions {
		if e.Kind == reconcile.KindCashShortfall {
			short = append(short, e)
		}
	}
	if len(short) != 1 {
		t.Fatalf("cash_shortfall exceptions %+v, want one", short)
	}
	e := short[0]
	if e.Amount.StringFixed(2) != "96150.00" {
		t.Errorf("shortfall amount %s, want 96150.00", e.Amount.StringFixed(2))
	}
	for _, want := range []string{"can transfer 50,000.00 USD", "need 146,150.00 USD", "short by 96,150.00 USD", "nothing was sent"} {
		if !strings.Contains(e.Reason, want) {
			t.Errorf("reason %q does not say %q", e.Reason, want)
		}
	}
	if want := "fund the sweep account (short by 96,150.00 USD) and re-run"; !strings.Contains(e.NextAction, want) {
		t.Errorf("next action %q, want %q", e.NextAction, want)
	}
	if s := reconcile.Summarize(held.Report); !strings.Contains(s.Headline, "short by 96,150.00 USD") {
		t.Errorf("headline %q does not name the shortfall", s.Headline)
	}
	_, status, err := store.RunStatusOf(ctx, b.db, fixtures.BusinessDate, b.runner.Config.SweepAccount)
	if err != nil || status == store.RunReconciled {
		t.Fatalf("held night is %q (%v), want it unfinished", status, err)
	}

	admin(t, b, "cash", `{"amount":"1000000.00"}`)
	sent, err := b.runner.Run(ctx, fixtures.BusinessDate)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range sent.Report.Exceptions {
		if e.Kind == reconcile.KindCashShortfall || e.Kind == reconcile.KindNotSent {
			t.Errorf("after funding: %s %s %s", e.Kind, e.Reason, e.NextAction)
		}
	}
	var withID int
	if err := b.db.Get(&withID, `SELECT count(*) FROM journals WHERE alpaca_id IS NOT NULL`); err != nil {
		t.Fatal(err)
	}
	if n := len(b.sim.Ledger()); n == 0 || n != withID {
		t.Fatalf("after funding the broker holds %d journals, cashpool knows %d", n, withID)
	}
	checkBrokerLedger(t, b)
	if !sent.Report.Totals.Executed.IsPositive() || !sent.Report.Totals.Planned.Equal(decimal.RequireFromString("146150")) {
		t.Errorf("after funding: totals %+v", sent.Report.Totals)
	}
}

// A night whose first batch reached Alpaca but lost its answer resumes although the sweep account
// no longer holds that batch's cash: journals that may already be at Alpaca are not asked for again.
func TestCashCheckDoesNotCountJournalsAlreadySent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	admin(t, b, "cash", `{"amount":"146150.00"}`) // exactly the night: once a batch is paid, less is left
	lossy := &lostAnswer{Broker: b.client}
	b.runner.Broker = lossy
	b.runner.Config.MaxInFlight = 1
	if _, err := b.runner.Run(ctx, fixtures.BusinessDate); err == nil {
		t.Fatal("run with a lost answer succeeded; want it to stop with the batch left sending")
	}
	out, err := b.runner.Run(ctx, fixtures.BusinessDate)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range out.Report.Exceptions {
		if e.Kind == reconcile.KindCashShortfall || e.Kind == reconcile.KindNotSent {
			t.Fatalf("the resumed night was held: %s %s", e.Kind, e.Reason)
		}
	}
	if len(lossy.keys) < 2 || lossy.keys[0] != lossy.keys[1] {
		t.Fatalf("the batch left sending was not resent with its key: %v", lossy.keys)
	}
	checkBrokerLedger(t, b)
}

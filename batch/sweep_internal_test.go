package batch

import (
	"testing"
	"time"

	"github.com/cashpool/cashpool/alpaca"
)

// The tally of the activity stream, judged against a table worked out by hand: only the sweep
// account's JNLC events inside the window count, whatever their order and however often they come.
func TestActivityTallyIsOrderFree(t *testing.T) {
	t.Parallel()
	const sweep = "8f8c8cee-2591-4f83-be12-82c659b5e748"
	since := time.Date(2026, 11, 20, 22, 0, 0, 0, time.UTC)
	until := since.Add(time.Hour)
	in, before, after := since.Add(10*time.Minute), since.Add(-time.Minute), until.Add(time.Minute)
	ev := func(ref, account, kind, status, amount string, at time.Time) alpaca.Activity {
		return alpaca.Activity{EventID: ref + status, AccountID: account, RefID: ref, ActivityType: kind, Status: status,
			At: at, JournalID: "0b9c3f5e-7a51-4c7e-9d0e-5f1d2c3b4a59", NetAmountText: amount}
	}
	events := []alpaca.Activity{
		ev("taken-back", sweep, "JNLC", "canceled", "-100.00", in), // before its own execution
		ev("taken-back", sweep, "JNLC", "executed", "-100.00", in),
		ev("paid", sweep, "JNLC", "executed", "-250.10", in),
		ev("paid", sweep, "JNLC", "executed", "-250.10", in), // sent twice
		ev("old", sweep, "JNLC", "executed", "-40.00", before),
		ev("old", sweep, "JNLC", "correct", "-40.00", in), // executed before the window: money back inside it
		ev("late", sweep, "JNLC", "executed", "-7.00", after),
		ev("customer", "c0000000-0000-4000-8000-000000000001", "JNLC", "executed", "250.10", in),
		ev("fee", sweep, "FEE", "executed", "-1.00", in),
		ev("held", sweep, "JNLC", "pending", "-9.00", in),
	}
	want := map[string]string{"taken-back": "0 canceled", "paid": "-250.1 executed", "old": "40 correct", "held": "0 pending"}
	for _, order := range [][]int{{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {9, 8, 7, 6, 5, 4, 3, 2, 1, 0}} {
		tally := newActivityTally(sweep, since, until)
		for _, i := range order {
			if err := tally.add(events[i]); err != nil {
				t.Fatal(err)
			}
		}
		got := map[string]string{}
		for _, a := range tally.activities() {
			got[a.RefID] = a.Effect.String() + " " + a.Status
		}
		if len(got) != len(want) {
			t.Fatalf("order %v: activities %v, want %v", order, got, want)
		}
		for ref, w := range want {
			if got[ref] != w {
				t.Errorf("order %v: %s is %q, want %q", order, ref, got[ref], w)
			}
		}
	}
	bad := ev("x", sweep, "JNLC", "executed", "1e3", in)
	if err := newActivityTally(sweep, since, until).add(bad); err == nil {
		t.Error("an amount of 1e3 was read")
	}
}

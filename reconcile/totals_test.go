package reconcile_test

import (
	"testing"

	"github.com/shopspring/decimal"
	"pgregory.net/rapid"

	"github.com/cashpool/cashpool/reconcile"
)

var statuses = []string{"planned", "queued", "sent_to_clearing", "pending", "executed",
	"activity_created", "rejected", "refused", "canceled", "deleted", "correct"}

// Whatever the journals' amounts and statuses, known or not, every cent planned lands in exactly
// one of executed, failed and in flight, and a run whose receipts were allocated in full balances.
func TestTallyAlwaysBalances(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(0, 200).Draw(t, "journals")
		var tot reconcile.Totals
		sum := decimal.Zero
		for range n {
			cents := rapid.Int64Range(1, 1_000_000_000_00).Draw(t, "cents")
			amount := decimal.New(cents, -2)
			status := rapid.OneOf(rapid.SampledFrom(statuses), rapid.String()).Draw(t, "status")
			reconcile.Tally(&tot, amount, status)
			sum = sum.Add(amount)
		}
		unallocated := decimal.New(rapid.Int64Range(0, 1_000_000).Draw(t, "unallocated"), -2)
		tot.Allocated = sum
		tot.Unallocated = unallocated
		tot.Receipts = sum.Add(unallocated)
		reconcile.Balance(&tot)
		if !tot.Balanced || len(tot.Problems) != 0 {
			t.Fatalf("unbalanced: %v", tot.Problems)
		}
		if !tot.Planned.Equal(sum) {
			t.Fatalf("planned %s, want %s", tot.Planned, sum)
		}
		if tot.ExecutedCount+tot.FailedCount+tot.InFlightCount != n || tot.Journals != n {
			t.Fatalf("counts %+v, want %d journals", tot, n)
		}
	})
}

func TestBalanceFindsEachBrokenCheck(t *testing.T) {
	t.Parallel()
	var tot reconcile.Totals
	reconcile.Tally(&tot, decimal.RequireFromString("10.00"), "executed")
	tot.Receipts = decimal.RequireFromString("10.01")
	tot.Allocated = decimal.RequireFromString("9.99")
	reconcile.Balance(&tot)
	if tot.Balanced || len(tot.Problems) != 2 {
		t.Fatalf("balanced %v problems %q, want two problems", tot.Balanced, tot.Problems)
	}
}

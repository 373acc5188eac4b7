package plan_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"pgregory.net/rapid"

	"github.com/cashpool/cashpool/batch/plan"
	"github.com/cashpool/cashpool/batch/schema/schematest"
	"github.com/cashpool/cashpool/batch/store"
)

// The sum a new plan reports as still to send (Result.Unsent, which the night's cash check uses
// instead of reading the journals back) is the sum the database holds for the run's journals still
// to send, whatever the night: amounts, weights split to the cent, receipts over-allocated or
// allocated to the sweep account (held), several receipts a night.
func TestPlanResultNamesTheAmountStillToSend(t *testing.T) {
	t.Parallel()
	db := schematest.DB(t)
	db.MustExec(`INSERT INTO files (id, sha256, name, kind, status, received_at) VALUES
		(1, 'r', 'r.csv', 'receipts', 'loaded', now()), (2, 'a', 'a.csv', 'allocations', 'loaded', now())`)
	day, line := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC), 1
	rapid.Check(t, func(t *rapid.T) {
		date := day.Format(time.DateOnly)
		day = day.AddDate(0, 0, 1)
		for r := range rapid.IntRange(1, 4).Draw(t, "receipts") {
			id := fmt.Sprintf("R-%s-%d", date, r)
			cents := rapid.Int64Range(1, 10_000_000).Draw(t, "receipt")
			line++
			db.MustExec(`INSERT INTO receipts VALUES ($1, 1, $2, $3, $4, 'USD', 'Orig', 'ACC1', 'Bank', 'Addr', 'ref')`,
				id, line, date, decimal.New(cents, -2))
			byWeight := rapid.Bool().Draw(t, "by weight")
			for a := range rapid.IntRange(1, 7).Draw(t, "allocations") {
				account := acct(rapid.IntRange(1, 20).Draw(t, "account"))
				if rapid.IntRange(0, 30).Draw(t, "to the sweep") == 0 {
					account = sweep
				}
				var amount, weight any
				if byWeight {
					weight = decimal.New(rapid.Int64Range(1, 1_000_000).Draw(t, "weight"), -int32(rapid.IntRange(0, 6).Draw(t, "weight places")))
				} else {
					amount = decimal.New(rapid.Int64Range(1, cents).Draw(t, "amount"), -2)
				}
				line++
				db.MustExec(`INSERT INTO allocations (file_id, line, receipt_id, account_id, amount, weight, client_ref, description)
					VALUES (2, $1, $2, $3, $4, $5, $6, 'desc')`, line, id, account, amount, weight, fmt.Sprintf("ref-%d", a))
			}
		}
		res, err := plan.Plan(context.Background(), db, plan.Config{SweepAccount: sweep, BusinessDate: date, BatchSize: 3,
			JournalLimit: decimal.RequireFromString("1000.00")})
		if err != nil {
			t.Fatal(err)
		}
		if res.Existed {
			t.Fatalf("run of %s existed", date)
		}
		want, err := store.UnsentAmount(context.Background(), db, res.RunID)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Unsent.Equal(want) {
			t.Fatalf("plan says %s is still to send, its journals %s (%d journals, %d held)", res.Unsent, want, res.Journals, res.Held)
		}
	})
}

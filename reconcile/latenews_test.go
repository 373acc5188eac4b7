package reconcile_test

import (
	"context"
	"testing"

	"github.com/cashpool/cashpool/reconcile"
)

// A reversal of an earlier night's journal that its own report did not see is the next report's
// late news, whenever it commits: between that report's read and its finish, or in a transaction
// that took its history id before the report read the history and committed after the finish (an
// id below the highest one the report saw). Either way it was in neither report before.
func TestReversalTheReportDidNotSeeIsLateNews(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// reverse writes the reversal around the earlier run's report: build, then finish.
		reverse func(f *fixture, build, finish func())
	}{
		{"committed between the report's read and its finish", func(f *fixture, build, finish func()) {
			build()
			f.exec(reversal)
			finish()
		}},
		{"in flight across the report, committed after it", func(f *fixture, build, finish func()) {
			tx, err := f.db.Begin()
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			if _, err := tx.Exec(reversal); err != nil {
				t.Fatal(err)
			}
			f.exec(otherChange) // a later id, committed before the report reads
			build()
			finish()
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, &deadline)
			f.exec(`UPDATE runs SET business_date = '2026-11-23', status = 'tracked' WHERE id = $1`, f.runID)
			f.journal(0, journal{receiptID: "R1", clientRef: "reversed-later", amount: "70.00", status: "executed"})
			f.journal(0, journal{receiptID: "R1", clientRef: "other", amount: "30.00", status: "queued"})
			var earlier *reconcile.Report
			tc.reverse(f, func() { earlier = f.build(after) }, func() {
				if err := reconcile.Finish(context.Background(), f.db, earlier, after); err != nil {
					t.Fatal(err)
				}
			})
			for _, e := range earlier.Exceptions {
				if e.ClientRef == "reversed-later" {
					t.Fatalf("the earlier report saw the reversal (%s): the case tests nothing", e.Kind)
				}
			}

			f.runID = f.newRun(date, plannedAt, &deadline)
			next := f.build(after)
			var got []string
			for _, e := range next.Exceptions {
				if e.ClientRef == "reversed-later" {
					got = append(got, e.Kind)
				}
			}
			if len(got) != 1 || got[0] != reconcile.KindReversed {
				t.Errorf("the next report lists the reversal as %v, want once as %s (all: %v)", got, reconcile.KindReversed, kinds(next))
			}
		})
	}
}

const (
	reversal = `WITH j AS (UPDATE journals SET status = 'canceled' WHERE client_ref = 'reversed-later' RETURNING id)
		INSERT INTO journal_history (journal_id, status_from, status_to, source, at) SELECT id, 'executed', 'canceled', 'watch', now() FROM j`
	otherChange = `WITH j AS (UPDATE journals SET status = 'executed' WHERE client_ref = 'other' RETURNING id)
		INSERT INTO journal_history (journal_id, status_from, status_to, source, at) SELECT id, 'queued', 'executed', 'stream', now() FROM j`
)

package reconcile

import (
	"strings"
	"testing"

	"github.com/cashpool/cashpool/batch/schema/schematest"
)

// The late news are read through the partial index that holds only history rows of their shape
// (migration 00035), not by walking every history row the database ever kept. Here two earlier
// nights of 20,000 journals each kept 80,000 history rows, of which one is a reversal: the plan of
// the third night's read must use the index (the index's predicate must stay the one queryLate
// reads, or the planner cannot), and the read must find the reversal.
func TestLateNewsReadOnlyTheirRows(t *testing.T) {
	t.Parallel()
	db := schematest.DB(t)
	const sweep = "8f8c8cee-2591-4f83-be12-82c659b5e748"
	db.MustExec(`INSERT INTO files (id, sha256, name, kind, status, received_at) VALUES (1, 'a', 'a.csv', 'allocations', 'loaded', now())`)
	for k := int64(1); k <= 3; k++ {
		db.MustExec(`INSERT INTO runs (id, business_date, sweep_account, status, planned_at)
			VALUES ($1::bigint, DATE '2026-11-17' + $1::int, $2, 'reconciled', now())`, k, sweep)
		if k == 3 {
			break
		}
		db.MustExec(`INSERT INTO allocations (id, file_id, line, receipt_id, account_id, amount, client_ref, description)
			SELECT g + $1::bigint * 100000, 1, g + $1::bigint * 100000, 'R' || g, gen_random_uuid(), 10, 'c' || g || '-' || $1::text, ''
			FROM generate_series(1, 20000) g`, k)
		db.MustExec(`INSERT INTO journals (id, run_id, journal_key, allocation_id, receipt_id, client_ref, to_account, amount, description, status, updated_at)
			SELECT g + $1::bigint * 100000, $1::bigint, gen_random_uuid(), g + $1::bigint * 100000, 'R' || g, 'c' || g, gen_random_uuid(), 10, '', 'executed', now()
			FROM generate_series(1, 20000) g`, k)
		db.MustExec(`INSERT INTO journal_history (journal_id, status_from, status_to, source, at)
			SELECT g + $1::bigint * 100000, s.f, s.t, 'sse', now()
			FROM generate_series(1, 20000) g, (VALUES ('queued', 'sent_to_clearing'), ('sent_to_clearing', 'executed')) s(f, t)`, k)
		db.MustExec(`UPDATE runs SET reported_snapshot = pg_current_snapshot() WHERE id = $1`, k)
	}
	// After night 1's report, one of its journals is reversed.
	db.MustExec(`UPDATE journals SET status = 'canceled' WHERE id = 100007`)
	db.MustExec(`INSERT INTO journal_history (journal_id, status_from, status_to, source, at) VALUES (100007, 'executed', 'canceled', 'sse', now())`)
	db.MustExec(`ANALYZE`)

	var plan []string
	if err := db.Select(&plan, `EXPLAIN `+queryLate, 3, sweep, "2026-11-20", 7.0); err != nil {
		t.Fatal(err)
	}
	if text := strings.Join(plan, "\n"); !strings.Contains(text, "journal_history_late") {
		t.Fatalf("the late news are not read through journal_history_late:\n%s", text)
	}
	var late []struct {
		ClientRef string `db:"client_ref"`
		From      string `db:"status_from"`
		To        string `db:"status_to"`
	}
	if err := db.Select(&late, `SELECT client_ref, status_from, status_to FROM (`+queryLate+`) l`, 3, sweep, "2026-11-20", 7.0); err != nil {
		t.Fatal(err)
	}
	if len(late) != 1 || late[0].ClientRef != "c7" || late[0].From != "executed" || late[0].To != "canceled" {
		t.Fatalf("late news %+v, want the one reversal of c7", late)
	}
}

package plan_test

import (
	"context"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/cashpool/cashpool/batch/plan"
	"github.com/cashpool/cashpool/batch/schema/schematest"
)

// loadChunks loads 1,430 receipts of 7 allocations of 1.00 to 7.00 (28.00 each): 10,010 journals,
// over three chunks of the plan's cursor.
func loadChunks(db *sqlx.DB) {
	db.MustExec(`INSERT INTO files (sha256, name, kind, status, received_at) VALUES ('r', 'r.csv', 'receipts', 'loaded', now()), ('a', 'a.csv', 'allocations', 'loaded', now())`)
	db.MustExec(`INSERT INTO receipts SELECT 'R' || lpad(g::text, 5, '0'), 1, g, '2026-11-20', 28.00, 'USD', 'O', 'A', 'B', 'C', 'r' FROM generate_series(1, 1430) g`)
	db.MustExec(`INSERT INTO allocations (file_id, line, receipt_id, account_id, amount, client_ref, description)
		SELECT 2, g, 'R' || lpad(((g - 1) / 7 + 1)::text, 5, '0'), ('c0000000-0000-4000-8000-' || lpad((g % 30 + 1)::text, 12, '0'))::uuid,
		       (g - 1) % 7 + 1, 'ref' || g, 'd'
		FROM generate_series(1, 10010) g`)
}

// The night's journals are written in a transaction of their own (one writer), not the
// transaction that writes the run and its batches.
func TestPlanWritesJournalsBesideItsTransaction(t *testing.T) {
	t.Parallel()
	db := schematest.DB(t)
	loadChunks(db)
	res, err := plan.Plan(context.Background(), db, plan.Config{SweepAccount: sweep, BusinessDate: "2026-11-20", BatchSize: 333})
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Writers, WithRun, Journals, Reservations int
	}
	if err := db.Get(&got, `SELECT
		(SELECT count(DISTINCT xmin::text) FROM journals WHERE run_id = $1) AS writers,
		(SELECT count(*) FROM journals j JOIN runs r ON r.id = j.run_id WHERE j.xmin::text = r.xmin::text) AS withrun,
		(SELECT count(*) FROM journals WHERE run_id = $1) AS journals,
		(SELECT count(*) FROM plan_reservations) AS reservations`, res.RunID); err != nil {
		t.Fatal(err)
	}
	if got.Writers != 1 || got.WithRun != 0 || got.Journals != 10010 || got.Reservations != 0 {
		t.Fatalf("journals written in %d transactions (%d in the run's), %d journals, %d reservations left; want 1, 0, 10010, 0",
			got.Writers, got.WithRun, got.Journals, got.Reservations)
	}
}

// A plan that dies after its journals committed and before its run did (the process killed there:
// its transaction rolled back, its connections gone) leaves journals of a run that does not exist.
// The next plan deletes them and plans the night whole, once.
func TestPlanDiedAfterItsJournalsIsPlannedAgain(t *testing.T) {
	t.Parallel()
	db := schematest.DB(t)
	loadChunks(db)
	cfg := plan.Config{SweepAccount: sweep, BusinessDate: "2026-11-20", BatchSize: 333}
	died := cfg
	died.JournalsWritten = func() { panic("killed") }
	func() {
		defer func() {
			if r := recover(); r != "killed" {
				t.Fatalf("the plan did not reach its journals' commit: %v", r)
			}
		}()
		plan.Plan(context.Background(), db, died)
	}()
	var left struct{ Journals, Runs, Reservations int }
	check := func() {
		t.Helper()
		if err := db.Get(&left, `SELECT
			(SELECT count(*) FROM journals j WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = j.run_id)) AS journals,
			(SELECT count(*) FROM runs) AS runs,
			(SELECT count(*) FROM plan_reservations) AS reservations`); err != nil {
			t.Fatal(err)
		}
	}
	check()
	if left.Journals != 10010 || left.Runs != 0 || left.Reservations != 1 {
		t.Fatalf("after the dead plan: %d journals without a run, %d runs, %d reservations; want 10010, 0, 1", left.Journals, left.Runs, left.Reservations)
	}

	res, err := plan.Plan(context.Background(), db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	check()
	var again struct{ Journals, Allocations int }
	if err := db.Get(&again, `SELECT count(*) AS journals, count(DISTINCT allocation_id) AS allocations FROM journals WHERE run_id = $1`, res.RunID); err != nil {
		t.Fatal(err)
	}
	if res.Existed || res.Journals != 10010 || again.Journals != 10010 || again.Allocations != 10010 ||
		left.Journals != 0 || left.Runs != 1 || left.Reservations != 0 {
		t.Fatalf("planned again: %+v, %+v, left %+v; want 10010 journals of 10010 allocations in the one run, nothing left", res, again, left)
	}
}

// Two plans of the same receipts at once (two nights run side by side) take turns: the second
// waits for the first to commit, then finds the receipts taken. Without the turn, the second's
// writers collide with journals the first's writers committed for the same allocations.
func TestPlansTakeTurns(t *testing.T) {
	t.Parallel()
	db := schematest.DB(t)
	loadChunks(db)
	paused, release := make(chan struct{}), make(chan struct{})
	first := plan.Config{SweepAccount: sweep, BusinessDate: "2026-11-20", BatchSize: 333,
		JournalsWritten: func() { close(paused); <-release }}
	firstDone := make(chan error, 1)
	go func() {
		_, err := plan.Plan(context.Background(), db, first)
		firstDone <- err
	}()
	<-paused // its journals are committed, its run not yet
	type result struct {
		res plan.Result
		err error
	}
	secondDone := make(chan result, 1)
	go func() {
		res, err := plan.Plan(context.Background(), db, plan.Config{SweepAccount: sweep, BusinessDate: "2026-11-21", BatchSize: 333})
		secondDone <- result{res, err}
	}()
	// The second plan is waiting for its turn (an advisory lock not granted), not done.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var waiting int
		if err := db.Get(&waiting, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		select {
		case r := <-secondDone:
			t.Fatalf("the second plan did not wait for the first: %+v, %v", r.res, r.err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the second plan never waited for the first")
		}
		time.Sleep(10 * time.Millisecond) // polling pg_locks for the state waited on, under the deadline above
	}
	close(release)
	if err := <-firstDone; err != nil {
		t.Fatal(err)
	}
	r := <-secondDone
	if r.err != nil || r.res.Existed || r.res.Journals != 0 {
		t.Fatalf("second plan: %+v, %v; want a run of its own with no journals (the receipts are the first's)", r.res, r.err)
	}
	var journals, allocations int
	if err := db.QueryRow(`SELECT count(*), count(DISTINCT allocation_id) FROM journals`).Scan(&journals, &allocations); err != nil {
		t.Fatal(err)
	}
	if journals != 10010 || allocations != 10010 {
		t.Fatalf("%d journals of %d allocations, want 10010 of 10010", journals, allocations)
	}
}

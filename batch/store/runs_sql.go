package store

import (
	"context"
	"time"
)

// Every statement against runs (schema: migrations 00001, 00006, 00010). Steps write runs only
// through these.

// CreateRun writes the planned run of (date, sweep) and returns its id; sql.ErrNoRows when the run
// exists already (nothing is written).
func CreateRun(ctx context.Context, q Querier, date, sweep string, now time.Time) (int64, error) {
	var id int64
	err := q.QueryRowxContext(ctx, `
		INSERT INTO runs (business_date, sweep_account, status, planned_at) VALUES ($1, $2, $4, $3)
		ON CONFLICT (business_date, sweep_account) DO NOTHING RETURNING id`,
		date, sweep, now, RunPlanned).Scan(&id)
	return id, err
}

// RunOf is the id of the run of (date, sweep); sql.ErrNoRows when there is none.
func RunOf(ctx context.Context, q Querier, date, sweep string) (int64, error) {
	var id int64
	err := q.GetContext(ctx, &id, `SELECT id FROM runs WHERE business_date = $1 AND sweep_account = $2`, date, sweep)
	return id, err
}

// MarkSubmitted records the first submission of a round (a redrive starts another): the moment
// tracking counts from, and the deadline, unless one is set already.
func MarkSubmitted(ctx context.Context, q Querier, id int64, now, deadline time.Time) error {
	_, err := q.ExecContext(ctx, `UPDATE runs SET submitted_at = $2, track_deadline = $3 WHERE id = $1 AND track_deadline IS NULL`,
		id, now, deadline)
	return err
}

// MoveTrackDeadline sets the deadline of a submitted run and reports whether it changed.
func MoveTrackDeadline(ctx context.Context, q Querier, id int64, deadline time.Time) (bool, error) {
	res, err := q.ExecContext(ctx, `UPDATE runs SET track_deadline = $2 WHERE id = $1 AND track_deadline <> $2`, id, deadline)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// queryMoveRun is the one statement that writes runs.status after a run's creation.
const queryMoveRun = `
UPDATE runs SET status = $2,
	track_deadline      = CASE WHEN $2 = $6 THEN NULL ELSE track_deadline END,
	totals              = CASE WHEN $2 = $7 THEN $4::jsonb ELSE totals END,
	finished_at         = CASE WHEN $2 = $7 THEN COALESCE(finished_at, $5) ELSE finished_at END,
	reported_history_id = CASE WHEN $2 = $7 THEN (SELECT COALESCE(max(id), 0) FROM journal_history) ELSE reported_history_id END
WHERE id = $1 AND status = ANY($3::text[])`

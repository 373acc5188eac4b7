package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/lib/pq"
	"github.com/shopspring/decimal"
)

// Every statement against runs and plan_reservations (schema: migrations 00001, 00006, 00010, 00016, 00030, 00032, 00033). Steps write and read runs only
// through these.

// CreateRun writes the planned run of (date, sweep) with the id a plan reserved (ReservePlan) and
// returns it; sql.ErrNoRows when the run exists already (nothing is written).
func CreateRun(ctx context.Context, q Querier, id int64, date, sweep string, now time.Time) (int64, error) {
	err := q.QueryRowxContext(ctx, `
		INSERT INTO runs (id, business_date, sweep_account, status, planned_at) VALUES ($1, $2, $3, $5, $4)
		ON CONFLICT (business_date, sweep_account) DO NOTHING RETURNING id`,
		id, date, sweep, now, RunPlanned).Scan(&id)
	return id, err
}

// ReservePlan reserves the id of the run of (date, sweep) a plan is about to write, in a row of
// plan_reservations (migration 00033) that q, outside the plan's transaction, commits on its own:
// the plan's journals, committed before its run, are found by it if the run never is.
func ReservePlan(ctx context.Context, q Querier, date, sweep string, now time.Time) (int64, error) {
	var id int64
	err := q.QueryRowxContext(ctx, `
		INSERT INTO plan_reservations (run_id, business_date, sweep_account, reserved_at)
		VALUES (nextval(pg_get_serial_sequence('runs', 'id')), $1, $2, $3) RETURNING run_id`,
		date, sweep, now).Scan(&id)
	return id, err
}

// TakeReservation deletes reservation id in the plan's transaction q, which holds the row's lock
// until it ends: committed with the run, the reservation is gone; rolled back, it is there again
// for ClearDeadPlans. False when ClearDeadPlans took it first (the plan starts again).
func TakeReservation(ctx context.Context, q Querier, id int64) (bool, error) {
	res, err := q.ExecContext(ctx, `DELETE FROM plan_reservations WHERE run_id = $1`, id)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ClearDeadPlans deletes, in transaction q, the reservations no live plan holds (a plan's
// transaction holds its own from TakeReservation to its end) and the journals written under them:
// their plan was killed or failed after its journals committed and before its run did. The
// journals of a run that exists are never touched. It returns how many journals it deleted.
func ClearDeadPlans(ctx context.Context, q Querier) (int64, error) {
	var ids []int64
	if err := q.SelectContext(ctx, &ids, `SELECT run_id FROM plan_reservations ORDER BY run_id FOR UPDATE SKIP LOCKED`); err != nil {
		return 0, err
	}
	if len(ids) == 0 {
		return 0, nil
	}
	n, err := deleteJournalsOfNoRun(ctx, q, ids)
	if err != nil {
		return 0, err
	}
	_, err = q.ExecContext(ctx, `DELETE FROM plan_reservations WHERE run_id = ANY($1::bigint[])`, pq.Array(ids))
	return n, err
}

// RunOf is the id of the run of (date, sweep); sql.ErrNoRows when there is none.
func RunOf(ctx context.Context, q Querier, date, sweep string) (int64, error) {
	var id int64
	err := q.GetContext(ctx, &id, `SELECT id FROM runs WHERE business_date = $1 AND sweep_account = $2`, date, sweep)
	return id, err
}

// LockRunOf is RunOf holding the run's row until the transaction ends, so two redrives of it
// serialise.
func LockRunOf(ctx context.Context, q Querier, date, sweep string) (int64, error) {
	var id int64
	err := q.GetContext(ctx, &id, `SELECT id FROM runs WHERE business_date = $1 AND sweep_account = $2 FOR UPDATE`, date, sweep)
	return id, err
}

// RunStatusOf is the id and status of the run of (date, sweep); sql.ErrNoRows when there is none.
func RunStatusOf(ctx context.Context, q Querier, date, sweep string) (id int64, status string, err error) {
	var run struct {
		ID     int64  `db:"id"`
		Status string `db:"status"`
	}
	err = q.GetContext(ctx, &run, `SELECT id, status FROM runs WHERE business_date = $1 AND sweep_account = $2`, date, sweep)
	return run.ID, run.Status, err
}

// RunDate is the business date of run id.
func RunDate(ctx context.Context, q Querier, id int64) (time.Time, error) {
	var date time.Time
	err := q.GetContext(ctx, &date, `SELECT business_date FROM runs WHERE id = $1`, id)
	return date, err
}

// RunSubmittedAt is when run id was first submitted; sql.ErrNoRows until it has been (with its
// tracking deadline set).
func RunSubmittedAt(ctx context.Context, q Querier, id int64) (time.Time, error) {
	var submitted time.Time
	err := q.GetContext(ctx, &submitted, `SELECT submitted_at FROM runs
		WHERE id = $1 AND submitted_at IS NOT NULL AND track_deadline IS NOT NULL`, id)
	return submitted, err
}

// UnfinishedBefore lists the dates before date (YYYY-MM-DD) whose run of sweep is not
// reconciled, oldest first.
func UnfinishedBefore(ctx context.Context, q Querier, sweep, date string) ([]string, error) {
	var dates []string
	err := q.SelectContext(ctx, &dates, `SELECT to_char(business_date, 'YYYY-MM-DD') FROM runs
		WHERE sweep_account = $1 AND business_date < $2 AND status <> $3 ORDER BY business_date`,
		sweep, date, RunReconciled)
	return dates, err
}

// UnfinishedThrough lists the dates up to and including date (YYYY-MM-DD) whose run of sweep is
// not reconciled, oldest first.
func UnfinishedThrough(ctx context.Context, q Querier, sweep, date string) ([]string, error) {
	var dates []string
	err := q.SelectContext(ctx, &dates, `SELECT to_char(business_date, 'YYYY-MM-DD') FROM runs
		WHERE sweep_account = $1 AND status <> $3 AND business_date <= $2 ORDER BY business_date`,
		sweep, date, RunReconciled)
	return dates, err
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
// A finished report keeps what it saw of its own run's journals' history (the late news it is
// compared with is theirs): the snapshot it was read in ($8, FinishRun). Without one, the last
// history row of the run's journals, as before migration 00032: one backward step in each
// journal's history key, so the read grows with the night, not with every night the history holds.
const queryMoveRun = `
UPDATE runs SET status = $2,
	track_deadline      = CASE WHEN $2 = $6 THEN NULL ELSE track_deadline END,
	totals              = CASE WHEN $2 = $7 THEN $4::jsonb ELSE totals END,
	finished_at         = CASE WHEN $2 = $7 THEN COALESCE(finished_at, $5) ELSE finished_at END,
	reported_snapshot   = CASE WHEN $2 = $7 THEN $8::pg_snapshot ELSE reported_snapshot END,
	reported_history_id = CASE WHEN $2 = $7 AND $8 IS NULL THEN (SELECT COALESCE(max((SELECT max(h.id) FROM journal_history h WHERE h.journal_id = j.id)), 0)
		FROM journals j WHERE j.run_id = $1) WHEN $2 = $7 THEN NULL ELSE reported_history_id END
WHERE id = $1 AND status = ANY($3::text[])`

// SetCashShortfall records that the last cash check of run id found the sweep account short:
// needed to send what is left, available at Alpaca.
func SetCashShortfall(ctx context.Context, q Querier, id int64, needed, available decimal.Decimal) error {
	_, err := q.ExecContext(ctx, `UPDATE runs SET cash_needed = $2, cash_available = $3 WHERE id = $1`, id, needed, available)
	return err
}

// ClearCashShortfall records that the last cash check of run id found enough.
func ClearCashShortfall(ctx context.Context, q Querier, id int64) error {
	_, err := q.ExecContext(ctx, `UPDATE runs SET cash_needed = NULL, cash_available = NULL WHERE id = $1`, id)
	return err
}

// OpenForSending records that run id's cash was checked under the run lock's fencing epoch epoch:
// workers joining the night send its batches while that epoch is still the lock's.
func OpenForSending(ctx context.Context, q Querier, id, epoch int64) error {
	_, err := q.ExecContext(ctx, `UPDATE runs SET send_epoch = $2 WHERE id = $1`, id, epoch)
	return err
}

// SendEpochOf is the fencing epoch under which run id was last opened for sending; not valid
// before its cash was first checked.
func SendEpochOf(ctx context.Context, q Querier, id int64) (sql.NullInt64, error) {
	var epoch sql.NullInt64
	err := q.GetContext(ctx, &epoch, `SELECT send_epoch FROM runs WHERE id = $1`, id)
	return epoch, err
}

// DatesOpenForSending lists the business dates of sweep's planned runs that were opened for
// sending (their cash checked under some epoch), oldest first; whether that epoch is still the run
// lock's is for the caller to check.
func DatesOpenForSending(ctx context.Context, q Querier, sweep string) ([]string, error) {
	var dates []string
	err := q.SelectContext(ctx, &dates, `SELECT to_char(business_date, 'YYYY-MM-DD') FROM runs
		WHERE sweep_account = $1 AND status = $2 AND send_epoch IS NOT NULL ORDER BY business_date`, sweep, RunPlanned)
	return dates, err
}

package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// Run statuses. A run is planned with its journals and batches, submitted once every batch was
// answered, tracked once its journals are final or its deadline passed, reconciled once its report
// is written. A redrive puts it back to planned, with new journals to send.
const (
	RunPlanned    = "planned"
	RunSubmitted  = "submitted"
	RunTracked    = "tracked"
	RunReconciled = "reconciled"
)

// RunStatuses lists every run status, in order.
var RunStatuses = []string{RunPlanned, RunSubmitted, RunTracked, RunReconciled}

// RunsUnfinished are the statuses of a run whose night is not over.
var RunsUnfinished = []string{RunPlanned, RunSubmitted, RunTracked}

// runFrom says, for each status, which statuses a run may take it from. Reconciling again rewrites
// the totals; reopening (redrive) is allowed from every status and clears the deadline.
var runFrom = map[string][]string{
	RunPlanned:    {RunPlanned, RunSubmitted, RunTracked, RunReconciled},
	RunSubmitted:  {RunPlanned},
	RunTracked:    {RunPlanned, RunSubmitted},
	RunReconciled: {RunPlanned, RunSubmitted, RunTracked, RunReconciled},
}

// MoveRun moves run id to status to when its status allows (runFrom, guarded in SQL), and reports
// whether it moved. Reopening (to planned) clears the tracking deadline; reconciling stores the
// totals, keeps the first finished_at, and notes the last history row of the run's journals (the
// report's mark before migration 00032; FinishRun keeps the report's snapshot instead).
func MoveRun(ctx context.Context, q Querier, id int64, to string, totals []byte, now time.Time) (bool, error) {
	return moveRun(ctx, q, id, to, totals, "", now)
}

// FinishRun moves run id to reconciled as MoveRun does, keeping snapshot (pg_snapshot's text), the
// one its report was read in: later history of its journals that the snapshot does not see is
// late news.
func FinishRun(ctx context.Context, q Querier, id int64, totals []byte, snapshot string, now time.Time) (bool, error) {
	return moveRun(ctx, q, id, RunReconciled, totals, snapshot, now)
}

func moveRun(ctx context.Context, q Querier, id int64, to string, totals []byte, snapshot string, now time.Time) (bool, error) {
	// The totals go as text: a []byte parameter is sent in binary form (schema.Open), which jsonb
	// reads as its own binary format.
	res, err := q.ExecContext(ctx, queryMoveRun, id, to, pq.Array(runFrom[to]), sql.NullString{String: string(totals), Valid: totals != nil}, now, RunPlanned, RunReconciled,
		sql.NullString{String: snapshot, Valid: snapshot != ""})
	if err != nil {
		return false, fmt.Errorf("run %d to %s: %w", id, to, err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

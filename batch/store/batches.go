package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// Batch statuses. A batch is written planned with its exact body and key; it is marked sending
// (and committed) before every POST; Alpaca's answer makes it sent; a refusal fails it, or splits
// it when its journals go again in new batches under new keys.
const (
	BatchPlanned = "planned"
	BatchSending = "sending"
	BatchSent    = "sent"
	BatchFailed  = "failed"
	BatchSplit   = "split"
)

// BatchStatuses lists every batch status.
var BatchStatuses = []string{BatchPlanned, BatchSending, BatchSent, BatchFailed, BatchSplit}

// BatchesFinal are the statuses after which a batch is never sent again.
var BatchesFinal = []string{BatchSent, BatchFailed, BatchSplit}

// BatchesToSend are the statuses of batches submit still sends: planned, or left sending by a
// crash or a lost answer (re-sent with the same key and body).
var BatchesToSend = []string{BatchPlanned, BatchSending}

// batchFrom says, for each status, which statuses a batch may take it from. Sending again from
// sending is a resend: one more attempt under the same key.
var batchFrom = map[string][]string{
	BatchSending: {BatchPlanned, BatchSending},
	BatchSent:    {BatchSending},
	BatchFailed:  {BatchSending},
	BatchSplit:   {BatchSending},
}

// BatchMove is what a batch's transition records besides its status. Sending counts an attempt and
// keeps the first sending time; sent records the time.
type BatchMove struct {
	HTTPStatus sql.NullInt64  // Alpaca's HTTP status, when it answered
	Error      sql.NullString // Alpaca's message or cashpool's note, when there is one
}

// ErrBatchMoved means a batch was not in a status it may move from: another worker settled it.
var ErrBatchMoved = errors.New("batch no longer in a status it may move from")

// ErrNotClaimed means a batch is not, or no longer, claimed by the worker that would mark it
// sending: its claim ran out and may be another worker's now.
var ErrNotClaimed = errors.New("batch not claimed by this worker (its claim ran out)")

// MoveBatch moves batch id to status to, guarded in SQL by batchFrom: a batch not in a status it
// may move from is left as it is and the call fails (ErrBatchMoved).
func MoveBatch(ctx context.Context, q Querier, id int64, to string, m BatchMove, now time.Time) error {
	return moveBatch(ctx, q, id, to, m, sql.NullString{}, now)
}

// MarkSending moves batch id to sending (one more attempt, sending_at now) only while worker's
// claim on it holds on the database's clock, in the same row-locked statement: a worker whose
// claim ran out cannot mark it (ErrNotClaimed), whoever holds it now.
func MarkSending(ctx context.Context, q Querier, id int64, worker string, now time.Time) error {
	err := moveBatch(ctx, q, id, BatchSending, BatchMove{}, sql.NullString{String: worker, Valid: true}, now)
	if errors.Is(err, ErrBatchMoved) {
		return fmt.Errorf("batch %d: %w", id, ErrNotClaimed)
	}
	return err
}

func moveBatch(ctx context.Context, q Querier, id int64, to string, m BatchMove, worker sql.NullString, now time.Time) error {
	var moved int64
	err := q.GetContext(ctx, &moved, queryMoveBatch, id, to, pq.Array(batchFrom[to]), m.HTTPStatus, m.Error, now, BatchSending, BatchSent, worker)
	if err == sql.ErrNoRows {
		return fmt.Errorf("batch %d may not become %s from its status: %w", id, to, ErrBatchMoved)
	}
	if err != nil {
		return fmt.Errorf("batch %d to %s: %w", id, to, err)
	}
	return nil
}

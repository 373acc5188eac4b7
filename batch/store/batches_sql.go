package store

import (
	"context"
	"fmt"
)

// Every statement against batches (schema: migration 00001). Steps write batches only through
// these; jnlc builds a new batch's exact body and key.

// InsertBatch stores one planned batch with its exact body and Idempotency-Key, in the caller's
// transaction, and returns its id.
func InsertBatch(ctx context.Context, q Querier, runID int64, seq, key string, body []byte, entries int) (int64, error) {
	var id int64
	err := q.QueryRowxContext(ctx, `
		INSERT INTO batches (run_id, seq, idempotency_key, body, entries, status) VALUES ($1, $2, $3, $4, $5, $6)
		RETURNING id`, runID, seq, key, body, entries, BatchPlanned).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("insert batch %s: %w", seq, err)
	}
	return id, nil
}

// NoteBatchRefusal records Alpaca's HTTP status and message on batch id without moving it: the
// batch stays sending, to be resent with the same key and body.
func NoteBatchRefusal(ctx context.Context, q Querier, id int64, httpStatus int, msg string) error {
	_, err := q.ExecContext(ctx, `UPDATE batches SET http_status = $2, error = $3 WHERE id = $1`, id, httpStatus, msg)
	return err
}

// queryMoveBatch is the one statement that writes batches.status after a batch's creation.
const queryMoveBatch = `
UPDATE batches SET status = $2,
	attempts    = attempts + CASE WHEN $2 = $7 THEN 1 ELSE 0 END,
	sending_at  = CASE WHEN $2 = $7 THEN COALESCE(sending_at, $6) ELSE sending_at END,
	sent_at     = CASE WHEN $2 = $8 THEN $6 ELSE sent_at END,
	http_status = COALESCE($4, http_status),
	error       = COALESCE($5, error)
WHERE id = $1 AND status = ANY($3::text[])
RETURNING id`

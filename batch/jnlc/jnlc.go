package jnlc

import (
	"context"
	"encoding/json"

	"github.com/jmoiron/sqlx"

	"github.com/cashpool/cashpool/alpaca"
	"github.com/cashpool/cashpool/batch/store"
	"github.com/cashpool/cashpool/pool"
)

// BatchSizeDefault is how many journals one POST /v1/journals/batch carries. Defaults to 500.
const BatchSizeDefault = 500

// Body renders a batch request. encoding/json writes struct fields in declaration order, so the same
// entries always give the same bytes.
func Body(sweep string, entries []alpaca.BatchEntry) ([]byte, error) {
	return json.Marshal(alpaca.BatchRequest{EntryType: "JNLC", FromAccount: sweep, Entries: entries})
}

// NewBatch is the planned batch seq of entries with id, its exact body and its derived
// Idempotency-Key, for store.InsertBatches.
func NewBatch(id int64, sweep, date, seq string, entries []alpaca.BatchEntry) (store.NewBatch, error) {
	body, err := Body(sweep, entries)
	if err != nil {
		return store.NewBatch{}, err
	}
	return store.NewBatch{ID: id, Seq: seq, Key: pool.BatchKey(sweep, date, seq, body), Body: body, Entries: len(entries)}, nil
}

// InsertBatch stores one planned batch with its exact body and derived Idempotency-Key, in the
// caller's transaction, and returns its id. plan writes a night's batches with it, submit the
// halves of a batch Alpaca canceled whole, redrive new attempts. Its INSERT is the batches table's,
// in batch/store; Body and the key are built here.
func InsertBatch(ctx context.Context, tx *sqlx.Tx, runID int64, sweep, date, seq string, entries []alpaca.BatchEntry) (int64, error) {
	body, err := Body(sweep, entries)
	if err != nil {
		return 0, err
	}
	return store.InsertBatch(ctx, tx, runID, store.EntryJNLC, seq, pool.BatchKey(sweep, date, seq, body), body, len(entries))
}

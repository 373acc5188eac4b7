package jnlc

import (
	"context"
	"encoding/json"

	"github.com/jmoiron/sqlx"

	"github.com/cashpool/cashpool/alpaca"
	"github.com/cashpool/cashpool/batch/store"
	"github.com/cashpool/cashpool/pool"
)

// RewardBody renders the one POST /v1/journals request of a JNLS: qty of symbol from the rewards
// account to to. encoding/json writes struct fields in declaration order and qty is the
// shortest form of the decimal, so the same reward always gives the same bytes.
func RewardBody(rewardsAccount string, req alpaca.CreateJournalRequest) ([]byte, error) {
	req.EntryType, req.FromAccount = store.EntryJNLS, rewardsAccount
	return json.Marshal(req)
}

// InsertRewardBatch stores the planned JNLS "batch" of one reward (its exact single-journal body and
// an Idempotency-Key derived from it, as a cash batch's is), in the caller's transaction, and
// returns its id.
func InsertRewardBatch(ctx context.Context, tx *sqlx.Tx, runID int64, rewardsAccount, date, seq string, req alpaca.CreateJournalRequest) (int64, error) {
	body, err := RewardBody(rewardsAccount, req)
	if err != nil {
		return 0, err
	}
	return store.InsertBatch(ctx, tx, runID, store.EntryJNLS, seq, pool.BatchKey(rewardsAccount, date, seq, body), body, 1)
}

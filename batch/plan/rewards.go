package plan

import (
	"context"
	"fmt"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/alpaca"
	"github.com/cashpool/cashpool/batch/jnlc"
	"github.com/cashpool/cashpool/batch/schema"
	"github.com/cashpool/cashpool/batch/store"
	"github.com/cashpool/cashpool/pool"
)

// RewardsLock names the advisory lock under which a run plans the loaded rewards.
const RewardsLock = "plan:rewards"

// reward is one loaded reward not planned yet.
type reward struct {
	ID          string          `db:"reward_id"`
	AccountID   string          `db:"account_id"`
	Symbol      string          `db:"symbol"`
	Qty         decimal.Decimal `db:"qty"`
	Description string          `db:"description"`
}

// rewardJournal is the journal row of one reward, written once every batch is (COPY takes the
// connection while it runs).
type rewardJournal struct {
	batchID   any // nil for a reward refused before any money moves
	key       string
	r         reward
	desc      string
	message   string // the refusal's reason, "" when planned
	status    string
	qtyText   string
	toAccount string
}

// rewards plans every loaded reward no run took as one JNLS journal with its own batch: the
// exact single POST /v1/journals body and an Idempotency-Key derived from it. A reward to the
// rewards or sweep account itself is refused here, before any money moves: shares go only from
// the firm to a customer (Alpaca: "JNLS can ONLY be done from the SWEEP ACCOUNT to the USER
// ACCOUNT"), and a reward naming the firm would only move shares back into it.
func (p *planner) rewards(ctx context.Context) error {
	// Runs of two dates may plan at once: the second waits here for the first to commit, then
	// finds its rewards planned, instead of failing on the unique (reward_id, attempt).
	if _, err := p.tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, schema.LockKey(RewardsLock)); err != nil {
		return fmt.Errorf("lock the rewards: %w", err)
	}
	var rs []reward
	if err := p.tx.SelectContext(ctx, &rs, selectRewards); err != nil {
		return fmt.Errorf("select rewards: %w", err)
	}
	if len(rs) == 0 {
		return nil
	}
	js := make([]rewardJournal, 0, len(rs))
	for i, r := range rs {
		key := pool.RewardJournalKey(p.cfg.RewardsAccount, p.cfg.BusinessDate, r.ID, 1)
		j := rewardJournal{key: key, r: r, desc: pool.Describe(r.Description, key), qtyText: r.Qty.String(),
			toAccount: strings.ToLower(r.AccountID), status: store.JournalPlanned}
		if firm := p.firmAccount(j.toAccount); firm != "" {
			j.status = store.JournalRefused
			j.message = fmt.Sprintf("reward %s is to the %s itself, not a customer account: refused before sending; "+
				"shares go only from the rewards account to customers", r.ID, firm)
			p.res.RewardsRefused++
		} else {
			id, err := jnlc.InsertRewardBatch(ctx, p.tx, p.res.RunID, p.cfg.RewardsAccount, p.cfg.BusinessDate,
				fmt.Sprintf("s%06d", i+1), alpaca.CreateJournalRequest{
					ToAccount: j.toAccount, Symbol: r.Symbol, Qty: j.qtyText, Description: j.desc,
				})
			if err != nil {
				return err
			}
			j.batchID = id
			p.res.Batches++
		}
		js = append(js, j)
	}
	stmt, err := p.tx.PrepareContext(ctx, store.CopyRewardJournalsSQL)
	if err != nil {
		return fmt.Errorf("copy reward journals: %w", err)
	}
	for _, j := range js {
		if _, err := stmt.ExecContext(ctx, p.res.RunID, j.batchID, j.key, store.EntryJNLS, j.r.ID, j.r.Symbol, j.qtyText, 1,
			j.toAccount, j.desc, j.message, j.status, p.now); err != nil {
			stmt.Close()
			return fmt.Errorf("copy reward journals: %w", err)
		}
	}
	if _, err := stmt.ExecContext(ctx); err != nil {
		stmt.Close()
		return fmt.Errorf("copy reward journals: %w", err)
	}
	p.res.Rewards += len(js)
	return stmt.Close()
}

// firmAccount names the firm account acc is, or "" for a customer's.
func (p *planner) firmAccount(acc string) string {
	switch {
	case strings.EqualFold(acc, p.cfg.SweepAccount):
		return "sweep account"
	case strings.EqualFold(acc, p.cfg.RewardsAccount):
		return "rewards account"
	}
	return ""
}

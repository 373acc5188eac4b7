package submit

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/alpaca"
	"github.com/cashpool/cashpool/batch/store"
	"github.com/cashpool/cashpool/pool"
)

// A JNLS "batch" is one reward: one POST /v1/journals of the exact body stored at plan time, under
// its Idempotency-Key, marked sending under the fence before the POST like a cash batch (send does
// that part) and resent with the same key after a crash or a 5xx.

// sayRewardsPace logs how long the rewards still to send take: Alpaca's batch endpoint takes cash
// only, so each reward is a call of its own, paced within the rate limit.
func (s *submitter) sayRewardsPace(ctx context.Context) error {
	todo, err := store.BatchesToSendOf(ctx, s.db, s.runID)
	if err != nil {
		return fmt.Errorf("list batches: %w", err)
	}
	n := 0
	for _, b := range todo {
		if b.EntryType == store.EntryJNLS {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	about := (time.Duration(n) * time.Minute / alpaca.RateLimitPerMinute).Round(time.Second)
	s.cfg.Logger.Info(fmt.Sprintf("submit: %d rewards, one call each, about %s at the rate limit", n, max(about, time.Second)),
		"rewards", n, "rate_limit_per_minute", alpaca.RateLimitPerMinute)
	return nil
}

// rewardRequest reads the stored body of a JNLS batch.
func rewardRequest(b store.Batch) (alpaca.CreateJournalRequest, error) {
	var req alpaca.CreateJournalRequest
	if err := json.Unmarshal(b.Body, &req); err != nil {
		return req, fmt.Errorf("stored body of reward batch %s: %w", b.Seq, err)
	}
	return req, nil
}

// asEntries gives a reward's request the shape listByTokenOf matches: its account and key token.
func asEntries(req alpaca.CreateJournalRequest) []alpaca.BatchEntry {
	return []alpaca.BatchEntry{{ToAccount: req.ToAccount, Description: req.Description}}
}

// sendReward posts a reward marked sending and stores what Alpaca said. A definitive refusal (4xx)
// refuses its journal with Alpaca's message; anything else (timeouts, 5xx, 429 past the client's
// retries) leaves it sending, to be resent with the same key and body.
func (s *submitter) sendReward(ctx context.Context, b store.Batch, res *Result) error {
	answer, err := s.broker.CreateJournalBody(ctx, b.Key, b.Body)
	call(s.cfg.AfterRewardPost, b.ID)
	var apiErr *alpaca.APIError
	switch {
	case err == nil:
		if err := s.storeReward(ctx, b, answer); err != nil {
			return fmt.Errorf("store answer of reward batch %s: %w", b.Seq, err)
		}
		call(s.cfg.RewardStored, b.ID)
		s.count(func() { res.Sent++ })
		return nil
	case errors.As(err, &apiErr) && wholeBatchCancel(apiErr.HTTPStatus):
		return s.rewardRefused(ctx, b, apiErr, res)
	default:
		return fmt.Errorf("send reward batch %s: %w", b.Seq, err)
	}
}

// storeReward records Alpaca's answer to a reward: its id and status, the batch sent, and the
// history, in one transaction. The answer must be the intent's: its key token, account, symbol
// and quantity.
func (s *submitter) storeReward(ctx context.Context, b store.Batch, got *alpaca.Journal) error {
	req, err := rewardRequest(b)
	if err != nil {
		return err
	}
	key, _ := pool.TokenFromDescription(req.Description)
	if k, ok := pool.TokenFromDescription(got.Description); !ok || k != key {
		return fmt.Errorf("answer (journal %s) carries no key token of this reward", got.ID)
	}
	if got.ToAccount != "" && !strings.EqualFold(got.ToAccount, req.ToAccount) {
		return fmt.Errorf("answer (journal %s) is for account %s, its intent for %s", got.ID, got.ToAccount, req.ToAccount)
	}
	if got.Symbol != nil && *got.Symbol != "" && *got.Symbol != req.Symbol {
		return fmt.Errorf("answer (journal %s) is for symbol %s, its intent for %s", got.ID, *got.Symbol, req.Symbol)
	}
	want, err := decimal.NewFromString(req.Qty)
	if err != nil {
		return fmt.Errorf("stored body of reward batch %s: qty %q: %w", b.Seq, req.Qty, err)
	}
	if got.Qty.Valid && !got.Qty.Decimal.Equal(want) {
		return fmt.Errorf("answer (journal %s) is for qty %s, its intent for %s", got.ID, got.Qty.Decimal, req.Qty)
	}
	now := s.cfg.Now().UTC()
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		js, err := store.JournalsOfBatch(ctx, tx, b.ID)
		if err != nil {
			return err
		}
		if len(js) != 1 || js[0].Key != key {
			return fmt.Errorf("reward batch %s holds %d journals, not its one intent", b.Seq, len(js))
		}
		// The batch first, as for a cash batch: one another worker settled is ErrBatchMoved.
		if err := store.MoveBatch(ctx, tx, b.ID, store.BatchSent, store.BatchMove{HTTPStatus: sql.NullInt64{Int64: http.StatusOK, Valid: true}}, now); err != nil {
			return err
		}
		return store.AnswerJournals(ctx, tx, []store.JournalMove{{ID: js[0].ID, To: got.Status, AlpacaID: got.ID}}, "submit", now)
	})
}

// rewardRefused handles a reward Alpaca refused (400, 403, 404, 422): not enough shares in the
// rewards account, a symbol it does not journal, an account that may not receive. A 422 is also
// Alpaca's answer to a key reused with another body, so Alpaca's journals are looked at first, as
// for a cash batch: one carrying the reward's key token means a conflict, never a refusal. A
// refusal naming the rewards account itself refuses no reward: the run stops and resends it, same
// key and body, once the account is fixed.
func (s *submitter) rewardRefused(ctx context.Context, b store.Batch, apiErr *alpaca.APIError, res *Result) error {
	req, err := rewardRequest(b)
	if err != nil {
		return err
	}
	if apiErr.HTTPStatus == http.StatusUnprocessableEntity {
		now := s.cfg.Now().UTC()
		found, err := s.listByTokenOf(ctx, store.EntryJNLS, s.cfg.RewardsAccount, asEntries(req), now.Add(-s.cfg.KeyRetention), now)
		if err != nil {
			return fmt.Errorf("reward batch %s refused (%w); listing Alpaca's journals to tell a conflict from a refusal: %w", b.Seq, apiErr, err)
		}
		if len(found) > 0 {
			return s.conflict(ctx, b, apiErr, found)
		}
	}
	if mentions(apiErr.Message, s.cfg.RewardsAccount) {
		if err := store.NoteBatchRefusal(ctx, s.db, b.ID, apiErr.HTTPStatus, apiErr.Message); err != nil {
			return err
		}
		return fmt.Errorf("reward batch %s: Alpaca refused the rewards account %s (%w); nothing was given: fix the account and re-run",
			b.Seq, s.cfg.RewardsAccount, apiErr)
	}
	now := s.cfg.Now().UTC()
	if err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := store.MoveBatch(ctx, tx, b.ID, store.BatchFailed, refusal(apiErr, apiErr.Message), now); err != nil {
			return err
		}
		key, _ := pool.TokenFromDescription(req.Description)
		ids, err := store.SetJournalsError(ctx, tx, b.ID, []string{key}, fmt.Sprintf("refused by Alpaca (HTTP %d): %s", apiErr.HTTPStatus, apiErr.Message))
		if err != nil {
			return err
		}
		_, err = store.MoveJournals(ctx, tx, store.Moves(ids, store.JournalRefused), "submit", now)
		return err
	}); err != nil {
		return fmt.Errorf("refuse reward batch %s: %w", b.Seq, err)
	}
	s.cfg.Logger.Warn("submit: Alpaca refused a reward", "batch", b.Seq, "symbol", req.Symbol, "qty", req.Qty,
		"to_account", req.ToAccount, "http_status", apiErr.HTTPStatus, "message", apiErr.Message)
	s.count(func() { res.Refused++ })
	return nil
}

// recoverStaleReward settles a reward left sending for longer than Alpaca keeps idempotency keys:
// the rewards account's JNLS journals are listed and matched by the reward's key token. Found, it
// is stored as Alpaca's answer; not found, it was never created and goes again, with the same
// body, under a new key.
func (s *submitter) recoverStaleReward(ctx context.Context, b store.Batch) error {
	req, err := rewardRequest(b)
	if err != nil {
		return err
	}
	return s.recoverByToken(ctx, b, store.EntryJNLS, s.cfg.RewardsAccount, asEntries(req),
		func(tx *sqlx.Tx, allFound bool, _ map[string]bool, note string, now time.Time) error {
			if allFound {
				return store.MoveBatch(ctx, tx, b.ID, store.BatchSent, store.BatchMove{Error: sql.NullString{String: note, Valid: true}}, now)
			}
			if err := store.MoveBatch(ctx, tx, b.ID, store.BatchSplit, store.BatchMove{Error: sql.NullString{String: note + "; sent again under a new key", Valid: true}}, now); err != nil {
				return err
			}
			seq := b.Seq + ".k"
			id, err := store.InsertBatch(ctx, tx, s.runID, store.EntryJNLS, seq, pool.BatchKey(s.cfg.RewardsAccount, s.cfg.BusinessDate, seq, b.Body), b.Body, 1)
			if err != nil {
				return err
			}
			return store.RebatchJournals(ctx, tx, id, b.ID, entryKeys(asEntries(req)))
		})
}

package reconcile

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/batch/store"
)

// Exception kinds of rewards: JNLS journals giving a customer shares from the rewards (firm)
// account. They carry RewardID, Symbol and Qty instead of a receipt, a client reference and an
// amount.
const (
	// KindRewardRefused is a reward Alpaca refused (its preliminary checks: the firm account holds
	// too few shares, the symbol is not tradable, the account may not receive it).
	KindRewardRefused = "reward_refused"
	// KindRewardToFirm is a reward naming a firm account (the rewards or the sweep account) as
	// its recipient: refused when planned, before any POST, as shares go only to customers.
	KindRewardToFirm = "reward_to_firm"
	// KindRewardRejected is a reward Alpaca rejected, canceled or deleted after taking it.
	KindRewardRejected = "reward_rejected"
	// KindRewardNotSent is a reward whose journal Alpaca has not answered for.
	KindRewardNotSent = "reward_not_sent"
	// KindRewardUnknownStatus is a reward whose journal is in a status cashpool does not know.
	KindRewardUnknownStatus = "reward_unknown_status"
	// KindRewardStuck is a reward still open at the run's track deadline.
	KindRewardStuck = "reward_stuck"
	// KindRewardInFlight is a reward still open before the deadline.
	KindRewardInFlight = "reward_in_flight"
	// KindRewardReversed is a delivered reward of an earlier run that Alpaca took back.
	KindRewardReversed = "reward_reversed"
	// KindRewardFailedLate is a reward still open when its run was reported that Alpaca failed since.
	KindRewardFailedLate = "reward_failed_late"
)

// RewardTotals are one symbol's rewards of a run, in shares. They balance when
// Requested = Delivered + Failed + Open. Requested is the quantity of the rewards as loaded from
// their files; the other three are the quantities of their journals (the highest attempt of
// each reward), by status.
type RewardTotals struct {
	Symbol                                          string
	Requested, Delivered, Failed, Open              decimal.Decimal
	Rewards, DeliveredCount, FailedCount, OpenCount int
}

// rewardRow is the highest attempt of one of the run's rewards, beside the reward as loaded.
type rewardRow struct {
	RewardID      string          `db:"reward_id"`
	ToAccount     string          `db:"to_account"`
	Symbol        string          `db:"symbol"`
	Requested     decimal.Decimal `db:"requested"`
	Qty           decimal.Decimal `db:"qty"`
	JournalKey    string          `db:"journal_key"`
	AlpacaID      string          `db:"alpaca_id"`
	Status        string          `db:"status"`
	ErrorMessage  string          `db:"error_message"`
	RefusedAtPlan bool            `db:"refused_at_plan"`
	File          string          `db:"file"`
	Line          int             `db:"line"`
}

// readRewards tallies the run's rewards per symbol and lists every reward not delivered.
func readRewards(ctx context.Context, tx *sqlx.Tx, r *Report, run runRow, now time.Time) error {
	pastDeadline := run.TrackDeadline.Valid && !now.Before(run.TrackDeadline.Time)
	bySymbol := map[string]*RewardTotals{}
	err := eachRow(ctx, tx, queryRewards, func(w rewardRow) error {
		s := bySymbol[w.Symbol]
		if s == nil {
			s = &RewardTotals{Symbol: w.Symbol}
			bySymbol[w.Symbol] = s
		}
		tallyReward(s, w.Requested, w.Qty, w.Status)
		if e, ok := rewardException(w, r.BusinessDate, pastDeadline); ok {
			r.Exceptions = append(r.Exceptions, e)
		}
		return nil
	}, r.RunID)
	if err != nil {
		return err
	}
	for _, s := range bySymbol {
		r.Totals.Rewards = append(r.Totals.Rewards, *s)
	}
	sort.Slice(r.Totals.Rewards, func(i, j int) bool { return r.Totals.Rewards[i].Symbol < r.Totals.Rewards[j].Symbol })
	return nil
}

// tallyReward adds one reward: its requested quantity, and its journal's quantity to exactly one
// of delivered, failed and open.
func tallyReward(s *RewardTotals, requested, qty decimal.Decimal, status string) {
	s.Rewards++
	s.Requested = s.Requested.Add(requested)
	addByOutcome(status, qty, 1, bucket{&s.Delivered, &s.DeliveredCount}, bucket{&s.Failed, &s.FailedCount},
		bucket{&s.Open, &s.OpenCount})
}

// rewardException classifies one reward's journal. Only a delivered reward yields none.
func rewardException(w rewardRow, date string, pastDeadline bool) (Exception, bool) {
	e := Exception{
		RewardID:   w.RewardID,
		AccountID:  w.ToAccount,
		Symbol:     w.Symbol,
		Qty:        w.Qty,
		JournalID:  w.AlpacaID,
		JournalKey: w.JournalKey,
		Status:     w.Status,
		Reason:     w.ErrorMessage,
		File:       w.File,
		Line:       w.Line,
	}
	s := w.Status
	switch {
	case store.JournalFunded(s):
		return Exception{}, false
	case notSent(s):
		e.Kind = KindRewardNotSent
		if e.Reason == "" {
			e.Reason = "Alpaca never answered for this reward's journal"
		}
		e.NextAction = fmt.Sprintf("re-run `cashpool run --date %s`; it resends with the same key", date)
	case s == store.JournalRefused && w.RefusedAtPlan:
		e.Kind = KindRewardToFirm
		e.NextAction = "nothing was sent: if the reward is for a customer, drop it again with the customer's account_id under a new reward_id"
	case s == store.JournalRefused:
		e.Kind = KindRewardRefused
		if e.Reason == "" {
			e.Reason = "refused by Alpaca's preliminary checks"
		}
		e.NextAction = fmt.Sprintf("no shares moved: make sure the rewards account holds %s %s and the symbol is tradable, "+
			"then drop the reward again in a rewards file under a new reward_id (a reward is not redriven); or tell the customer it is withdrawn",
			w.Qty.String(), w.Symbol)
	case store.JournalFailed(s):
		e.Kind = KindRewardRejected
		e.NextAction = "no shares moved: fix the cause, then drop the reward again in a rewards file under a new reward_id (a reward is not redriven)"
	case !store.JournalKnown(s) || s == store.JournalCorrect:
		e.Kind = KindRewardUnknownStatus
		e.NextAction = "look the journal up in the Alpaca dashboard; a reward's journal is not expected in this status"
	case pastDeadline:
		e.Kind = KindRewardStuck
		e.NextAction = fmt.Sprintf("ask Alpaca operations why the reward's journal is still %s", s)
	default:
		e.Kind = KindRewardInFlight
		e.NextAction = fmt.Sprintf("not settled yet: run `cashpool track --date %s`, then report again", date)
	}
	return e, true
}

// balanceRewards checks every symbol's Requested = Delivered + Failed + Open, one problem line
// (and one unbalanced exception, in shares of the symbol) per symbol that does not.
func balanceRewards(t *Totals) (out []Exception) {
	for _, s := range t.Rewards {
		sum := s.Delivered.Add(s.Failed).Add(s.Open)
		if s.Requested.Equal(sum) {
			continue
		}
		p := fmt.Sprintf("rewards of %s: requested %s <> delivered + failed + open %s (difference %s shares)",
			s.Symbol, s.Requested.String(), sum.String(), s.Requested.Sub(sum).String())
		t.Problems = append(t.Problems, p)
		out = append(out, Exception{
			Kind: KindUnbalanced, Symbol: s.Symbol, Qty: s.Requested.Sub(sum), Reason: p,
			NextAction: "do not re-drive; the database no longer adds up: escalate to engineering",
		})
	}
	t.Balanced = len(t.Problems) == 0
	return out
}

// lateReward turns late news about a cash journal into the news about a reward's: the shares,
// not money, came back or never moved.
func lateReward(e *Exception, v lateRow) {
	e.RewardID, e.Symbol, e.Qty = v.RewardID, v.Symbol, v.Qty.Decimal
	if e.Kind == KindReversed {
		e.Kind = KindRewardReversed
		e.Reason = strings.Replace(e.Reason, "funded by the run", "delivered by the run", 1)
		e.NextAction = "the shares went back to the rewards account after delivery: ask Alpaca operations why, and tell the customer"
		return
	}
	e.Kind = KindRewardFailedLate
	e.NextAction = "never delivered: fix the cause, then drop the reward again under a new reward_id (or tell the customer it is withdrawn)"
}

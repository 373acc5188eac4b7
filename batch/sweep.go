package batch

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/alpaca"
	"github.com/cashpool/cashpool/pool"
	"github.com/cashpool/cashpool/reconcile"
)

// The sweep account's proof (see reconcile.Sweep): the opening cash is read once, before the
// night's first POST, and kept; the closing cash after each tracking. Neither reading stops a
// night: money moves on the cash check's word, and a night that cannot be proved says so in its
// report.

// openSweep stores the night's opening cash, unless it has one: from a, the trading account the
// cash check just read, or read now when a is nil. It runs before any POST of the night, so
// the opening is cash before any of the night's money left; a resumed night never reads it again.
func (r *Runner) openSweep(ctx context.Context, runID int64, a *alpaca.TradingAccount) error {
	c := r.cfg()
	if ok, err := reconcile.HasOpening(ctx, r.DB, runID); err != nil || ok {
		return err
	}
	if a == nil {
		var err error
		if a, err = r.Broker.GetTradingAccount(ctx, c.SweepAccount); err != nil {
			return fmt.Errorf("reading the sweep account's opening cash at the broker: %w; nothing was sent", err)
		}
	}
	if !a.Cash.Valid {
		c.Logger.Warn("the broker's trading account of the sweep account shows no cash: the night cannot be proved", "run", runID)
		return nil
	}
	ok, err := reconcile.RecordOpening(ctx, r.DB, runID, a.Cash.Decimal, c.Now())
	if err == nil && !ok {
		c.Logger.Warn("the night's money left before an opening cash was kept: the night cannot be proved", "run", runID)
	}
	return err
}

// closeSweep reads the sweep account's cash after tracking and stores it as the night's closing;
// when it is not the expected one, it also stores the JNLC activities on the sweep account
// between the two readings, which the report lists.
func (r *Runner) closeSweep(ctx context.Context, runID int64) error {
	c := r.cfg()
	if ok, err := reconcile.HasOpening(ctx, r.DB, runID); err != nil || !ok {
		return err
	}
	a, err := r.Broker.GetTradingAccount(ctx, c.SweepAccount)
	if err != nil {
		return fmt.Errorf("reading the sweep account's closing cash at the broker: %w", err)
	}
	if !a.Cash.Valid {
		c.Logger.Warn("the broker's trading account of the sweep account shows no cash: the night cannot be proved", "run", runID)
		return nil
	}
	at := c.Now()
	if err := reconcile.RecordClosing(ctx, r.DB, runID, a.Cash.Decimal, at, nil); err != nil {
		return err
	}
	s, err := reconcile.SweepOf(ctx, r.DB, runID)
	if err != nil || s.Proved() {
		return err
	}
	acts, err := r.sweepActivities(ctx, s.OpeningAt, at)
	if err != nil {
		// The difference is reported either way; only its explanation is missing.
		c.Logger.Warn("the sweep account does not prove and its activities could not be read", "run", runID, "err", err)
		return nil
	}
	return reconcile.RecordClosing(ctx, r.DB, runID, a.Cash.Decimal, at, acts)
}

// sweepActivityReads is how many times the activity stream is read before giving up: a stream
// broken off (dropped events, a reset, a 5xx) is read again from the start, as the window is
// closed and a new read gives the same activities.
const sweepActivityReads = 3

// sweepActivities reads Alpaca's JNLC activities on the sweep account booked or taken back
// between since and until, one per ref_id with what it did to the cash inside the window.
func (r *Runner) sweepActivities(ctx context.Context, since, until time.Time) ([]reconcile.SweepActivity, error) {
	var err error
	for range sweepActivityReads {
		t := newActivityTally(r.cfg().SweepAccount, since, until)
		if err = r.Broker.StreamActivities(ctx, alpaca.ActivityOptions{Since: since, Until: until}, t.add); err == nil {
			return t.activities(), nil
		}
		if ctx.Err() != nil {
			return nil, err
		}
	}
	return nil, err
}

// activityTally keeps, from an activity stream that carries every account and type, in any order
// and possibly twice, the sweep account's JNLC activities inside a window. An activity's effect on
// the cash depends on which of its statuses fell in the window, never on their order: its
// net_amount if it was executed in the window, less it if it was canceled or corrected in it.
type activityTally struct {
	sweep        string
	since, until time.Time
	byRef        map[string]*tallied
	order        []string
}

type tallied struct {
	act      reconcile.SweepActivity
	executed bool
	undone   string // canceled or correct, when taken back in the window
	other    string // any other status (pending, or one Alpaca adds later): no cash moved
}

func newActivityTally(sweep string, since, until time.Time) *activityTally {
	return &activityTally{sweep: sweep, since: since, until: until, byRef: map[string]*tallied{}}
}

func (t *activityTally) add(a alpaca.Activity) error {
	if a.ActivityType != alpaca.ActivityJNLC || !strings.EqualFold(a.AccountID, t.sweep) ||
		a.At.Before(t.since) || a.At.After(t.until) {
		return nil
	}
	net, err := a.NetAmount()
	if err != nil {
		return err
	}
	s := t.byRef[a.RefID]
	if s == nil {
		s = &tallied{act: reconcile.SweepActivity{RefID: a.RefID, NetAmount: net}}
		if pool.IsUUID(a.JournalID) {
			s.act.JournalID = strings.ToLower(a.JournalID)
		}
		t.byRef[a.RefID] = s
		t.order = append(t.order, a.RefID)
	}
	switch a.Status {
	case alpaca.ActivityExecuted:
		s.executed = true
	case alpaca.ActivityCanceled, alpaca.ActivityCorrect:
		s.undone = a.Status
	default:
		s.other = a.Status
	}
	if a.At.After(s.act.At) {
		s.act.At = a.At
	}
	return nil
}

// activities is one SweepActivity per ref_id, in the order first seen.
func (t *activityTally) activities() []reconcile.SweepActivity {
	out := make([]reconcile.SweepActivity, 0, len(t.order))
	for _, ref := range t.order {
		s := t.byRef[ref]
		s.act.Effect, s.act.Status = decimal.Zero, s.other
		if s.executed {
			s.act.Effect, s.act.Status = s.act.NetAmount, alpaca.ActivityExecuted
		}
		if s.undone != "" {
			s.act.Effect, s.act.Status = s.act.Effect.Sub(s.act.NetAmount), s.undone
		}
		out = append(out, s.act)
	}
	return out
}

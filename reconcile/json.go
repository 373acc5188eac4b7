package reconcile

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/shopspring/decimal"
)

// The JSON shapes spell amounts as strings with two places, independent of decimal's
// process-wide JSON settings. runs.totals stores the same shape.

type totalsJSON struct {
	Receipts      string `json:"receipts"`
	Allocated     string `json:"allocated"`
	Unallocated   string `json:"unallocated"`
	Held          string `json:"held"`
	Planned       string `json:"planned"`
	Executed      string `json:"executed"`
	Failed        string `json:"failed"`
	InFlight      string `json:"in_flight"`
	Journals      int    `json:"journals"`
	ExecutedCount int    `json:"executed_count"`
	FailedCount   int    `json:"failed_count"`
	InFlightCount int    `json:"in_flight_count"`
	Exceptions    int    `json:"exceptions"`
	// Rewards are per symbol, quantities of shares as exact strings.
	Rewards  []rewardTotalsJSON `json:"rewards"`
	Balanced bool               `json:"balanced"`
	Problems []string           `json:"problems"`
}

type rewardTotalsJSON struct {
	Symbol         string `json:"symbol"`
	Requested      string `json:"requested"`
	Delivered      string `json:"delivered"`
	Failed         string `json:"failed"`
	Open           string `json:"open"`
	Rewards        int    `json:"rewards"`
	DeliveredCount int    `json:"delivered_count"`
	FailedCount    int    `json:"failed_count"`
	OpenCount      int    `json:"open_count"`
}

type exceptionJSON struct {
	Kind       string  `json:"kind"`
	ReceiptID  string  `json:"receipt_id"`
	ClientRef  string  `json:"client_ref"`
	AccountID  string  `json:"account_id"`
	Amount     *string `json:"amount"` // null when no amount applies
	JournalID  string  `json:"journal_id"`
	JournalKey string  `json:"journal_key"`
	Status     string  `json:"status"`
	Reason     string  `json:"reason"`
	NextAction string  `json:"next_action"`
	File       string  `json:"file"`
	Line       int     `json:"line,omitempty"`
	RewardID   string  `json:"reward_id,omitempty"`
	Symbol     string  `json:"symbol,omitempty"`
	Qty        *string `json:"qty,omitempty"` // shares, exact
}

type reportJSON struct {
	BusinessDate string      `json:"business_date"`
	SweepAccount string      `json:"sweep_account"`
	RunID        int64       `json:"run_id"`
	GeneratedAt  time.Time   `json:"generated_at"`
	Totals       Totals      `json:"totals"`
	Exceptions   []Exception `json:"exceptions"`
	Sweep        *Sweep      `json:"sweep"`
}

// MarshalJSON writes amounts as strings with two places.
func (t Totals) MarshalJSON() ([]byte, error) {
	problems := t.Problems
	if problems == nil {
		problems = []string{}
	}
	rewards := make([]rewardTotalsJSON, 0, len(t.Rewards))
	for _, s := range t.Rewards {
		rewards = append(rewards, rewardTotalsJSON{Symbol: s.Symbol, Requested: s.Requested.String(),
			Delivered: s.Delivered.String(), Failed: s.Failed.String(), Open: s.Open.String(), Rewards: s.Rewards,
			DeliveredCount: s.DeliveredCount, FailedCount: s.FailedCount, OpenCount: s.OpenCount})
	}
	return json.Marshal(totalsJSON{
		Receipts: t.Receipts.StringFixed(2), Allocated: t.Allocated.StringFixed(2),
		Unallocated: t.Unallocated.StringFixed(2), Held: t.Held.StringFixed(2),
		Planned: t.Planned.StringFixed(2), Executed: t.Executed.StringFixed(2),
		Failed: t.Failed.StringFixed(2), InFlight: t.InFlight.StringFixed(2),
		Journals: t.Journals, ExecutedCount: t.ExecutedCount, FailedCount: t.FailedCount,
		InFlightCount: t.InFlightCount, Exceptions: t.Exceptions, Rewards: rewards,
		Balanced: t.Balanced, Problems: problems,
	})
}

// UnmarshalJSON reads what MarshalJSON wrote, such as runs.totals.
func (t *Totals) UnmarshalJSON(b []byte) error {
	var v totalsJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	out := Totals{
		Journals: v.Journals, ExecutedCount: v.ExecutedCount, FailedCount: v.FailedCount,
		InFlightCount: v.InFlightCount, Exceptions: v.Exceptions,
		Balanced: v.Balanced, Problems: v.Problems,
	}
	for _, f := range []struct {
		dst  *decimal.Decimal
		src  string
		name string
	}{
		{&out.Receipts, v.Receipts, "receipts"}, {&out.Allocated, v.Allocated, "allocated"},
		{&out.Unallocated, v.Unallocated, "unallocated"}, {&out.Held, v.Held, "held"},
		{&out.Planned, v.Planned, "planned"}, {&out.Executed, v.Executed, "executed"},
		{&out.Failed, v.Failed, "failed"}, {&out.InFlight, v.InFlight, "in_flight"},
	} {
		d, err := decimal.NewFromString(f.src)
		if err != nil {
			return fmt.Errorf("totals %s: %w", f.name, err)
		}
		*f.dst = d
	}
	for _, s := range v.Rewards {
		rt := RewardTotals{Symbol: s.Symbol, Rewards: s.Rewards, DeliveredCount: s.DeliveredCount,
			FailedCount: s.FailedCount, OpenCount: s.OpenCount}
		for _, q := range []struct {
			dst *decimal.Decimal
			src string
		}{{&rt.Requested, s.Requested}, {&rt.Delivered, s.Delivered}, {&rt.Failed, s.Failed}, {&rt.Open, s.Open}} {
			d, err := decimal.NewFromString(q.src)
			if err != nil {
				return fmt.Errorf("totals rewards of %s: %w", s.Symbol, err)
			}
			*q.dst = d
		}
		out.Rewards = append(out.Rewards, rt)
	}
	*t = out
	return nil
}

// MarshalJSON writes the amount as a string with two places, or null when no amount applies.
func (e Exception) MarshalJSON() ([]byte, error) {
	return json.Marshal(exceptionJSON{
		Kind: e.Kind, ReceiptID: e.ReceiptID, ClientRef: e.ClientRef, AccountID: e.AccountID,
		Amount: amountPtr(e.Amount), JournalID: e.JournalID, JournalKey: e.JournalKey,
		Status: e.Status, Reason: e.Reason, NextAction: e.NextAction, File: e.File, Line: e.Line,
		RewardID: e.RewardID, Symbol: e.Symbol, Qty: qtyPtr(e.Qty),
	})
}

// MarshalJSON writes the report with snake_case names and amounts as strings with two places.
func (r Report) MarshalJSON() ([]byte, error) {
	es := r.Exceptions
	if es == nil {
		es = []Exception{}
	}
	return json.Marshal(reportJSON{
		BusinessDate: r.BusinessDate, SweepAccount: r.SweepAccount, RunID: r.RunID,
		GeneratedAt: r.GeneratedAt, Totals: r.Totals, Exceptions: es, Sweep: r.Sweep,
	})
}

func amountPtr(d decimal.Decimal) *string {
	if d.IsZero() {
		return nil
	}
	s := d.StringFixed(2)
	return &s
}

// qtyPtr is a reward's quantity of shares, exact, or nil when no reward applies.
func qtyPtr(d decimal.Decimal) *string {
	if d.IsZero() {
		return nil
	}
	s := d.String()
	return &s
}

// amountText is the amount as the CSV and HTML show it: empty when no amount applies.
func amountText(d decimal.Decimal) string {
	if d.IsZero() {
		return ""
	}
	return d.StringFixed(2)
}

package reconcile

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/cashpool/cashpool/batch/store"
)

// Finish stores r's totals on its run and marks the run reconciled. Calling it again (a report
// re-written later) replaces the totals but keeps the first finished_at.
func Finish(ctx context.Context, db *sqlx.DB, r *Report, now time.Time) error {
	totals, err := json.Marshal(r.Totals)
	if err != nil {
		return fmt.Errorf("finish run %d: encode totals: %w", r.RunID, err)
	}
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("finish run %d: begin: %w", r.RunID, err)
	}
	defer tx.Rollback()
	moved, err := store.FinishRun(ctx, tx, r.RunID, totals, r.snapshot, now)
	if err != nil {
		return fmt.Errorf("finish run %d: %w", r.RunID, err)
	}
	if !moved {
		return fmt.Errorf("finish run %d: %w", r.RunID, ErrRunNotFound)
	}
	for _, e := range r.Exceptions {
		if e.historyID == 0 { // only late news carries a history row
			continue
		}
		if _, err := tx.ExecContext(ctx, insertReportedReversal,
			e.historyID, r.RunID); err != nil {
			return fmt.Errorf("finish run %d: mark reversal reported: %w", r.RunID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("finish run %d: commit: %w", r.RunID, err)
	}
	return nil
}

// WriteSummary prints the summary a person reads on the terminal: the totals aligned, the number
// of exceptions of each kind, and the files Write wrote for r.
func WriteSummary(w io.Writer, r *Report) {
	fmt.Fprintf(w, "reconciliation %s  sweep account %s  run %d\n", r.BusinessDate, r.SweepAccount, r.RunID)
	// The rewards' per-symbol metrics are told in one line below, in shares.
	ms := cashMetrics(r.Totals)
	width := 0
	for _, m := range ms {
		width = max(width, len(m.Value))
	}
	// Names left, values right, so the cents line up.
	for _, m := range ms {
		fmt.Fprintf(w, "  %-16s %*s\n", m.Metric, width, m.Value)
	}
	for _, p := range r.Totals.Problems {
		fmt.Fprintf(w, "UNBALANCED: %s\n", p)
	}
	if l := rewardsLine(r.Totals.Rewards); l != "" {
		fmt.Fprintf(w, "%s\n", l)
	}
	if r.Sweep != nil {
		fmt.Fprintf(w, "%s\n", r.Sweep.Line())
	}
	counts := map[string]int{}
	for _, e := range r.Exceptions {
		counts[e.Kind]++
	}
	if len(r.Exceptions) == 0 {
		fmt.Fprintln(w, "no exceptions")
	} else {
		fmt.Fprintf(w, "%s:\n", plural(len(r.Exceptions), "exception"))
		for _, k := range Kinds {
			if counts[k] > 0 {
				fmt.Fprintf(w, "  %-19s %3d\n", k, counts[k])
			}
		}
	}
	for _, e := range r.Exceptions {
		if e.RewardID != "" {
			fmt.Fprintf(w, "  %s %s: %s %s to %s: %s\n", e.Kind, e.RewardID, e.Qty.String(), e.Symbol, e.AccountID, e.Reason)
		}
	}
	for _, p := range r.paths {
		fmt.Fprintf(w, "wrote %s\n", p)
	}
}

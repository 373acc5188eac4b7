package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/jmoiron/sqlx"

	"github.com/cashpool/cashpool/batch"
	"github.com/cashpool/cashpool/batch/redrive"
)

// redriveDate shows what a redrive of cfg.Date would do and, with --yes, does it and runs the date
// again so the new journals are submitted, tracked and reported.
func redriveDate(ctx context.Context, db *sqlx.DB, r *batch.Runner, cfg *config, yes bool, stdout io.Writer) (int, error) {
	rcfg := redrive.Config{SweepAccount: cfg.SweepAccount, BusinessDate: cfg.Date, BatchSize: cfg.BatchSize}
	p, err := redrive.Preview(ctx, db, rcfg)
	if errors.Is(err, redrive.ErrNoRun) {
		return exitUsage, usageError{fmt.Errorf("no run for %s", cfg.Date)}
	}
	if err != nil {
		return exitFailure, err
	}
	p.Write(stdout)
	if p.Redrive == 0 {
		fmt.Fprintln(stdout, "Nothing to redrive.")
		return exitOK, nil
	}
	if !yes {
		fmt.Fprintf(stdout, "\nDry run: nothing was changed. Add --yes to create these %d journals and send them.\n", p.Redrive)
		return exitOK, nil
	}
	if _, err := redrive.Apply(ctx, db, rcfg); err != nil {
		if errors.Is(err, redrive.ErrBusy) {
			return exitFailure, fmt.Errorf("a run of %s is in progress; try again when it ends", cfg.Date)
		}
		return exitFailure, err
	}
	fmt.Fprintf(stdout, "\nRedrive planned. Sending, tracking and reconciling %s again.\n", cfg.Date)
	out, err := r.Run(ctx, cfg.Date)
	if err != nil {
		return exitFailure, fmt.Errorf("the new journals are planned but the run stopped: %w (re-run `cashpool run --date %s`)", err, cfg.Date)
	}
	return printOutcome(stdout, out), nil
}

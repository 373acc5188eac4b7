package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/jmoiron/sqlx"

	"github.com/cashpool/cashpool/batch"
	"github.com/cashpool/cashpool/batch/redrive"
	"github.com/cashpool/cashpool/batch/schema"
	"github.com/cashpool/cashpool/pool"
)

// redriveFlags are the flags of `cashpool redrive`.
type redriveFlags struct {
	dryRun, yes                               bool
	journal, account, description, by, reason string
	dateSet                                   bool // --date was given; with --journal the date is otherwise the journal's
}

func (f *redriveFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.dryRun, "dry-run", false, "show what would be redriven and change nothing (the default without --yes)")
	fs.BoolVar(&f.yes, "yes", false, "create the new journals and send them")
	fs.StringVar(&f.journal, "journal", "", "redrive only this journal: its cashpool key or its Alpaca id (the date is the journal's)")
	fs.StringVar(&f.account, "account", "", "with --journal: send the new journal to this corrected account id instead")
	fs.StringVar(&f.description, "description", "", "with --journal: the new journal's corrected description")
	fs.StringVar(&f.by, "by", "", "who redrives: kept in the journal's history (required with --account or --description)")
	fs.StringVar(&f.reason, "reason", "", "why: kept in the journal's history (required with --account or --description)")
}

// parsed notes what the command line set once fs is parsed.
func (f *redriveFlags) parsed(fs *flag.FlagSet) {
	fs.Visit(func(fl *flag.Flag) {
		if fl.Name == "date" {
			f.dateSet = true
		}
	})
}

// act says whether to change anything: only with --yes, and never with --dry-run.
func (f *redriveFlags) act() bool { return f.yes && !f.dryRun }

// redriveDate shows what a redrive would do and, with --yes, does it and runs the date again so
// the new journals are submitted, tracked and reported.
func redriveDate(ctx context.Context, db *sqlx.DB, r *batch.Runner, cfg *config, f *redriveFlags, stdout io.Writer) (int, error) {
	date := cfg.Date
	if f.journal != "" && !f.dateSet {
		d, err := journalDate(ctx, db, cfg.SweepAccount, f.journal)
		if err != nil {
			return exitUsage, err
		}
		date = d
	}
	rcfg := redrive.Config{SweepAccount: cfg.SweepAccount, BusinessDate: date, BatchSize: cfg.BatchSize,
		Journal: f.journal, Account: f.account, Description: f.description, By: f.by, Reason: f.reason}
	p, err := redrive.Preview(ctx, db, rcfg)
	switch {
	case errors.Is(err, redrive.ErrNoRun):
		return exitUsage, usageError{fmt.Errorf("no run for %s", date)}
	case errors.Is(err, redrive.ErrInvalid), errors.Is(err, redrive.ErrNoJournal):
		return exitUsage, usageError{err}
	case err != nil:
		return exitFailure, err
	}
	p.Write(stdout)
	if p.Redrive == 0 {
		if f.journal != "" && len(p.Items) == 1 {
			return exitUsage, usageError{fmt.Errorf("journal %s cannot be redriven: %s", f.journal, p.Items[0].Why)}
		}
		fmt.Fprintln(stdout, "Nothing to redrive.")
		return exitOK, nil
	}
	if !f.act() {
		what := fmt.Sprintf("these %d journals and send them", p.Redrive)
		if p.Redrive == 1 {
			what = "this journal and send it"
		}
		fmt.Fprintf(stdout, "\nDry run: nothing was changed. Add --yes to create %s.\n", what)
		return exitOK, nil
	}
	if _, err := redrive.Apply(ctx, db, rcfg); err != nil {
		if errors.Is(err, schema.ErrBusy) {
			return exitFailure, fmt.Errorf("a run of %s is in progress; try again when it ends", date)
		}
		return exitFailure, err
	}
	fmt.Fprintf(stdout, "\nRedrive planned. Sending, tracking and reconciling %s again.\n", date)
	out, err := r.Run(ctx, date)
	if err != nil {
		return exitFailure, fmt.Errorf("the new journals are planned but the run stopped: %w (re-run `cashpool run --date %s`)", err, date)
	}
	return printOutcome(stdout, out), nil
}

// journalDate is the business date of the run a journal (named by its key or Alpaca id) belongs to.
func journalDate(ctx context.Context, db *sqlx.DB, sweep, journal string) (string, error) {
	id, err := pool.ParseAccountID(journal) // the same UUID syntax as an account id
	if err != nil {
		return "", usageError{fmt.Errorf("--journal %q %w (a journal key or an Alpaca journal id)", journal, err)}
	}
	date, err := batch.JournalDate(ctx, db, sweep, id)
	if errors.Is(err, batch.ErrNoJournal) {
		return "", usageError{fmt.Errorf("no journal %s for sweep account %s", id, sweep)}
	}
	return date, err
}

// Command cashpool funds customer brokerage accounts from a firm's sweep account with Alpaca JNLC
// batch journals: ingest → plan → submit → track → reconcile. See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // CASHPOOL_TZ works on machines without a zoneinfo database: one binary

	"github.com/jmoiron/sqlx"

	"github.com/cashpool/cashpool/alpaca"
	"github.com/cashpool/cashpool/batch"
	"github.com/cashpool/cashpool/batch/ingest"
	"github.com/cashpool/cashpool/batch/schema"
	"github.com/cashpool/cashpool/metrics"
	"github.com/cashpool/cashpool/pool"
	"github.com/cashpool/cashpool/reconcile"
)

// Exit statuses a scheduler can act on.
const (
	exitOK         = 0
	exitFailure    = 1 // broker, database, or any failure to finish
	exitUsage      = 2 // bad usage or rejected input
	exitExceptions = 3 // finished, with exceptions for a person
)

const usage = `cashpool funds customer accounts from a sweep account with Alpaca JNLC batch journals.

Usage: cashpool <command> [flags]

  demo        throwaway PostgreSQL + built-in simulator + fixtures/ drop: one whole night
  run         one full, resumable run of a business date (--date, default today in CASHPOOL_TZ)
  ingest      take complete files from the drop folder
  plan        plan the run of --date
  submit      send the planned batches of --date
  work        join the night of --date another process runs: send its batches and track
              its share of the journals beside it
  track       follow the journals of --date until final or the tracking deadline
  reconcile   write the report of --date and mark the run finished
  report      rewrite the report of --date (--format csv,json,html)
  status      runs, batches, journals by status, exceptions (--date)
  redrive     new journals for the failed ones of --date, or one --journal to a corrected
              --account or --description (--by, --reason); shows the plan, acts with --yes
  release     lift the holds of a refused allocations file (--file NAME --reason TEXT)
  serve       scheduler + tracker + HTTP health, metrics and status
  sandbox     the Alpaca journals simulator as a server (--addr, --seed)
  migrate     apply database migrations
  version     what this binary was built from: module version, commit, Go version

Every command's --help lists its own flags.

Configuration comes from the environment (DATABASE_URL, APCA_BROKER_URL, APCA_API_KEY_ID,
APCA_API_SECRET_KEY, CASHPOOL_SWEEP_ACCOUNT, CASHPOOL_DROP_DIR, CASHPOOL_OUT_DIR, CASHPOOL_TZ, ...)
and flags; see README.md. Exit status: 0 all executed and balanced, 3 exceptions for a person,
2 bad usage or rejected input, 1 failure.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	paceGC(os.Args[1:])
	stopProfile := profileCPU()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stopProfile()
	stop()
	os.Exit(code)
}

// usageError marks errors that are the caller's to fix.
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	cmd, rest := args[0], args[1:]
	logger, err := newLogger(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "cashpool %s: %v\n", cmd, err)
		return exitUsage
	}
	if cmd != "serve" && cmd != "sandbox" {
		logger = withRunID(logger) // serve gives each night its own
	}
	var code int
	switch cmd {
	case "version":
		code, err = cmdVersion(rest, stdout)
	case "demo":
		code, err = cmdDemo(ctx, rest, stdout, logger)
	case "sandbox":
		code, err = cmdSandbox(ctx, rest, stdout, logger)
	case "migrate", "run", "ingest", "plan", "submit", "work", "track", "reconcile", "report", "status", "serve", "redrive", "release":
		code, err = cmdPipeline(ctx, cmd, rest, stdout, logger)
	default:
		fmt.Fprintf(stderr, "cashpool: unknown command %q\n\n%s", cmd, usage)
		return exitUsage
	}
	if errors.Is(err, flag.ErrHelp) {
		return exitOK // the command's usage went to stdout
	}
	if err != nil {
		fmt.Fprintf(stderr, "cashpool %s: %v\n", cmd, err)
		var ue usageError
		if errors.As(err, &ue) {
			return exitUsage
		}
		if code == exitOK {
			code = exitFailure
		}
	}
	return code
}

func cmdPipeline(ctx context.Context, cmd string, args []string, stdout io.Writer, logger *slog.Logger) (int, error) {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = commandUsage(fs)
	cfg, finish, err := loadConfig(fs, nil)
	if err != nil {
		return exitUsage, usageError{err}
	}
	var rf redriveFlags
	if cmd == "redrive" {
		rf.register(fs)
	}
	var releaseFile, releaseReason string
	if cmd == "release" {
		fs.StringVar(&releaseFile, "file", "", "the refused allocations file, by its name in the report")
		fs.StringVar(&releaseReason, "reason", "", "why its allocations will not come (recorded)")
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage, usageError{err}
	}
	rf.parsed(fs)
	if cmd == "release" && (releaseFile == "" || strings.TrimSpace(releaseReason) == "") {
		return exitUsage, usageError{errors.New("release needs --file NAME and --reason TEXT")}
	}
	if err := finish(); err != nil {
		return exitUsage, usageError{err}
	}
	if cmd == "run" || cmd == "plan" {
		if err := notAhead(cfg.Date, cfg.TZ, time.Now()); err != nil {
			return exitUsage, usageError{err}
		}
	}
	if cfg.DatabaseURL == "" {
		return exitUsage, usageError{errors.New("DATABASE_URL is not set (try `make run` for the embedded demo)")}
	}
	db, err := schema.Open(ctx, cfg.DatabaseURL)
	if errors.Is(err, schema.ErrBadURL) {
		return exitUsage, usageError{err}
	}
	if err != nil {
		return exitFailure, err
	}
	defer db.Close()
	if cmd == "migrate" {
		n, err := schema.Migrate(ctx, db.DB)
		if err != nil {
			return exitFailure, err
		}
		fmt.Fprintf(stdout, "applied %d migrations\n", n)
		return exitOK, nil
	}
	if _, err := schema.Migrate(ctx, db.DB); err != nil {
		return exitFailure, err
	}
	if cmd == "status" {
		if err := cfg.needSweep(); err != nil {
			return exitUsage, usageError{err}
		}
		return exitOK, batch.WriteStatus(ctx, stdout, db, cfg.SweepAccount, cfg.Date, time.Now(), reconcile.WatchFor(cfg.WatchFor))
	}
	needBroker := cmd == "run" || cmd == "submit" || cmd == "work" || cmd == "track" || cmd == "serve" || (cmd == "redrive" && rf.act())
	if needBroker {
		if err := cfg.needBroker(); err != nil {
			return exitUsage, usageError{err}
		}
	} else if cmd != "ingest" && cmd != "release" {
		if err := cfg.needSweep(); err != nil {
			return exitUsage, usageError{err}
		}
	}
	m := metrics.New(metricsBuild())
	r := newRunner(db, cfg, logger, m)
	if cmd != "serve" {
		defer publishMetrics(ctx, m, cfg, logger)()
		stdout, r.Config.Progress = terminalProgress(stdout)
	}
	if c, ok := r.Broker.(interface{ Calls() int64 }); ok {
		defer func() { logger.Info("broker calls", "command", cmd, "calls", c.Calls()) }()
	}
	switch cmd {
	case "serve":
		return serve(ctx, r, cfg, m, stdout, logger)
	case "redrive":
		return redriveDate(ctx, db, r, cfg, &rf, stdout)
	case "release":
		n, err := ingest.Release(ctx, db, releaseFile, releaseReason, time.Now())
		if err != nil {
			return exitFailure, err
		}
		if n == 0 {
			return exitUsage, usageError{fmt.Errorf("no refused allocations file called %q holds anything", releaseFile)}
		}
		fmt.Fprintf(stdout, "released %q (%d refused file(s)): the next night planned takes the receipts it held (a night already planned is not planned again)\n", releaseFile, n)
		return exitOK, nil
	case "ingest":
		res, err := r.Ingest(ctx)
		if err != nil {
			return exitFailure, err
		}
		printIngest(stdout, res)
		if res.Count(ingest.OutcomeRejected)+res.Count(ingest.OutcomeDuplicate)+res.Count(ingest.OutcomeChanged) > 0 {
			return exitUsage, nil
		}
		return exitOK, nil
	case "plan":
		_, err := r.Plan(ctx, cfg.Date)
		return exitOK, err
	case "submit", "track":
		runID, err := batch.RunID(ctx, db, cfg.SweepAccount, cfg.Date)
		if errors.Is(err, batch.ErrNoRun) {
			return exitUsage, noRun(cfg.Date)
		}
		if err != nil {
			return exitFailure, err
		}
		if cmd == "submit" {
			if err := r.CheckBroker(ctx); err != nil {
				if errors.Is(err, batch.ErrNotReady) {
					return exitUsage, err
				}
				return exitFailure, err
			}
			return exitOK, r.Submit(ctx, cfg.Date, runID)
		}
		return exitOK, r.Track(ctx, runID)
	case "work":
		if err := r.CheckBroker(ctx); err != nil {
			if errors.Is(err, batch.ErrNotReady) {
				return exitUsage, err
			}
			return exitFailure, err
		}
		res, err := r.Work(ctx, cfg.Date)
		if err != nil {
			return exitFailure, err
		}
		fmt.Fprintf(stdout, "%s: nothing left to send or track; this process sent %d batches (%d split, %d recovered by listing)\n",
			cfg.Date, res.Sent, res.Split, res.Recovered)
		return exitOK, nil
	case "reconcile", "report":
		var out *batch.Outcome
		if cmd == "report" {
			out, err = r.Report(ctx, cfg.Date)
		} else {
			out, err = r.Reconcile(ctx, cfg.Date)
		}
		if errors.Is(err, batch.ErrNoRun) {
			return exitUsage, noRun(cfg.Date)
		}
		if err != nil {
			return exitFailure, err
		}
		return printOutcome(stdout, out), nil
	default: // run
		out, err := r.Run(ctx, cfg.Date)
		if err != nil {
			if errors.Is(err, batch.ErrNotReady) {
				return exitUsage, err
			}
			if errors.Is(err, schema.ErrBusy) {
				return exitFailure, fmt.Errorf("%w: another `cashpool run` for %s is in progress; nothing was done", err, cfg.Date)
			}
			return exitFailure, err
		}
		return printOutcome(stdout, out), nil
	}
}

// notAhead refuses to plan a business date after today in tz: a night takes every receipt valued
// on or before its date, so planning a later date now would fund wires before their value date.
func notAhead(date string, tz *time.Location, now time.Time) error {
	if tz == nil {
		tz = time.UTC
	}
	if today := now.In(tz).Format(time.DateOnly); date > today {
		return fmt.Errorf("--date %s is after today (%s in %s): a night takes every receipt valued up to its date, so it would fund wires before their value date; run it on %s or later",
			date, today, tz, date)
	}
	return nil
}

// noRun is the usage error of a step that needs the date's run when there is none.
func noRun(date string) error {
	return usageError{fmt.Errorf("no planned run for %s: run `cashpool plan --date %s` first", date, date)}
}

func newRunner(db *sqlx.DB, cfg *config, logger *slog.Logger, m *metrics.Metrics) *batch.Runner {
	client := alpaca.NewClient(alpaca.Options{BaseURL: cfg.BrokerURL, KeyID: cfg.KeyID, Secret: cfg.Secret,
		HTTPClient: &http.Client{Transport: m.Broker(alpaca.NewTransport())}, OnRateLimitWait: m.RateLimitWait, Logger: logger})
	return &batch.Runner{DB: db, Broker: client, Config: batch.Config{
		SweepAccount: cfg.SweepAccount, RewardsAccount: cfg.RewardsAccount, DropDir: cfg.DropDir, OutDir: cfg.OutDir, Formats: cfg.Formats,
		ReceiptsPattern: cfg.ReceiptsPat, AllocationsPattern: cfg.AllocPat, RewardsPattern: cfg.RewardsPat,
		BAI2Pattern: cfg.BAI2Pat, CAMTPattern: cfg.CAMTPat, BankAccount: cfg.BankAccount,
		BatchSize: cfg.BatchSize, JournalLimit: cfg.JournalLimit.Decimal, MaxInFlight: cfg.MaxInFlight,
		TrackFor: cfg.TrackFor, PollEvery: cfg.PollEvery, Logger: logger, Failpoint: failpointFromEnv(),
		SettleFor: cfg.SettleFor, RequireReady: cfg.RequireReady, KeyRetention: cfg.KeyRetention, ClaimLease: cfg.ClaimLease, TrackLease: cfg.TrackLease, AwaitReceiptFor: cfg.AwaitFor,
		WatchFor: cfg.WatchFor, Observer: m,
	}}
}

// publishMetrics readies a one-shot command's metrics: the last success and failure times kept
// in the textfile are carried over now, and the returned function, deferred, writes the textfile
// and pushes to the Pushgateway once the command is done. A metrics problem is logged and never
// changes the command's outcome: the money moved (or not) either way.
func publishMetrics(ctx context.Context, m *metrics.Metrics, cfg *config, logger *slog.Logger) func() {
	if cfg.MetricsTextfile != "" {
		if err := m.CarryOver(cfg.MetricsTextfile); err != nil {
			logger.Warn("metrics: the previous textfile cannot be read; its last success and failure times are not carried over", "err", err)
		}
	}
	return func() {
		if cfg.MetricsTextfile != "" {
			if err := m.WriteTextfile(cfg.MetricsTextfile); err != nil {
				logger.Error("metrics: cannot write the textfile (CASHPOOL_METRICS_TEXTFILE)", "err", err)
			}
		}
		if cfg.PushgatewayURL != "" {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if err := m.Push(ctx, cfg.PushgatewayURL, cfg.SweepAccount, nil); err != nil {
				logger.Error("metrics: cannot push to the Pushgateway (CASHPOOL_PUSHGATEWAY_URL)", "err", err)
			}
		}
	}
}

func printOutcome(w io.Writer, out *batch.Outcome) int {
	if out.AlreadyRan {
		fmt.Fprintf(w, "The run of %s had already finished; nothing was sent. Report rewritten.\n", out.Report.BusinessDate)
	}
	reconcile.WriteSummary(w, out.Report)
	return out.Report.ExitCode()
}

// printIngest shows what ingest did with each file. File names and problems (which quote values)
// come from the drop folder: their control characters are shown escaped, never sent to the terminal.
func printIngest(w io.Writer, res ingest.Result) {
	for _, f := range res.Files {
		name := pool.Printable(f.Name)
		switch f.Outcome {
		case ingest.OutcomeLoaded:
			fmt.Fprintf(w, "  loaded     %s: %d rows\n", name, f.Rows)
		case ingest.OutcomeRejected, ingest.OutcomeDuplicate, ingest.OutcomeChanged:
			fmt.Fprintf(w, "  %-10s %s: %d problems, see %s.errors.csv\n", f.Outcome, name, f.Errors, pool.Printable(f.MovedTo))
			if f.Outcome == ingest.OutcomeChanged {
				fmt.Fprintf(w, "             nothing of it was loaded; the file as it is now stays in the drop folder\n")
			}
			for i, p := range f.Problems {
				if i == 5 {
					fmt.Fprintf(w, "             ... %d more\n", f.Errors-5)
					break
				}
				fmt.Fprintf(w, "             line %d, column %d (%s): %s\n", p.Line, p.Column, pool.Printable(p.Field), pool.Printable(p.Problem))
			}
		default:
			fmt.Fprintf(w, "  %-10s %s\n", f.Outcome, name)
		}
	}
}

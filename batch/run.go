package batch

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/alpaca"
	"github.com/cashpool/cashpool/batch/ingest"
	"github.com/cashpool/cashpool/batch/plan"
	"github.com/cashpool/cashpool/batch/schema"
	"github.com/cashpool/cashpool/batch/submit"
	"github.com/cashpool/cashpool/batch/track"
	"github.com/cashpool/cashpool/reconcile"
)

// Broker is everything the pipeline asks of Alpaca.
type Broker interface {
	submit.Broker
	track.Broker
}

// Config is the firm's configuration of a run.
type Config struct {
	SweepAccount string
	DropDir      string
	// ReceiptsPattern and AllocationsPattern name the files of each kind (defaults receipts*.csv,
	// allocations*.csv).
	ReceiptsPattern, AllocationsPattern string
	OutDir                              string
	Formats                             []string // report formats; default csv
	BatchSize                           int
	JournalLimit                        decimal.Decimal
	MaxInFlight                         int
	KeyRetention                        time.Duration // how long Alpaca remembers an Idempotency-Key; default 24h
	// WatchFor is how long after its run a funded journal's reversal is still reported; default 5 days.
	WatchFor time.Duration
	// AwaitReceiptFor is how long an allocation may wait for its receipt before it is an exception.
	AwaitReceiptFor time.Duration
	TrackFor        time.Duration // how long after submission journals are followed before pending counts as stuck
	PollEvery       time.Duration
	Now             func() time.Time
	Logger          *slog.Logger
	// SettleFor is how long ingest waits before a second scan for files seen for the first time
	// without a .ready marker; zero takes only files already complete.
	SettleFor time.Duration
	// RequireReady takes only drop-folder files with a <file>.ready marker.
	RequireReady bool
	// TrackWait replaces the pauses between ingest scans and between tracking passes (tests).
	TrackWait func(ctx context.Context, d time.Duration) error
	// Failpoint, when set, is called at each point where state was just persisted (after-ingest,
	// after-plan, before-post, after-post, after-store, after-submit, after-track-pass,
	// after-track); the crash harness kills the process there.
	Failpoint func(name string)
	// BeforePost runs just before each batch POST (tests).
	BeforePost func(batchID int64)
}

// Runner runs the pipeline.
type Runner struct {
	DB     *sqlx.DB
	Broker Broker
	Config Config
}

// ErrBusy means another process holds the lock this call needs.
var ErrBusy = errors.New("another cashpool process is working on this")

// Outcome is what a run produced.
type Outcome struct {
	Report     *reconcile.Report
	Paths      []string
	AlreadyRan bool // the run had finished before: nothing was sent, the report was rewritten
}

func (r *Runner) cfg() Config {
	c := r.Config
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.TrackFor <= 0 {
		c.TrackFor = 6 * time.Hour
	}
	if c.Failpoint == nil {
		c.Failpoint = func(string) {}
	}
	return c
}

// Run is one full, resumable run of date (YYYY-MM-DD): whatever earlier attempts finished is kept,
// the rest is done. A run that finished before is not run again; its report is rewritten.
func (r *Runner) Run(ctx context.Context, date string) (*Outcome, error) {
	c := r.cfg()
	unlock, err := r.lock(ctx, schema.RunLockName(c.SweepAccount, date))
	if err != nil {
		return nil, err
	}
	defer unlock()

	if _, err := r.Ingest(ctx); err != nil {
		return nil, err
	}
	c.Failpoint("after-ingest")
	var status string
	err = r.DB.GetContext(ctx, &status, `SELECT status FROM runs WHERE business_date = $1 AND sweep_account = $2`, date, c.SweepAccount)
	if err == nil && status == "reconciled" {
		c.Logger.Info("run already finished; nothing is sent again", "date", date)
		out, err := r.Report(ctx, date)
		if out != nil {
			out.AlreadyRan = true
		}
		return out, err
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	runID, err := r.Plan(ctx, date)
	if err != nil {
		return nil, err
	}
	c.Failpoint("after-plan")
	if err := r.Submit(ctx, date, runID); err != nil {
		return nil, err
	}
	c.Failpoint("after-submit")
	if err := r.Track(ctx, runID); err != nil {
		return nil, err
	}
	c.Failpoint("after-track")
	return r.reconcile(ctx, date, runID, true)
}

// Ingest takes every complete file from the drop folder. Serialised across processes.
func (r *Runner) Ingest(ctx context.Context) (ingest.Result, error) {
	c := r.cfg()
	unlock, err := r.lock(ctx, "ingest")
	if err != nil {
		return ingest.Result{}, err
	}
	defer unlock()
	icfg := ingest.Config{DropDir: c.DropDir, Now: c.Now, Logger: c.Logger,
		ReceiptsPattern: c.ReceiptsPattern, AllocationsPattern: c.AllocationsPattern, RequireReady: c.RequireReady}
	res, err := ingest.Run(ctx, r.DB, icfg)
	if err != nil {
		return res, fmt.Errorf("ingest: %w", err)
	}
	// A file without a .ready marker is taken once its size and mtime held still across two scans:
	// give files seen for the first time one more look, so a cron run does not leave them for tomorrow.
	if res.Count(ingest.OutcomeIncomplete) > 0 && c.SettleFor > 0 {
		c.Logger.Info("ingest: waiting for files still being written", "wait", c.SettleFor)
		if err := c.wait(ctx, c.SettleFor); err != nil {
			return res, err
		}
		again, err := ingest.Run(ctx, r.DB, icfg)
		if err != nil {
			return again, fmt.Errorf("ingest: %w", err)
		}
		// Keep what the first scan did; the second scan's answers replace its "incomplete" ones.
		merged := ingest.Result{}
		for _, f := range res.Files {
			if f.Outcome != ingest.OutcomeIncomplete {
				merged.Files = append(merged.Files, f)
			}
		}
		for _, f := range again.Files {
			if f.Outcome != ingest.OutcomeIgnored {
				merged.Files = append(merged.Files, f)
			}
		}
		res = merged
	}
	return res, nil
}

func (c Config) wait(ctx context.Context, d time.Duration) error {
	if c.TrackWait != nil {
		return c.TrackWait(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Plan plans date, or finds the run planned before.
func (r *Runner) Plan(ctx context.Context, date string) (int64, error) {
	c := r.cfg()
	res, err := plan.Plan(ctx, r.DB, plan.Config{
		SweepAccount: c.SweepAccount, BusinessDate: date, BatchSize: c.BatchSize, JournalLimit: c.JournalLimit, Now: c.Now,
		AwaitReceiptFor: c.AwaitReceiptFor,
	})
	if err != nil {
		return 0, fmt.Errorf("plan %s: %w", date, err)
	}
	if res.Existed {
		c.Logger.Info("plan: run already planned", "date", date, "run", res.RunID)
	} else {
		c.Logger.Info("plan", "date", date, "run", res.RunID, "receipts", res.Receipts, "held", res.Held,
			"journals", res.Journals, "batches", res.Batches, "skipped", res.Skipped, "amount", res.Planned.StringFixed(2))
	}
	return res.RunID, nil
}

// Submit sends what is planned and sets the tracking deadline once everything is sent.
func (r *Runner) Submit(ctx context.Context, date string, runID int64) error {
	c := r.cfg()
	res, err := submit.Submit(ctx, r.DB, r.Broker, runID, submit.Config{
		SweepAccount: c.SweepAccount, BusinessDate: date, MaxInFlight: c.MaxInFlight, Now: c.Now, Logger: c.Logger,
		KeyRetention: c.KeyRetention,
		BeforePost: func(id int64) {
			c.Failpoint("before-post")
			if c.BeforePost != nil {
				c.BeforePost(id)
			}
		},
		AfterPost: func(int64) { c.Failpoint("after-post") },
		Stored:    func(int64) { c.Failpoint("after-store") },
	})
	if err != nil {
		return fmt.Errorf("submit %s: %w", date, err)
	}
	c.Logger.Info("submit", "date", date, "batches_sent", res.Sent, "batches_split", res.Split,
		"journals_canceled_with_batch", res.Canceled, "batches_recovered_by_listing", res.Recovered)
	_, err = r.DB.ExecContext(ctx, `UPDATE runs SET track_deadline = $2 WHERE id = $1 AND track_deadline IS NULL`,
		runID, c.Now().UTC().Add(c.TrackFor))
	return err
}

// Track follows the run's journals until they are final or its deadline passes.
func (r *Runner) Track(ctx context.Context, runID int64) error {
	c := r.cfg()
	var deadline sql.NullTime
	if err := r.DB.GetContext(ctx, &deadline, `SELECT track_deadline FROM runs WHERE id = $1`, runID); err != nil {
		return err
	}
	if !deadline.Valid {
		return errors.New("track: the run has not been submitted yet")
	}
	res, err := track.Track(ctx, r.DB, r.Broker, runID, deadline.Time, track.Config{
		SweepAccount: c.SweepAccount, PollEvery: c.PollEvery, Now: c.Now, Logger: c.Logger, Wait: c.TrackWait,
		AfterPass: func() { c.Failpoint("after-track-pass") },
	})
	if err != nil {
		return fmt.Errorf("track: %w", err)
	}
	c.Logger.Info("track", "run", runID, "passes", res.Passes, "changes", res.Changed, "still_open", res.Open)
	watch := c.WatchFor
	if watch <= 0 {
		watch = 5 * 24 * time.Hour
	}
	var date time.Time
	if err := r.DB.GetContext(ctx, &date, `SELECT business_date FROM runs WHERE id = $1`, runID); err != nil {
		return err
	}
	reversed, err := track.Watch(ctx, r.DB, r.Broker, c.SweepAccount, date.Add(-watch), c.Now())
	if err != nil {
		// The event stream sees reversals too; a failed extra look is logged, not fatal.
		c.Logger.Warn("track: watching funded journals of earlier runs", "err", err)
	} else if reversed > 0 {
		c.Logger.Warn("track: funded journals changed at Alpaca after funding", "journals", reversed)
	}
	linked, err := track.LinkCorrections(ctx, r.DB, r.Broker, c.SweepAccount, c.Now())
	if err != nil {
		return fmt.Errorf("track: %w", err)
	}
	if linked > 0 {
		c.Logger.Info("track: corrected journals linked to their replacements", "linked", linked)
	}
	return nil
}

// Report rebuilds and rewrites the report of date without touching the run's state.
func (r *Runner) Report(ctx context.Context, date string) (*Outcome, error) {
	c := r.cfg()
	var runID int64
	if err := r.DB.GetContext(ctx, &runID, `SELECT id FROM runs WHERE business_date = $1 AND sweep_account = $2`, date, c.SweepAccount); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("no run for %s", date)
		}
		return nil, err
	}
	return r.reconcile(ctx, date, runID, false)
}

// Reconcile writes the report of a tracked run and marks it finished.
func (r *Runner) Reconcile(ctx context.Context, date string) (*Outcome, error) {
	c := r.cfg()
	var runID int64
	if err := r.DB.GetContext(ctx, &runID, `SELECT id FROM runs WHERE business_date = $1 AND sweep_account = $2`, date, c.SweepAccount); err != nil {
		return nil, fmt.Errorf("no run for %s: %w", date, err)
	}
	return r.reconcile(ctx, date, runID, true)
}

func (r *Runner) reconcile(ctx context.Context, date string, runID int64, finish bool) (*Outcome, error) {
	c := r.cfg()
	rep, err := reconcile.Build(ctx, r.DB, runID, c.Now(), reconcile.WatchFor(c.WatchFor))
	if err != nil {
		return nil, fmt.Errorf("reconcile: %w", err)
	}
	formats := c.Formats
	if len(formats) == 0 {
		formats = []string{"csv"}
	}
	paths, err := reconcile.Write(filepath.Join(c.OutDir, date), rep, formats...)
	if err != nil {
		return nil, fmt.Errorf("write report: %w", err)
	}
	if finish {
		if err := reconcile.Finish(ctx, r.DB, rep, c.Now()); err != nil {
			return nil, fmt.Errorf("finish run: %w", err)
		}
	}
	return &Outcome{Report: rep, Paths: paths}, nil
}

// lock takes a PostgreSQL session advisory lock on one dedicated connection (the pool would hand
// the unlock to another session) and returns its release.
func (r *Runner) lock(ctx context.Context, name string) (func(), error) {
	conn, err := r.DB.Conn(ctx)
	if err != nil {
		return nil, err
	}
	key := schema.LockKey(name)
	var ok bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&ok); err != nil {
		conn.Close()
		return nil, err
	}
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("%w (lock %q)", ErrBusy, name)
	}
	return func() {
		conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1)`, key)
		conn.Close()
	}, nil
}

// compile-time check that the real client satisfies the pipeline.
var _ Broker = (*alpaca.Client)(nil)

package batch

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/alpaca"
	"github.com/cashpool/cashpool/batch/ingest"
	"github.com/cashpool/cashpool/batch/plan"
	"github.com/cashpool/cashpool/batch/schema"
	"github.com/cashpool/cashpool/batch/store"
	"github.com/cashpool/cashpool/batch/submit"
	"github.com/cashpool/cashpool/batch/track"
	"github.com/cashpool/cashpool/reconcile"
)

// Broker is everything the pipeline asks of Alpaca.
type Broker interface {
	submit.Broker
	track.Broker
	GetAccount(ctx context.Context, id string) (*alpaca.Account, error)
	GetTradingAccount(ctx context.Context, id string) (*alpaca.TradingAccount, error)
	StreamActivities(ctx context.Context, o alpaca.ActivityOptions, fn func(alpaca.Activity) error) error
}

// Defaults of Config the runner itself applies; each step's own settings default in the step.
const (
	// DropDirDefault is the drop folder. Defaults to drop.
	DropDirDefault = "drop"
	// OutDirDefault is where reports go, one folder per business date. Defaults to out.
	OutDirDefault = "out"
	// TrackForDefault is how long after submission journals are followed before one still open
	// counts as stuck. Defaults to 6h.
	TrackForDefault = 6 * time.Hour
	// LockCheckEveryDefault is how often a run checks that it still holds its run lock. Defaults
	// to 5s.
	LockCheckEveryDefault = 5 * time.Second
)

// Config is the firm's configuration of a run. A zero setting takes its default: the Default
// constants here, the steps' (jnlc.BatchSizeDefault, submit.MaxInFlightDefault,
// submit.KeyRetentionDefault, track.PollEveryDefault, plan.AwaitReceiptForDefault) and
// reconcile's (WatchForDefault, FormatDefault).
type Config struct {
	SweepAccount string
	// RewardsAccount is the firm account rewards (JNLS) are given from; SweepAccount when empty.
	RewardsAccount string
	DropDir        string
	// ReceiptsPattern, AllocationsPattern and RewardsPattern name the files of each kind.
	ReceiptsPattern, AllocationsPattern, RewardsPattern string
	// BAI2Pattern and CAMTPattern name bank statement files, read as receipts of BankAccount.
	BAI2Pattern, CAMTPattern, BankAccount string
	OutDir                                string
	Formats                               []string // report formats
	BatchSize                             int
	JournalLimit                          decimal.Decimal
	MaxInFlight                           int
	KeyRetention                          time.Duration // how long Alpaca remembers an Idempotency-Key
	// ClaimLease is how long a process's claim on a batch lasts unless renewed
	// (submit.LeaseDefault when zero): a process that stops, paused or killed, leaves its batches
	// to another after at most that long.
	ClaimLease time.Duration
	// TrackLease is how long a process's part of a run's tracking stays its own unless renewed
	// (track.LeaseDefault when zero): a tracker that stops, paused or killed, leaves its parts to
	// another after at most that long.
	TrackLease time.Duration
	// WatchFor is how long after its run a funded journal's reversal is still reported.
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
	// plan-journals-written, after-plan, before-post, after-post, after-store, before-jnls-post, after-jnls-post,
	// after-jnls-store, after-submit, after-track-pass, after-track); the crash harness kills the
	// process there.
	Failpoint func(name string)
	// BeforePost runs just before each POST, of a cash batch or of a reward (tests).
	BeforePost func(batchID int64)
	// ProgressEvery is the real-time pace of tracking's progress lines.
	ProgressEvery time.Duration
	// LockCheckEvery is how often a run checks that it still holds its run lock.
	LockCheckEvery time.Duration
	// Observer is told what the run does (metrics); nil observes nothing.
	Observer Observer
	// Progress, when set, is told how far a long step is: "ingest <file>" rows read (total 0:
	// unknown), then "track" journals final of total, about every second while tracking waits.
	Progress func(step string, done, total int)
}

// Runner runs the pipeline.
type Runner struct {
	DB     *sqlx.DB
	Broker Broker
	Config Config
}

// ErrNotReady means a check before any money moved found something a person must fix: the
// credentials, the sweep account, the report folder.
var ErrNotReady = errors.New("not ready to run")

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
	c.DropDir = cmp.Or(c.DropDir, DropDirDefault)
	c.OutDir = cmp.Or(c.OutDir, OutDirDefault)
	c.TrackFor = cmp.Or(c.TrackFor, TrackForDefault)
	c.WatchFor = cmp.Or(c.WatchFor, reconcile.WatchForDefault)
	c.LockCheckEvery = cmp.Or(c.LockCheckEvery, LockCheckEveryDefault)
	if c.Failpoint == nil {
		c.Failpoint = func(string) {}
	}
	if c.TrackWait == nil {
		c.TrackWait = alpaca.Sleep
	}
	if c.Observer == nil {
		c.Observer = noObserver{}
	}
	return c
}

// Run is one full, resumable run of date (YYYY-MM-DD): whatever earlier attempts finished is kept,
// the rest is done. A run that finished before is not run again; its report is rewritten.
//
// No night is left behind: every unfinished run of an earlier date of the sweep account is resumed
// first, oldest first, each under its own lock; one that cannot be finished now (another process
// holds it, or it failed again) is named in date's report, which then exits 3. Before any of it,
// everything that can be checked before money moves is checked.
func (r *Runner) Run(ctx context.Context, date string) (out *Outcome, err error) {
	c := r.cfg()
	defer func() { r.observeRun(ctx, date, err) }()
	if err := r.DB.PingContext(ctx); err != nil {
		return nil, fmt.Errorf("the database does not answer: %w", err)
	}
	earlier, err := r.unfinishedBefore(ctx, date)
	if err != nil {
		return nil, err
	}
	_, status, err := store.RunStatusOf(ctx, r.DB, date, c.SweepAccount)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	// A finished date with nothing earlier open only rewrites its report: the broker is not needed.
	needBroker := len(earlier) > 0 || status != store.RunReconciled
	if err := r.preflight(ctx, append(earlier, date), needBroker); err != nil {
		return nil, err
	}
	for _, d := range earlier {
		c.Logger.Info("resuming an unfinished earlier night first", "date", d)
		if _, err := r.runDate(ctx, d, false); err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			c.Logger.Warn("an earlier night could not be finished now; this night's report names it", "date", d, "err", err)
		}
	}
	return r.runDate(ctx, date, true)
}

// observeRun tells the observer how a run ended: failed (another process running the date is no
// failure) and how many earlier nights are still unfinished.
func (r *Runner) observeRun(ctx context.Context, date string, err error) {
	c := r.cfg()
	if err != nil && !errors.Is(err, schema.ErrBusy) {
		c.Observer.NightFailed(c.SweepAccount, c.Now())
	}
	if earlier, uerr := r.unfinishedBefore(context.WithoutCancel(ctx), date); uerr == nil {
		c.Observer.Unfinished(c.SweepAccount, len(earlier))
	}
}

// unfinishedBefore lists the dates before date whose run of the sweep account is not finished,
// oldest first.
func (r *Runner) unfinishedBefore(ctx context.Context, date string) ([]string, error) {
	dates, err := store.UnfinishedBefore(ctx, r.DB, r.cfg().SweepAccount, date)
	if err != nil {
		return nil, fmt.Errorf("unfinished earlier runs: %w", err)
	}
	return dates, nil
}

// runDate runs the steps of one date under its lock; ingest says whether to take the drop folder
// first. When ctx is canceled, the error says where the night stands and how to resume it.
func (r *Runner) runDate(ctx context.Context, date string, ingest bool) (*Outcome, error) {
	out, err := r.steps(ctx, date, ingest)
	if err != nil && ctx.Err() != nil && !errors.Is(err, schema.ErrBusy) {
		return nil, fmt.Errorf("stopped (%w): %s", err, r.NightState(context.WithoutCancel(ctx), date))
	}
	return out, err
}

func (r *Runner) steps(ctx context.Context, date string, ingest bool) (_ *Outcome, err error) {
	c := r.cfg()
	ctx, fence, unlock, err := r.lockRun(ctx, date)
	if err != nil {
		return nil, err
	}
	defer unlock()
	defer func() { err = withLostLock(ctx, err) }()

	if ingest {
		if _, err := r.Ingest(ctx); err != nil {
			return nil, err
		}
		c.Failpoint("after-ingest")
	}
	_, status, err := store.RunStatusOf(ctx, r.DB, date, c.SweepAccount)
	if err == nil && status == store.RunReconciled {
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
	planned, err := r.plan(ctx, date)
	if err != nil {
		return nil, err
	}
	runID := planned.RunID
	c.Failpoint("after-plan")
	// A run this call planned has sent nothing yet (its night opens for sending after the cash
	// check, under the run lock held here): what is still to send is what plan wrote in batches.
	var unsent *decimal.Decimal
	if !planned.Existed {
		unsent = &planned.Unsent
	}
	if err := r.checkCash(ctx, runID, unsent); err != nil {
		var short *CashShortfall
		if !errors.As(err, &short) {
			return nil, fmt.Errorf("submit %s: %w", date, err)
		}
		// The night stays unfinished: its report names the shortfall, and a run after funding sends it.
		c.Logger.Warn("the night is held: the sweep account cannot cover the journals still to send; nothing was sent",
			"date", date, "needed", short.Needed.StringFixed(2), "available", short.Available.StringFixed(2))
		return r.reconcile(ctx, date, runID, false)
	}
	if err := r.sendAndTrack(ctx, date, runID, fence); err != nil {
		return nil, err
	}
	c.Failpoint("after-track")
	if err := fence.Held(ctx); err != nil {
		return nil, err // the report is the lock holder's to write
	}
	return r.reconcile(ctx, date, runID, true)
}

// NightState says in one line where the run of date stands and how to resume it, for an operator
// who just stopped it.
func (r *Runner) NightState(ctx context.Context, date string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resume := fmt.Sprintf("run `cashpool run --date %s` again to resume", date)
	runID, status, err := store.RunStatusOf(ctx, r.DB, date, r.cfg().SweepAccount)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Sprintf("%s: not planned yet, nothing was sent; %s", date, resume)
	}
	if err != nil {
		return fmt.Sprintf("%s: state unknown (%v); nothing is lost: %s", date, err, resume)
	}
	if status == store.RunReconciled {
		return fmt.Sprintf("%s: finished; `cashpool report --date %s` rewrites its report", date, date)
	}
	p, err := track.ReadProgress(ctx, r.DB, runID)
	if err != nil {
		return fmt.Sprintf("%s: %s, journals unknown (%v); nothing is lost: %s", date, status, err, resume)
	}
	return fmt.Sprintf("%s: %s, %d of %d journals final (%s funded), %d open (%d not sent yet); nothing is lost: %s",
		date, status, p.Final, p.Total, p.Funded.StringFixed(2), p.Open(), p.Unsent, resume)
}

// preflight checks, before anything is ingested, planned or sent, what a run needs beyond the
// database (Run pinged it): the report folder of each date takes a file, and (when broker is set)
// the broker accepts the credentials and holds the sweep account, ACTIVE. A problem a person must
// fix wraps ErrNotReady.
func (r *Runner) preflight(ctx context.Context, dates []string, broker bool) error {
	for _, d := range dates {
		if err := r.checkReportDir(d); err != nil {
			return err
		}
	}
	if broker {
		return r.CheckBroker(ctx)
	}
	return nil
}

// checkReportDir creates and removes a probe file where date's report goes.
func (r *Runner) checkReportDir(date string) error {
	dir := filepath.Join(r.cfg().OutDir, date)
	err := os.MkdirAll(dir, 0o755)
	if err == nil {
		var f *os.File
		if f, err = os.CreateTemp(dir, ".cashpool-probe-*"); err == nil {
			f.Close()
			err = os.Remove(f.Name())
		}
	}
	if err != nil {
		return fmt.Errorf("%w: the report folder %s cannot take the report (CASHPOOL_OUT_DIR): %v; nothing was sent", ErrNotReady, dir, err)
	}
	return nil
}

// CheckBroker makes one cheap call (GET the sweep account) that proves the credentials work and
// the sweep account exists and is ACTIVE.
func (r *Runner) CheckBroker(ctx context.Context) error {
	sweep := r.cfg().SweepAccount
	a, err := r.Broker.GetAccount(ctx, sweep)
	var apiErr *alpaca.APIError
	switch {
	case errors.As(err, &apiErr) && (apiErr.HTTPStatus == 401 || apiErr.HTTPStatus == 403):
		return fmt.Errorf("%w: the broker refused the credentials (HTTP %d): check APCA_API_KEY_ID and APCA_API_SECRET_KEY; nothing was sent",
			ErrNotReady, apiErr.HTTPStatus)
	case errors.As(err, &apiErr) && apiErr.HTTPStatus == 404:
		return fmt.Errorf("%w: the broker has no account %s: check CASHPOOL_SWEEP_ACCOUNT; nothing was sent", ErrNotReady, sweep)
	case err != nil:
		return fmt.Errorf("checking the sweep account at the broker: %w; nothing was sent", err)
	case !strings.EqualFold(a.ID, sweep):
		return fmt.Errorf("the broker answered for account %q when asked for %s; nothing was sent", a.ID, sweep)
	case a.Status != alpaca.AccountActive:
		return fmt.Errorf("%w: the sweep account %s is %s at the broker, not %s: journals from it would fail; nothing was sent",
			ErrNotReady, sweep, a.Status, alpaca.AccountActive)
	}
	if rewards := strings.ToLower(r.cfg().RewardsAccount); rewards != "" && rewards != strings.ToLower(sweep) {
		a, err := r.Broker.GetAccount(ctx, rewards)
		switch {
		case errors.As(err, &apiErr) && apiErr.HTTPStatus == 404:
			return fmt.Errorf("%w: the broker has no account %s: check CASHPOOL_REWARDS_ACCOUNT; nothing was sent", ErrNotReady, rewards)
		case err != nil:
			return fmt.Errorf("checking the rewards account at the broker: %w; nothing was sent", err)
		case a.Status != alpaca.AccountActive:
			return fmt.Errorf("%w: the rewards account %s is %s at the broker, not %s: rewards from it would fail; nothing was sent",
				ErrNotReady, rewards, a.Status, alpaca.AccountActive)
		}
	}
	return nil
}

// Ingest takes every complete file from the drop folder. Serialised across processes: a scan that
// finds another one under way (serve's scan between nights, a night starting) waits for it to end.
func (r *Runner) Ingest(ctx context.Context) (res ingest.Result, err error) {
	c := r.cfg()
	defer c.timed("ingest")()
	defer func() { c.Observer.Files(res) }()
	_, unlock, err := schema.Lock(ctx, r.DB.DB, "ingest")
	if err != nil {
		return ingest.Result{}, err
	}
	defer unlock()
	icfg := ingest.Config{DropDir: c.DropDir, Now: c.Now, Logger: c.Logger,
		ReceiptsPattern: c.ReceiptsPattern, AllocationsPattern: c.AllocationsPattern, RewardsPattern: c.RewardsPattern,
		BAI2Pattern: c.BAI2Pattern, RequireReady: c.RequireReady, CAMTPattern: c.CAMTPattern, BankAccount: c.BankAccount}
	if c.Progress != nil {
		icfg.OnRows = func(name string, rows int) { c.Progress("ingest "+name, rows, 0) }
	}
	res, err = ingest.Run(ctx, r.DB, icfg)
	if err != nil {
		return res, fmt.Errorf("ingest: %w", err)
	}
	// A file without a .ready marker is taken once its size and mtime held still across two scans:
	// give files seen for the first time one more look, so a cron run does not leave them for tomorrow.
	if res.Count(ingest.OutcomeIncomplete) > 0 && c.SettleFor > 0 {
		c.Logger.Info("ingest: waiting for files still being written", "wait", c.SettleFor)
		if err := c.TrackWait(ctx, c.SettleFor); err != nil {
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

// Plan plans date, or finds the run planned before.
func (r *Runner) Plan(ctx context.Context, date string) (int64, error) {
	res, err := r.plan(ctx, date)
	return res.RunID, err
}

// plan is Plan, with what plan.Plan said.
func (r *Runner) plan(ctx context.Context, date string) (plan.Result, error) {
	c := r.cfg()
	defer c.timed("plan")()
	res, err := plan.Plan(ctx, r.DB, plan.Config{
		SweepAccount: c.SweepAccount, RewardsAccount: c.RewardsAccount, BusinessDate: date, BatchSize: c.BatchSize,
		JournalLimit: c.JournalLimit, Now: c.Now, AwaitReceiptFor: c.AwaitReceiptFor,
		JournalsWritten: func() { c.Failpoint("plan-journals-written") },
	})
	if err != nil {
		return res, fmt.Errorf("plan %s: %w", date, err)
	}
	if res.Existed {
		c.Logger.Info("plan: run already planned", "date", date, "run", res.RunID)
	} else {
		c.Logger.Info("plan", "date", date, "run", res.RunID, "receipts", res.Receipts, "held", res.Held,
			"journals", res.Journals, "batches", res.Batches, "skipped", res.Skipped, "amount", res.Planned.StringFixed(2),
			"rewards", res.Rewards)
		if res.RewardsRefused > 0 {
			c.Logger.Warn("plan: rewards to a firm account refused before sending; see the report", "date", date, "rewards", res.RewardsRefused)
		}
		if res.NightHeld {
			c.Logger.Warn("plan: nothing planned: an allocations file that is not loaded cannot be read; see the report", "date", date)
		} else if res.Waiting > 0 {
			c.Logger.Warn("plan: receipts held until the allocations files naming them are loaded; see the report", "date", date, "receipts", res.Waiting)
		}
	}
	return res, nil
}

// Submit sends what is planned, under the run lock of date, and sets the tracking deadline once
// everything is sent.
func (r *Runner) Submit(ctx context.Context, date string, runID int64) (err error) {
	ctx, fence, unlock, err := r.lockRun(ctx, date)
	if err != nil {
		return err
	}
	defer unlock()
	defer func() { err = withLostLock(ctx, err) }()
	return r.sendPlanned(ctx, date, runID, fence)
}

// CashShortfall is a night held before its first POST: the sweep account's cash available for
// journals (cash_transferable) is less than the journals still to send.
type CashShortfall struct {
	Needed, Available decimal.Decimal
}

func (e *CashShortfall) Error() string {
	return fmt.Sprintf("the sweep account can transfer %s, the journals still to send need %s (short by %s); nothing was sent",
		e.Available.StringFixed(2), e.Needed.StringFixed(2), e.Needed.Sub(e.Available).StringFixed(2))
}

// checkCash compares the journals of runID still to send with the sweep account's
// cash_transferable at Alpaca and records the outcome for the report; a shortfall is a
// *CashShortfall. It holds the whole night rather than sending the part the cash covers: which
// journals to leave out is a person's choice. unsent, when set, is their sum as the plan that just
// wrote them knows it (a whole read of the night's journals, seconds at a million, spared);
// otherwise the journals are read.
func (r *Runner) checkCash(ctx context.Context, runID int64, unsent *decimal.Decimal) error {
	c := r.cfg()
	var needed decimal.Decimal
	if unsent != nil {
		needed = *unsent
	} else {
		var err error
		if needed, err = store.UnsentAmount(ctx, r.DB, runID); err != nil {
			return fmt.Errorf("the journals still to send: %w", err)
		}
	}
	if !needed.IsPositive() {
		if err := r.openSweep(ctx, runID, nil); err != nil {
			return err
		}
		return store.ClearCashShortfall(ctx, r.DB, runID)
	}
	a, err := r.Broker.GetTradingAccount(ctx, c.SweepAccount)
	if err != nil {
		return fmt.Errorf("reading the sweep account's cash at the broker: %w; nothing was sent", err)
	}
	// Only cash_transferable is what a JNLC may take; cash and cash_withdrawable are other figures.
	if !a.CashTransferable.Valid {
		return fmt.Errorf("the broker's trading account of %s shows no cash_transferable, so the night's cash cannot be proved; nothing was sent",
			c.SweepAccount)
	}
	if available := a.CashTransferable.Decimal; available.LessThan(needed) {
		if err := store.SetCashShortfall(ctx, r.DB, runID, needed, available); err != nil {
			return err
		}
		return &CashShortfall{Needed: needed, Available: available}
	}
	if err := r.openSweep(ctx, runID, a); err != nil {
		return err
	}
	return store.ClearCashShortfall(ctx, r.DB, runID)
}

// sendAndTrack sends what is planned (the cash check passed) and tracks the run, the stream's
// events applied while batches are still being sent: tracking ends after sending has.
func (r *Runner) sendAndTrack(ctx context.Context, date string, runID int64, fence submit.Fence) error {
	c := r.cfg()
	tctx, stop := context.WithCancel(ctx)
	defer stop()
	submitted := make(chan time.Time, 1)
	tracked := make(chan error, 1)
	go func() { tracked <- r.track(tctx, runID, submitted) }()
	err := r.send(ctx, date, runID, fence)
	if err == nil {
		c.Failpoint("after-submit")
		var deadline time.Time
		if deadline, err = r.trackDeadline(ctx, runID); err == nil {
			submitted <- deadline
			return <-tracked
		}
	}
	stop()
	if terr := <-tracked; terr != nil && !errors.Is(terr, context.Canceled) {
		return errors.Join(err, terr)
	}
	return err
}

func (r *Runner) sendPlanned(ctx context.Context, date string, runID int64, fence submit.Fence) error {
	if err := r.checkCash(ctx, runID, nil); err != nil {
		return fmt.Errorf("submit %s: %w", date, err)
	}
	return r.send(ctx, date, runID, fence)
}

// send sends what is planned (the cash checked under fence) and sets the tracking deadline once
// everything is sent.
func (r *Runner) send(ctx context.Context, date string, runID int64, fence submit.Fence) error {
	c := r.cfg()
	defer c.timed("submit")()
	// Claims taken under an earlier epoch (a holder that crashed, its workers) can mark nothing
	// sending any more: they are freed rather than waited out. Then, the cash checked under this
	// epoch, workers joining the night may send.
	if err := store.FreeClaims(ctx, r.DB, runID, fence.Name, fence.Epoch); err != nil {
		return fmt.Errorf("submit %s: %w", date, err)
	}
	if err := store.OpenForSending(ctx, r.DB, runID, fence.Epoch); err != nil {
		return fmt.Errorf("submit %s: %w", date, err)
	}
	res, err := submit.Submit(ctx, r.DB, r.Broker, runID, r.submitConfig(date, fence, false))
	if err != nil {
		return fmt.Errorf("submit %s: %w", date, err)
	}
	c.Logger.Info("submit", "date", date, "batches_sent", res.Sent, "batches_split", res.Split,
		"journals_canceled_with_batch", res.Canceled, "batches_recovered_by_listing", res.Recovered, "rewards_refused", res.Refused)
	// The first submission of a round (a redrive starts another) fixes the moment tracking counts
	// from; Track derives the deadline from it and the TrackFor of whichever run tracks.
	now := c.Now().UTC()
	return store.MarkSubmitted(ctx, r.DB, runID, now, now.Add(c.TrackFor))
}

// submitConfig is submit's configuration for date under fence; join for a process joining a
// night whose run lock another holds.
func (r *Runner) submitConfig(date string, fence submit.Fence, join bool) submit.Config {
	c := r.cfg()
	return submit.Config{
		SweepAccount: c.SweepAccount, RewardsAccount: c.RewardsAccount, BusinessDate: date, MaxInFlight: c.MaxInFlight,
		Now: c.Now, Logger: c.Logger, KeyRetention: c.KeyRetention, Fence: fence, Lease: c.ClaimLease, Join: join,
		BeforePost: func(id int64) {
			c.Failpoint("before-post")
			if c.BeforePost != nil {
				c.BeforePost(id)
			}
		},
		AfterPost: func(int64) { c.Failpoint("after-post") },
		Stored:    func(int64) { c.Failpoint("after-store") },
		BeforeRewardPost: func(id int64) {
			c.Failpoint("before-jnls-post")
			if c.BeforePost != nil {
				c.BeforePost(id)
			}
		},
		AfterRewardPost: func(int64) { c.Failpoint("after-jnls-post") },
		RewardStored:    func(int64) { c.Failpoint("after-jnls-store") },
	}
}

// Track follows the run's journals until they are final or its deadline passes.
func (r *Runner) Track(ctx context.Context, runID int64) error {
	return r.track(ctx, runID, nil)
}

// track is Track; with submitted set it begins while the run's batches are still being sent and
// takes the deadline from submitted once they all are.
func (r *Runner) track(ctx context.Context, runID int64, submitted <-chan time.Time) error {
	c := r.cfg()
	defer c.timed("track")()
	var deadline time.Time
	if submitted == nil {
		var err error
		if deadline, err = r.trackDeadline(ctx, runID); err != nil {
			return err
		}
	}
	tcfg := track.Config{
		SweepAccount: c.SweepAccount, RewardsAccount: c.RewardsAccount, PollEvery: c.PollEvery, Now: c.Now,
		Logger: c.Logger, Wait: c.TrackWait, AfterPass: func() { c.Failpoint("after-track-pass") }, ProgressEvery: c.ProgressEvery,
		OnReconnect: c.Observer.StreamReconnect, OnHeal: c.Observer.Heal, Submitted: submitted, Lease: c.TrackLease,
	}
	if c.Progress != nil {
		tcfg.OnProgress = func(final, total int) { c.Progress("track", final, total) }
	}
	res, err := track.Track(ctx, r.DB, r.Broker, runID, deadline, tcfg)
	if err != nil {
		return fmt.Errorf("track: %w", err)
	}
	c.Logger.Info("track", "run", runID, "passes", res.Passes, "changes", res.Changed, "still_open", res.Open)
	date, err := store.RunDate(ctx, r.DB, runID)
	if err != nil {
		return err
	}
	watchFrom := date.Add(-c.WatchFor)
	reversed, err := track.Watch(ctx, r.DB, r.Broker, c.SweepAccount, c.RewardsAccount, watchFrom, c.Now())
	if err != nil {
		// Never only logged: a reversal check that did not happen must stop the night.
		return fmt.Errorf("track: watching funded journals of earlier runs: %w", err)
	}
	if reversed > 0 {
		c.Logger.Warn("track: funded journals changed at Alpaca after funding", "journals", reversed)
	}
	linked, err := track.LinkCorrections(ctx, r.DB, r.Broker, c.SweepAccount, watchFrom, c.Now())
	if err != nil {
		return fmt.Errorf("track: %w", err)
	}
	if linked > 0 {
		c.Logger.Info("track: corrected journals linked to their replacements", "linked", linked)
	}
	return r.closeSweep(ctx, runID)
}

// trackDeadline is the run's submission time plus this runner's TrackFor, stored for the report:
// a later run with a shorter (or longer) CASHPOOL_TRACK_FOR is honoured, never the first run's.
func (r *Runner) trackDeadline(ctx context.Context, runID int64) (time.Time, error) {
	c := r.cfg()
	submitted, err := store.RunSubmittedAt(ctx, r.DB, runID)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return time.Time{}, errors.New("track: the run has not been submitted yet")
		}
		return time.Time{}, err
	}
	deadline := submitted.Add(c.TrackFor).UTC()
	moved, err := store.MoveTrackDeadline(ctx, r.DB, runID, deadline)
	if err != nil {
		return time.Time{}, err
	}
	if moved {
		c.Logger.Info("track: deadline follows CASHPOOL_TRACK_FOR", "run", runID, "submitted", submitted.UTC(),
			"track_for", c.TrackFor, "deadline", deadline)
	}
	return deadline, nil
}

// Report rebuilds and rewrites the report of date without touching the run's state; ErrNoRun
// when the date has no run.
func (r *Runner) Report(ctx context.Context, date string) (*Outcome, error) {
	runID, err := RunID(ctx, r.DB, r.cfg().SweepAccount, date)
	if err != nil {
		return nil, err
	}
	return r.reconcile(ctx, date, runID, false)
}

// Reconcile writes the report of a tracked run and marks it finished; ErrNoRun when the date has
// no run.
func (r *Runner) Reconcile(ctx context.Context, date string) (*Outcome, error) {
	runID, err := RunID(ctx, r.DB, r.cfg().SweepAccount, date)
	if err != nil {
		return nil, err
	}
	return r.reconcile(ctx, date, runID, true)
}

func (r *Runner) reconcile(ctx context.Context, date string, runID int64, finish bool) (*Outcome, error) {
	c := r.cfg()
	defer c.timed("reconcile")()
	rep, err := reconcile.Build(ctx, r.DB, runID, c.Now(), reconcile.WatchFor(c.WatchFor))
	if err != nil {
		return nil, fmt.Errorf("reconcile: %w", err)
	}
	paths, err := reconcile.Write(filepath.Join(c.OutDir, date), rep, c.Formats...)
	if err != nil {
		return nil, fmt.Errorf("write report: %w", err)
	}
	if finish {
		if err := reconcile.Finish(ctx, r.DB, rep, c.Now()); err != nil {
			return nil, fmt.Errorf("finish run: %w", err)
		}
		c.Observer.NightFinished(rep, c.Now())
	}
	return &Outcome{Report: rep, Paths: paths}, nil
}

// compile-time check that the real client satisfies the pipeline.
var _ Broker = (*alpaca.Client)(nil)

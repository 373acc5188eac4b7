package batch

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/cashpool/cashpool/batch/schema"
	"github.com/cashpool/cashpool/batch/store"
	"github.com/cashpool/cashpool/batch/submit"
	"github.com/cashpool/cashpool/batch/track"
)

// workLookEvery is how often a joining process looks whether the night is open for sending.
const workLookEvery = 250 * time.Millisecond

// Work joins the night of date that another process runs (it holds the run lock: ingest, plan,
// cash check, tracking, report): once the holder has checked the night's cash, this process claims
// and sends batches beside it, through the same claims, until none is left to send, and from then
// on also tracks the parts of the night's tracking it can claim beside the holder (track.Follow),
// until the holder ends tracking or the night is no longer open under the lock's epoch. It sends
// nothing while the night is not open under the lock's current fencing epoch (not planned yet,
// held for cash, or a new holder that has not checked the cash again); it neither heals, marks
// the run, nor writes the report.
func (r *Runner) Work(ctx context.Context, date string) (submit.Result, error) {
	c := r.cfg()
	worker := submit.NewWorker()
	// Tracking begins beside sending, as the holder's does: the parts are taken while their
	// cursors are young, so little is read twice.
	beside := r.trackBeside(ctx, date, worker)
	defer beside.stop()
	for {
		res, runID, done, err := r.joinOnce(ctx, date, worker, beside.opened)
		if err != nil {
			beside.stop()
			return res, err
		}
		if done {
			if err := beside.wait(); err != nil {
				return res, err
			}
			// Tracking beside sending stops when the lock changes hands; a new holder may have
			// opened the night again since (tracking that ended returns at once).
			return res, r.follow(ctx, date, runID, worker)
		}
		if err := c.TrackWait(ctx, workLookEvery); err != nil {
			return submit.Result{}, err
		}
	}
}

// JoinOpenNights joins, beside the process holding each one's run lock, every night of the sweep
// account open for sending now (a standby serve replica's spare work): it sends the night's
// batches through the same claims as Work, tracks its share of the night's journals from the
// moment the night is open, as Work does, and returns once each such night's holder has ended
// tracking (or the night is no longer open under its lock's epoch: its holder stopped, and the
// next one checks the cash again). A night whose lock nobody holds is left alone.
func (r *Runner) JoinOpenNights(ctx context.Context) error {
	c := r.cfg()
	dates, err := store.DatesOpenForSending(ctx, r.DB, c.SweepAccount)
	if err != nil {
		return fmt.Errorf("nights open for sending: %w", err)
	}
	for _, date := range dates {
		held, err := schema.LockHeld(ctx, r.DB.DB, schema.RunLockName(c.SweepAccount, date))
		if err != nil {
			return err
		}
		if !held {
			continue
		}
		worker := submit.NewWorker()
		beside := r.trackBeside(ctx, date, worker)
		_, _, _, err = r.joinOnce(ctx, date, worker, beside.opened)
		if err == nil {
			err = beside.wait()
		}
		beside.stop()
		if err != nil {
			return fmt.Errorf("joining the night of %s: %w", date, err)
		}
	}
	return nil
}

// besideSending is a worker's tracking of one night beside its sending: started (follow) the first
// time the night is found open, and then waited for, or stopped.
type besideSending struct {
	r            *Runner
	ctx          context.Context
	cancel       context.CancelFunc
	date, worker string
	done         chan error // nil until started
}

func (r *Runner) trackBeside(ctx context.Context, date, worker string) *besideSending {
	tctx, cancel := context.WithCancel(ctx)
	return &besideSending{r: r, ctx: tctx, cancel: cancel, date: date, worker: worker}
}

// opened starts the tracking of run runID unless it is started already (joinOnce's opened: called
// on the caller's goroutine).
func (b *besideSending) opened(runID int64) {
	if b.done == nil {
		b.done = make(chan error, 1)
		go func() { b.done <- b.r.follow(b.ctx, b.date, runID, b.worker) }()
	}
}

// wait returns once the tracking has ended (the holder ended tracking, or the night is no longer
// open under its lock's epoch), with its error; at once if it never started.
func (b *besideSending) wait() error {
	if b.done == nil {
		return nil
	}
	err := <-b.done
	b.done = closedDone
	return err
}

// stop ends the tracking and waits for it; it may be called again.
func (b *besideSending) stop() {
	b.cancel()
	_ = b.wait()
}

// closedDone is a finished tracking's channel: a wait on it returns nil at once.
var closedDone = func() chan error { c := make(chan error); close(c); return c }()

// joinOnce sends, as worker, the batches of date's night (run runID) while it is open for sending,
// after telling opened that it is; done when nothing is left to send or the night is past
// submitting, not done when it is not open (yet, or again: the run lock changed hands since).
func (r *Runner) joinOnce(ctx context.Context, date, worker string, opened func(runID int64)) (_ submit.Result, runID int64, done bool, _ error) {
	c := r.cfg()
	name := schema.RunLockName(c.SweepAccount, date)
	runID, epoch, done, err := r.openEpoch(ctx, date, name)
	if done || err != nil || epoch == 0 {
		return submit.Result{}, runID, done, err
	}
	opened(runID)
	cfg := r.submitConfig(date, submit.Fence{Name: name, Epoch: epoch}, true)
	cfg.Worker = worker
	res, err := submit.Submit(ctx, r.DB, r.Broker, runID, cfg)
	if errors.Is(err, submit.ErrLostLock) {
		// Another process took the run lock: it checks the cash again and opens the night anew.
		c.Logger.Info("work: the run lock changed hands; waiting for its new holder to open the night", "date", date)
		return res, runID, false, nil
	}
	if err == nil {
		c.Logger.Info("work: nothing left to send", "date", date, "worker", worker, "batches_sent", res.Sent,
			"batches_split", res.Split, "batches_recovered_by_listing", res.Recovered)
	}
	return res, runID, true, err
}

// follow tracks, as worker, the parts of run runID's tracking it can claim beside the run lock's
// holder, until the holder ends tracking, or the run is past tracking or its lock is no longer held
// under the epoch the night was opened with (the holder died or lost it: the next holder tracks).
func (r *Runner) follow(ctx context.Context, date string, runID int64, worker string) error {
	c := r.cfg()
	if runID == 0 {
		return nil
	}
	name := schema.RunLockName(c.SweepAccount, date)
	tcfg := track.Config{
		SweepAccount: c.SweepAccount, RewardsAccount: c.RewardsAccount, Now: c.Now, Logger: c.Logger,
		Sleep: c.TrackWait, AfterPass: func() { c.Failpoint("after-track-pass") }, Lease: c.TrackLease,
		Until: func(ctx context.Context) (bool, error) {
			_, status, err := store.RunStatusOf(ctx, r.DB, date, c.SweepAccount)
			if err != nil || status != store.RunPlanned && status != store.RunSubmitted {
				return true, err
			}
			opened, err := store.SendEpochOf(ctx, r.DB, runID)
			if err != nil || !opened.Valid {
				return true, err
			}
			var current int64
			if err := r.DB.QueryRowContext(ctx, store.FenceEpochSQL, name).Scan(&current); err != nil || current != opened.Int64 {
				return true, err
			}
			held, err := schema.LockHeld(ctx, r.DB.DB, name)
			return !held, err
		},
	}
	// Follow logs the parts it held and the events it applied as it ends.
	if _, err := track.Follow(ctx, r.DB, r.Broker, runID, worker, tcfg); err != nil {
		return fmt.Errorf("work: tracking the night of %s: %w", date, err)
	}
	return nil
}

// openEpoch says whether the night of date is open for sending: the run's id and the fencing
// epoch its cash was checked under while that is still the lock's (0 when not open), or done when
// the night is past submitting.
func (r *Runner) openEpoch(ctx context.Context, date, name string) (runID, epoch int64, done bool, err error) {
	runID, status, err := store.RunStatusOf(ctx, r.DB, date, r.cfg().SweepAccount)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, false, nil
	}
	if err != nil {
		return 0, 0, false, fmt.Errorf("work: the run of %s: %w", date, err)
	}
	if status != store.RunPlanned {
		return runID, 0, true, nil
	}
	opened, err := store.SendEpochOf(ctx, r.DB, runID)
	if err != nil || !opened.Valid {
		return runID, 0, false, err
	}
	var current int64
	err = r.DB.QueryRowContext(ctx, store.FenceEpochSQL, name).Scan(&current)
	if err != nil || current != opened.Int64 {
		return runID, 0, false, err
	}
	return runID, current, false, nil
}

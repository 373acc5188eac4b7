package track

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/cashpool/cashpool/batch/store"
)

// TrackParts is how many parts a run's tracking is split into (track_parts): the unit a tracking
// process claims, holds under a lease and applies. A journal's events belong to part
// partOf(its Alpaca id, TrackParts); a process's appliers take part k's events in applier k %
// ApplyParts.
const TrackParts = 8

// LeaseDefault is how long a claimed part stays its holder's without a renewal.
const LeaseDefault = 15 * time.Second

// runHolder names the run lock's holder among the run's trackers. One process holds the lock at a
// time, so a holder restarted after a crash finds the parts its predecessor held its own at once.
const runHolder = "run"

// errClosed: the run's tracking ended (its holder closed the parts) or a joined tracker's Until
// said to stop.
var errClosed = errors.New("the run's tracking has ended")

// partsLost: parts of an applier's transaction were taken by another tracker (or closed) before
// it committed; it was rolled back.
type partsLost struct{ parts []int }

func (e *partsLost) Error() string {
	return fmt.Sprintf("track parts %v lost to another tracker", e.parts)
}

// keep renews this process's leases and claims parts every Lease/3 (at least every second, so
// that a tracker that joined learns soon that tracking ended) until ctx ends, the run's parts are
// closed, or Until says to stop (errClosed).
func (st *streamer) keep(ctx context.Context) error {
	t := time.NewTicker(min(st.cfg.Lease/3, time.Second))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := st.claim(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// claim renews and claims this process's parts once and takes in what it holds now.
func (st *streamer) claim(ctx context.Context) error {
	c, err := store.ClaimTrackParts(ctx, st.db, st.runID, st.holder, st.cfg.Lease, st.holder == runHolder)
	if err != nil {
		return err
	}
	if c.Closed {
		return errClosed
	}
	if st.cfg.Until != nil {
		done, err := st.cfg.Until(ctx)
		if err != nil {
			return err
		}
		if done {
			return errClosed
		}
	}
	if st.holder != runHolder && !st.allSent() {
		// A joined tracker learns from the run that every batch is sent (the run's holder marks it
		// submitted then): from then on, events of journals it does not know are not ours.
		if _, err := store.RunSubmittedAt(ctx, st.db, st.runID); err == nil {
			st.sentOnce.Do(func() { close(st.sent) })
		}
	}
	st.setHeld(c.Mine)
	return nil
}

// setHeld takes in the parts this process holds: the connection's appliers stop applying parts
// lost, and a part gained makes the stream reconnect to read that part's events from its cursor.
func (st *streamer) setHeld(mine []int) {
	st.pmu.Lock()
	defer st.pmu.Unlock()
	var now [TrackParts]bool
	for _, k := range mine {
		now[k] = true
	}
	gained := false
	for k := range now {
		if now[k] && !st.held[k] {
			gained = true
		}
		if !now[k] && st.held[k] && st.applying != nil {
			st.applying.lose(k)
		}
	}
	st.held = now
	if len(mine) < TrackParts {
		// Another tracker holds parts (or did): the run's open count is read from the parts' sums.
		st.shared.Store(true)
	}
	if gained {
		select {
		case st.regain <- struct{}{}:
		default:
		}
	}
}

// lost takes in parts an applier found taken.
func (st *streamer) lost(parts []int) {
	st.pmu.Lock()
	defer st.pmu.Unlock()
	for _, k := range parts {
		st.held[k] = false
		if st.applying != nil {
			st.applying.lose(k)
		}
	}
	st.shared.Store(true)
}

// heldCount is how many parts this process holds.
func (st *streamer) heldCount() int {
	st.pmu.Lock()
	defer st.pmu.Unlock()
	n := 0
	for _, h := range st.held {
		if h {
			n++
		}
	}
	return n
}

// waitParts returns the parts this process holds, once it holds any, for a connection to apply;
// a gain signalled before is taken in by it. ok is false when ctx ended first.
func (st *streamer) waitParts(ctx context.Context) (active [TrackParts]bool, ok bool) {
	for {
		st.pmu.Lock()
		active = st.held
		select {
		case <-st.regain:
		default:
		}
		st.pmu.Unlock()
		for _, h := range active {
			if h {
				return active, true
			}
		}
		select {
		case <-st.regain:
		case <-ctx.Done():
			return active, false
		}
	}
}

// run reads and applies the stream (loop) while keeping the parts' leases (keep), until ctx ends
// or either fails; errClosed when the run's tracking ended.
func (st *streamer) run(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	kept := make(chan struct{})
	go func() {
		defer close(kept)
		if err := st.keep(ctx); err != nil {
			cancel(err)
		}
	}()
	err := st.loop(ctx)
	cause := context.Cause(ctx)
	cancel(nil)
	<-kept
	if err == nil && cause != nil && !errors.Is(cause, context.Canceled) {
		err = cause
	}
	return err
}

// Follow tracks, beside the run's holder (Track), the parts of the run it can claim as holder (a
// name of its own among the run's trackers): it applies its parts' stream events until the run's
// holder ends tracking (closes the parts), cfg.Until says to stop, or ctx ends; then it gives its
// parts up and returns. It neither heals, counts, nor marks the run: the holder does. A broker
// without the event stream has nothing to follow.
func Follow(ctx context.Context, db *sqlx.DB, broker Broker, runID int64, holder string, cfg Config) (Result, error) {
	cfg = cfg.withDefaults()
	s, streams := broker.(Streamer)
	if !streams || cfg.Mode == ModePoll || holder == runHolder {
		return Result{}, nil
	}
	st := newStreamer(db, s, cfg, runID, holder, time.Time{})
	res := Result{StreamMode: true}
	first, err := store.FirstSending(ctx, db, runID)
	if err != nil {
		return res, fmt.Errorf("first batch: %w", err)
	}
	st.start = cfg.Now()
	if first.Valid {
		st.start = first.Time
	}
	st.start = st.start.Add(-cfg.SinceMargin)
	if err := st.claim(ctx); err != nil && !errors.Is(err, errClosed) {
		return res, err
	} else if err != nil {
		return res, nil
	}
	err = st.run(ctx)
	res.Events, res.Connects = int(st.events.Load()), int(st.connects.Load())
	res.Dropped, res.Changed, res.Parts = int(st.dropped.Load()), int(st.changed.Load()), st.heldCount()
	cfg.Logger.Info("track parts", "run", runID, "holder", holder, "parts", res.Parts, "events_applied", res.Changed, "events", res.Events)
	switch {
	case errors.Is(err, errClosed):
		// What is still held goes back at once for the run's holder to take.
		return res, store.ReleaseTrackParts(ctx, db, runID, holder)
	case ctx.Err() != nil:
		return res, ctx.Err()
	}
	return res, err
}

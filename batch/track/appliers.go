package track

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/batch/store"
)

// appliers apply one connection's flushes of events: each of ApplyParts goroutines, on its own
// database connection, takes its part's share of every flush (by journal id, so that a journal's
// events stay in one part, in order) and applies whatever is queued for it, without waiting for
// the other parts. An applier's part is the run's track parts k with k % ApplyParts its number,
// those this connection applies (active: the parts the process held as it connected, less those
// lost since); events of other parts are other trackers' work and are dropped.
//
// Each transaction writes its track parts' cursors (the newest event of the shares it applied,
// kept before any event of a journal not known yet) and fails if one of them was taken. The
// account's cursor follows behind: while the connection applies every part (whole), it passes a
// flush only once every applier has committed its share of it and of every flush before, and is
// written in an applier's next transaction, or in a statement of its own when that applier has
// nothing queued; otherwise it takes up the run's smallest part cursor at such idle moments. A
// part that fails, or a crash, leaves the cursors behind events already applied, which the next
// read applies again as duplicates (an event not newer than its journal's newest changes nothing).
type appliers struct {
	st     *streamer
	ctx    context.Context // ends when tracking stops or a part fails
	cancel context.CancelFunc
	queues []chan share
	wg     sync.WaitGroup
	closed sync.Once
	failed chan struct{} // closed with err set

	mu      sync.Mutex
	err     error
	flushes []handed // handed flushes not yet committed by every part, oldest first
	next    uint64   // sequence number of the next flush
	done    []uint64 // per part: every share below this sequence number is committed
	safe    string   // the newest event id the cursor may pass: every flush up to it is committed
	claimed string   // the newest cursor a transaction carries or a statement wrote
	// carrying: a transaction writing the cursor is under way. One at a time: another would wait
	// for its row lock, holding its part up.
	carrying bool
	// active: the track parts this connection applies; whole while that is every part (the run's
	// holder only).
	active [TrackParts]bool
	whole  bool
	// partSafe and partWritten, per applier: the newest event id its track parts' cursors may
	// pass (every share of its up to there committed), and the newest written.
	partSafe, partWritten []string
}

// share is a part's share of one flush, and the flush's newest event id.
type share struct {
	seq   uint64
	evs   []event
	maxID string
}

// handed is a flush handed to the parts: its sequence number and newest event id.
type handed struct {
	seq   uint64
	maxID string
}

// queuedShares is how many flushes a part may be behind the connection before it waits.
const queuedShares = 4

// startAppliers starts one applier a part for a connection applying the track parts active;
// finish stops them.
func (st *streamer) startAppliers(ctx context.Context, active [TrackParts]bool) *appliers {
	parts := len(st.early)
	actx, cancel := context.WithCancel(ctx)
	a := &appliers{st: st, ctx: actx, cancel: cancel, queues: make([]chan share, parts),
		failed: make(chan struct{}), done: make([]uint64, parts), active: active,
		// A tracker that joined the night writes the account's cursor only with its parts' (fenced).
		whole:    !slices.Contains(active[:], false) && st.holder == runHolder,
		partSafe: make([]string, parts), partWritten: make([]string, parts)}
	st.pmu.Lock()
	st.applying = a
	for k, h := range st.held {
		if !h {
			a.lose(k) // lost since the connection took its parts
		}
	}
	st.pmu.Unlock()
	for k := range a.queues {
		a.queues[k] = make(chan share, queuedShares)
		a.wg.Add(1)
		go a.run(k)
	}
	return a
}

// hand splits a flush's events evs into the parts' shares and queues them (evs may be reused
// afterwards) with the flush's newest event id maxID. It waits while a part's queue is full; it
// fails once a part has failed.
func (a *appliers) hand(evs []event, maxID string) error {
	parts := len(a.queues)
	split := make([][]event, parts)
	a.mu.Lock()
	active := a.active
	a.mu.Unlock()
	for _, e := range evs {
		k := partOf(e.JournalID, TrackParts)
		if !active[k] {
			continue // another tracker's
		}
		split[k%parts] = append(split[k%parts], e)
	}
	a.mu.Lock()
	seq := a.next
	a.next++
	a.flushes = append(a.flushes, handed{seq, maxID})
	a.mu.Unlock()
	for k, q := range a.queues {
		select {
		case q <- share{seq, split[k], maxID}:
		case <-a.failed:
			return a.failure()
		case <-a.ctx.Done():
			return a.ctx.Err()
		}
	}
	return nil
}

// run is part k's applier: it applies what is queued for it, several shares in a transaction of
// up to FlushEvents events when it has fallen behind, until its queue is closed and empty.
func (a *appliers) run(k int) {
	defer a.wg.Done()
	q := a.queues[k]
	var held *share // taken from the queue, too big to join the transaction before it
	for {
		var s share
		if held != nil {
			s, held = *held, nil
		} else {
			var ok bool
			select {
			case s, ok = <-q:
			case <-a.ctx.Done():
				return
			}
			if !ok {
				return
			}
		}
		evs, upTo, top := s.evs, s.seq, s.maxID
	merge:
		for {
			select {
			case n, ok := <-q:
				if !ok {
					break merge
				}
				if len(evs)+len(n.evs) > a.st.cfg.FlushEvents {
					held = &n
					break merge
				}
				evs, upTo, top = append(evs, n.evs...), n.seq, max(top, n.maxID)
			default:
				break merge
			}
		}
		delta, err := a.apply(k, evs, upTo, top)
		if err != nil {
			a.fail(err)
			return
		}
		if held == nil && len(q) == 0 {
			// Nothing waits for this part: what its commit made safe is written at once, before
			// the tracking loop hears of the moves (and may end tracking).
			if err := a.writeCursor(k); err != nil {
				a.fail(err)
				return
			}
		}
		a.st.openDelta.Add(int64(delta))
		a.st.notify()
	}
}

// apply applies part k's events (with the events it kept for journals not known yet), its track
// parts' cursors up to top (the shares' newest event) and the account's cursor as far as it is
// safe, in one transaction, and marks the shares up to upTo committed. It returns how the moves
// changed the run's open count. A track part found taken is dropped and the rest applied again.
func (a *appliers) apply(k int, evs []event, upTo uint64, top string) (delta int, err error) {
	st := a.st
	// Judged before the journals are read: once sent is closed, every answer is stored.
	last := st.allSent()
	if early := st.early[k]; len(early) > 0 {
		evs = append(early[:len(early):len(early)], evs...)
	}
	var unknown []event
	if parts, evs := a.ofActive(k, evs); len(evs) > 0 {
		cursor := a.claim()
		var changed int
		for {
			changed, delta, unknown, err = st.applyTwice(a.ctx, evs, cursor, parts, top, last)
			var lost *partsLost
			if !errors.As(err, &lost) {
				break
			}
			st.lost(lost.parts)
			if parts, evs = a.ofActive(k, evs); len(evs) == 0 {
				changed, delta, unknown, err = 0, 0, nil, nil
				break
			}
		}
		a.release(cursor)
		if err != nil {
			return 0, err
		}
		st.changed.Add(int64(changed))
		st.afterPass()
	}
	st.keepEarly(k, unknown, last)
	a.committed(k, upTo, top)
	return delta, nil
}

// ofActive is applier k's track parts this connection still applies, and the events of evs that
// belong to them.
func (a *appliers) ofActive(k int, evs []event) ([]int, []event) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var parts []int
	for p, on := range a.active {
		if on && p%len(a.queues) == k {
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		return nil, nil
	}
	if a.whole {
		return parts, evs
	}
	out := evs[:0:0]
	for _, e := range evs {
		if a.active[partOf(e.JournalID, TrackParts)] { // lower case since eventOf
			out = append(out, e)
		}
	}
	return parts, out
}

// lose stops applying track part k: another tracker took it.
func (a *appliers) lose(k int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.active[k], a.whole = false, false
}

// claim returns the cursor a transaction beginning now should write: "" when it is written
// already or another transaction is writing it. A cursor claimed is released once its
// transaction has ended.
func (a *appliers) claim() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.safe > a.claimed && !a.carrying && a.whole {
		a.claimed, a.carrying = a.safe, true
		return a.safe
	}
	return ""
}

func (a *appliers) release(cursor string) {
	if cursor == "" {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.carrying = false
}

// committed records that part k committed its shares up to upTo (newest event top), and moves
// the safe cursor past every flush that each part has now committed, in order.
func (a *appliers) committed(k int, upTo uint64, top string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.done[k] = upTo + 1
	a.partSafe[k] = max(a.partSafe[k], top)
	for len(a.flushes) > 0 && a.flushes[0].seq < slices.Min(a.done) {
		a.safe = max(a.safe, a.flushes[0].maxID)
		a.flushes = a.flushes[1:]
	}
}

// writeCursor writes the cursor in statements of its own for as long as it is behind and no
// transaction is writing it. While the connection does not apply every part, applier k's track
// parts' cursors are written instead, and the account's takes up the run's smallest part cursor.
func (a *appliers) writeCursor(k int) error {
	a.mu.Lock()
	whole := a.whole
	a.mu.Unlock()
	if !whole {
		return a.writePartCursors(k)
	}
	for c := a.claim(); c != ""; c = a.claim() {
		_, err := a.st.db.ExecContext(a.ctx, advanceCursor, a.st.cfg.SweepAccount, c, a.st.cfg.Now().UTC())
		a.release(c)
		if err != nil {
			return err
		}
	}
	return nil
}

// fail stops every part at its first failure.
func (a *appliers) fail(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err == nil {
		a.err = err
		close(a.failed)
		a.cancel()
	}
}

func (a *appliers) failure() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err == nil {
		return nil
	}
	return &applyError{a.err}
}

// finish lets the parts apply what is queued (unless the connection's context ended or a part
// failed) and returns once none runs any more, with the first failure.
func (a *appliers) finish() error {
	a.closed.Do(func() {
		for _, q := range a.queues {
			close(q)
		}
	})
	a.wg.Wait()
	a.cancel()
	return a.failure()
}

// writePartCursors writes applier k's track parts' cursors as far as its committed shares let
// them go (never past an event it keeps for a journal not known yet), then the account's cursor
// up to the run's smallest part cursor, in one transaction that commits only while the parts are
// still its own (after the run's holder closed them, nothing is written).
func (a *appliers) writePartCursors(k int) error {
	st := a.st
	a.mu.Lock()
	c := a.partSafe[k]
	a.mu.Unlock()
	c = keptBefore(c, st.early[k])
	parts, _ := a.ofActive(k, nil)
	if c <= a.partWritten[k] || len(parts) == 0 {
		return nil
	}
	tx, err := st.db.BeginTxx(a.ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	kept, err := store.AdvanceTrackParts(a.ctx, tx, st.runID, st.holder, parts, c, 0, decimal.Zero)
	if err != nil {
		return err
	}
	if len(kept) < len(parts) {
		st.lost(lostOf(parts, kept))
		return nil
	}
	acct, err := store.TrackPartsCursor(a.ctx, tx, st.runID, nil)
	if err != nil {
		return err
	}
	if acct != "" {
		if _, err := tx.ExecContext(a.ctx, advanceCursor, st.cfg.SweepAccount, acct, st.cfg.Now().UTC()); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	a.partWritten[k] = c
	return nil
}

// keptBefore is cursor c held back before the oldest of the events kept (journals not known yet):
// a track part's cursor never passes an event not committed.
func keptBefore(c string, kept []event) string {
	oldest := ""
	for _, e := range kept {
		if validULID(e.EventID) && (oldest == "" || e.EventID < oldest) { // upper case since eventOf
			oldest = e.EventID
		}
	}
	if oldest != "" && c >= oldest {
		c, _, _ = rewind(oldest, time.Millisecond)
	}
	return c
}

// lostOf is the parts of asked not in kept.
func lostOf(asked, kept []int) []int {
	var lost []int
	for _, p := range asked {
		if !slices.Contains(kept, p) {
			lost = append(lost, p)
		}
	}
	return lost
}

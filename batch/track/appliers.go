package track

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/cashpool/cashpool/alpaca"
)

// appliers apply one connection's flushes of events: each of ApplyParts goroutines, on its own
// database connection, takes its part's share of every flush (by journal id, so that a journal's
// events stay in one part, in order) and applies whatever is queued for it, without waiting for
// the other parts. The cursor follows behind: it passes a flush only once every part has
// committed its share of it and of every flush before, and is written in a part's next
// transaction, or in a statement of its own when that part has nothing queued. A part that fails,
// or a crash, leaves the cursor behind events already applied, which the next read applies again
// as duplicates (an event not newer than its journal's newest changes nothing).
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
}

// share is a part's share of one flush.
type share struct {
	seq uint64
	evs []alpaca.JournalEvent
}

// handed is a flush handed to the parts: its sequence number and newest event id.
type handed struct {
	seq   uint64
	maxID string
}

// queuedShares is how many flushes a part may be behind the connection before it waits.
const queuedShares = 4

// startAppliers starts one applier a part for a connection; finish stops them.
func (st *streamer) startAppliers(ctx context.Context) *appliers {
	parts := len(st.early)
	actx, cancel := context.WithCancel(ctx)
	a := &appliers{st: st, ctx: actx, cancel: cancel, queues: make([]chan share, parts),
		failed: make(chan struct{}), done: make([]uint64, parts)}
	for k := range a.queues {
		a.queues[k] = make(chan share, queuedShares)
		a.wg.Add(1)
		go a.run(k)
	}
	return a
}

// hand splits evs into the parts' shares and queues them (evs may be reused afterwards). It
// waits while a part's queue is full; it fails once a part has failed.
func (a *appliers) hand(evs []alpaca.JournalEvent) error {
	parts := len(a.queues)
	split := make([][]alpaca.JournalEvent, parts)
	maxID := ""
	for _, e := range evs {
		if id := strings.ToUpper(e.EventID); validULID(id) && id > maxID {
			maxID = id
		}
		k := partOf(strings.ToLower(e.JournalID), parts)
		split[k] = append(split[k], e)
	}
	a.mu.Lock()
	seq := a.next
	a.next++
	a.flushes = append(a.flushes, handed{seq, maxID})
	a.mu.Unlock()
	for k, q := range a.queues {
		select {
		case q <- share{seq, split[k]}:
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
		evs, upTo := s.evs, s.seq
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
				evs, upTo = append(evs, n.evs...), n.seq
			default:
				break merge
			}
		}
		delta, err := a.apply(k, evs, upTo)
		if err != nil {
			a.fail(err)
			return
		}
		if held == nil && len(q) == 0 {
			// Nothing waits for this part: what its commit made safe is written at once, before
			// the tracking loop hears of the moves (and may end tracking).
			if err := a.writeCursor(); err != nil {
				a.fail(err)
				return
			}
		}
		a.st.openDelta.Add(int64(delta))
		a.st.notify()
	}
}

// apply applies part k's events (with the events it kept for journals not known yet) and the
// cursor as far as it is safe, in one transaction, and marks the shares up to upTo committed. It
// returns how the moves changed the run's open count.
func (a *appliers) apply(k int, evs []alpaca.JournalEvent, upTo uint64) (delta int, err error) {
	st := a.st
	// Judged before the journals are read: once sent is closed, every answer is stored.
	last := st.allSent()
	if early := st.early[k]; len(early) > 0 {
		evs = append(early[:len(early):len(early)], evs...)
	}
	var unknown []alpaca.JournalEvent
	if len(evs) > 0 {
		cursor := a.claim()
		var changed int
		changed, delta, unknown, err = st.applyTwice(a.ctx, evs, cursor)
		a.release(cursor)
		if err != nil {
			return 0, err
		}
		st.changed.Add(int64(changed))
		st.afterPass()
	}
	st.keepEarly(k, unknown, last)
	a.committed(k, upTo)
	return delta, nil
}

// claim returns the cursor a transaction beginning now should write: "" when it is written
// already or another transaction is writing it. A cursor claimed is released once its
// transaction has ended.
func (a *appliers) claim() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.safe > a.claimed && !a.carrying {
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

// committed records that part k committed its shares up to upTo, and moves the safe cursor past
// every flush that each part has now committed, in order.
func (a *appliers) committed(k int, upTo uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.done[k] = upTo + 1
	for len(a.flushes) > 0 && a.flushes[0].seq < slices.Min(a.done) {
		a.safe = max(a.safe, a.flushes[0].maxID)
		a.flushes = a.flushes[1:]
	}
}

// writeCursor writes the cursor in statements of its own for as long as it is behind and no
// transaction is writing it.
func (a *appliers) writeCursor() error {
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

package plan

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jmoiron/sqlx"

	"github.com/cashpool/cashpool/batch/store"
)

// journalWritersDefault is how many connections write a night's journals at once. One: PostgreSQL's
// COPY of a million journals (the heap and four indexes a journal) takes ~7.5 s of one core alone,
// and two COPYs into the same table and indexes contend so that they took ~10 s of CPU between
// them for no shorter wall time. One COPY keeps ahead of the plan, whose own connection reads the
// cursor and writes the batches meanwhile (a million-journal plan: 11.2–11.6 s with one writer,
// 13.2–14.3 s with two).
const journalWritersDefault = 1

// journalWriters stream a night's journals into one COPY each, on connections of their own, each in
// a transaction of its own. A batch's journals go to one writer, whole. They commit (commit) just
// before the plan's transaction, which creates the run: the run's reservation (store.ReservePlan)
// names their journals if it never does.
type journalWriters struct {
	ctx    context.Context
	cancel context.CancelFunc
	in     []chan []byte
	free   chan []byte
	done   chan struct{} // closed once every writer's COPY has ended
	commit chan bool     // true: commit; false (or closed): roll back
	wg     sync.WaitGroup

	closed bool // finish or abort closed in: the writers are done

	mu     sync.Mutex
	err    error
	copied int // writers whose COPY ended well
}

// startJournalWriters opens n writers on db, each with its transaction begun and its COPY open.
func startJournalWriters(ctx context.Context, db *sqlx.DB, n int) *journalWriters {
	w := &journalWriters{in: make([]chan []byte, n), free: make(chan []byte, 3*n),
		done: make(chan struct{}), commit: make(chan bool)}
	w.ctx, w.cancel = context.WithCancel(ctx)
	var copies sync.WaitGroup
	for k := range n {
		w.in[k] = make(chan []byte, 2)
		w.wg.Add(1)
		copies.Add(1)
		go func() {
			defer w.wg.Done()
			w.run(db, w.in[k], copies.Done)
		}()
	}
	go func() {
		copies.Wait()
		close(w.done)
	}()
	return w
}

// run is one writer: its COPY takes every buffer sent to in until in is closed; then it waits for
// the plan's word to commit or roll back.
func (w *journalWriters) run(db *sqlx.DB, in <-chan []byte, copied func()) {
	fail := func(err error) {
		w.fail(err)
		copied()
		for range in { // the planner stops at its next send
		}
	}
	conn, err := db.Connx(w.ctx)
	if err != nil {
		fail(err)
		return
	}
	defer conn.Close()
	tx, err := conn.BeginTxx(w.ctx, nil)
	if err != nil {
		fail(err)
		return
	}
	defer tx.Rollback()
	s, err := store.StreamCopy(w.ctx, conn, store.CopyJournalsSQL, func(s *store.CopyStream) error {
		for b := range in {
			if err := s.Lines(b); err != nil {
				return err
			}
			select {
			case w.free <- b[:0]:
			default:
			}
		}
		return nil
	})
	if err != nil {
		if s != nil && s.Err != nil {
			err = s.Err
		}
		fail(fmt.Errorf("copy journals: %w", err))
		return
	}
	w.mu.Lock()
	w.copied++
	w.mu.Unlock()
	copied()
	if ok := <-w.commit; !ok {
		return
	}
	if err := tx.Commit(); err != nil {
		w.fail(fmt.Errorf("commit journals: %w", err))
	}
}

func (w *journalWriters) fail(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
	w.cancel()
}

func (w *journalWriters) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// buffer is an empty buffer for a batch's COPY lines, one a writer has finished with when there is.
func (w *journalWriters) buffer() []byte {
	select {
	case b := <-w.free:
		return b
	default:
		return nil
	}
}

// send hands writer k a batch's COPY lines; it fails once any writer has failed.
func (w *journalWriters) send(k int, b []byte) error {
	select {
	case w.in[k%len(w.in)] <- b:
		return nil
	case <-w.ctx.Done():
		if err := w.failed(); err != nil {
			return err
		}
		return w.ctx.Err()
	}
}

// finish ends every COPY and, when every one ended well, commits them all; it returns once every
// writer is done. A writer that fails leaves the others rolled back, unless they committed already
// (their journals are then the reservation's to clear).
func (w *journalWriters) finish() error {
	w.end()
	w.mu.Lock()
	ok := w.err == nil && w.copied == len(w.in)
	w.mu.Unlock()
	for range len(w.in) - w.lost() {
		w.commit <- ok
	}
	w.wg.Wait()
	w.cancel()
	if err := w.failed(); err != nil {
		return err
	}
	if !ok {
		return errors.New("copy journals: a writer stopped")
	}
	return nil
}

// lost is how many writers stopped before their COPY ended (they wait for no word).
func (w *journalWriters) lost() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.in) - w.copied
}

// abort rolls back every writer that has not committed, and waits for them; after finish it does
// nothing.
func (w *journalWriters) abort() {
	if w.closed {
		return
	}
	w.cancel()
	w.end()
	for range len(w.in) - w.lost() {
		w.commit <- false
	}
	w.wg.Wait()
}

// end closes every writer's input and waits for their COPYs to end.
func (w *journalWriters) end() {
	w.closed = true
	for _, c := range w.in {
		close(c)
	}
	<-w.done
}

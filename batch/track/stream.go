package track

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/alpaca"
	"github.com/cashpool/cashpool/batch/store"
	"github.com/cashpool/cashpool/pool"
)

// streamer reads the sweep account's event stream and applies it, reconnecting from the stored
// cursor until its context ends.
type streamer struct {
	db     *sqlx.DB
	s      Streamer
	cfg    Config
	runID  int64
	start  time.Time // where the stream starts without a usable cursor
	heal   chan string
	signal chan struct{}
	// sent is closed once every batch of the run is sent (at once when tracking began after).
	sent     chan struct{}
	sentSeen bool // the connection loop has flushed what it kept since sent closed
	// early holds per part, while batches are still being sent, the events of journals not known
	// yet: a batch's journals move at Alpaca before its answer is stored. Each of the part's
	// transactions tries them again; once every answer is stored, what is still unknown is not
	// ours. Beyond earlyMax the rest are dropped and a heal pass, once everything is sent, finds
	// where those journals stand. Only the part's applier touches its entries.
	early        [][]event
	earlyDropped []bool
	// passMu makes the parts' AfterPass calls one at a time.
	passMu sync.Mutex
	// sentOnce closes sent for a joined tracker (parts.go).
	sentOnce sync.Once

	events, connects, dropped, changed atomic.Int64
	// openDelta is how the committed moves changed the run's open count since the loop last took
	// it (store.OpenDelta), so the loop never counts the run again while journals are open.
	openDelta atomic.Int64

	// holder names this process among the run's trackers (runHolder for Track).
	holder string
	// pmu guards held (the run's parts this process holds) and applying (the connection's
	// appliers, told of parts lost). regain is signalled when a part is gained: the stream
	// reconnects to read the gained part's events from its cursor.
	pmu      sync.Mutex
	held     [TrackParts]bool
	applying *appliers
	regain   chan struct{}
	// shared: another tracker holds or held parts of the run, so this process's own moves are not
	// all there are: the run's open count is read from the parts' sums (store.TrackPartSums).
	shared atomic.Bool
}

func newStreamer(db *sqlx.DB, s Streamer, cfg Config, runID int64, holder string, start time.Time) *streamer {
	appliers := min(cfg.ApplyParts, TrackParts)
	return &streamer{db: db, s: s, cfg: cfg, runID: runID, start: start, holder: holder,
		heal: make(chan string, 1), signal: make(chan struct{}, 1), sent: make(chan struct{}), regain: make(chan struct{}, 1),
		early: make([][]event, appliers), earlyDropped: make([]bool, appliers)}
}

// event is a stream event as tracking holds it until it is applied: what applying it reads, its
// ids in the case compared (event id upper, journal id lower, as PostgreSQL writes a uuid), and the
// key token of its description instead of the description. A 1M night holds tens of thousands
// at a time, queued for its parts or kept for journals not known yet; held as decoded, they kept
// cashpool's heap near its memory limit at 10,000 events a flush, where collecting and returning
// memory cost more than the flushes saved.
type event struct {
	EventID, JournalID, StatusFrom, StatusTo string
	// Key is the key token of the event's description (pool.TokenFromDescription), "" without
	// one: a hint the move statement checks (store.MoveByEvents).
	Key string
	At  time.Time
}

// eventOf keeps what tracking needs of e.
func eventOf(e alpaca.JournalEvent) event {
	key, _ := pool.TokenFromDescription(e.Description)
	return event{EventID: strings.ToUpper(e.EventID), JournalID: strings.ToLower(e.JournalID),
		StatusFrom: e.StatusFrom, StatusTo: e.StatusTo, Key: strings.Clone(key), At: e.At}
}

// applyError is a failure to write applied events: tracking stops rather than skip them.
type applyError struct{ err error }

func (e *applyError) Error() string { return "apply stream events: " + e.err.Error() }
func (e *applyError) Unwrap() error { return e.err }

func trackStream(ctx context.Context, db *sqlx.DB, broker Broker, s Streamer, runID int64, deadline time.Time, cfg Config, res Result, sums0 partSums) (Result, error) {
	// Track read where the run stands as it started: its sent journals not final are the open ones.
	start := cfg.kept.progress()
	openN := start.Total - start.Final - start.Unsent
	submitted := cfg.Submitted // nil once every batch is sent
	if openN == 0 && submitted == nil {
		return res, endTracking(ctx, db, runID, cfg)
	}
	first, err := store.FirstSending(ctx, db, runID)
	if err != nil {
		return res, fmt.Errorf("first batch: %w", err)
	}
	if !first.Valid {
		first.Time = cfg.Now()
	}
	st := newStreamer(db, s, cfg, runID, runHolder, first.Time.Add(-cfg.SinceMargin))
	if submitted == nil {
		close(st.sent)
	}
	// The holder claims every free part, keeps them, and takes up any another tracker leaves,
	// while trackers joining the night (Follow) take their share.
	if err := st.claim(ctx); err != nil {
		return res, fmt.Errorf("claim track parts: %w", err)
	}

	sctx, stop := context.WithCancel(ctx)
	streamDone := make(chan error, 1)
	go func() { streamDone <- st.run(sctx) }()
	collect := func() {
		res.Events, res.Connects = int(st.events.Load()), int(st.connects.Load())
		res.Dropped, res.Changed = int(st.dropped.Load()), res.Changed+int(st.changed.Load())
		res.Parts = st.heldCount()
	}
	// The stream must be gone before Track returns: nothing may write after the caller moved on.
	finish := func(err error) (Result, error) {
		if err != nil && ctx.Err() != nil {
			// Whatever failed on the way out failed because tracking was stopped: say so.
			err = ctx.Err()
		}
		stop()
		if serr := <-streamDone; err == nil && serr != nil && !errors.Is(serr, context.Canceled) {
			err = serr
		}
		collect()
		res.Open = openN
		cfg.Logger.Info("track parts", "run", runID, "holder", runHolder, "parts", res.Parts,
			"events_applied", st.changed.Load(), "events", res.Events)
		if err == nil {
			err = endTracking(ctx, db, runID, cfg)
		}
		return res, err
	}

	// The run's open count is base, read from the table, plus what the moves since did: this
	// process's own (openDelta, summed in own) while it holds every part, every tracker's (the
	// parts' sums since sums0) once another tracker holds or held some.
	base, own := openN, 0
	rebase := func() error { // just before the run is counted again
		st.openDelta.Swap(0)
		own = 0
		var err error
		sums0, err = st.sums(ctx)
		return err
	}
	follow := func() error {
		own += int(st.openDelta.Swap(0))
		if !st.shared.Load() {
			openN = base + own
			return nil
		}
		sums, err := st.sums(ctx)
		if err != nil {
			return err
		}
		cfg.kept.table(sums)
		openN = base + int(sums.open-sums0.open)
		return nil
	}
	runHeal := func(reason string) error {
		// The pass reads the open set itself: its count replaces what the moves said so far.
		if err := rebase(); err != nil {
			return err
		}
		n, changed, err := heal(ctx, db, broker, runID, cfg)
		res.Passes++
		cfg.OnHeal(reason)
		res.Changed += changed
		if err != nil {
			return fmt.Errorf("heal pass: %w", err)
		}
		cfg.Logger.Info("track heal pass", "run", runID, "reason", reason, "changed", changed, "open", n)
		if cfg.AfterPass != nil {
			cfg.AfterPass()
		}
		openN, base = n, n
		return nil
	}

	stopped := func(err error) (Result, error) {
		streamDone <- err // finish reads it again
		if err == nil {
			err = errors.New("event stream stopped")
		}
		return finish(err)
	}
	for submitted != nil {
		// While batches are being sent nothing times out: the deadline counts from the end of sending.
		select {
		case <-st.signal:
		case reason := <-st.heal:
			if err := runHeal(reason); err != nil {
				return finish(err)
			}
		case deadline = <-submitted:
			submitted = nil
			// The run is counted: the answers stored meanwhile moved journals the stream never saw,
			// and nothing else tells where they stand. The moves from here on are taken in.
			if err := rebase(); err != nil {
				return finish(err)
			}
			res.Counts++
			p, err := ReadProgress(ctx, db, runID)
			if err != nil {
				return finish(err)
			}
			cfg.kept.submitted(p, deadline, sums0)
			openN = p.Total - p.Final - p.Unsent
			base = openN
			close(st.sent)
		case err := <-streamDone:
			return stopped(err)
		case <-ctx.Done():
			return finish(ctx.Err())
		}
	}
	// Shared, the other trackers' moves are read from the parts' sums this often (the last of the
	// night's may be another's: tracking ends at most this long after it).
	peek := time.NewTicker(min(cfg.FlushEvery, 250*time.Millisecond))
	defer peek.Stop()
	for {
		if openN <= 0 {
			return finish(nil)
		}
		if !cfg.Now().Before(deadline) {
			// The last chance for stragglers the stream never delivered.
			err := runHeal("deadline")
			return finish(err)
		}
		select {
		case reason := <-st.heal:
			if err := runHeal(reason); err != nil {
				return finish(err)
			}
			continue
		default:
		}
		var peeked <-chan time.Time
		if st.shared.Load() {
			peeked = peek.C
		}
		// Wait (injectable: tests advance the simulator's clock there) or until events were applied.
		wctx, wcancel := context.WithCancel(sctx)
		waited := make(chan error, 1)
		go func() { waited <- cfg.Wait(wctx, max(min(cfg.PollEvery, deadline.Sub(cfg.Now())), 0)) }()
		var werr error
		waitedOut := false
		select {
		case <-st.signal:
		case <-peeked:
		case reason := <-st.heal:
			st.requestHeal(reason) // handled at the top of the loop
		case werr = <-waited:
			waitedOut = true
		case err := <-streamDone:
			wcancel()
			<-waited
			return stopped(err)
		}
		wcancel()
		if !waitedOut {
			werr = <-waited
		}
		if werr != nil && !errors.Is(werr, context.Canceled) {
			return finish(werr)
		}
		if ctx.Err() != nil {
			return finish(ctx.Err())
		}
		// The count follows the moves; it is checked against the table only when it says none is
		// left (a heal pass running beside the stream may have counted a move twice).
		if err := follow(); err != nil {
			return finish(err)
		}
		if openN <= 0 {
			if err := rebase(); err != nil {
				return finish(err)
			}
			if openN, err = countOpen(ctx, db, runID, &res); err != nil {
				return finish(err)
			}
			base = openN
		}
	}
}

// partSums is what every part's moves did to the run's open count and funded amount.
type partSums struct {
	open   int64
	funded decimal.Decimal
}

func (st *streamer) sums(ctx context.Context) (partSums, error) {
	open, funded, err := store.TrackPartSums(ctx, st.db, st.runID)
	return partSums{open, funded}, err
}

// endTracking ends the run's tracking: its parts are closed (a tracker that joined the night
// commits nothing from here on), the account's cursor takes up what every part committed, and the
// run is marked tracked.
func endTracking(ctx context.Context, db *sqlx.DB, runID int64, cfg Config) error {
	if err := store.CloseTrackParts(ctx, db, runID); err != nil {
		return err
	}
	c, err := store.TrackPartsCursor(ctx, db, runID, nil)
	if err != nil {
		return err
	}
	if c != "" {
		if _, err := db.ExecContext(ctx, advanceCursor, cfg.SweepAccount, c, cfg.Now().UTC()); err != nil {
			return fmt.Errorf("cursor: %w", err)
		}
	}
	return markTracked(ctx, db, runID)
}

// countOpen counts the run's open journals in the table, and counts that it did (Result.Counts).
func countOpen(ctx context.Context, db *sqlx.DB, runID int64, res *Result) (int, error) {
	res.Counts++
	n, err := store.CountOpenJournals(ctx, db, runID)
	if err != nil {
		return 0, fmt.Errorf("count open journals: %w", err)
	}
	return n, nil
}

func (st *streamer) requestHeal(reason string) {
	select {
	case st.heal <- reason:
	default: // one pending heal covers every reason
	}
}

func (st *streamer) notify() {
	select {
	case st.signal <- struct{}{}:
	default:
	}
}

// loop connects, applies, and reconnects with backoff until ctx ends or applying fails.
func (st *streamer) loop(ctx context.Context) error {
	bo := alpaca.NewBackOff(st.cfg.ReconnectMax)
	prev := ""
	for attempt := 0; ; attempt++ {
		active, ok := st.waitParts(ctx)
		if !ok {
			return nil
		}
		cursor, ofParts, err := st.cursor(ctx, active)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return &applyError{err}
		}
		o := alpaca.StreamOptions{IdleTimeout: st.cfg.StreamIdle}
		rewound, at, ok := rewind(cursor, st.cfg.ReplayMargin)
		switch {
		case !ok:
			o.Since = st.start
		case attempt == 0 && at.After(st.start) && (st.holder == runHolder || !ofParts):
			// The cursor is past the run's start: events of this run may have come before its
			// journal ids were stored and been skipped as not ours. Re-read them; de-duplication
			// drops what was applied. (A tracker joining the night starts from its parts' cursors,
			// which never pass such an event while batches are being sent.)
			o.Since = st.start
		case attempt > 0 && cursor == prev:
			// The replay did not get past the cursor (a connection that breaks at the same point
			// every time): start exactly at the cursor so the stream always makes progress.
			o.SinceID = cursor
		default:
			o.SinceID = rewound
		}
		prev = cursor
		if st.connects.Add(1) > 1 {
			st.cfg.OnReconnect()
		}
		received, err := st.connect(ctx, o, active)
		if ctx.Err() != nil {
			return nil
		}
		var ae *applyError
		if errors.As(err, &ae) {
			return err
		}
		if errors.Is(err, errRegain) {
			// A part was gained: its events are read from its cursor, nothing was lost.
			prev = ""
			continue
		}
		var dropped *alpaca.DroppedError
		switch {
		case errors.As(err, &dropped):
			st.dropped.Add(1)
			st.cfg.Logger.Warn("event stream lost messages; resuming from the cursor and healing", "run", st.runID, "dropped", dropped.N)
			st.requestHeal("dropped")
		default:
			st.cfg.Logger.Info("event stream ended; reconnecting", "run", st.runID, "events", received, "err", err)
			st.requestHeal("reconnect")
		}
		// A connection that delivered events is followed at once; failures back off.
		if received > 0 {
			bo.Reset()
			continue
		}
		if err := st.cfg.Sleep(ctx, bo.NextBackOff()); err != nil {
			return nil
		}
	}
}

// cursor is where a connection applying the parts active resumes: every event of theirs up to it
// is committed. That is the smallest of the parts' cursors (ofParts) once each has one: the
// account's cursor may have passed events a tracker kept in memory for a part it has lost since.
func (st *streamer) cursor(ctx context.Context, active [TrackParts]bool) (id string, ofParts bool, err error) {
	var parts []int
	for k, a := range active {
		if a {
			parts = append(parts, k)
		}
	}
	if id, err = store.TrackPartsCursor(ctx, st.db, st.runID, parts); err != nil || id != "" {
		return id, id != "", err
	}
	err = st.db.GetContext(ctx, &id, queryCursor, st.cfg.SweepAccount)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	return id, false, err
}

// errRegain ends a connection when a part was gained: the next reads the part's events.
var errRegain = errors.New("a track part was gained")

// connect reads one connection and hands its events to the appliers (appliers.go) in flushes of
// up to FlushEvents events or FlushEvery after the first buffered one. Events buffered when ctx
// ends are not applied: the cursor did not pass them, so the next session reads them again. It
// returns once the appliers have stopped: what they took is applied or was never committed.
func (st *streamer) connect(ctx context.Context, o alpaca.StreamOptions, active [TrackParts]bool) (received int, err error) {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan event, 2*st.cfg.FlushEvents)
	streamErr := make(chan error, 1)
	go func() {
		streamErr <- st.s.StreamJournalEvents(cctx, o, func(e alpaca.JournalEvent) error {
			ev := eventOf(e)
			select { // room in the queue, its usual case: no wait
			case ch <- ev:
				return nil
			default:
			}
			select {
			case ch <- ev:
				return nil
			case <-cctx.Done():
				return cctx.Err()
			}
		})
	}()
	parts := st.startAppliers(ctx, active)
	defer parts.finish()
	// What the next flush takes: pending events received, of which buf holds those that may move
	// a journal, and top, the newest event id of them all (the cursor passes every one).
	buf := make([]event, 0, st.cfg.FlushEvents)
	pending, top := 0, ""
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	// flush hands buf to the appliers; force hands even nothing, so that each part tries the
	// events it kept once more.
	flush := func(force bool) error {
		timer.Stop()
		if pending == 0 && !force {
			return nil
		}
		err := parts.hand(buf, top)
		buf, pending, top = buf[:0], 0, ""
		return err
	}
	// take adds e to the next flush, and hands the flush over once it is full. A journal's first
	// event (Alpaca sends status_from "" only there: it tells the status at creation, which the
	// answer to the POST that created it tells too, or a later one) and an event whose journal id
	// is no uuid never move a journal: they are not held, but the flush's cursor passes them.
	take := func(e event) error {
		received++
		st.events.Add(1)
		pending++
		if validULID(e.EventID) && e.EventID > top {
			top = e.EventID
		}
		if e.StatusFrom != "" && pool.IsUUID(e.JournalID) {
			buf = append(buf, e)
		}
		if pending == 1 {
			timer.Reset(st.cfg.FlushEvery)
		}
		if pending >= st.cfg.FlushEvents {
			return flush(false)
		}
		return nil
	}
	stop := func(err error) (int, error) {
		cancel()
		<-streamErr
		parts.finish()
		return received, err
	}
	var sent <-chan struct{}
	if !st.sentSeen {
		sent = st.sent
	}
	for {
		// Every answer is stored: the events kept for journals not known yet are tried a last time,
		// before any event queued meanwhile is taken (else the last try would take a few of them
		// and split a flush in two for nothing).
		if sent != nil {
			select {
			case <-sent:
				sent, st.sentSeen = nil, true
				if err := flush(true); err != nil {
					return stop(err)
				}
			default:
			}
		}
		select {
		case <-sent:
			continue // taken above, at the top of the loop
		case e := <-ch:
			if err := take(e); err != nil {
				return stop(err)
			}
			// And what else is queued already, without a select over every case per event (at a
			// million journals, three million selects took some 6% of cashpool's CPU). At most the
			// queue's length: the other cases wait no longer than two flushes.
			for n := len(ch); n > 0; n-- {
				if err := take(<-ch); err != nil {
					return stop(err)
				}
			}
		case <-timer.C:
			if err := flush(false); err != nil {
				return stop(err)
			}
		case <-parts.failed:
			return stop(parts.failure())
		case <-st.regain:
			return stop(errRegain)
		case err := <-streamErr:
			if ctx.Err() != nil {
				return received, ctx.Err()
			}
			// The reader has returned: what it queued is all there is. Everything received before the
			// stream broke is sound and is applied.
			for more := true; more; {
				select {
				case e := <-ch:
					if ferr := take(e); ferr != nil {
						return received, ferr
					}
				default:
					more = false
				}
			}
			if ferr := flush(false); ferr != nil {
				return received, ferr
			}
			if ferr := parts.finish(); ferr != nil {
				return received, ferr
			}
			return received, err
		}
	}
}

// keepEarly keeps, after a transaction of part k, the events of journals not known yet (unknown)
// for the part's next one, unless every answer was stored before it (last).
func (st *streamer) keepEarly(k int, unknown []event, last bool) {
	st.early[k] = st.early[k][:0]
	if last {
		st.early[k] = nil
		if st.earlyDropped[k] {
			st.earlyDropped[k] = false
			st.requestHeal("early events dropped")
		}
		return
	}
	for _, e := range unknown {
		if len(st.early[k]) == earlyMax/len(st.early) {
			st.earlyDropped[k] = true
			break
		}
		st.early[k] = append(st.early[k], e)
	}
}

// afterPass runs the AfterPass hook, for one part at a time.
func (st *streamer) afterPass() {
	if st.cfg.AfterPass == nil {
		return
	}
	st.passMu.Lock()
	defer st.passMu.Unlock()
	st.cfg.AfterPass()
}

// partOf is the part of a journal's events (FNV-1a of its id, without allocating on the hot path).
func partOf(journalID string, parts int) int {
	h := uint32(2166136261)
	for i := 0; i < len(journalID); i++ {
		h = (h ^ uint32(journalID[i])) * 16777619
	}
	return int(h % uint32(parts))
}

// applyTwice applies a part's events in one transaction, with the cursor when one is given. An
// event of one of our journals is applied when it is newer (ULID order) than the newest event
// seen for that journal and Newer than the journal's status; it is recorded on the history row
// of its change. An event not newer than the journal's newest is a
// duplicate or a late one and changes nothing; a newer one the guard refuses becomes the
// journal's newest seen.
//
// The journals are first read and moved without row locks (a lock is a WAL record per journal),
// each move only from the status it was judged in. When one moved meanwhile (a heal pass beside
// the stream) or a lock would have to be waited for, the transaction is dropped and the events
// applied again with their journals locked first.
//
// While batches are still being sent, the events of journals not known yet are kept (st.early)
// and applied with the part's next transaction; the first one judged after sending ended is
// their last try.
func (st *streamer) applyTwice(ctx context.Context, evs []event, cursor string, parts []int, top string, last bool) (changed, delta int, unknown []event, err error) {
	w := partsWrite{parts, top, last}
	changed, delta, unknown, err = st.applyOnce(ctx, evs, false, cursor, w)
	var pqErr *pq.Error
	if errors.Is(err, errMovedMeanwhile) || errors.As(err, &pqErr) && (pqErr.Code == store.CodeLockNotAvailable || pqErr.Code == store.CodeDeadlockDetected) {
		changed, delta, unknown, err = st.applyOnce(ctx, evs, true, cursor, w)
	}
	return changed, delta, unknown, err
}

// partsWrite is what a transaction writes to the track parts it applies: their cursors up to top
// (held back before events of journals not known yet unless every batch was sent, last).
type partsWrite struct {
	parts []int
	top   string
	last  bool
}

// earlyMax bounds the events kept for journals not known yet while batches are being sent.
const earlyMax = 50_000

// allSent says whether every batch of the run is sent.
func (st *streamer) allSent() bool {
	select {
	case <-st.sent:
		return true
	default:
		return false
	}
}

// errMovedMeanwhile: a journal no longer held the status its events were judged in.
var errMovedMeanwhile = errors.New("a journal moved while its events were judged")

// applyOnce is one try of applyTwice, with the journals locked first or not. It returns, besides how
// many journals moved and how that changed the run's open count (store.OpenDelta), the events of
// journals it does not know. The events' ids come in the case eventOf gave them.
func (st *streamer) applyOnce(ctx context.Context, evs []event, locked bool, cursor string, w partsWrite) (changed, delta int, unknown []event, err error) {
	var jids []string
	seenJ := map[string]bool{}
	byID := make(map[string]event, len(evs))
	for _, e := range evs { // only events that may move a journal: connect's take holds no other
		byID[e.EventID] = e
	}
	tx, err := st.db.BeginTxx(ctx, nil)
	if err != nil {
		return 0, 0, nil, err
	}
	defer tx.Rollback()
	now := st.cfg.Now().UTC()
	var committed []store.Moved // once the transaction commits
	var left []event            // the events judged below against the journal as read
	if !locked {
		// Without locks first, a wait for one is not worth it: the locked try waits in id order.
		if _, err := tx.ExecContext(ctx, `SET LOCAL lock_timeout = '100ms'`); err != nil {
			return 0, 0, nil, err
		}
		// Most events move their journal on from the status the event left: those are applied
		// without reading the journals. Only what is left is read and judged below.
		if committed, left, err = moveInOrder(ctx, tx, byID, now); err != nil {
			return 0, 0, nil, fmt.Errorf("statuses: %w", err)
		}
	} else {
		left = slices.Collect(maps.Values(byID))
	}
	for _, e := range left {
		if !seenJ[e.JournalID] {
			seenJ[e.JournalID] = true
			jids = append(jids, e.JournalID)
		}
	}

	// Journals first, locked in id order on the locked try: a concurrent tracker or heal pass on
	// the same journals waits there and then sees this transaction's statuses. A journal whose
	// every new event repeats the status it holds (a journal's first event repeats the answer's
	// queued) is neither locked nor written.
	var js []*store.EventJournal
	if len(jids) > 0 {
		read, err := store.JournalsOfEvents(ctx, tx, jids)
		if err != nil {
			return 0, 0, nil, fmt.Errorf("our journals: %w", err)
		}
		byAlpaca := make(map[string]*store.EventJournal, len(read))
		for _, j := range read {
			byAlpaca[j.AlpacaID] = j // uuid::text, lower case
		}
		news := map[int64]*store.EventJournal{}
		for _, e := range left {
			j := byAlpaca[e.JournalID]
			if j == nil {
				unknown = append(unknown, e)
			} else if e.EventID > j.LastEvent && !repeats(j, e) {
				news[j.ID] = j
			}
		}
		js = slices.Collect(maps.Values(news))
		if locked {
			if js, err = store.LockEventJournals(ctx, tx, slices.Collect(maps.Keys(news))); err != nil {
				return 0, 0, nil, fmt.Errorf("our journals: %w", err)
			}
		}
	}
	mine := make(map[string]*store.EventJournal, len(js))
	for _, j := range js {
		mine[j.AlpacaID] = j
	}
	var ourEvents []event
	for _, e := range left {
		if mine[e.JournalID] != nil {
			ourEvents = append(ourEvents, e)
		}
	}
	slices.SortFunc(ourEvents, func(a, b event) int { return strings.Compare(a.EventID, b.EventID) })

	// rounds[k] holds the k-th applied event of each journal: a journal moves once per statement,
	// each move from the status the one before left.
	var rounds [][]store.JournalMove
	moves := map[int64]int{}
	type refusal struct{ event, status string }
	refused := map[int64]refusal{} // journal -> newest event the guard refused, in which status
	changed, delta = len(committed), store.OpenDelta(committed, st.runID)
	for _, e := range ourEvents {
		j := mine[e.JournalID]
		if e.EventID <= j.LastEvent || repeats(j, e) {
			continue
		}
		j.LastEvent = e.EventID
		if !store.JournalMayMove(j.Status, e.StatusTo) {
			refused[j.ID] = refusal{e.EventID, j.Status}
			continue
		}
		delete(refused, j.ID) // a later move records a newer event
		k := moves[j.ID]
		moves[j.ID]++
		if k == len(rounds) {
			rounds = append(rounds, nil)
		}
		rounds[k] = append(rounds[k], store.JournalMove{ID: j.ID, Seen: j.Status, To: e.StatusTo, At: e.At.UTC(), EventID: e.EventID})
		j.Status = e.StatusTo
	}
	for _, round := range rounds {
		moved, err := store.MoveSeenJournals(ctx, tx, round, "sse", now)
		if err != nil {
			return 0, 0, nil, fmt.Errorf("statuses: %w", err)
		}
		if !locked && len(moved) < len(round) {
			// Every move was judged allowed from the status read: a journal left out moved since.
			return 0, 0, nil, errMovedMeanwhile
		}
		changed += len(moved)
		delta += store.OpenDelta(moved, st.runID)
		committed = append(committed, moved...)
	}
	if len(refused) > 0 {
		ids, statuses, events := make([]int64, 0, len(refused)), make([]string, 0, len(refused)), make([]string, 0, len(refused))
		for id, r := range refused {
			ids, statuses, events = append(ids, id), append(statuses, r.status), append(events, r.event)
		}
		n, err := store.NoteJournalEvents(ctx, tx, ids, statuses, events)
		if err != nil {
			return 0, 0, nil, fmt.Errorf("events seen: %w", err)
		}
		if !locked && n < len(ids) {
			return 0, 0, nil, errMovedMeanwhile
		}
	}
	if cursor != "" {
		if _, err := tx.ExecContext(ctx, advanceCursor, st.cfg.SweepAccount, cursor, now); err != nil {
			return 0, 0, nil, fmt.Errorf("cursor: %w", err)
		}
	}
	// Last, the track parts: still ours (else nothing commits), their cursors, and the moves' sums.
	partCursor := w.top
	if !w.last {
		partCursor = keptBefore(partCursor, unknown)
	}
	kept, err := store.AdvanceTrackParts(ctx, tx, st.runID, st.holder, w.parts, partCursor, delta, store.FundedDelta(committed, st.runID))
	if err != nil {
		return 0, 0, nil, err
	}
	if len(kept) < len(w.parts) {
		return 0, 0, nil, &partsLost{lostOf(w.parts, kept)}
	}
	if err := tx.Commit(); err != nil {
		return 0, 0, nil, err
	}
	st.cfg.kept.streamed(committed)
	return changed, delta, unknown, nil
}

// moveInOrder applies, round by round, each journal's events in ULID order for as long as every
// one moves its journal on from the event's own status_from (store.MoveByEvents). It returns the
// moves made and every event it did not apply: a journal's first event not applied so, and every
// later one, are to be judged against the journal as read (the applied ones are what that
// judgment would have applied first, and it now skips them as not newer than the journal's
// newest), and so is an event without an id. Each journal's events are a run of one slice sorted
// by journal and event id, not a map of slices: at a million journals the maps' hashing, growth
// and deletes took ~1.7 s of the 5.6 s this function took, its statements included.
func moveInOrder(ctx context.Context, tx *sqlx.Tx, byID map[string]event, now time.Time) (out []store.Moved, left []event, err error) {
	evs := make([]event, 0, len(byID))
	for _, e := range byID {
		if e.EventID != "" { // an event without an id is never newer than anything: judged below
			evs = append(evs, e)
		} else {
			left = append(left, e)
		}
	}
	// The events in journal and event id order, as positions in evs (sorting the events
	// themselves moved a hundred bytes a swap).
	order := make([]int32, len(evs))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int {
		if c := strings.Compare(evs[a].JournalID, evs[b].JournalID); c != 0 {
			return c
		}
		return strings.Compare(evs[a].EventID, evs[b].EventID)
	})
	// A journal's events not applied yet are order[next:end]. The journals go in the order of
	// their first event's key, which MoveByEvents sorts each statement's events by: it then finds
	// them sorted already.
	type run struct{ next, end int }
	runs := make([]run, 0, len(order))
	for i := 0; i < len(order); {
		j := i + 1
		for j < len(order) && evs[order[j]].JournalID == evs[order[i]].JournalID {
			j++
		}
		runs = append(runs, run{i, j})
		i = j
	}
	slices.SortFunc(runs, func(a, b run) int {
		ea, eb := &evs[order[a.next]], &evs[order[b.next]]
		if c := strings.Compare(ea.Key, eb.Key); c != 0 {
			return c
		}
		return strings.Compare(ea.JournalID, eb.JournalID)
	})
	round := make([]store.EventMove, 0, len(runs))
	for len(runs) > 0 {
		round = round[:0]
		for _, r := range runs {
			e := &evs[order[r.next]]
			round = append(round, store.EventMove{AlpacaID: e.JournalID, From: e.StatusFrom, To: e.StatusTo, At: e.At, EventID: e.EventID, Key: e.Key})
		}
		moved, err := store.MoveByEvents(ctx, tx, round, "sse", now)
		if err != nil {
			return nil, nil, err
		}
		applied := make(map[string]struct{}, len(moved))
		for _, m := range moved {
			applied[m.EventID] = struct{}{}
			out = append(out, m.Moved)
		}
		kept := runs[:0]
		for _, r := range runs {
			if _, ok := applied[evs[order[r.next]].EventID]; !ok {
				for _, k := range order[r.next:r.end] {
					left = append(left, evs[k])
				}
			} else if r.next+1 < r.end {
				kept = append(kept, run{r.next + 1, r.end})
			}
		}
		runs = kept
	}
	return out, left, nil
}

// repeats says whether event e only repeats the known status journal j holds: it changes
// nothing and is not recorded as the journal's newest event seen. Known statuses move only
// forward along Alpaca's flows, so no event it could have kept out moves the journal back.
func repeats(j *store.EventJournal, e event) bool {
	return e.StatusTo == j.Status && store.JournalKnown(j.Status)
}

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

func validULID(s string) bool {
	if len(s) != 26 || s[0] > '7' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(crockford, s[i]) < 0 {
			return false
		}
	}
	return true
}

// rewind returns the smallest ULID of the millisecond d before id's (ULIDs lead with a 48-bit
// millisecond time), that time, and whether id was a ULID at all.
func rewind(id string, d time.Duration) (string, time.Time, bool) {
	if !validULID(id) {
		return "", time.Time{}, false
	}
	var ms uint64
	for i := 0; i < 10; i++ {
		ms = ms<<5 | uint64(strings.IndexByte(crockford, id[i]))
	}
	at := time.UnixMilli(int64(ms)).UTC()
	back := uint64(max(int64(ms)-d.Milliseconds(), 0))
	var out [26]byte
	for i := 9; i >= 0; i-- {
		out[i] = crockford[back&31]
		back >>= 5
	}
	for i := 10; i < 26; i++ {
		out[i] = '0'
	}
	return string(out[:]), at, true
}

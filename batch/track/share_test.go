package track_test

import (
	"context"
	"hash/fnv"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cashpool/cashpool/alpaca/sandbox"
	"github.com/cashpool/cashpool/batch/track"
)

// goFollow runs Follow as tracker holder in the background; what it returns comes on the channel.
func (b *bundle) goFollow(ctx context.Context, holder string, cfg track.Config) <-chan trackOutcome {
	done := make(chan trackOutcome, 1)
	go func() {
		res, err := track.Follow(ctx, b.db, b.client, b.runID, holder, cfg)
		done <- trackOutcome{res, err}
	}()
	return done
}

// holds is how many of the run's parts each tracker holds under a lease not run out.
func (b *bundle) holds(t *testing.T) map[string]int {
	t.Helper()
	var rows []struct {
		Holder string `db:"holder"`
		N      int    `db:"n"`
	}
	if err := b.db.Select(&rows, `SELECT holder, count(*) AS n FROM track_parts
		WHERE run_id = $1 AND holder IS NOT NULL AND lease_until > now() GROUP BY holder`, b.runID); err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, r := range rows {
		out[r.Holder] = r.N
	}
	return out
}

// partOf is the track part of a journal: FNV-1a of its id, written here with the standard
// library rather than taken from the package under test.
func partOf(journalID string) int {
	h := fnv.New32a()
	h.Write([]byte(journalID))
	return int(h.Sum32() % track.TrackParts)
}

// partCursors are the run's parts' cursors ("" for none yet).
func (b *bundle) partCursors(t *testing.T) map[int]string {
	t.Helper()
	var rows []struct {
		Part   int    `db:"part"`
		Cursor string `db:"cursor"`
	}
	if err := b.db.Select(&rows, `SELECT part, coalesce(cursor, '') AS cursor FROM track_parts WHERE run_id = $1`, b.runID); err != nil {
		t.Fatal(err)
	}
	out := map[int]string{}
	for _, r := range rows {
		out[r.Part] = r.Cursor
	}
	return out
}

// checkPartCursors: every event of our journals up to its part's cursor is in the database.
func (b *bundle) checkPartCursors(t *testing.T) {
	t.Helper()
	cursors := b.partCursors(t)
	got := b.recordedEvents(t)
	for _, e := range b.ourEvents(t) {
		if c := cursors[partOf(e.JournalID)]; e.ID <= c && !got[e.ID] {
			t.Errorf("part %d's cursor %s passed event %s, which was never applied", partOf(e.JournalID), c, e.ID)
		}
	}
}

// TestTwoTrackersShareTheRun: the run's holder (Track) and a tracker that joins it (Follow) split
// the run's parts evenly, each applies the events of its own: both apply some, together every
// move exactly once, and every journal ends at the simulator's status. (Follow does not exist
// before parts: one process tracked everything.)
func TestTwoTrackersShareTheRun(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Faults{Seed: 5, StreamDuplicateRate: 0.1, StreamReorderRate: 0.2}, nil)
	for range 4 {
		b.post(t, 50, true, "")
	}
	cfg := b.config()
	cfg.Lease = 3 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	held := b.goTrack(ctx, cfg)
	joined := b.goFollow(ctx, "worker-1", cfg)
	waitFor(t, 20*time.Second, func() bool {
		h := b.holds(t)
		return h["run"] == track.TrackParts/2 && h["worker-1"] == track.TrackParts/2
	})
	// The joined tracker's parts, before any journal moves: it applies the moves of their
	// journals and of no other.
	var joinedParts []int
	if err := b.db.Select(&joinedParts, `SELECT part FROM track_parts WHERE run_id = $1 AND holder = 'worker-1'`, b.runID); err != nil {
		t.Fatal(err)
	}
	b.sim.Advance(3 * time.Second) // queued -> sent_to_clearing -> executed
	h := <-held
	// Once the holder's Track returned, the joined tracker writes nothing more.
	written := func() string {
		var s string
		if err := b.db.Get(&s, `SELECT (SELECT count(*) FROM journal_history)::text || ' ' ||
			(SELECT coalesce(string_agg(last_event_id || updated_at::text, ','), '') FROM event_cursors) || ' ' ||
			(SELECT string_agg(part || coalesce(holder, '') || coalesce(cursor, '') || open_delta, ',' ORDER BY part) FROM track_parts)`); err != nil {
			t.Fatal(err)
		}
		return s
	}
	after := written()
	w := <-joined
	if now := written(); now != after {
		t.Errorf("written after the holder's Track returned:\n%s\nthen\n%s", after, now)
	}
	if h.err != nil || w.err != nil {
		t.Fatalf("holder: %v (%+v); joined: %v (%+v)", h.err, h.res, w.err, w.res)
	}
	if h.res.Open != 0 || h.res.Passes != 0 {
		t.Fatalf("holder %+v, want none open and no heal pass", h.res)
	}
	if h.res.Changed == 0 || w.res.Changed == 0 || h.res.Changed+w.res.Changed != 400 {
		t.Errorf("the holder applied %d moves, the joined tracker %d: want both some, 400 in all (200 journals, 2 moves each)",
			h.res.Changed, w.res.Changed)
	}
	// What the joined tracker applied is two moves for each journal of its parts, by the test's
	// own partOf. (How many parts it reports holding at its end depends on whether its last claim
	// or an applier saw the holder close tracking first: the split is checked above, in the
	// database, while both ran.)
	inJoined := map[string]bool{}
	for _, e := range b.ourEvents(t) {
		if slices.Contains(joinedParts, partOf(e.JournalID)) {
			inJoined[e.JournalID] = true
		}
	}
	if w.res.Changed != 2*len(inJoined) {
		t.Errorf("the joined tracker applied %d moves, want %d: two for each of the %d journals of its parts %v",
			w.res.Changed, 2*len(inJoined), len(inJoined), joinedParts)
	}
	got := b.recordedEvents(t)
	for _, e := range b.ourEvents(t) {
		if !got[e.ID] {
			t.Errorf("event %s never applied", e.ID)
		}
	}
	b.checkStatusesMatch(t)
	b.checkHistory(t)
	var closed int
	if err := b.db.Get(&closed, `SELECT count(*) FROM track_parts WHERE run_id = $1 AND closed AND holder IS NULL`, b.runID); err != nil || closed != track.TrackParts {
		t.Errorf("%d parts closed (%v), want every one once tracking ended", closed, err)
	}
}

// TestStoppedTrackersPartsAreTakenOver: a tracker that joined the run is killed mid-night; once
// its leases run out the run's holder takes its parts up, reads their events again from the
// parts' cursors (the holder's stream had dropped them as another's), and no event is lost.
// (Without the takeover, or without reading from the parts' cursors, the run never ends.)
func TestStoppedTrackersPartsAreTakenOver(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Faults{}, nil)
	for range 4 {
		b.post(t, 50, true, "")
	}
	cfg := b.config()
	cfg.Lease = 600 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	held := b.goTrack(ctx, cfg)
	wctx, kill := context.WithCancel(ctx)
	defer kill()
	joined := b.goFollow(wctx, "worker-1", cfg)
	waitFor(t, 20*time.Second, func() bool { return b.holds(t)["worker-1"] == track.TrackParts/2 })
	count := func(status string) int {
		var n int
		if err := b.db.Get(&n, `SELECT count(*) FROM journals WHERE status = $1`, status); err != nil {
			t.Fatal(err)
		}
		return n
	}
	b.sim.Advance(time.Second) // queued -> sent_to_clearing, applied by both
	waitFor(t, 20*time.Second, func() bool { return count("sent_to_clearing") == 200 })
	kill()
	w := <-joined
	if w.res.Changed == 0 {
		t.Fatalf("the joined tracker applied nothing before it was killed: %+v", w.res)
	}
	b.sim.Advance(2 * time.Second) // -> executed: the dead tracker's parts' events reach only the holder
	h := <-held
	if h.err != nil || h.res.Open != 0 {
		t.Fatalf("holder: %v (%+v)", h.err, h.res)
	}
	if h.res.Parts != track.TrackParts {
		t.Errorf("the holder held %d parts at its end, want all %d", h.res.Parts, track.TrackParts)
	}
	got := b.recordedEvents(t)
	for _, e := range b.ourEvents(t) {
		if !got[e.ID] {
			t.Errorf("event %s lost with the killed tracker", e.ID)
		}
	}
	b.checkStatusesMatch(t)
	b.checkHistory(t)
}

// TestPartCursorStaysBeforeHeldEvents: a part's cursor never passes an event of its part that is
// not committed: one whose journal is locked by another transaction (its part waits) while the
// other parts go on, nor, while batches are being sent, one of a journal whose answer is not
// stored yet (kept to be applied later). Checked while both are pending and at the end.
// (Without holding a part's cursor before the events kept, the second check fails.)
func TestPartCursorStaysBeforeHeldEvents(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Faults{}, nil)
	ids := b.post(t, 100, true, "")
	lockedID := ids[0]
	submitted := make(chan time.Time, 1)
	cfg := b.config()
	cfg.Submitted = submitted
	cfg.FlushEvery = 100 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := b.goTrack(ctx, cfg)
	waitFor(t, 20*time.Second, func() bool { return b.holds(t)["run"] == track.TrackParts })

	other, err := b.db.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	defer other.Rollback()
	if _, err := other.Exec(`SELECT 1 FROM journals WHERE alpaca_id = $1 FOR UPDATE`, lockedID); err != nil {
		t.Fatal(err)
	}
	key, body, early, statuses := b.create(t, 20, "") // sent; its answer not stored yet
	b.sim.Advance(time.Second)                        // queued -> sent_to_clearing, both batches
	var lockedEvent string
	earlyOf := map[string]bool{}
	for _, id := range early {
		earlyOf[id] = true
	}
	firstEarly := map[int]string{} // per part, the first event of a journal not known yet
	for _, e := range b.sim.Events() {
		if e.JournalID == lockedID && e.StatusTo == "sent_to_clearing" {
			lockedEvent = e.ID
		}
		if p := partOf(e.JournalID); earlyOf[e.JournalID] && e.StatusFrom != "" && (firstEarly[p] == "" || e.ID < firstEarly[p]) {
			firstEarly[p] = e.ID
		}
	}
	// The parts of the other applier (part % ApplyParts) commit their share; the locked
	// journal's applier waits.
	lockedPart := partOf(lockedID)
	others := 0
	for _, id := range ids {
		if partOf(id)%2 != lockedPart%2 {
			others++
		}
	}
	waitFor(t, 20*time.Second, func() bool {
		var n int
		_ = b.db.Get(&n, `SELECT count(*) FROM journals WHERE status = 'sent_to_clearing'`)
		return n == others
	})
	cs := b.partCursors(t)
	if c := cs[lockedPart]; c >= lockedEvent {
		t.Errorf("part %d's cursor %s passed event %s of a locked journal before it committed", lockedPart, c, lockedEvent)
	}
	for p, first := range firstEarly {
		if c := cs[p]; c >= first {
			t.Errorf("part %d's cursor %s passed event %s of a journal whose answer is not stored yet", p, c, first)
		}
	}
	b.checkPartCursors(t)

	if err := other.Rollback(); err != nil {
		t.Fatal(err)
	}
	b.answered(t, key, body, early, statuses)
	submitted <- b.sim.Now().Add(time.Hour)
	b.sim.Advance(2 * time.Second)
	o := <-done
	if o.err != nil || o.res.Open != 0 {
		t.Fatalf("track: %v (%+v)", o.err, o.res)
	}
	b.checkPartCursors(t)
	b.checkStatusesMatch(t)
	b.checkHistory(t)
}

// TestProgressCountsEveryTrackersMoves: while the run stays open, the holder's progress (the
// status line and the progress lines) counts the moves the joined tracker applied too, read from
// the parts' sums. (Counting only its own, the holder would say about half the run is final.)
func TestProgressCountsEveryTrackersMoves(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Faults{}, nil)
	for range 4 {
		b.post(t, 50, true, "")
	}
	b.post(t, 2, true, "/fixtures/status=pending/fixtures/") // stays queued: the run stays open
	cfg := b.config()
	cfg.Lease = 3 * time.Second
	cfg.ProgressEvery = 10 * time.Millisecond
	var final, total atomic.Int64
	cfg.OnProgress = func(f, n int) { final.Store(int64(f)); total.Store(int64(n)) }
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	held := b.goTrack(ctx, cfg)
	joined := b.goFollow(ctx, "worker-1", cfg)
	waitFor(t, 20*time.Second, func() bool { return b.holds(t)["worker-1"] == track.TrackParts/2 })
	b.sim.Advance(3 * time.Second) // 200 executed, 2 still queued
	waitFor(t, 20*time.Second, func() bool { return final.Load() == 200 && total.Load() == 202 })
	cancel()
	h, w := <-held, <-joined
	if w.res.Changed == 0 || h.res.Changed == 0 {
		t.Errorf("the holder applied %d moves, the joined tracker %d: want both some", h.res.Changed, w.res.Changed)
	}
}

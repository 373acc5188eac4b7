package track_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cashpool/cashpool/alpaca"
	"github.com/cashpool/cashpool/alpaca/sandbox"
	"github.com/cashpool/cashpool/batch/track"
)

func TestStreamTracksToFinal(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Faults{}, nil)
	for range 3 {
		b.post(t, 10, true, "")
	}
	b.sim.Advance(3 * time.Second) // queued -> sent_to_clearing -> executed
	before := b.client.Calls()
	res := b.track(t, b.config())

	if res.Open != 0 || !res.StreamMode {
		t.Fatalf("result %+v", res)
	}
	if calls := b.client.Calls() - before; calls != 1 {
		t.Errorf("tracking made %d calls, want the one stream", calls)
	}
	b.checkStatusesMatch(t)
	b.checkHistory(t)
	var sse, total int
	if err := b.db.QueryRow(`SELECT count(*) FILTER (WHERE source = 'sse'), count(*) FROM journal_history`).Scan(&sse, &total); err != nil {
		t.Fatal(err)
	}
	if sse != 60 || total != 60 { // queued -> sent_to_clearing -> executed, 30 journals
		t.Errorf("history: %d rows from sse of %d, want 60", sse, total)
	}
	// One history table: each change the stream made carries the simulator's event for it.
	byEvent := map[string]sandbox.Event{}
	for _, e := range b.sim.Events() {
		byEvent[e.ID] = e
	}
	var rows []struct {
		EventID  string `db:"event_id"`
		AlpacaID string `db:"alpaca_id"`
		From     string `db:"status_from"`
		To       string `db:"status_to"`
	}
	if err := b.db.Select(&rows, `SELECT h.event_id, j.alpaca_id::text AS alpaca_id, h.status_from, h.status_to
		FROM journal_history h JOIN journals j ON j.id = h.journal_id WHERE h.source = 'sse'`); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if e, ok := byEvent[r.EventID]; !ok || e.JournalID != r.AlpacaID || e.StatusTo != r.To {
			t.Errorf("history row %s -> %s of %s carries event %q, not the simulator's event for it", r.From, r.To, r.AlpacaID, r.EventID)
		}
	}
	var status string
	if err := b.db.Get(&status, `SELECT status FROM runs WHERE id = $1`, b.runID); err != nil || status != "tracked" {
		t.Errorf("run status %q, %v", status, err)
	}
	evs := b.sim.Events()
	if got, want := b.cursor(t), evs[len(evs)-1].ID; got != want {
		t.Errorf("cursor %s, want the last event %s", got, want)
	}
}

func TestStreamDuplicatesAndReordersNeverGoBackwards(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Faults{Seed: 7, StreamDuplicateRate: 0.3, StreamReorderRate: 0.3}, nil)
	ids := b.post(t, 20, true, "")
	b.post(t, 1, true, "/fixtures/status=pending/fixtures/") // keeps tracking alive until the test stops it
	b.sim.Advance(3 * time.Second)
	// Reversals after executed must still be applied: executed -> canceled, executed -> correct.
	b.admin(t, "/sandbox/v1/journals/"+ids[0]+"/reverse", "")
	b.admin(t, "/sandbox/v1/journals/"+ids[1]+"/correct", `{"amount":"0.50"}`)
	want := b.ourEvents(t)

	cfg := b.config()
	cfg.FlushEvents = 1 // every event in its own transaction: the guard must hold across them
	b.trackUntil(t, cfg, func() bool { return b.cursor(t) >= b.sim.Events()[len(b.sim.Events())-1].ID })

	b.checkStatusesMatch(t)
	b.checkHistory(t)
	got := b.recordedEvents(t)
	for _, e := range want {
		if !got[e.ID] {
			t.Errorf("event %s (%s -> %s) never recorded", e.ID, e.StatusFrom, e.StatusTo)
		}
	}
	var n int
	if err := b.db.Get(&n, `SELECT count(*) FROM journal_history WHERE status_to IN ('canceled', 'correct') AND status_from = 'executed' AND source = 'sse'`); err != nil || n != 2 {
		t.Errorf("reversals in history: %d, %v; want 2", n, err)
	}
}

// The guard, one event per transaction: whatever order and however often the stream delivers a
// journal's events, the journal ends at the status of its newest event that moves it forward, and
// its history holds exactly the moves applied. The expectations are written out by hand.
func TestStreamGuardAcrossTransactions(t *testing.T) {
	t.Parallel()
	type move struct{ from, to string }
	cases := []struct {
		name    string
		events  []move // in event-id order: the order they happened at Alpaca
		deliver []int  // indexes into events, in stream order
		status  string
		history []move
	}{
		{"in order", []move{{"queued", "sent_to_clearing"}, {"sent_to_clearing", "executed"}},
			[]int{0, 1}, "executed", []move{{"queued", "sent_to_clearing"}, {"sent_to_clearing", "executed"}}},
		{"newer first, older later", []move{{"queued", "sent_to_clearing"}, {"sent_to_clearing", "executed"}},
			[]int{1, 0}, "executed", []move{{"queued", "executed"}}},
		{"duplicates after a later event", []move{{"queued", "sent_to_clearing"}, {"sent_to_clearing", "executed"}},
			[]int{0, 1, 0, 1, 1}, "executed", []move{{"queued", "sent_to_clearing"}, {"sent_to_clearing", "executed"}}},
		{"reversal, then the events before it replayed", []move{{"queued", "sent_to_clearing"}, {"sent_to_clearing", "executed"}, {"executed", "canceled"}},
			[]int{0, 2, 1, 0, 2}, "canceled", []move{{"queued", "sent_to_clearing"}, {"sent_to_clearing", "canceled"}}},
		{"reversal in order", []move{{"queued", "sent_to_clearing"}, {"sent_to_clearing", "executed"}, {"executed", "correct"}},
			[]int{0, 1, 2}, "correct", []move{{"queued", "sent_to_clearing"}, {"sent_to_clearing", "executed"}, {"executed", "correct"}}},
		{"newer event with an older status", []move{{"sent_to_clearing", "executed"}, {"queued", "sent_to_clearing"}},
			[]int{0, 1}, "executed", []move{{"queued", "executed"}}},
		{"unknown status older than the event applied", []move{{"queued", "settled_v9"}, {"settled_v9", "executed"}},
			[]int{1, 0, 1}, "executed", []move{{"queued", "executed"}}},
		{"unknown status in order", []move{{"queued", "sent_to_clearing"}, {"sent_to_clearing", "settled_v9"}},
			[]int{1, 0, 0}, "settled_v9", []move{{"queued", "settled_v9"}}},
		{"the same event only", []move{{"queued", "sent_to_clearing"}},
			[]int{0, 0, 0}, "sent_to_clearing", []move{{"queued", "sent_to_clearing"}}},
		{"no events: keeps tracking open", nil, nil, "queued", nil},
	}

	// The stream interleaves the cases' deliveries and ends with an event of a journal not ours
	// with the highest id: once the cursor stands on it, every delivery before it was applied.
	var script [][]byte
	b := setup(t, sandbox.Faults{}, scriptedEvents(func() [][]byte { return script }))
	ids := b.post(t, len(cases), true, "")
	eventID := func(c, e int) string { return fmt.Sprintf("01KJR000000%03d%012d", c, e) }
	event := func(id, journal string, m move) []byte {
		data, _ := json.Marshal(alpaca.JournalEvent{EventID: id, JournalID: journal, EntryType: "JNLC",
			StatusFrom: m.from, StatusTo: m.to, At: base})
		return data
	}
	for round := 0; ; round++ {
		more := false
		for c, tc := range cases {
			if round < len(tc.deliver) {
				more = true
				e := tc.deliver[round]
				script = append(script, event(eventID(c, e), ids[c], tc.events[e]))
			}
		}
		if !more {
			break
		}
	}
	last := eventID(999, 0)
	script = append(script, event(last, "d0000000-0000-4000-8000-000000000001", move{"queued", "executed"}))

	cfg := b.config()
	cfg.FlushEvents = 1
	cfg.StreamIdle = time.Minute
	var commits atomic.Int64
	cfg.AfterPass = func() { commits.Add(1) }
	res := b.trackUntil(t, cfg, func() bool { return b.cursor(t) == last })
	if res.Passes != 0 || res.Connects != 1 {
		t.Fatalf("result %+v: want one connection and no heal pass (the simulator would then decide statuses)", res)
	}
	if got := commits.Load(); got != int64(len(script)) {
		t.Errorf("%d transactions for %d events, want one each", got, len(script))
	}

	for c, tc := range cases {
		var status string
		if err := b.db.Get(&status, `SELECT status FROM journals WHERE alpaca_id = $1`, ids[c]); err != nil {
			t.Fatal(err)
		}
		var rows []struct {
			From   string `db:"status_from"`
			To     string `db:"status_to"`
			Source string `db:"source"`
		}
		if err := b.db.Select(&rows, `SELECT h.status_from, h.status_to, h.source FROM journal_history h
			JOIN journals j ON j.id = h.journal_id WHERE j.alpaca_id = $1 ORDER BY h.id`, ids[c]); err != nil {
			t.Fatal(err)
		}
		var history []move
		for _, r := range rows {
			if r.Source != "sse" {
				t.Errorf("%s: history row from %q", tc.name, r.Source)
			}
			history = append(history, move{r.From, r.To})
		}
		if status != tc.status || !slices.Equal(history, tc.history) {
			t.Errorf("%s: status %q, history %v; want %q, %v", tc.name, status, history, tc.status, tc.history)
		}
		var recorded int
		if err := b.db.Get(&recorded, `SELECT count(DISTINCT h.event_id) FROM journal_history h JOIN journals j ON j.id = h.journal_id
			WHERE j.alpaca_id = $1 AND h.event_id IS NOT NULL`, ids[c]); err != nil || recorded != len(tc.history) {
			t.Errorf("%s: %d events on history rows (%v), want one per move: %d", tc.name, recorded, err, len(tc.history))
		}
	}
}

func TestStreamDroppedConnectionsResumeWithoutLoss(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Faults{Seed: 3, StreamDropRate: 0.05, StreamDuplicateRate: 0.1}, nil)
	for range 4 {
		b.post(t, 10, true, "")
	}
	b.post(t, 1, true, "/fixtures/status=pending/fixtures/")
	b.sim.Advance(3 * time.Second)
	want := b.ourEvents(t)

	b.trackUntil(t, b.config(), func() bool {
		got := b.recordedEvents(t)
		for _, e := range want {
			if !got[e.ID] {
				return false
			}
		}
		return true
	})
	if got := len(b.recordedEvents(t)); got != len(want) {
		t.Errorf("recorded %d events, simulator has %d for our journals", got, len(want))
	}
	b.checkStatusesMatch(t)
	b.checkHistory(t)
}

// With re-ordering on top of drops, an event carried past the point where the connection dropped
// may be lost for good: the simulator replays the same faults for the same request, and the replay
// margin cannot help when the lost event's whole neighbourhood is re-read identically. The heal
// passes after each reconnect still bring every journal to the simulator's status, with a
// history that never goes backwards.
func TestStreamDropsWithReorderHealToTheRightStatus(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Faults{Seed: 3, StreamDropRate: 0.05, StreamReorderRate: 0.2, StreamDuplicateRate: 0.1}, nil)
	for range 4 {
		b.post(t, 10, true, "")
	}
	b.sim.Advance(3 * time.Second)
	res := b.track(t, b.config())
	// Whether the stream or a heal pass settles a journal depends on timing; that every journal
	// ends at the simulator's status, with a history that never goes backwards, does not.
	if res.Open != 0 {
		t.Errorf("result %+v: want nothing open", res)
	}
	b.checkStatusesMatch(t)
	b.checkHistory(t)
}

func TestStreamSkipsJournalsNotOurs(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Faults{}, nil)
	b.post(t, 5, true, "")
	b.post(t, 1, true, "/fixtures/status=pending/fixtures/") // keeps tracking alive until the test stops it
	b.post(t, 3, false, "")
	b.sim.Advance(3 * time.Second)
	b.post(t, 2, false, "") // the last events are not ours: the cursor must still pass them
	b.sim.Advance(3 * time.Second)

	b.trackUntil(t, b.config(), func() bool { return b.cursor(t) == b.sim.Events()[len(b.sim.Events())-1].ID })
	if n, want := len(b.recordedEvents(t)), len(b.ourEvents(t)); n != want {
		t.Errorf("%d events taken in, want %d (ours only)", n, want)
	}
	b.checkStatusesMatch(t)
}

// TestStreamCursorPassesEventsThatMoveNothing: a journal's first event (status_from "") and an
// event whose journal id is no uuid move nothing and are not held for the appliers, but the cursor
// still passes them, in flushes of nothing else.
func TestStreamCursorPassesEventsThatMoveNothing(t *testing.T) {
	t.Parallel()
	var script [][]byte
	b := setup(t, sandbox.Faults{}, scriptedEvents(func() [][]byte { return script }))
	ids := b.post(t, 2, true, "")
	event := func(id, journal, from, to string) []byte {
		data, _ := json.Marshal(alpaca.JournalEvent{EventID: id, JournalID: journal, EntryType: "JNLC",
			StatusFrom: from, StatusTo: to, At: time.Now().UTC()})
		return data
	}
	script = [][]byte{
		event("01KJR000000000000000000001", ids[0], "", "queued"),
		event("01KJR000000000000000000002", "not-a-uuid", "queued", "executed"),
		event("01KJR000000000000000000003", ids[1], "", "queued"),
		// Last, the highest id: the cursor standing on it passed every event before it too.
		event("01kjr000000000000000000004", strings.ToUpper(ids[1]), "", "executed"),
	}
	cfg := b.config()
	cfg.FlushEvents = 1 // each a flush of its own
	cfg.StreamIdle = time.Minute
	b.trackUntil(t, cfg, func() bool { return b.cursor(t) == "01KJR000000000000000000004" })
	var moved int
	if err := b.db.Get(&moved, `SELECT count(*) FROM journal_history h JOIN journals j ON j.id = h.journal_id
		WHERE j.alpaca_id IN ($1, $2) AND h.source = 'sse'`, ids[0], ids[1]); err != nil {
		t.Fatal(err)
	}
	if moved != 0 {
		t.Errorf("%d journals moved by events that move nothing", moved)
	}
}

func TestStreamUnknownStatusStoredAndFlagged(t *testing.T) {
	t.Parallel()
	var target []byte
	b := setup(t, sandbox.Faults{}, rewriter(func(_ int, chunk []byte) []byte {
		if target != nil && bytes.Contains(chunk, target) {
			return bytes.Replace(chunk, []byte(`"status_to":"executed"`), []byte(`"status_to":"settled_v9"`), 1)
		}
		return chunk
	}))
	ids := b.post(t, 3, true, "")
	target = []byte(ids[0])
	b.sim.Advance(3 * time.Second)

	// Until the cursor passed every event: the parts applying them have all committed.
	last := b.sim.Events()[len(b.sim.Events())-1].ID
	b.trackUntil(t, b.config(), func() bool { return b.cursor(t) >= last })
	var executed int
	if err := b.db.Get(&executed, `SELECT count(*) FROM journals WHERE status = 'executed'`); err != nil || executed != 2 {
		t.Errorf("%d journals executed (%v), want the other 2", executed, err)
	}
	var row struct {
		Status  string `db:"status"`
		Unknown bool   `db:"status_unknown"`
	}
	if err := b.db.Get(&row, `SELECT status, status_unknown FROM journals WHERE alpaca_id = $1`, ids[0]); err != nil {
		t.Fatal(err)
	}
	if row.Status != "settled_v9" || !row.Unknown {
		t.Errorf("journal with an unknown status: %+v", row)
	}
	var n int
	if err := b.db.Get(&n, `SELECT count(*) FROM journal_history WHERE status_to = 'settled_v9' AND source = 'sse'`); err != nil || n != 1 {
		t.Errorf("history of the unknown status: %d %v", n, err)
	}
}

func TestStreamKilledMidwayResumesFromCursor(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Faults{}, nil)
	for range 5 {
		b.post(t, 10, true, "")
	}
	b.sim.Advance(3 * time.Second)
	want := b.ourEvents(t)

	// Kill after the third committed transaction of up to 7 events, or the first after it that
	// finds the cursor stored (it follows the parts' commits).
	ctx, cancel := context.WithCancel(context.Background())
	cfg := b.config()
	cfg.FlushEvents = 7
	commits := 0
	cfg.AfterPass = func() {
		var stored bool
		if commits++; commits >= 3 && b.db.Get(&stored, `SELECT EXISTS (SELECT 1 FROM event_cursors)`) == nil && stored {
			cancel()
		}
	}
	_, err := track.Track(ctx, b.db, b.client, b.runID, b.sim.Now().Add(time.Hour), cfg)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("killed tracker: %v", err)
	}
	cursor := b.cursor(t)
	got := b.recordedEvents(t)
	if cursor == "" || cursor >= want[len(want)-1].ID {
		t.Fatalf("cursor %q should stand mid-way", cursor)
	}
	for _, e := range want {
		// Without stream faults events come in ULID order: all up to the cursor were applied.
		if e.ID <= cursor && !got[e.ID] {
			t.Errorf("cursor %s passed event %s, which was never applied", cursor, e.ID)
		}
	}

	res := b.track(t, b.config())
	if res.Open != 0 {
		t.Fatalf("restart: %+v", res)
	}
	got = b.recordedEvents(t)
	for _, e := range want {
		if !got[e.ID] {
			t.Errorf("event %s lost across the restart", e.ID)
		}
	}
	b.checkStatusesMatch(t)
	b.checkHistory(t)
}

func TestHealCatchesWhatTheStreamNeverDelivered(t *testing.T) {
	t.Parallel()
	var target []byte
	b := setup(t, sandbox.Faults{}, rewriter(func(_ int, chunk []byte) []byte {
		if target != nil && bytes.Contains(chunk, target) && bytes.Contains(chunk, []byte(`"status_to":"executed"`)) {
			return nil // this event is lost for good
		}
		return chunk
	}))
	ids := b.post(t, 4, true, "")
	target = []byte(ids[2])
	b.sim.Advance(3 * time.Second)
	cfg := b.config()
	// Each wait moves the simulated clock on, so the deadline comes and its heal pass runs.
	cfg.PollEvery = time.Minute
	cfg.Wait = func(ctx context.Context, d time.Duration) error {
		b.sim.Advance(d)
		return pause(ctx, 10*time.Millisecond)
	}
	before := b.client.Calls()
	res := b.track(t, cfg)
	if res.Open != 0 || res.Passes != 1 {
		t.Errorf("result %+v: want one heal pass and nothing open", res)
	}
	if calls := b.client.Calls() - before; calls != 2 {
		t.Errorf("%d calls, want the stream and one GET", calls)
	}
	var source string
	if err := b.db.Get(&source, `SELECT h.source FROM journal_history h JOIN journals j ON j.id = h.journal_id
		WHERE j.alpaca_id = $1 AND h.status_to = 'executed'`, ids[2]); err != nil || source != "heal" {
		t.Errorf("executed of the lost event came from %q (%v), want heal", source, err)
	}
	b.checkStatusesMatch(t)
	b.checkHistory(t)
}

// A connection that reports lost messages is reconnected from the cursor and a heal pass runs
// for the drop. Both then race to settle the journals (which wins is timing, not correctness), so
// a journal kept pending holds tracking open until both have been seen to happen: the stream
// delivering every event and the heal pass the drop asked for.
func TestStreamDroppedMessagesTriggerHeal(t *testing.T) {
	t.Parallel()
	sent := 0
	b := setup(t, sandbox.Faults{}, rewriter(func(conn int, chunk []byte) []byte {
		if conn == 1 && bytes.HasPrefix(chunk, []byte("data:")) {
			if sent++; sent == 5 {
				return append(chunk, []byte(": you are reading too slowly, dropped 12 messages\n\n")...)
			}
		}
		return chunk
	}))
	for range 3 {
		b.post(t, 10, true, "")
	}
	b.post(t, 1, true, "/fixtures/status=pending/fixtures/") // keeps tracking alive until the test stops it
	b.sim.Advance(3 * time.Second)
	want := b.ourEvents(t)
	logs := &lockedBuffer{}
	cfg := b.config()
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))

	res := b.trackUntil(t, cfg, func() bool {
		got := b.recordedEvents(t)
		for _, e := range want {
			if !got[e.ID] {
				return false
			}
		}
		return logs.hasLine(`msg="track heal pass"`, "reason=dropped")
	})
	if res.Dropped != 1 || res.Connects < 2 {
		t.Errorf("result %+v: want one drop and a reconnect", res)
	}
	b.checkStatusesMatch(t)
	b.checkHistory(t)
}

// lockedBuffer collects log output written from tracking's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// hasLine reports whether one logged line holds every part.
func (l *lockedBuffer) hasLine(parts ...string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for line := range strings.Lines(l.buf.String()) {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			return true
		}
	}
	return false
}

func TestPollModeStillWorks(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Faults{}, nil)
	b.post(t, 5, true, "")
	b.sim.Advance(3 * time.Second)
	cfg := b.config()
	cfg.Mode = track.ModePoll
	res := b.track(t, cfg)
	if res.StreamMode || res.Open != 0 || res.Passes != 1 {
		t.Errorf("poll result %+v", res)
	}
	b.checkStatusesMatch(t)
	b.checkHistory(t)
}

// TestStreamKeepsOpenCountWithoutRecounting: while the stream applies moves, the run's open
// journals are counted from the moves, not by counting the table after every wait (at a million
// journals that count was a fifth of the night's SQL). The table is counted once at the start and
// once when the moves say nothing is left.
func TestStreamKeepsOpenCountWithoutRecounting(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Faults{}, nil)
	for range 4 {
		b.post(t, 10, true, "")
	}
	var waits atomic.Int64
	cfg := b.config()
	cfg.FlushEvents = 5 // many small transactions, each waking the loop
	wait := cfg.Wait
	cfg.Wait = func(ctx context.Context, d time.Duration) error { waits.Add(1); return wait(ctx, d) }
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := b.goTrack(ctx, cfg)
	waitFor(t, 20*time.Second, func() bool { return waits.Load() >= 10 }) // the loop has waited, journals still queued
	b.sim.Advance(3 * time.Second)                                        // now every journal goes to executed
	o := <-done
	if o.err != nil {
		t.Fatalf("track: %v (%+v)", o.err, o.res)
	}
	if o.res.Open != 0 || o.res.Changed != 80 {
		t.Fatalf("result %+v, want 80 changes and none open", o.res)
	}
	if o.res.Counts > 2 {
		t.Errorf("the run's open journals were counted %d times in the table over %d waits, want at most 2", o.res.Counts, waits.Load())
	}
	b.checkStatusesMatch(t)
}

// TestPassInChunks: a pass reads, looks up and moves the run's open journals a chunk at a time (a
// million-journal night's open set is never held whole), and still brings every journal to its
// status at the simulator.
func TestPassInChunks(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Faults{}, nil)
	b.post(t, 11, true, "")
	b.post(t, 1, true, "/fixtures/status=pending/fixtures/") // stays open
	b.sim.Advance(3 * time.Second)
	cfg := b.config()
	cfg.PassChunk = 3
	open, changed, err := track.Pass(context.Background(), b.db, b.client, b.runID, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if open != 1 || changed != 11 {
		t.Errorf("pass left %d open after %d changes, want 1 after 11", open, changed)
	}
	b.checkStatusesMatch(t)
	b.checkHistory(t)
}

// TestStreamRepeatedStatusWritesNothing: an event that repeats the status a journal holds (the
// first event of every journal repeats the answer's queued) changes nothing, so the journal's row
// is neither locked nor rewritten (xmin and xmax stay) and no history row is added; an event that
// moves another journal in the same transaction is applied.
func TestStreamRepeatedStatusWritesNothing(t *testing.T) {
	t.Parallel()
	var script [][]byte
	b := setup(t, sandbox.Faults{}, scriptedEvents(func() [][]byte { return script }))
	ids := b.post(t, 2, true, "")
	event := func(id, journal, from, to string) []byte {
		data, _ := json.Marshal(alpaca.JournalEvent{EventID: id, JournalID: journal, EntryType: "JNLC",
			StatusFrom: from, StatusTo: to, At: base})
		return data
	}
	last := "01KJR000000999000000000000"
	script = [][]byte{
		event("01KJR000000001000000000001", ids[0], "queued", "queued"),
		event("01KJR000000001000000000002", ids[1], "queued", "sent_to_clearing"),
		event(last, "d0000000-0000-4000-8000-000000000001", "queued", "executed"),
	}
	type row struct {
		Xmin, Xmax, Status, LastEvent string
	}
	read := func(alpacaID string) row {
		var r row
		if err := b.db.QueryRow(`SELECT xmin::text, xmax::text, status, last_event_id FROM journals WHERE alpaca_id = $1`,
			alpacaID).Scan(&r.Xmin, &r.Xmax, &r.Status, &r.LastEvent); err != nil {
			t.Fatal(err)
		}
		return r
	}
	before := read(ids[0])
	cfg := b.config()
	cfg.StreamIdle = time.Minute
	b.trackUntil(t, cfg, func() bool { return b.cursor(t) == last })
	if after := read(ids[0]); after != before {
		t.Errorf("journal with a repeated status: %+v, want untouched %+v", after, before)
	}
	if got := read(ids[1]); got.Status != "sent_to_clearing" || got.LastEvent != "01KJR000000001000000000002" {
		t.Errorf("journal moved by the stream: %+v, want sent_to_clearing by event ...0002", got)
	}
	var n int
	if err := b.db.Get(&n, `SELECT count(*) FROM journal_history WHERE source = 'sse'`); err != nil || n != 1 {
		t.Errorf("history rows of the stream: %d (%v), want 1", n, err)
	}
}

// A heal pass (or anything else) moving a journal beside the stream: the stream's move of it, made
// without a row lock first, never overwrites the other move nor records the wrong status_from; it
// waits for the other transaction and applies its event from the status that one left.
func TestStreamMoveRacingAnotherMove(t *testing.T) {
	t.Parallel()
	const eventID = "01KJR000000001000000000001"
	var journal string
	b := setup(t, sandbox.Faults{}, scriptedEvents(func() [][]byte {
		data, _ := json.Marshal(alpaca.JournalEvent{EventID: eventID, JournalID: journal, EntryType: "JNLC",
			StatusFrom: "queued", StatusTo: "executed", At: base})
		return [][]byte{data}
	}))
	journal = b.post(t, 1, true, "")[0]
	var id int64
	if err := b.db.Get(&id, `SELECT id FROM journals WHERE alpaca_id = $1`, journal); err != nil {
		t.Fatal(err)
	}
	// The other move holds the journal, moved to pending, until the stream waits for it.
	other, err := b.db.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	defer other.Rollback()
	if _, err := other.Exec(`UPDATE journals SET status = 'pending' WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Exec(`INSERT INTO journal_history (journal_id, status_from, status_to, source, at)
		VALUES ($1, 'queued', 'pending', 'heal', now())`, id); err != nil {
		t.Fatal(err)
	}
	committed := make(chan error, 1)
	go func() {
		end := time.Now().Add(20 * time.Second)
		for time.Now().Before(end) {
			var waiting bool
			if err := b.db.Get(&waiting, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
				WHERE datname = current_database() AND wait_event_type = 'Lock')`); err != nil {
				committed <- err
				return
			}
			if waiting {
				committed <- other.Commit()
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		committed <- errors.New("the stream never waited for the other move")
	}()

	type row struct {
		From   string `db:"status_from"`
		To     string `db:"status_to"`
		Source string `db:"source"`
	}
	var history []row
	b.trackUntil(t, b.config(), func() bool {
		history = nil
		if err := b.db.Select(&history, `SELECT status_from, status_to, source FROM journal_history
			WHERE journal_id = $1 ORDER BY id`, id); err != nil {
			t.Error(err)
		}
		return len(history) >= 2
	})
	if err := <-committed; err != nil {
		t.Fatal(err)
	}
	want := []row{{"queued", "pending", "heal"}, {"pending", "executed", "sse"}}
	if !slices.Equal(history, want) {
		t.Fatalf("history %v, want %v", history, want)
	}
	var status string
	if err := b.db.Get(&status, `SELECT status FROM journals WHERE id = $1`, id); err != nil || status != "executed" {
		t.Fatalf("status %q (%v), want executed", status, err)
	}
}

// TestStreamBesideSendingKeepsEventsBeforeTheirAnswer: tracking begins while batches are still
// being sent, and a batch's journals move at Alpaca (every event already passed by the stream)
// before its answer is stored. Once the answer is stored and sending ends, those journals still
// end at the simulator's status from the events kept, with no heal pass, and tracking ends only
// after sending has.
func TestStreamBesideSendingKeepsEventsBeforeTheirAnswer(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Faults{}, nil)
	b.post(t, 10, true, "") // a batch answered before tracking began
	submitted := make(chan time.Time, 1)
	cfg := b.config()
	cfg.Submitted = submitted
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := b.goTrack(ctx, cfg)

	key, body, ids, statuses := b.create(t, 10, "") // sent; its answer not stored yet
	b.sim.Advance(3 * time.Second)                  // queued -> sent_to_clearing -> executed, both batches
	evs := b.sim.Events()
	last := evs[len(evs)-1].ID
	waitFor(t, 20*time.Second, func() bool { return b.cursor(t) >= last }) // the stream passed every event
	var executed int
	if err := b.db.Get(&executed, `SELECT count(*) FROM journals WHERE status = 'executed'`); err != nil {
		t.Fatal(err)
	}
	if executed != 10 {
		t.Fatalf("%d journals executed while batches were being sent, want the answered batch's 10", executed)
	}
	select {
	case o := <-done:
		t.Fatalf("tracking ended while batches were still being sent: %+v, %v", o.res, o.err)
	default:
	}

	b.answered(t, key, body, ids, statuses)
	submitted <- b.sim.Now().Add(time.Hour)
	o := <-done
	if o.err != nil {
		t.Fatalf("track: %v (%+v)", o.err, o.res)
	}
	if o.res.Open != 0 || o.res.Passes != 0 {
		t.Fatalf("result %+v, want none open and no heal pass", o.res)
	}
	b.checkStatusesMatch(t)
	b.checkHistory(t)
}

// TestStreamBesideSendingCountsTheRunOnce: tracking that begins beside sending, before any batch
// of the run is marked sending, reads where the run stands from its batches and its journals
// without one (refused before sending) instead of counting its journals: the progress it tells
// is the table's all the same, and the run is counted once, when sending ends.
func TestStreamBesideSendingCountsTheRunOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Faults{}, nil)
	ctx := context.Background()
	var batchID int64
	if err := b.db.GetContext(ctx, &batchID, `INSERT INTO batches (run_id, seq, idempotency_key, body, entries, status)
		VALUES ($1, '000001', gen_random_uuid(), '{}', 3, 'planned') RETURNING id`, b.runID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.db.ExecContext(ctx, `INSERT INTO allocations (file_id, line, receipt_id, account_id, amount, client_ref, description)
		SELECT $1, g, 'R1', $2, 1.00, 'c' || g, '' FROM generate_series(1, 5) g`, b.file, cust1); err != nil {
		t.Fatal(err)
	}
	// Three journals in the planned batch, two written refused without a batch.
	if _, err := b.db.ExecContext(ctx, `
		INSERT INTO journals (run_id, batch_id, journal_key, allocation_id, receipt_id, client_ref, to_account, amount,
		    description, status, updated_at)
		SELECT $1, CASE WHEN a.line <= 3 THEN $2::bigint END, gen_random_uuid(), a.id, a.receipt_id, a.client_ref,
		    a.account_id, a.amount, '', CASE WHEN a.line <= 3 THEN 'planned' ELSE 'refused' END, $3
		FROM allocations a WHERE a.file_id = $4`, b.runID, batchID, b.sim.Now(), b.file); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var heard [][2]int
	submitted := make(chan time.Time, 1)
	cfg := b.config()
	cfg.Submitted = submitted
	cfg.ProgressEvery = 10 * time.Millisecond
	cfg.OnProgress = func(final, total int) {
		mu.Lock()
		defer mu.Unlock()
		heard = append(heard, [2]int{final, total})
	}
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	done := b.goTrack(tctx, cfg)
	waitFor(t, 20*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(heard) > 0
	})
	var want [2]int
	if err := b.db.QueryRow(`SELECT count(*) FILTER (WHERE status IN ('executed', 'activity_created', 'rejected',
			'refused', 'canceled', 'deleted', 'correct')), count(*) FROM journals WHERE run_id = $1`, b.runID).Scan(&want[0], &want[1]); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	got := heard[0]
	mu.Unlock()
	if got != want || want != [2]int{2, 5} {
		t.Fatalf("tracking told %d final of %d while sending, the table %d of %d (want 2 of 5)", got[0], got[1], want[0], want[1])
	}

	submitted <- b.sim.Now().Add(time.Hour) // nothing was answered: nothing sent is open
	o := <-done
	if o.err != nil {
		t.Fatalf("track: %v (%+v)", o.err, o.res)
	}
	if o.res.Open != 0 || o.res.Counts != 1 {
		t.Fatalf("result %+v, want none open and the run counted once", o.res)
	}
}

// A flush of events big enough is applied in parts at once (Config.ApplyParts), each part a
// transaction for its share of the journals: every journal still takes each of its events once
// and in order, duplicated and reordered as the stream delivers them, and the cursor ends at the
// last event. One part (ApplyParts 1) gives the same history in one transaction.
func TestStreamAppliesInParts(t *testing.T) {
	t.Parallel()
	for _, parts := range []int{1, 2, 3} {
		t.Run(fmt.Sprint(parts), func(t *testing.T) {
			t.Parallel()
			b := setup(t, sandbox.Faults{Seed: 11, StreamDuplicateRate: 0.2, StreamReorderRate: 0.3}, nil)
			for range 3 {
				b.post(t, 200, true, "")
			}
			b.sim.Advance(3 * time.Second)
			cfg := b.config()
			cfg.ApplyParts = parts
			// Every event is at the simulator already: they come in one flush (its timer leaves
			// room for a test machine busy with other packages' tests).
			cfg.FlushEvents, cfg.FlushEvery = 10_000, 5*time.Second
			res := b.track(t, cfg)
			if res.Open != 0 {
				t.Fatalf("result %+v", res)
			}
			b.checkStatusesMatch(t)
			b.checkHistory(t)
			var sse, journals int
			if err := b.db.QueryRow(`SELECT count(*) FILTER (WHERE source = 'sse'), count(DISTINCT journal_id) FROM journal_history`).Scan(&sse, &journals); err != nil {
				t.Fatal(err)
			}
			if sse != 1200 || journals != 600 { // queued -> sent_to_clearing -> executed, 600 journals
				t.Errorf("history: %d rows from sse for %d journals, want 1200 for 600", sse, journals)
			}
			evs := b.sim.Events()
			if got, want := b.cursor(t), evs[len(evs)-1].ID; got != want {
				t.Errorf("cursor %s, want the last event %s (%+v)", got, want, res)
			}
			var xids int
			if err := b.db.Get(&xids, `SELECT count(DISTINCT xid) FROM journal_history WHERE source = 'sse'`); err != nil {
				t.Fatal(err)
			}
			if xids != parts {
				t.Errorf("the moves took %d transactions, want one a part (%d)", xids, parts)
			}
		})
	}
}

// TestStreamPartKeepsGoingWhileAnotherIsHeld: with two parts, a part held up (another transaction
// holds one of its journals) does not hold the other part up: the other part applies the events
// of later flushes as they come, while the cursor stays before the held part's event until that
// part commits; then everything ends at the simulator's statuses.
func TestStreamPartKeepsGoingWhileAnotherIsHeld(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Faults{}, nil)
	var ids []string
	for range 2 {
		ids = append(ids, b.post(t, 250, true, "")...)
	}
	held := ids[0]
	cfg := b.config()
	cfg.ApplyParts = 2
	// A step's events come in one flush, big enough to be split in parts.
	cfg.FlushEvents, cfg.FlushEvery = 10_000, 300*time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := b.goTrack(ctx, cfg)
	created := b.sim.Events()
	waitFor(t, 20*time.Second, func() bool { return b.cursor(t) >= created[len(created)-1].ID })

	other, err := b.db.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	defer other.Rollback()
	if _, err := other.Exec(`SELECT 1 FROM journals WHERE alpaca_id = $1 FOR UPDATE`, held); err != nil {
		t.Fatal(err)
	}
	count := func(status string) int {
		var n int
		if err := b.db.Get(&n, `SELECT count(*) FROM journals WHERE status = $1`, status); err != nil {
			t.Fatal(err)
		}
		return n
	}
	b.sim.Advance(time.Second) // queued -> sent_to_clearing: the held journal's part waits for the lock
	var heldEvent string
	for _, e := range b.sim.Events() {
		if e.JournalID == held && e.StatusTo == "sent_to_clearing" {
			heldEvent = e.ID
		}
	}
	waitFor(t, 20*time.Second, func() bool { return count("sent_to_clearing") > 0 })
	b.sim.Advance(time.Second) // sent_to_clearing -> executed, in a later flush
	waitFor(t, 20*time.Second, func() bool { return count("executed") > 0 })
	if c := b.cursor(t); heldEvent == "" || c >= heldEvent {
		t.Fatalf("cursor %s passed the held part's event %s before it committed", c, heldEvent)
	}
	var status string
	if err := b.db.Get(&status, `SELECT status FROM journals WHERE alpaca_id = $1`, held); err != nil || status != "queued" {
		t.Fatalf("held journal %q (%v), want queued", status, err)
	}

	if err := other.Rollback(); err != nil {
		t.Fatal(err)
	}
	o := <-done
	if o.err != nil || o.res.Open != 0 {
		t.Fatalf("track: %v (%+v)", o.err, o.res)
	}
	b.checkStatusesMatch(t)
	b.checkHistory(t)
	evs := b.sim.Events()
	if got, want := b.cursor(t), evs[len(evs)-1].ID; got != want {
		t.Errorf("cursor %s, want the last event %s", got, want)
	}
}

// TestStreamApplyFailureStopsTracking: a part whose transaction fails stops tracking with the
// error (no event is skipped), the other part stops with it, and the cursor stays before the
// failed event.
func TestStreamApplyFailureStopsTracking(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Faults{}, nil)
	var ids []string
	for range 2 {
		ids = append(ids, b.post(t, 250, true, "")...)
	}
	failing := ids[0]
	if _, err := b.db.Exec(`
		CREATE FUNCTION refuse_journal() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'refused for the test'; END $$;
		CREATE TRIGGER refuse_journal BEFORE UPDATE ON journals FOR EACH ROW
		WHEN (NEW.alpaca_id = '` + failing + `'::uuid) EXECUTE FUNCTION refuse_journal()`); err != nil {
		t.Fatal(err)
	}
	b.sim.Advance(3 * time.Second)
	var failedEvent string
	for _, e := range b.sim.Events() {
		if e.JournalID == failing && e.StatusFrom != "" && failedEvent == "" {
			failedEvent = e.ID
		}
	}
	cfg := b.config()
	cfg.ApplyParts = 2
	cfg.FlushEvents = 100
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := track.Track(ctx, b.db, b.client, b.runID, b.sim.Now().Add(time.Hour), cfg)
	if err == nil || !strings.Contains(err.Error(), "refused for the test") || !strings.Contains(err.Error(), "apply stream events") {
		t.Fatalf("track: %v (%+v), want the apply failure", err, res)
	}
	if c := b.cursor(t); failedEvent == "" || c >= failedEvent {
		t.Fatalf("cursor %s passed the event %s that failed", c, failedEvent)
	}
	var status string
	if err := b.db.Get(&status, `SELECT status FROM journals WHERE alpaca_id = $1`, failing); err != nil || status != "queued" {
		t.Fatalf("failing journal %q (%v), want queued", status, err)
	}
	var runStatus string
	if err := b.db.Get(&runStatus, `SELECT status FROM runs WHERE id = $1`, b.runID); err != nil || runStatus == "tracked" {
		t.Fatalf("run %q (%v): tracking that failed marked it tracked", runStatus, err)
	}
}

// An event whose description ends with its journal's key token finds the journal by that key. The
// journals' journal_answers rows are taken away here, so that no event could find them by Alpaca's
// id: every journal still ends at its status at the simulator, a reversal included, with its whole
// history.
func TestStreamFindsJournalsByTheirKeys(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Faults{}, nil)
	ids := b.postKeyed(t, 20)
	b.sim.Advance(3 * time.Second)
	b.admin(t, "/sandbox/v1/journals/"+ids[0]+"/reverse", "")
	if _, err := b.db.Exec(`DELETE FROM journal_answers`); err != nil {
		t.Fatal(err)
	}
	want := b.ourEvents(t)
	b.trackUntil(t, b.config(), func() bool {
		got := b.recordedEvents(t)
		for _, e := range want {
			if !got[e.ID] && e.StatusFrom != "" { // a journal's first event moves nothing
				return false
			}
		}
		return true
	})
	b.checkStatusesMatch(t)
	b.checkHistory(t)
	var moves int
	if err := b.db.Get(&moves, `SELECT count(*) FROM journal_history WHERE source = 'sse'`); err != nil || moves != 41 {
		t.Errorf("%d moves from the stream (%v), want 41: two each and the reversal", moves, err)
	}
}

// Events that come without their description (Alpaca's schema makes it optional), beside events
// that carry their journal's key token, and a replacement Alpaca made by correcting one of ours (our
// token under another Alpaca id): every journal ends at its status at the simulator, each event of
// ours recorded once.
func TestStreamWithAndWithoutKeyTokens(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Faults{Seed: 11, StreamBareRate: 0.5, StreamDuplicateRate: 0.2}, nil)
	ids := b.postKeyed(t, 20)
	b.post(t, 10, true, "")
	b.post(t, 1, true, "/fixtures/status=pending/fixtures/") // keeps tracking alive until the test stops it
	b.sim.Advance(3 * time.Second)
	b.admin(t, "/sandbox/v1/journals/"+ids[0]+"/reverse", "")
	b.admin(t, "/sandbox/v1/journals/"+ids[1]+"/correct", `{"amount":"0.50"}`)
	want := b.ourEvents(t)
	b.trackUntil(t, b.config(), func() bool { return b.cursor(t) >= b.sim.Events()[len(b.sim.Events())-1].ID })
	b.checkStatusesMatch(t)
	b.checkHistory(t)
	got := b.recordedEvents(t)
	for _, e := range want {
		if !got[e.ID] && e.StatusFrom != "" {
			t.Errorf("event %s (%s -> %s) never recorded", e.ID, e.StatusFrom, e.StatusTo)
		}
	}
}

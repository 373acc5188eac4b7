package track_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/alpaca"
	"github.com/cashpool/cashpool/alpaca/sandbox"
	"github.com/cashpool/cashpool/batch/schema/schematest"
	"github.com/cashpool/cashpool/batch/track"
	"github.com/cashpool/cashpool/pool"
)

func TestMain(m *testing.M) { schematest.Main(m) }

// scriptedEvents stands in for Alpaca's events stream: on each connection it sends the events
// script gives then, and stays open with heartbeats, as Alpaca does, so no reconnect (and no heal
// pass) happens. Every other request goes to the simulator.
func scriptedEvents(script func() [][]byte) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasPrefix(r.URL.Path, "/v2/events/") {
				next.ServeHTTP(w, r)
				return
			}
			w.Header().Set("Content-Type", "text/event-stream")
			rc := http.NewResponseController(w)
			for _, data := range script() {
				fmt.Fprintf(w, "data: %s\n\n", data)
				_ = rc.Flush()
			}
			for {
				fmt.Fprint(w, ":heartbeat\n\n")
				_ = rc.Flush()
				select {
				case <-r.Context().Done():
					return
				case <-time.After(100 * time.Millisecond):
				}
			}
		})
	}
}

const (
	sweep  = "8f8c8cee-2591-4f83-be12-82c659b5e748"
	cust1  = "c0000000-0000-4000-8000-000000000001"
	cust2  = "c0000000-0000-4000-8000-000000000002"
	keyID  = "test-key"
	secret = "test-secret"
)

// base is a fixed instant: the simulator's clock only moves when a test advances it.
var base = time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)

// bundle is one isolated database plus one simulator over real HTTP.
type bundle struct {
	db     *sqlx.DB
	sim    *sandbox.Server
	srv    *httptest.Server
	client *alpaca.Client
	runID  int64
	file   int64
	lines  int
}

// setup starts a simulator (wrap, when set, sits between it and the client; adjust, when given,
// changes its options) and a run.
func setup(tb testing.TB, faults sandbox.Faults, wrap func(http.Handler) http.Handler, adjust ...func(*sandbox.Options)) *bundle {
	tb.Helper()
	o := sandbox.Options{
		Seed: sandbox.Seed{SweepAccount: sweep, SweepCash: decimal.RequireFromString("100000000.00"),
			Accounts: []sandbox.Account{{ID: sweep, Status: "ACTIVE", Firm: true}, {ID: cust1, Status: "ACTIVE"}, {ID: cust2, Status: "ACTIVE"}}},
		Now: func() time.Time { return base }, KeyID: keyID, Secret: secret, StepEvery: time.Second,
		HeartbeatEvery: time.Second, PollEvery: 5 * time.Millisecond, Faults: faults,
	}
	for _, f := range adjust {
		f(&o)
	}
	sim := sandbox.New(o)
	var h http.Handler = sim
	if wrap != nil {
		h = wrap(sim)
	}
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	b := &bundle{db: schematest.DB(tb), sim: sim, srv: srv,
		client: alpaca.NewClient(alpaca.Options{BaseURL: srv.URL, KeyID: keyID, Secret: secret, Now: sim.Now})}
	ctx := context.Background()
	if err := b.db.GetContext(ctx, &b.runID, `INSERT INTO runs (business_date, sweep_account, status, planned_at)
		VALUES ('2026-03-02', $1, 'submitted', $2) RETURNING id`, sweep, base); err != nil {
		tb.Fatal(err)
	}
	if err := b.db.GetContext(ctx, &b.file, `INSERT INTO files (sha256, name, kind, status, received_at)
		VALUES ('x', 'allocations.csv', 'allocations', 'loaded', $1) RETURNING id`, base); err != nil {
		tb.Fatal(err)
	}
	return b
}

// post creates n journals at the simulator in one batch (descriptions may carry fixtures) and,
// when ours, records them as submit would: batch sent, journals with Alpaca's id and status.
func (b *bundle) post(tb testing.TB, n int, ours bool, description string) []string {
	tb.Helper()
	key, body, ids, statuses := b.create(tb, n, description)
	if ours {
		b.answered(tb, key, body, ids, statuses)
	}
	return ids
}

// create creates n journals at the simulator in one batch and returns its key and body and
// Alpaca's answer: each journal's id and status.
func (b *bundle) create(tb testing.TB, n int, description string) (key string, body []byte, ids, statuses []string) {
	tb.Helper()
	key, body, out := b.createEach(tb, n, func(int) string { return description })
	ids, statuses = make([]string, len(out)), make([]string, len(out))
	for i, j := range out {
		ids[i], statuses[i] = j.ID, j.Status
	}
	return key, body, ids, statuses
}

// createEach creates n journals at the simulator in one batch, the i-th described by describe(i),
// and returns its key and body and Alpaca's answer, in the order Alpaca gave it.
func (b *bundle) createEach(tb testing.TB, n int, describe func(i int) string) (key string, body []byte, out []alpaca.BatchJournal) {
	tb.Helper()
	req := alpaca.BatchRequest{EntryType: "JNLC", FromAccount: sweep}
	for i := range n {
		req.Entries = append(req.Entries, alpaca.BatchEntry{ToAccount: []string{cust1, cust2}[i%2], Amount: "1.00", Description: describe(i)})
	}
	body, _ = json.Marshal(req)
	key = fmt.Sprintf("00000000-0000-4000-8000-%012d", time.Now().UnixNano()%1e12)
	out, err := b.client.CreateBatch(context.Background(), key, body)
	if err != nil {
		tb.Fatal(err)
	}
	return key, body, out
}

// postKeyed posts n journals of ours at the simulator in one batch, each described with its own
// journal key's token as plan describes them, and returns their Alpaca ids.
func (b *bundle) postKeyed(tb testing.TB, n int) []string {
	tb.Helper()
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("00000000-0000-4000-8000-%012d", b.lines+i+1)
	}
	key, body, out := b.createEach(tb, n, func(i int) string { return "wire of the night " + pool.KeyToken(keys[i]) })
	// Alpaca answers in an order of its own: each journal's key is the one its description names.
	ids, statuses, answeredKeys := make([]string, len(out)), make([]string, len(out)), make([]string, len(out))
	for i, j := range out {
		k, ok := pool.TokenFromDescription(j.Description)
		if !ok || !slices.Contains(keys, k) {
			tb.Fatalf("answer %s: description %q names none of the batch's keys", j.ID, j.Description)
		}
		ids[i], statuses[i], answeredKeys[i] = j.ID, j.Status, k
	}
	b.answered(tb, key, body, ids, statuses, answeredKeys...)
	return ids
}

// answered records the answer to the batch of key and body as submit would: batch sent, journals
// with Alpaca's ids and statuses, and the journal keys given (random ones without).
func (b *bundle) answered(tb testing.TB, key string, body []byte, ids, statuses []string, keys ...string) {
	tb.Helper()
	n := len(ids)
	ctx := context.Background()
	now := b.sim.Now()
	var batchID int64
	if err := b.db.GetContext(ctx, &batchID, `INSERT INTO batches (run_id, seq, idempotency_key, body, entries, status, sending_at, sent_at)
		VALUES ($1, $2, $3, $4, $5, 'sent', $6, $6) RETURNING id`, b.runID, key, key, body, n, now); err != nil {
		tb.Fatal(err)
	}
	first := b.lines + 1
	b.lines += n
	if _, err := b.db.ExecContext(ctx, `INSERT INTO allocations (file_id, line, receipt_id, account_id, amount, client_ref, description)
		SELECT $1, g, 'R1', $4, 1.00, 'c' || g, '' FROM generate_series($2::int, $3::int) g`, b.file, first, b.lines, cust1); err != nil {
		tb.Fatal(err)
	}
	if _, err := b.db.ExecContext(ctx, `
		INSERT INTO journals (run_id, batch_id, journal_key, allocation_id, receipt_id, client_ref, to_account, amount,
		    description, alpaca_id, status, updated_at)
		SELECT $1, $2, COALESCE(($8::uuid[])[v.n], gen_random_uuid()), a.id, a.receipt_id, a.client_ref, a.account_id, a.amount,
		    '', v.alpaca_id::uuid, v.status, $3
		FROM unnest($4::text[], $5::text[]) WITH ORDINALITY AS v(alpaca_id, status, n)
		JOIN allocations a ON a.file_id = $6 AND a.line = $7 + v.n - 1`,
		b.runID, batchID, now, pq.Array(ids), pq.Array(statuses), b.file, first, pq.Array(keys)); err != nil {
		tb.Fatal(err)
	}
	if _, err := b.db.ExecContext(ctx, `INSERT INTO journal_answers (alpaca_id, journal_id)
		SELECT alpaca_id, id FROM journals WHERE batch_id = $1`, batchID); err != nil {
		tb.Fatal(err)
	}
}

// config is a stream-mode configuration on the simulator's clock with short real-time pauses.
func (b *bundle) config() track.Config {
	return track.Config{
		SweepAccount: sweep, Now: b.sim.Now, PollEvery: 20 * time.Millisecond,
		Wait:       func(ctx context.Context, d time.Duration) error { return pause(ctx, 10*time.Millisecond) },
		Sleep:      func(ctx context.Context, d time.Duration) error { return pause(ctx, min(d, 10*time.Millisecond)) },
		StreamIdle: 5 * time.Second, FlushEvery: 20 * time.Millisecond,
	}
}

func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// track runs Track to its end with a deadline an hour of simulated time away.
func (b *bundle) track(tb testing.TB, cfg track.Config) track.Result {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := track.Track(ctx, b.db, b.client, b.runID, b.sim.Now().Add(time.Hour), cfg)
	if err != nil {
		tb.Fatalf("track: %v (%+v)", err, res)
	}
	return res
}

// trackOutcome is what a Track run returned.
type trackOutcome struct {
	res track.Result
	err error
}

// goTrack runs Track in the background with a deadline an hour of simulated time away; what it
// returns comes on the channel.
func (b *bundle) goTrack(ctx context.Context, cfg track.Config) <-chan trackOutcome {
	done := make(chan trackOutcome, 1)
	go func() {
		res, err := track.Track(ctx, b.db, b.client, b.runID, b.sim.Now().Add(time.Hour), cfg)
		done <- trackOutcome{res, err}
	}()
	return done
}

// trackUntil runs Track in the background until cond holds, then stops it as a kill would, and
// returns what it reported.
func (b *bundle) trackUntil(t *testing.T, cfg track.Config, cond func() bool) track.Result {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // also when cond is never reached
	done := b.goTrack(ctx, cfg)
	waitFor(t, 20*time.Second, cond)
	cancel()
	o := <-done
	if o.err != nil && ctx.Err() == nil {
		t.Fatalf("track: %v", o.err)
	}
	return o.res
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for !cond() {
		if time.Now().After(end) {
			t.Fatal("condition not reached before the deadline")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (b *bundle) cursor(t *testing.T) string {
	t.Helper()
	var id string
	_ = b.db.Get(&id, `SELECT last_event_id FROM event_cursors WHERE sweep_account = $1`, sweep)
	return id
}

// ourEvents are the simulator's events for journals in our database.
func (b *bundle) ourEvents(t *testing.T) []sandbox.Event {
	t.Helper()
	var ids []string
	if err := b.db.Select(&ids, `SELECT alpaca_id::text FROM journals WHERE alpaca_id IS NOT NULL`); err != nil {
		t.Fatal(err)
	}
	mine := map[string]bool{}
	for _, id := range ids {
		mine[id] = true
	}
	var out []sandbox.Event
	for _, e := range b.sim.Events() {
		if mine[e.JournalID] {
			out = append(out, e)
		}
	}
	return out
}

// recordedEvents are the simulator's events of our journals the database has taken in: the event
// of a history row, one not newer than the newest event its journal has seen (a duplicate, a
// late one, or one the guard refused: it changed nothing), or one that repeats a status its journal
// held (the answer's or a history row's: it told nothing new and wrote nothing).
func (b *bundle) recordedEvents(t *testing.T) map[string]bool {
	t.Helper()
	var ids []string
	if err := b.db.Select(&ids, `SELECT event_id FROM journal_history WHERE event_id IS NOT NULL`); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, id := range ids {
		out[id] = true
	}
	var js []struct {
		AlpacaID  string `db:"alpaca_id"`
		LastEvent string `db:"last_event_id"`
		Held      string `db:"held"`
	}
	// The statuses a journal held: the answer's (before its first history row, or now if none)
	// and every history row's.
	if err := b.db.Select(&js, `SELECT j.alpaca_id::text AS alpaca_id, j.last_event_id,
		COALESCE((SELECT h.status_from FROM journal_history h WHERE h.journal_id = j.id ORDER BY h.id LIMIT 1), j.status) || ' ' ||
		COALESCE((SELECT string_agg(h.status_to, ' ') FROM journal_history h WHERE h.journal_id = j.id), '') AS held
		FROM journals j WHERE j.alpaca_id IS NOT NULL`); err != nil {
		t.Fatal(err)
	}
	last, held := map[string]string{}, map[string][]string{}
	for _, j := range js {
		last[j.AlpacaID], held[j.AlpacaID] = j.LastEvent, strings.Fields(j.Held)
	}
	for _, e := range b.sim.Events() {
		if l, ok := last[e.JournalID]; ok && (e.ID <= l || slices.Contains(held[e.JournalID], e.StatusTo)) {
			out[e.ID] = true
		}
	}
	return out
}

// checkStatusesMatch compares every journal's status with the simulator's ledger.
func (b *bundle) checkStatusesMatch(t *testing.T) {
	t.Helper()
	want := map[string]string{}
	for _, l := range b.sim.Ledger() {
		want[l.ID] = l.Status
	}
	var rows []struct {
		AlpacaID string `db:"alpaca_id"`
		Status   string `db:"status"`
	}
	if err := b.db.Select(&rows, `SELECT alpaca_id::text AS alpaca_id, status FROM journals WHERE alpaca_id IS NOT NULL`); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if want[r.AlpacaID] != r.Status {
			t.Errorf("journal %s: status %q, simulator says %q", r.AlpacaID, r.Status, want[r.AlpacaID])
			rows, _ := b.db.Queryx(`SELECT h.id, h.status_from, h.status_to, h.source, h.at, h.event_id FROM journal_history h JOIN journals j ON j.id = h.journal_id WHERE j.alpaca_id = $1 ORDER BY h.id`, r.AlpacaID)
			for rows.Next() {
				v, _ := rows.SliceScan()
				t.Logf("  history: %v", v)
			}
		}
	}
}

// stage orders Alpaca's journal statuses along its flows, written out here rather than taken from
// the package under test. A failed or corrected journal may follow an executed one; a status not
// listed here (one Alpaca does not document) may come anywhere.
var stage = map[string]int{
	"queued": 1, "pending": 2, "sent_to_clearing": 3, "executed": 4, "activity_created": 5,
	"rejected": 6, "refused": 6, "canceled": 6, "deleted": 6, "correct": 6,
}

// checkHistory holds the history to the rules: no change twice, never backwards.
func (b *bundle) checkHistory(t *testing.T) {
	t.Helper()
	var rows []struct {
		Journal int64  `db:"journal_id"`
		From    string `db:"status_from"`
		To      string `db:"status_to"`
	}
	if err := b.db.Select(&rows, `SELECT journal_id, status_from, status_to FROM journal_history ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	last := map[int64]string{}
	for _, r := range rows {
		k := fmt.Sprint(r.Journal, r.To)
		if seen[k] {
			t.Errorf("journal %d: history has %q twice", r.Journal, r.To)
		}
		seen[k] = true
		if l, ok := last[r.Journal]; ok && l != r.From {
			t.Errorf("journal %d: history row from %q follows a row to %q", r.Journal, r.From, l)
		}
		if from, to := stage[r.From], stage[r.To]; r.From == r.To || from > 0 && to > 0 && to <= from {
			t.Errorf("journal %d: history moves backwards %q -> %q", r.Journal, r.From, r.To)
		}
		last[r.Journal] = r.To
	}
}

// admin calls the simulator's admin API.
func (b *bundle) admin(t *testing.T, path, body string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.srv.URL+path, strings.NewReader(body))
	req.SetBasicAuth(keyID, secret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s: HTTP %d", path, resp.StatusCode)
	}
}

// rewriter passes the event stream through edit, one message (an event or a comment, with the
// blank line that ends it) at a time. Admin calls are not touched.
func rewriter(edit func(conn int, chunk []byte) []byte) func(http.Handler) http.Handler {
	var mu sync.Mutex
	conns := 0
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasPrefix(r.URL.Path, "/v2/events/") {
				next.ServeHTTP(w, r)
				return
			}
			mu.Lock()
			conns++
			n := conns
			mu.Unlock()
			next.ServeHTTP(&editWriter{ResponseWriter: w, edit: func(b []byte) []byte { return edit(n, b) }}, r)
		})
	}
}

type editWriter struct {
	http.ResponseWriter
	edit func([]byte) []byte
}

// Write edits each whole message of b (the simulator writes several at once, never a part of one).
func (w *editWriter) Write(b []byte) (int, error) {
	var out []byte
	for rest := b; len(rest) > 0; {
		n := bytes.Index(rest, []byte("\n\n")) + 2
		if n < 2 {
			n = len(rest)
		}
		out = append(out, w.edit(bytes.Clone(rest[:n]))...)
		rest = rest[n:]
	}
	if _, err := w.ResponseWriter.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}

// Unwrap lets http.NewResponseController reach the real writer's Flush.
func (w *editWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

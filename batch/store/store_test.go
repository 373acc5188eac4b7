package store_test

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/cashpool/cashpool/batch/schema/schematest"
	"github.com/cashpool/cashpool/batch/store"
)

func TestMain(m *testing.M) { schematest.Main(m) }

var now = time.Date(2026, 11, 20, 22, 0, 0, 0, time.UTC)

// The transition tables, written out by hand: row = from, column = to, in the order of the
// header; x = allowed, . = refused.
var journalStatuses = []string{"planned", "queued", "pending", "sent_to_clearing", "executed",
	"activity_created", "rejected", "refused", "canceled", "deleted", "correct", "mystery_status"}

var journalAllowed = []string{
	//pl qu pe st ex ac rj rf ca de co ??
	" .  x  x  x  x  x  x  x  x  x  x  x", // planned: until Alpaca answers, whatever its batch's status
	" .  .  x  x  x  x  x  x  x  x  x  x", // queued
	" .  .  .  x  x  x  x  x  x  x  x  x", // pending
	" .  .  .  .  x  x  x  x  x  x  x  x", // sent_to_clearing
	" .  .  .  .  .  x  x  x  x  x  x  x", // executed
	" .  .  .  .  .  .  x  x  x  x  x  x", // activity_created
	" .  .  .  .  .  .  .  .  .  .  .  x", // rejected
	" .  .  .  .  .  .  .  .  .  .  .  x", // refused
	" .  .  .  .  .  .  .  .  .  .  .  x", // canceled
	" .  .  .  .  .  .  .  .  .  .  .  x", // deleted
	" .  .  .  .  .  .  .  .  .  .  .  x", // correct
	" .  x  x  x  x  x  x  x  x  x  x  .", // an unknown raw status
}

var batchStatuses = []string{"planned", "sending", "sent", "failed", "split"}

var batchAllowed = []string{
	//pl se st fa sp
	" .  x  .  .  .", // planned
	" .  x  x  x  x", // sending: again is a resend
	" .  .  .  .  .", // sent
	" .  .  .  .  .", // failed
	" .  .  .  .  .", // split
}

var runStatuses = []string{"planned", "submitted", "tracked", "reconciled"}

var runAllowed = []string{
	//pl su tr re
	" x  x  x  x", // planned
	" x  .  x  x", // submitted
	" x  .  .  x", // tracked
	" x  .  .  x", // reconciled: a report rewritten, a redrive reopens
}

func allowed(table []string, from, to int) bool {
	return strings.Fields(table[from])[to] == "x"
}

type fixture struct {
	db    *sqlx.DB
	runID int64
	file  int64
	n     int
}

func setup(t *testing.T) *fixture {
	t.Helper()
	db := schematest.DB(t)
	f := &fixture{db: db}
	must(t, db.Get(&f.file, `INSERT INTO files (sha256, name, kind, status, received_at)
		VALUES ('x', 'allocations.csv', 'allocations', 'loaded', $1) RETURNING id`, now))
	f.runID = f.run(t, "2026-11-20", "planned")
	return f
}

func (f *fixture) run(t *testing.T, date, status string) int64 {
	var id int64
	must(t, f.db.Get(&id, `INSERT INTO runs (business_date, sweep_account, status, planned_at)
		VALUES ($1, '8f8c8cee-2591-4f83-be12-82c659b5e748', $2, $3) RETURNING id`, date, status, now))
	return id
}

func (f *fixture) batch(t *testing.T, status string) int64 {
	f.n++
	var id int64
	must(t, f.db.Get(&id, `INSERT INTO batches (run_id, seq, idempotency_key, body, entries, status)
		VALUES ($1, $2, gen_random_uuid(), '{}', 1, $3) RETURNING id`, f.runID, fmt.Sprint(f.n), status))
	return id
}

func (f *fixture) journal(t *testing.T, status string) int64 {
	f.n++
	var alloc, id int64
	must(t, f.db.Get(&alloc, `INSERT INTO allocations (file_id, line, receipt_id, account_id, amount, client_ref, description)
		VALUES ($1, $2, 'W1', gen_random_uuid(), 10, $3, '') RETURNING id`, f.file, f.n, fmt.Sprint("c", f.n)))
	must(t, f.db.Get(&id, `INSERT INTO journals (run_id, journal_key, allocation_id, receipt_id, client_ref, to_account,
		amount, description, status, updated_at)
		VALUES ($1, gen_random_uuid(), $2, 'W1', 'c', gen_random_uuid(), 10, '', $4, $3) RETURNING id`,
		f.runID, alloc, now, status))
	return id
}

// answer is a journal Alpaca answered: its id and its Alpaca id.
type answer struct {
	id     int64
	alpaca string
}

// answered adds a journal in status that Alpaca answered (a new Alpaca id in journal_answers), its
// newest event seen lastEvent.
func (f *fixture) answered(t *testing.T, status, lastEvent string) answer {
	t.Helper()
	id := f.journal(t, status)
	var alpacaID string
	must(t, f.db.Get(&alpacaID, `UPDATE journals SET alpaca_id = gen_random_uuid(), last_event_id = $2
		WHERE id = $1 RETURNING alpaca_id::text`, id, lastEvent))
	_, err := f.db.Exec(`INSERT INTO journal_answers (alpaca_id, journal_id) VALUES ($1, $2)`, alpacaID, id)
	must(t, err)
	return answer{id, alpacaID}
}

// TestJournalTransitions moves one journal per (from, to) pair, all in one call, and checks
// against the hand-written table which moved, with one history row each.
func TestJournalTransitions(t *testing.T) {
	t.Parallel()
	f := setup(t)
	type pair struct{ from, to int }
	byID := map[int64]pair{}
	var moves []store.JournalMove
	for i, from := range journalStatuses {
		for k, to := range journalStatuses {
			id := f.journal(t, from)
			byID[id] = pair{i, k}
			moves = append(moves, store.JournalMove{ID: id, To: to})
		}
	}
	moved, err := store.MoveJournals(context.Background(), f.db, moves, "test", now)
	must(t, err)
	didMove := map[int64]bool{}
	for _, m := range moved {
		didMove[m.ID] = true
		equal(t, journalStatuses[byID[m.ID].from], m.From, "journal %d: status before", m.ID)
		equal(t, journalStatuses[byID[m.ID].to], m.To, "journal %d: status after", m.ID)
	}
	for id, p := range byID {
		from, to := journalStatuses[p.from], journalStatuses[p.to]
		var got struct {
			Status  string `db:"status"`
			Unknown bool   `db:"status_unknown"`
			History int    `db:"history"`
		}
		must(t, f.db.Get(&got, `SELECT status, status_unknown,
			(SELECT count(*) FROM journal_history h WHERE h.journal_id = j.id AND h.status_from = $2 AND h.status_to = $3) AS history
			FROM journals j WHERE id = $1`, id, from, to))
		want := allowed(journalAllowed, p.from, p.to)
		equal(t, want, didMove[id], "%s -> %s", from, to)
		if want {
			equal(t, to, got.Status, "%s -> %s", from, to)
			equal(t, 1, got.History, "%s -> %s", from, to)
			equal(t, to == "mystery_status", got.Unknown, "%s -> %s: flagged", from, to)
		} else {
			equal(t, from, got.Status, "%s -> %s", from, to)
			equal(t, 0, got.History, "%s -> %s", from, to)
		}
	}
}

// TestJournalSeen: a move given the status the caller read happens only while the journal still
// holds it; an answer the guard refuses stores nothing and fails.
func TestJournalSeen(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	a, b := f.journal(t, "pending"), f.journal(t, "pending")
	moved, err := store.MoveJournals(ctx, f.db, []store.JournalMove{
		{ID: a, Seen: "queued", To: "executed"},
		{ID: b, Seen: "pending", To: "executed"},
	}, "test", now)
	must(t, err)
	if len(moved) != 1 || moved[0].ID != b {
		t.Fatalf("moved %v, want only %d", moved, b)
	}

	c, d := f.journal(t, "planned"), f.journal(t, "executed")
	err = store.AnswerJournals(ctx, f.db, []store.JournalMove{
		{ID: c, To: "queued", AlpacaID: "0d1c6c3e-2f4f-4f3e-9d7c-3b0b6c3f8a01"},
		{ID: d, To: "queued", AlpacaID: "0d1c6c3e-2f4f-4f3e-9d7c-3b0b6c3f8a02"},
	}, "test", now)
	if err == nil {
		t.Fatal("an answer the guard refuses was stored")
	}
}

// TestMoveSeenJournals: the stream's moves take no row lock first; a journal moves only if it still
// holds the status it was judged in, and that status is its history row's status_from. A journal
// moved meanwhile and a move the guard refuses are left out alike; a move without Seen is refused.
func TestMoveSeenJournals(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	a, b, c := f.journal(t, "pending"), f.journal(t, "pending"), f.journal(t, "executed")
	moved, err := store.MoveSeenJournals(ctx, f.db, []store.JournalMove{
		{ID: a, Seen: "queued", To: "executed"},  // moved to pending meanwhile
		{ID: b, Seen: "pending", To: "executed"}, // still pending
		{ID: c, Seen: "executed", To: "pending"}, // backwards: the guard refuses
	}, "sse", now)
	must(t, err)
	if len(moved) != 1 || moved[0].ID != b || moved[0].From != "pending" || moved[0].To != "executed" {
		t.Fatalf("moved %+v, want only %d from pending to executed", moved, b)
	}
	var history []string
	must(t, f.db.Select(&history, `SELECT journal_id || ':' || status_from || '>' || status_to || ':' || source
		FROM journal_history WHERE journal_id IN ($1, $2, $3) ORDER BY id`, a, b, c))
	equal(t, fmt.Sprint([]string{fmt.Sprintf("%d:pending>executed:sse", b)}), fmt.Sprint(history), "history")
	var statuses []string
	must(t, f.db.Select(&statuses, `SELECT status FROM journals WHERE id IN ($1, $2, $3) ORDER BY id`, a, b, c))
	equal(t, "[pending executed executed]", fmt.Sprint(statuses), "statuses")
	if _, err := store.MoveSeenJournals(ctx, f.db, []store.JournalMove{{ID: a, To: "executed"}}, "sse", now); err == nil {
		t.Fatal("a move without the status it was judged in was made")
	}
}

// TestMoveByEvents: an event moves the journal its Alpaca id names only while the journal holds the
// event's status_from, has seen no newer event, and may take its status_to; each move records its
// event on its history row and as the journal's newest seen. Every other event changes nothing.
func TestMoveByEvents(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	answered := func(status, lastEvent string) answer { return f.answered(t, status, lastEvent) }
	at := now.Add(-time.Minute)
	moves, froms, tos := answered("queued", ""), answered("queued", "01KJR000000001000000000005"), answered("pending", "")
	newer, back, unknown := answered("queued", "01KJR000000001000000000002"), answered("executed", ""), answered("queued", "")
	moved, err := store.MoveByEvents(ctx, f.db, []store.EventMove{
		{AlpacaID: moves.alpaca, From: "queued", To: "pending", At: at, EventID: "01KJR000000001000000000003"},
		{AlpacaID: froms.alpaca, From: "queued", To: "executed", At: at, EventID: "01KJR000000001000000000004"}, // older than its newest
		{AlpacaID: tos.alpaca, From: "queued", To: "executed", At: at, EventID: "01KJR000000001000000000006"},   // holds pending, not queued
		{AlpacaID: newer.alpaca, From: "queued", To: "executed", At: at, EventID: "01KJR000000001000000000007"},
		{AlpacaID: back.alpaca, From: "executed", To: "queued", At: at, EventID: "01KJR000000001000000000008"}, // the guard refuses
		{AlpacaID: unknown.alpaca, From: "queued", To: "mystery_status", At: at, EventID: "01KJR000000001000000000009"},
		{AlpacaID: "0d1c6c3e-2f4f-4f3e-9d7c-3b0b6c3f8aff", From: "queued", To: "executed", At: at, EventID: "01KJR00000000100000000000A"}, // not ours
	}, "sse", now)
	must(t, err)
	var got []string
	for _, m := range moved {
		got = append(got, fmt.Sprintf("%d:%s>%s:%s", m.ID, m.From, m.To, m.EventID))
	}
	slices.Sort(got)
	want := []string{
		fmt.Sprintf("%d:queued>pending:01KJR000000001000000000003", moves.id),
		fmt.Sprintf("%d:queued>executed:01KJR000000001000000000007", newer.id),
		fmt.Sprintf("%d:queued>mystery_status:01KJR000000001000000000009", unknown.id),
	}
	slices.Sort(want)
	equal(t, fmt.Sprint(want), fmt.Sprint(got), "moves made")
	var rows []string
	must(t, f.db.Select(&rows, `SELECT j.id || ':' || j.status || ':' || j.status_unknown || ':' || j.last_event_id || ':' ||
		COALESCE((SELECT string_agg(h.status_from || '>' || h.status_to || ':' || h.source || ':' || h.event_id || ':' ||
			to_char(h.at AT TIME ZONE 'UTC', 'HH24:MI'), ',') FROM journal_history h WHERE h.journal_id = j.id), '')
		FROM journals j WHERE j.id = ANY($1) ORDER BY j.id`, pq.Array([]int64{moves.id, froms.id, tos.id, newer.id, back.id, unknown.id})))
	equal(t, fmt.Sprint([]string{
		fmt.Sprintf("%d:pending:false:01KJR000000001000000000003:queued>pending:sse:01KJR000000001000000000003:21:59", moves.id),
		fmt.Sprintf("%d:queued:false:01KJR000000001000000000005:", froms.id),
		fmt.Sprintf("%d:pending:false::", tos.id),
		fmt.Sprintf("%d:executed:false:01KJR000000001000000000007:queued>executed:sse:01KJR000000001000000000007:21:59", newer.id),
		fmt.Sprintf("%d:executed:false::", back.id),
		fmt.Sprintf("%d:mystery_status:true:01KJR000000001000000000009:queued>mystery_status:sse:01KJR000000001000000000009:21:59", unknown.id),
	}), fmt.Sprint(rows), "journals and history")
}

func TestBatchTransitions(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	for i, from := range batchStatuses {
		for k, to := range batchStatuses {
			id := f.batch(t, from)
			err := store.MoveBatch(ctx, f.db, id, to, store.BatchMove{}, now)
			var got string
			must(t, f.db.Get(&got, `SELECT status FROM batches WHERE id = $1`, id))
			if allowed(batchAllowed, i, k) {
				must(t, err)
				equal(t, to, got, "%s -> %s", from, to)
			} else {
				if err == nil {
					t.Fatalf("%s -> %s: moved", from, to)
				}
				equal(t, from, got, "%s -> %s", from, to)
			}
		}
	}
}

func TestRunTransitions(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	day := now
	for i, from := range runStatuses {
		for k, to := range runStatuses {
			day = day.AddDate(0, 0, 1)
			id := f.run(t, day.Format(time.DateOnly), from)
			moved, err := store.MoveRun(ctx, f.db, id, to, []byte(`{}`), now)
			must(t, err)
			var got string
			must(t, f.db.Get(&got, `SELECT status FROM runs WHERE id = $1`, id))
			want := allowed(runAllowed, i, k)
			equal(t, want, moved, "%s -> %s", from, to)
			if want {
				equal(t, to, got, "%s -> %s", from, to)
			} else {
				equal(t, from, got, "%s -> %s", from, to)
			}
		}
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func equal[T comparable](t *testing.T, want, got T, format string, args ...any) {
	t.Helper()
	if want != got {
		t.Fatalf("%s: got %v, want %v", fmt.Sprintf(format, args...), got, want)
	}
}

// TestJournalStatusMovesStayHOT: a journal's answer (Alpaca's id, status and message) and every
// status change after it are HOT updates: no index of journals names a column they change (Alpaca's
// id is found through journal_answers), so PostgreSQL writes the new row version beside the old one
// and touches no index of journals.
func TestJournalStatusMovesStayHOT(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	id := f.journal(t, "planned")
	tx, err := f.db.BeginTxx(ctx, nil)
	must(t, err)
	defer tx.Rollback()
	alpacaID := "0d1c6c3e-2f4f-4f3e-9d7c-3b0b6c3f8a07"
	must(t, store.AnswerJournals(ctx, tx, []store.JournalMove{{ID: id, To: "queued", AlpacaID: alpacaID}}, "test", now))
	for _, to := range []string{"pending", "sent_to_clearing", "executed"} {
		moved, err := store.MoveJournals(ctx, tx, []store.JournalMove{{ID: id, To: to}}, "test", now)
		must(t, err)
		equal(t, 1, len(moved), "moved to %s", to)
	}
	var updated, hot int
	must(t, tx.QueryRow(`SELECT pg_stat_get_xact_tuples_updated('journals'::regclass),
		pg_stat_get_xact_tuples_hot_updated('journals'::regclass)`).Scan(&updated, &hot))
	equal(t, 4, updated, "updates")
	equal(t, 4, hot, "HOT updates of the 4")
	js, err := store.JournalsOfEvents(ctx, tx, []string{alpacaID})
	must(t, err)
	equal(t, 1, len(js), "journals found by Alpaca's id")
	equal(t, id, js[0].ID, "journal found by Alpaca's id")
}

// TestAnswerStaysHOTOnFullPages: journals written as plan writes them (a whole night at once, every
// page filled up to the fillfactor) leave room on each page for Alpaca's answer: the answer of
// every journal of a batch is a HOT update, none moves its row to another page and writes an
// entry in every index. The rows are shaped as a night's: a description, references and an
// account of a generated night's lengths.
func TestAnswerStaysHOTOnFullPages(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	const n = 500 // one batch
	batch := f.batch(t, "sending")
	must(t, f.db.Get(new(int), `WITH a AS (
			INSERT INTO allocations (file_id, line, receipt_id, account_id, amount, client_ref, description)
			SELECT $1, g, 'W' || lpad((g / 10)::text, 8, '0'), gen_random_uuid(), 1234.56,
			       'C' || lpad((g / 10)::text, 8, '0') || '-' || lpad((g % 10)::text, 2, '0'), 'Payroll funding W00000001'
			FROM generate_series(1, $2) g RETURNING id, receipt_id, client_ref, account_id, amount, description
		)
		INSERT INTO journals (run_id, batch_id, journal_key, allocation_id, receipt_id, client_ref, to_account, amount,
			description, status, updated_at)
		SELECT $3, $4, gen_random_uuid(), id, receipt_id, client_ref, account_id, amount, description, 'planned', $5
		FROM a ORDER BY id RETURNING 1`, f.file, n, f.runID, batch, now))
	var ids []int64
	must(t, f.db.Select(&ids, `SELECT id FROM journals WHERE batch_id = $1 ORDER BY id`, batch))
	equal(t, n, len(ids), "journals written")
	moves := make([]store.JournalMove, n)
	for i, id := range ids {
		moves[i] = store.JournalMove{ID: id, To: "queued", AlpacaID: fmt.Sprintf("0d1c6c3e-2f4f-4f3e-9d7c-%012d", i)}
	}
	tx, err := f.db.BeginTxx(ctx, nil)
	must(t, err)
	defer tx.Rollback()
	must(t, store.AnswerJournals(ctx, tx, moves, "submit", now))
	var updated, hot int
	must(t, tx.QueryRow(`SELECT pg_stat_get_xact_tuples_updated('journals'::regclass),
		pg_stat_get_xact_tuples_hot_updated('journals'::regclass)`).Scan(&updated, &hot))
	equal(t, n, updated, "answers stored")
	equal(t, n, hot, "HOT updates of the answers")
}

// TestBatchesToSendCarryNoBody: listing a night's batches to send reads no body (at a million
// journals the bodies together are most of a gigabyte); each body is read when its batch is sent,
// byte for byte as stored.
func TestBatchesToSendCarryNoBody(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	body := []byte(`{"entry_type":"JNLC","entries":[]}`)
	id, err := store.InsertBatch(ctx, f.db, f.runID, store.EntryJNLC, "0001", "0d1c6c3e-2f4f-4f3e-9d7c-3b0b6c3f8a09", body, 0)
	must(t, err)
	bs, err := store.BatchesToSendOf(ctx, f.db, f.runID)
	must(t, err)
	equal(t, 1, len(bs), "batches to send")
	equal(t, 0, len(bs[0].Body), "body bytes listed")
	got, err := store.BatchBody(ctx, f.db, id)
	must(t, err)
	equal(t, string(body), string(got), "body read for the send")
}

// TestAnswerOnlyForJournalsWaiting: Alpaca's answer is stored only for planned journals; a
// journal already answered is not moved by a second answer (its later changes come from the
// stream and heal passes, under their row locks), and nothing of that answer is stored.
func TestAnswerOnlyForJournalsWaiting(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	planned, queued := f.journal(t, "planned"), f.journal(t, "queued")
	// As submit does: the answer and its batch's move in one transaction, rolled back on an error.
	tx, err := f.db.BeginTxx(ctx, nil)
	must(t, err)
	err = store.AnswerJournals(ctx, tx, []store.JournalMove{
		{ID: planned, To: "queued", AlpacaID: "0d1c6c3e-2f4f-4f3e-9d7c-3b0b6c3f8a11"},
		{ID: queued, To: "executed", AlpacaID: "0d1c6c3e-2f4f-4f3e-9d7c-3b0b6c3f8a12"},
	}, "test", now)
	must(t, tx.Rollback())
	if err == nil {
		t.Fatal("an answer for a journal no longer planned was stored")
	}
	var statuses []string
	must(t, f.db.Select(&statuses, `SELECT status FROM journals WHERE id IN ($1, $2) ORDER BY id`, planned, queued))
	equal(t, "planned queued", strings.Join(statuses, " "), "statuses after the refused answer")
	var answers int
	must(t, f.db.Get(&answers, `SELECT count(*) FROM journal_answers`))
	equal(t, 0, answers, "answers stored")
	must(t, store.AnswerJournals(ctx, f.db, []store.JournalMove{{ID: planned, To: "queued", AlpacaID: "0d1c6c3e-2f4f-4f3e-9d7c-3b0b6c3f8a11"}}, "test", now))
	must(t, f.db.Select(&statuses, `SELECT status FROM journals WHERE id = $1`, planned))
	equal(t, "queued", strings.Join(statuses, " "), "status after the answer")
}

// TestAnswerHistory: Alpaca taking a journal (an answer of queued) writes no history row, as
// planning writes none (the journal holds its Alpaca id, its batch when Alpaca answered); an
// answer of any other status is a change the history keeps, with the answer's time.
func TestAnswerHistory(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	at := now.Add(-time.Minute)
	ids := []int64{f.journal(t, "planned"), f.journal(t, "planned"), f.journal(t, "planned")}
	must(t, store.AnswerJournals(ctx, f.db, []store.JournalMove{
		{ID: ids[0], To: "queued", AlpacaID: "0d1c6c3e-2f4f-4f3e-9d7c-3b0b6c3f8a21", At: at},
		{ID: ids[1], To: "rejected", AlpacaID: "0d1c6c3e-2f4f-4f3e-9d7c-3b0b6c3f8a22", At: at, Message: "no"},
		{ID: ids[2], To: "executed", AlpacaID: "0d1c6c3e-2f4f-4f3e-9d7c-3b0b6c3f8a23", At: at},
	}, "submit", now))
	var history []string
	must(t, f.db.Select(&history, `SELECT status_from || '>' || status_to || ':' || source FROM journal_history
		WHERE journal_id = ANY($1::bigint[]) AND at = $2 ORDER BY journal_id`, pq.Array(ids), at))
	equal(t, "[planned>rejected:submit planned>executed:submit]", fmt.Sprint(history), "history of the answers")
	var statuses []string
	must(t, f.db.Select(&statuses, `SELECT status FROM journals WHERE id = ANY($1::bigint[]) ORDER BY id`, pq.Array(ids)))
	equal(t, "[queued rejected executed]", fmt.Sprint(statuses), "statuses")
}

// TestReportWatermarkIsItsRunsHistory: a finished report's watermark (runs.reported_history_id) is
// the last history row of its own run's journals, read by their key, not the last row of every
// night's history; a run whose journals have no history row has 0.
func TestReportWatermarkIsItsRunsHistory(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	a, b, empty := f.run(t, "2026-11-18", "tracked"), f.run(t, "2026-11-19", "tracked"), f.run(t, "2026-11-17", "tracked")
	f.runID = a
	ja := f.journal(t, "pending")
	f.runID = b
	jb := f.journal(t, "pending")
	for _, id := range []int64{ja, jb} {
		moved, err := store.MoveJournals(ctx, f.db, []store.JournalMove{{ID: id, To: "executed"}}, "test", now)
		must(t, err)
		equal(t, 1, len(moved), "journal %d moved", id)
	}
	var want int64
	must(t, f.db.Get(&want, `SELECT id FROM journal_history WHERE journal_id = $1`, ja))
	for run, w := range map[int64]int64{a: want, empty: 0} {
		ok, err := store.MoveRun(ctx, f.db, run, "reconciled", []byte(`{}`), now)
		must(t, err)
		equal(t, true, ok, "run %d reconciled", run)
		var got int64
		must(t, f.db.Get(&got, `SELECT reported_history_id FROM runs WHERE id = $1`, run))
		equal(t, w, got, "run %d's watermark", run)
	}
}

// nightBody is a batch body of a night's 500 entries (~128 KB), with text a UTF-8 body
// may hold: operator descriptions in several scripts and escapes JSON writes for control bytes.
func nightBody() []byte {
	var b strings.Builder
	b.WriteString(`{"entry_type":"JNLC","from_account":"8f8c8cee-2591-4f83-be12-82c659b5e748","entries":[`)
	for i := range 500 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"to_account":"c0000000-0000-4000-8000-%012d","amount":"%d.%02d","description":"loyer €%d — 家賃 \u0000\t\"%d\" 🏦 cp:8f8c8cee-2591-8f83-be12-%012d","transmitter_name":"Originator %d","transmitter_timestamp":"2026-12-01T00:00:00Z"}`,
			i%30, 10+i, i%100, i, i, i, i)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// A batch's body comes back byte for byte as it was stored, whatever its text.
func TestBatchBodyComesBackByteForByte(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	body := nightBody()
	id, err := store.InsertBatch(ctx, f.db, f.runID, store.EntryJNLC, "0001", "0d1c6c3e-2f4f-4f3e-9d7c-3b0b6c3f8a09", body, 500)
	must(t, err)
	got, err := store.BatchBody(ctx, f.db, id)
	must(t, err)
	if !bytes.Equal(got, body) {
		t.Fatalf("body of %d bytes came back as %d bytes, not the same", len(body), len(got))
	}
	var stored []byte
	must(t, f.db.Get(&stored, `SELECT body FROM batches WHERE id = $1`, id))
	if !bytes.Equal(stored, body) {
		t.Fatal("the stored bytea is not the body")
	}
}

// Bodies stored together are stored byte for byte whatever their bytes, and a batch's body (valid
// UTF-8 without NUL) comes back so.
func TestInsertBatchesKeepsEveryBodyByteForByte(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	bodies := map[string][]byte{
		"ascii":          []byte(`{"entries":[{"amount":"1.00","description":"rent \u00e9 \"x\""}]}`),
		"utf-8":          nightBody(),
		"invalid utf-8":  []byte("{\"description\":\"caf\xe9 \xff\xfe \xc3\"}"),
		"nul byte":       []byte("{\"description\":\"a\x00b\"}"),
		"surrogate":      []byte("{\"d\":\"\xed\xa0\x80\"}"),
		"backslashes":    []byte(`\\x00 \x41 E'\\' $1 '' "`),
		"empty":          {},
		"trailing space": []byte("{} \r\n\t "),
	}
	// The bodies a batch can have (json.Marshal writes valid UTF-8 and escapes NUL), which
	// BatchBody reads back.
	textual := map[string]bool{"ascii": true, "utf-8": true, "backslashes": true, "empty": true, "trailing space": true}
	names := slices.Sorted(maps.Keys(bodies))
	ids, err := store.ReserveBatchIDs(ctx, f.db, len(names))
	must(t, err)
	var bs []store.NewBatch
	for i, name := range names {
		bs = append(bs, store.NewBatch{ID: ids[i], Seq: fmt.Sprintf("%04d", i+1), Key: fmt.Sprintf("0d1c6c3e-2f4f-4f3e-9d7c-3b0b6c3f8a%02d", i), Body: bodies[name], Entries: 1})
	}
	tx, err := f.db.BeginTxx(ctx, nil)
	must(t, err)
	must(t, store.InsertBatches(ctx, tx, f.runID, store.EntryJNLC, bs))
	must(t, tx.Commit())
	for i, name := range names {
		var stored []byte
		must(t, f.db.Get(&stored, `SELECT body FROM batches WHERE id = $1`, ids[i]))
		if !bytes.Equal(stored, bodies[name]) {
			t.Errorf("%s body of %d bytes is stored as %q", name, len(bodies[name]), stored[:min(len(stored), 80)])
		}
		if !textual[name] {
			continue
		}
		got, err := store.BatchBody(ctx, f.db, ids[i])
		must(t, err)
		if !bytes.Equal(got, bodies[name]) {
			t.Errorf("%s body of %d bytes came back as %q", name, len(bodies[name]), got[:min(len(got), 80)])
		}
	}
}

// benchRun is a database with one planned run, for a benchmark's batches.
func benchRun(b *testing.B) (*sqlx.DB, int64) {
	db := schematest.DB(b)
	var runID int64
	must(b, db.Get(&runID, `INSERT INTO runs (business_date, sweep_account, status, planned_at)
		VALUES ('2026-11-20', '8f8c8cee-2591-4f83-be12-82c659b5e748', 'planned', $1) RETURNING id`, now))
	return db, runID
}

// BenchmarkInsertBatches stores sixteen night-sized bodies (~128 KB each) in one transaction, in
// statements of as many as plan puts in one (insertBatchesAtOnce).
func BenchmarkInsertBatches(b *testing.B) {
	db, runID := benchRun(b)
	ctx := context.Background()
	body := nightBody()
	b.SetBytes(int64(16 * len(body)))
	seq := 0
	for b.Loop() {
		ids, err := store.ReserveBatchIDs(ctx, db, 16)
		must(b, err)
		bs := make([]store.NewBatch, 16)
		for i := range bs {
			seq++
			bs[i] = store.NewBatch{ID: ids[i], Seq: fmt.Sprintf("%06d", seq), Key: fmt.Sprintf("0d1c6c3e-2f4f-4f3e-9d7c-%012d", seq), Body: body, Entries: 500}
		}
		tx, err := db.BeginTxx(ctx, nil)
		must(b, err)
		must(b, store.InsertBatches(ctx, tx, runID, store.EntryJNLC, bs))
		must(b, tx.Commit())
	}
}

// BenchmarkBatchBody reads a night-sized body (~128 KB), as submit does before each POST.
func BenchmarkBatchBody(b *testing.B) {
	db, runID := benchRun(b)
	ctx := context.Background()
	body := nightBody()
	id, err := store.InsertBatch(ctx, db, runID, store.EntryJNLC, "0001", "0d1c6c3e-2f4f-4f3e-9d7c-3b0b6c3f8a09", body, 500)
	must(b, err)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		got, err := store.BatchBody(ctx, db, id)
		if err != nil || len(got) != len(body) {
			b.Fatalf("%d bytes, %v", len(got), err)
		}
	}
}

// Only the run lock's current epoch frees the night's claims: a holder that lost the lock and
// resumes frees nothing of the claims its successor's senders hold.
func TestFreeClaimsOnlyUnderTheCurrentEpoch(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	id := f.batch(t, "sending")
	must(t, f.db.Get(new(int), `INSERT INTO run_fences (name, epoch, taken_at) VALUES ('run:x', 2, $1) RETURNING epoch`, now))
	_, err := f.db.Exec(`UPDATE batches SET claimed_by = 'b', claimed_until = $2 WHERE id = $1`, id, now.Add(time.Minute))
	must(t, err)
	claimed := func() string {
		var by string
		must(t, f.db.Get(&by, `SELECT COALESCE(claimed_by, '') FROM batches WHERE id = $1`, id))
		return by
	}
	must(t, store.FreeClaims(ctx, f.db, f.runID, "run:x", 1))
	equal(t, "b", claimed(), "claim after a stale epoch's free")
	must(t, store.FreeClaims(ctx, f.db, f.runID, "run:x", 2))
	equal(t, "", claimed(), "claim after the current epoch's free")
}

// TestMoveByEventsByKey: an event whose description carries a journal key finds its journal by that
// key, and moves it only if the journal also carries the event's Alpaca id; an event without one
// finds its journal by the Alpaca id. A token naming another journal (a replacement Alpaca made by
// correcting one of ours carries its token under another id), or a journal Alpaca has not answered
// yet, moves nothing: the caller judges those events against the journals as read.
func TestMoveByEventsByKey(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	keyOf := func(id int64) string {
		var k string
		must(t, f.db.Get(&k, `SELECT journal_key::text FROM journals WHERE id = $1`, id))
		return k
	}
	byKey, byID, otherToken, tokenOf := f.answered(t, "queued", ""), f.answered(t, "queued", ""), f.answered(t, "queued", ""), f.answered(t, "queued", "")
	replaced, unanswered, ofUnanswered := f.answered(t, "queued", ""), f.journal(t, "planned"), f.answered(t, "queued", "")
	at := now.Add(-time.Minute)
	ev := func(alpacaID, key, id string) store.EventMove {
		return store.EventMove{AlpacaID: alpacaID, Key: key, From: "queued", To: "sent_to_clearing", At: at, EventID: "01KJR0000000010000000000" + id}
	}
	moved, err := store.MoveByEvents(ctx, f.db, []store.EventMove{
		ev(byKey.alpaca, keyOf(byKey.id), "01"),
		ev(byID.alpaca, "", "02"),
		ev(otherToken.alpaca, keyOf(tokenOf.id), "03"),
		ev("0d1c6c3e-2f4f-4f3e-9d7c-3b0b6c3f8aff", keyOf(replaced.id), "04"), // Alpaca's replacement of replaced
		ev(ofUnanswered.alpaca, keyOf(unanswered), "05"),
	}, "sse", now)
	must(t, err)
	var got []string
	for _, m := range moved {
		got = append(got, fmt.Sprintf("%d:%s", m.ID, m.EventID))
	}
	slices.Sort(got)
	want := []string{fmt.Sprintf("%d:01KJR000000001000000000001", byKey.id), fmt.Sprintf("%d:01KJR000000001000000000002", byID.id)}
	slices.Sort(want)
	equal(t, fmt.Sprint(want), fmt.Sprint(got), "moves made")
	var statuses []string
	must(t, f.db.Select(&statuses, `SELECT id || ':' || status || ':' || last_event_id || ':' || (SELECT count(*) FROM journal_history h WHERE h.journal_id = j.id)
		FROM journals j WHERE id = ANY($1) ORDER BY id`,
		pq.Array([]int64{byKey.id, byID.id, otherToken.id, tokenOf.id, replaced.id, unanswered, ofUnanswered.id})))
	equal(t, fmt.Sprint([]string{
		fmt.Sprintf("%d:sent_to_clearing:01KJR000000001000000000001:1", byKey.id),
		fmt.Sprintf("%d:sent_to_clearing:01KJR000000001000000000002:1", byID.id),
		fmt.Sprintf("%d:queued::0", otherToken.id),
		fmt.Sprintf("%d:queued::0", tokenOf.id),
		fmt.Sprintf("%d:queued::0", replaced.id),
		fmt.Sprintf("%d:planned::0", unanswered),
		fmt.Sprintf("%d:queued::0", ofUnanswered.id),
	}), fmt.Sprint(statuses), "journals")
	if _, err := store.MoveByEvents(ctx, f.db, []store.EventMove{ev(byID.alpaca, "not-a-key", "06")}, "sse", now); err == nil {
		t.Fatal("a key that is not a UUID went to the statement")
	}
}

// TestMoveByEventsOverSeveralStatements applies more events than one statement takes, in no
// order, in one transaction: every journal whose event names its status moves once, with one
// history row, whichever statement its event fell in; every seventh event names a status its
// journal does not hold and moves nothing. The rule is the oracle, not the function.
func TestMoveByEventsOverSeveralStatements(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	const n = 1234 // more than two statements' worth
	type journal struct {
		ID       int64  `db:"id"`
		Key      string `db:"journal_key"`
		AlpacaID string `db:"alpaca_id"`
	}
	var js []journal
	must(t, f.db.Select(&js, `
		WITH a AS (
			INSERT INTO allocations (file_id, line, receipt_id, account_id, amount, client_ref, description)
			SELECT $1, 1000 + g, 'W1', gen_random_uuid(), 10, 'many' || g, '' FROM generate_series(1, $3) AS g RETURNING id, client_ref
		), j AS (
			INSERT INTO journals (run_id, journal_key, allocation_id, receipt_id, client_ref, to_account, amount, description,
				status, updated_at, alpaca_id)
			SELECT $2, gen_random_uuid(), a.id, 'W1', a.client_ref, gen_random_uuid(), 10, '', 'queued', $4, gen_random_uuid() FROM a
			RETURNING id, journal_key, alpaca_id
		), ans AS (
			INSERT INTO journal_answers (alpaca_id, journal_id) SELECT alpaca_id, id FROM j
		)
		SELECT id, journal_key::text AS journal_key, alpaca_id::text AS alpaca_id FROM j ORDER BY id`, f.file, f.runID, n, now))
	equal(t, n, len(js), "journals written")
	evs := make([]store.EventMove, n)
	want := map[string]int64{} // event id -> journal it moves
	for i, j := range js {
		from, key := "queued", ""
		if i%7 == 0 {
			from = "pending" // the journal holds queued: refused
		}
		if i%2 == 0 {
			key = j.Key // half found by key, half through their Alpaca id
		}
		id := fmt.Sprintf("01KJR%021d", i+1)
		evs[i] = store.EventMove{AlpacaID: j.AlpacaID, Key: key, From: from, To: "sent_to_clearing", At: now, EventID: id}
		if i%7 != 0 {
			want[id] = j.ID
		}
	}
	rand := slices.Clone(evs)
	for i := range rand { // a fixed shuffle: the events come in no order of key or id
		k := (i * 7919) % len(rand)
		rand[i], rand[k] = rand[k], rand[i]
	}
	tx, err := f.db.BeginTxx(ctx, nil)
	must(t, err)
	defer tx.Rollback()
	moved, err := store.MoveByEvents(ctx, tx, rand, "sse", now)
	must(t, err)
	must(t, tx.Commit())
	got := map[string]int64{}
	for _, m := range moved {
		if _, dup := got[m.EventID]; dup {
			t.Fatalf("event %s returned twice", m.EventID)
		}
		got[m.EventID] = m.ID
	}
	equal(t, fmt.Sprint(want), fmt.Sprint(got), "moves made")
	var counts struct {
		Moved   int `db:"moved"`
		History int `db:"history"`
		Once    int `db:"once"`
	}
	must(t, f.db.Get(&counts, `SELECT
		(SELECT count(*) FROM journals WHERE id = ANY($1) AND status = 'sent_to_clearing') AS moved,
		(SELECT count(*) FROM journal_history WHERE journal_id = ANY($1)) AS history,
		(SELECT count(DISTINCT journal_id) FROM journal_history WHERE journal_id = ANY($1) AND event_id IS NOT NULL) AS once`,
		pq.Array(slices.Collect(maps.Values(got)))))
	equal(t, len(want), counts.Moved, "journals moved")
	equal(t, len(want), counts.History, "history rows")
	equal(t, len(want), counts.Once, "journals with a history row")
}

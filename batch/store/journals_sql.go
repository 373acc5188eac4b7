package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lib/pq"
	"github.com/shopspring/decimal"
)

// Every statement against journals and their append-only journal_history (schema: migrations
// 00001, 00011, 00017, 00018, 00029). Steps write and read journals only through these
// (reports and the console read across tables in their own files).

// CopyJournalsSQL writes new journal intents with COPY, in the order of its columns; plan writes a
// night's journals with it and redrive new attempts. They are written planned; the journal row is
// the record of its planning, and its history holds every change after it (a new attempt's first
// row, JournalsRedriven, says who redrove it and why).
const CopyJournalsSQL = `COPY journals (run_id, batch_id, journal_key, allocation_id, attempt,
		receipt_id, client_ref, to_account, amount, description, expected_pending, status, updated_at) FROM STDIN`

// CopyRewardJournalsSQL writes new JNLS journal intents (one reward each) with COPY, in the order
// of its columns; plan writes a night's rewards with it. A journal plan refuses before any money
// moves (a reward to the rewards or sweep account itself) is written refused, with no batch and
// its reason as error_message; the others planned, each with the batch that is its one POST.
const CopyRewardJournalsSQL = `COPY journals (run_id, batch_id, journal_key, entry_type, reward_id, symbol, qty, attempt,
		to_account, description, error_message, status, updated_at) FROM STDIN`

// queryMoveJournals writes journals.status after the answer (queryAnswerJournals writes the
// answer). The rows are locked in id order first, so the history's status_from is the status the
// guard judged; %[1]s is the guard (journalGuardSQL).
const queryMoveJournals = `
WITH v AS (
	SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::timestamptz[], $5::text[])
	  AS v(id, status_to, seen, at, event_id)
), o AS (
	SELECT j.id, j.status FROM journals j JOIN v ON v.id = j.id ORDER BY j.id FOR UPDATE OF j
), u AS (
	UPDATE journals j SET status = v.status_to, status_unknown = NOT (v.status_to = ANY($6::text[])), updated_at = $7,
		last_event_id = greatest(j.last_event_id, v.event_id COLLATE "C")
	FROM v, o
	WHERE j.id = v.id AND o.id = v.id AND (v.seen = '' OR o.status = v.seen) AND %[1]s
	RETURNING j.id, j.run_id, o.status AS status_from, v.status_to, v.at, v.event_id, j.amount
), h AS (
	INSERT INTO journal_history (journal_id, status_from, status_to, source, at, event_id)
	SELECT id, status_from, status_to, $8, at, NULLIF(event_id, '') FROM u ORDER BY id
)
SELECT id, run_id, status_from, status_to, amount FROM u`

// queryMoveSeenJournals is queryMoveJournals without the row locks, for moves that all carry the
// status the caller read: a journal moves only if its row still holds it when the update reaches
// it (PostgreSQL judges the WHERE again on a row changed meanwhile), so that status is the
// history's status_from. %[1]s is the guard (journalGuardSQL).
const queryMoveSeenJournals = `
WITH v AS (
	SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::timestamptz[], $5::text[])
	  AS v(id, status_to, seen, at, event_id)
), u AS (
	UPDATE journals j SET status = v.status_to, status_unknown = NOT (v.status_to = ANY($6::text[])), updated_at = $7,
		last_event_id = greatest(j.last_event_id, v.event_id COLLATE "C")
	FROM v
	WHERE j.id = v.id AND j.status = v.seen AND %[1]s
	RETURNING j.id, j.run_id, v.seen AS status_from, v.status_to, v.at, v.event_id, j.amount
), h AS (
	INSERT INTO journal_history (journal_id, status_from, status_to, source, at, event_id)
	SELECT id, status_from, status_to, $8, at, NULLIF(event_id, '') FROM u ORDER BY id
)
SELECT id, run_id, status_from, status_to, amount FROM u`

// queryMoveByEvents applies stream events to the journals they name, in one statement and without
// reading the journals first: an event moves its journal only when the journal still holds the
// event's status_from, the event is newer than the journal's newest seen, and the guard (%[1]s,
// journalGuardSQL) allows the move. It returns the moves made with their events; an event it
// leaves out is judged by the caller against the journal as read. Each event's time comes as
// microseconds since the Unix epoch ($4, PostgreSQL's own resolution): reading a thousand
// timestamps as text took the server about a millisecond a statement, and the client a third of
// one to write them.
//
// The journals are gathered first as an array of ids (not a join), so each side is read by its
// index whatever the planner believes of a table filled moments ago. An event whose description
// ends with one of our key tokens ($9: the key, or empty) finds its candidate journal by that key:
// a night's keys are in allocation order, so one statement's lookups fall on a few neighbouring
// pages of the keys' index, where lookups by Alpaca's random ids in journal_answers fall on a
// different page of a large index each (measured alone on a durable server, 1M journals of the
// night's shape, 1,000 moves a statement: 21 ms against 33 ms a statement). The key is only a
// hint: the journal moves only if it also carries the event's Alpaca id (a replacement Alpaca
// made by correcting one of our journals carries that journal's token under another id). An
// event without a token is found through journal_answers, as before.
const queryMoveByEvents = `
WITH v AS (
	SELECT v.alpaca_id, NULLIF(v.key, '')::uuid AS key, v.status_from, v.status_to,
	       timestamptz 'epoch' + v.at_us * interval '1 microsecond' AS at, v.event_id
	FROM unnest($1::uuid[], $9::text[], $2::text[], $3::text[], $4::bigint[], $5::text[])
	  AS v(alpaca_id, key, status_from, status_to, at_us, event_id)
), u AS (
	UPDATE journals j SET status = v.status_to, status_unknown = NOT (v.status_to = ANY($6::text[])), updated_at = $7,
		last_event_id = v.event_id
	FROM v
	WHERE j.id = ANY(ARRAY(
	        SELECT k.id FROM journals k WHERE k.journal_key = ANY(ARRAY(SELECT key FROM v WHERE key IS NOT NULL))
	        UNION ALL
	        SELECT a.journal_id FROM journal_answers a WHERE a.alpaca_id = ANY(ARRAY(SELECT alpaca_id FROM v WHERE key IS NULL))))
	  AND j.alpaca_id = v.alpaca_id AND j.status = v.status_from AND j.last_event_id < v.event_id COLLATE "C" AND %[1]s
	RETURNING j.id, j.run_id, v.status_from, v.status_to, v.at, v.event_id, j.amount
), h AS (
	INSERT INTO journal_history (journal_id, status_from, status_to, source, at, event_id)
	SELECT id, status_from, status_to, $8, at, event_id FROM u ORDER BY id
)
SELECT id, run_id, status_from, status_to, amount, event_id FROM u`

// queryAnswerJournals stores Alpaca's answer for journals waiting for it: planned, and found by no
// tracker until their Alpaca id is in journal_answers, so the status judged is the one the
// update's own WHERE reads again (no row lock first; a lock is a WAL record of its own per
// journal). %[1]s is the guard (journalGuardSQL) from planned. Each Alpaca id goes into
// journal_answers once, with its journal (the primary key refuses an id given to two journals).
// An answer of queued (%[2]s), Alpaca taking the journal, writes no history row: the journal
// carries its Alpaca id and the batch row when Alpaca answered; any other answer is a change to keep.
const queryAnswerJournals = `
WITH v AS (
	SELECT * FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::text[], $5::text[])
	  AS v(id, status_to, at, alpaca_id, msg)
), u AS (
	UPDATE journals j SET alpaca_id = NULLIF(v.alpaca_id, '')::uuid, error_message = v.msg, status = v.status_to,
		status_unknown = NOT (v.status_to = ANY($6::text[])), updated_at = $7
	FROM v
	WHERE j.id = v.id AND j.status = $8 AND %[1]s
	RETURNING j.id, v.status_to, v.at, v.alpaca_id
), h AS (
	INSERT INTO journal_history (journal_id, status_from, status_to, source, at)
	SELECT id, $8, status_to, $9, at FROM u WHERE status_to <> %[2]s ORDER BY id
), a AS (
	INSERT INTO journal_answers (alpaca_id, journal_id)
	SELECT alpaca_id::uuid, id FROM u WHERE alpaca_id <> '' ORDER BY id
)
SELECT count(*) FROM u`

// queryAnswerBatch stores Alpaca's answer to batch $7 as queryAnswerJournals does, in one statement
// that also finds each answered journal by its key among the batch's journals and checks it
// against the journal's account and amount (the intent the batch's body was written from). It
// stores nothing when an entry is not a planned journal of the batch or disagrees with it: it
// then returns the first such entry (n, 1-based) and what is wrong (what: key, account, amount or
// status). %[1]s is the guard (journalGuardSQL) from planned, %[2]s the literal queued.
const queryAnswerBatch = `
WITH v AS (
	SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
	  WITH ORDINALITY AS v(key, status_to, alpaca_id, msg, to_account, amount, n)
), m AS (
	SELECT v.*, j.id, j.status, j.to_account::text AS want_account, j.amount AS want_amount
	FROM v LEFT JOIN journals j
	  ON j.run_id = (SELECT run_id FROM batches WHERE id = $7) AND j.batch_id = $7 AND j.journal_key = v.key
), bad AS (
	SELECT n, CASE WHEN id IS NULL THEN 'key'
	               WHEN to_account <> '' AND lower(to_account) <> want_account THEN 'account'
	               WHEN amount <> '' AND amount::numeric <> want_amount THEN 'amount'
	               ELSE 'status' END AS what,
	       COALESCE(want_account, '') AS want_account, COALESCE(want_amount::text, '') AS want_amount
	FROM m
	WHERE id IS NULL OR (to_account <> '' AND lower(to_account) <> want_account)
	   OR (amount <> '' AND amount::numeric <> want_amount) OR status <> $10 OR NOT %[1]s
	ORDER BY n LIMIT 1
), u AS (
	UPDATE journals j SET alpaca_id = NULLIF(m.alpaca_id, '')::uuid, error_message = m.msg, status = m.status_to,
		status_unknown = NOT (m.status_to = ANY($8::text[])), updated_at = $9
	FROM m
	WHERE NOT EXISTS (SELECT FROM bad) AND j.id = m.id AND j.status = $10
	RETURNING j.id, m.status_to, m.alpaca_id
), h AS (
	INSERT INTO journal_history (journal_id, status_from, status_to, source, at)
	SELECT id, $10, status_to, $11, $9 FROM u WHERE status_to <> %[2]s ORDER BY id
), a AS (
	INSERT INTO journal_answers (alpaca_id, journal_id)
	SELECT alpaca_id::uuid, id FROM u WHERE alpaca_id <> '' ORDER BY id
)
SELECT (SELECT count(*) FROM u) AS stored,
       (SELECT count(*) FROM journals WHERE run_id = (SELECT run_id FROM batches WHERE id = $7) AND batch_id = $7) AS journals,
       COALESCE(bad.n, 0) AS n, COALESCE(bad.what, '') AS what,
       COALESCE(bad.want_account, '') AS want_account, COALESCE(bad.want_amount, '') AS want_amount
FROM (SELECT) one LEFT JOIN bad ON true`

// NoteJournalEvents records the newest stream event seen that changed nothing (a move the guard
// refused in status seen): a later event not newer than it is not applied. One event id per
// journal; a journal no longer in the status its event was judged in is left alone. It returns
// how many journals took their event.
func NoteJournalEvents(ctx context.Context, q Querier, ids []int64, seen, eventIDs []string) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	res, err := q.ExecContext(ctx, `
		UPDATE journals j SET last_event_id = greatest(j.last_event_id, v.event_id COLLATE "C")
		FROM unnest($1::bigint[], $2::text[], $3::text[]) AS v(id, seen, event_id) WHERE j.id = v.id AND j.status = v.seen`,
		pq.Array(ids), pq.Array(seen), pq.Array(eventIDs))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// EventJournal is one of our journals a batch of stream events names, as the events are judged.
type EventJournal struct {
	ID        int64  `db:"id"`
	AlpacaID  string `db:"alpaca_id"`
	Status    string `db:"status"`
	LastEvent string `db:"last_event_id"`
}

// JournalsOfEvents reads, without locking them, the journals with the given Alpaca ids: which of
// them a batch of stream events may change is judged first, and only those are locked
// (LockEventJournals).
func JournalsOfEvents(ctx context.Context, q Querier, alpacaIDs []string) ([]*EventJournal, error) {
	var js []*EventJournal
	// The ids are gathered first (an array, not a join), so each side is read by its primary key
	// whatever the planner believes of a table filled moments ago.
	err := q.SelectContext(ctx, &js, `
		SELECT id, alpaca_id::text AS alpaca_id, status, last_event_id FROM journals
		WHERE id = ANY(ARRAY(SELECT a.journal_id FROM journal_answers a WHERE a.alpaca_id = ANY($1::uuid[])))`, pq.Array(alpacaIDs))
	return js, err
}

// LockEventJournals locks, in id order, the journals ids and reads them again, for the caller's
// transaction: a concurrent tracker or heal pass on them waits and then sees its moves.
func LockEventJournals(ctx context.Context, q Querier, ids []int64) ([]*EventJournal, error) {
	var js []*EventJournal
	err := q.SelectContext(ctx, &js, `
		SELECT id, alpaca_id::text AS alpaca_id, status, last_event_id FROM journals
		WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE`, pq.Array(ids))
	return js, err
}

// JournalsRedriven appends the first history row (” to planned, source redrive) of the new
// attempts written in batches batchIDs: who, why, and per allocation which attempt it replaces and
// what it corrects (detail).
func JournalsRedriven(ctx context.Context, q Querier, batchIDs, allocationIDs []int64, details []string, by, reason string, now time.Time) error {
	if _, err := q.ExecContext(ctx, `
		INSERT INTO journal_history (journal_id, status_from, status_to, source, at, actor, reason, detail)
		SELECT j.id, '', $7, 'redrive', $2, $3, $4, o.detail
		FROM journals j
		JOIN unnest($5::bigint[], $6::text[]) AS o(allocation_id, detail) ON o.allocation_id = j.allocation_id
		WHERE j.run_id IN (SELECT run_id FROM batches WHERE id = ANY($1::bigint[])) AND j.batch_id = ANY($1::bigint[])`,
		pq.Array(batchIDs), now, by, reason, pq.Array(allocationIDs), pq.Array(details), JournalPlanned); err != nil {
		return fmt.Errorf("journal history: %w", err)
	}
	return nil
}

// SetJournalsError stores msg as the error_message of the journals of batch batchID whose keys
// are given, and returns their ids.
func SetJournalsError(ctx context.Context, q Querier, batchID int64, keys []string, msg string) ([]int64, error) {
	var ids []int64
	err := q.SelectContext(ctx, &ids, `
				UPDATE journals SET error_message = $3
				WHERE run_id = (SELECT run_id FROM batches WHERE id = $1) AND batch_id = $1 AND journal_key = ANY($2::uuid[])
				RETURNING id`,
		batchID, pq.Array(keys), msg)
	return ids, err
}

// RebatchJournals moves the journals of batch from whose keys are given into batch to.
func RebatchJournals(ctx context.Context, q Querier, to, from int64, keys []string) error {
	_, err := q.ExecContext(ctx, `UPDATE journals SET batch_id = $1
		WHERE run_id = (SELECT run_id FROM batches WHERE id = $2) AND batch_id = $2 AND journal_key = ANY($3::uuid[])`,
		to, from, pq.Array(keys))
	return err
}

// LatestAttemptSQL keeps, as the report does, only the highest attempt of each allocation of
// journals j: an earlier attempt was redriven and is history, not money.
const LatestAttemptSQL = `NOT EXISTS (SELECT 1 FROM journals k WHERE k.allocation_id = j.allocation_id AND k.attempt > j.attempt)`

// JournalStatusCountsSQL counts the cash (JNLC) journals of run $1 by status, unknown status and
// whether a later attempt redrove them (columns status, status_unknown, redriven, n, amount),
// latest first; rewards move shares and are counted by the report per symbol.
const JournalStatusCountsSQL = `
		SELECT status, status_unknown, NOT (` + LatestAttemptSQL + `) AS redriven, count(*) AS n,
		       to_char(COALESCE(sum(amount), 0), 'FM999999999999990.00') AS amount
		FROM journals j WHERE run_id = $1 AND entry_type = 'JNLC' GROUP BY 1, 2, 3 ORDER BY 3, 1`

// HighestAttemptsSQL lists, for run $1, the highest attempt of each allocation (cash journals
// only: a reward is not redriven) with everything a new attempt copies, the transmitter from its
// receipt as plan took it (the value date at midnight UTC); the outer order is plan's, so new
// batches list entries as the first ones did.
const HighestAttemptsSQL = `
SELECT * FROM (
    SELECT DISTINCT ON (j.allocation_id)
           j.id, j.allocation_id, j.attempt, j.journal_key::text AS journal_key, j.receipt_id, j.client_ref,
           j.to_account::text AS to_account, j.amount, j.description,
           r.originator_name AS transmitter_name, r.originator_account AS transmitter_account_number,
           r.originator_address AS transmitter_address, r.originator_bank AS transmitter_financial_institution,
           r.value_date::timestamp AT TIME ZONE 'UTC' AS transmitter_timestamp, j.expected_pending,
           COALESCE(j.alpaca_id::text, '') AS alpaca_id, j.status, j.status_unknown, j.error_message
    FROM journals j
    JOIN receipts r ON r.receipt_id = j.receipt_id
    WHERE j.run_id = $1 AND j.entry_type = 'JNLC'
    ORDER BY j.allocation_id, j.attempt DESC
) h
ORDER BY h.receipt_id, h.client_ref`

// NamedJournalSQL finds the journal of run $1 whose key or Alpaca id is $2 (columns id,
// allocation_id, attempt, journal_key, status, entry_type, reward_id; a reward's allocation_id
// reads 0 and a cash journal's reward_id is empty).
const NamedJournalSQL = `
		SELECT id, COALESCE(allocation_id, 0) AS allocation_id, attempt, journal_key::text AS journal_key, status,
		       entry_type, COALESCE(reward_id, '') AS reward_id
		FROM journals WHERE run_id = $1 AND (journal_key = $2::uuid OR alpaca_id = $2::uuid)`

// JournalKeysOfBatch lists the journal keys of batch batchID.
func JournalKeysOfBatch(ctx context.Context, q Querier, batchID int64) ([]string, error) {
	var keys []string
	err := q.SelectContext(ctx, &keys, `SELECT journal_key::text FROM journals
		WHERE run_id = (SELECT run_id FROM batches WHERE id = $1) AND batch_id = $1`, batchID)
	return keys, err
}

// BatchJournal is a journal of a batch as its answer is matched: id, key and account.
type BatchJournal struct {
	ID        int64  `db:"id"`
	Key       string `db:"journal_key"`
	ToAccount string `db:"to_account"`
}

// JournalsOfBatch lists the journals of batch batchID in id order.
func JournalsOfBatch(ctx context.Context, q Querier, batchID int64) ([]BatchJournal, error) {
	var js []BatchJournal
	err := q.SelectContext(ctx, &js, `SELECT id, journal_key, to_account FROM journals
		WHERE run_id = (SELECT run_id FROM batches WHERE id = $1) AND batch_id = $1 ORDER BY id`, batchID)
	return js, err
}

// finalList is the SQL list of statuses after which a journal is done for its run; fundedList
// of the funded ones.
var (
	finalList  = SQLList(JournalsFinal)
	fundedList = SQLList(JournalsFunded)
)

// CountSentJournals counts the journals of run runID Alpaca knows, and of those the ones not
// final yet.
func CountSentJournals(ctx context.Context, q Querier, runID int64) (size, open int, err error) {
	err = q.QueryRowxContext(ctx, `
		SELECT count(*), count(*) FILTER (WHERE status NOT IN (`+finalList+`))
		FROM journals WHERE run_id = $1 AND alpaca_id IS NOT NULL`, runID).Scan(&size, &open)
	return size, open, err
}

// CountOpenJournals counts the journals of run runID Alpaca knows that are not final yet.
func CountOpenJournals(ctx context.Context, q Querier, runID int64) (int, error) {
	var n int
	err := q.GetContext(ctx, &n, `SELECT count(*) FROM journals WHERE run_id = $1 AND alpaca_id IS NOT NULL
		AND status NOT IN (`+finalList+`)`, runID)
	return n, err
}

// OpenJournalsSQL lists up to $3 journals of run $1 after id $2, in id order, that Alpaca knows
// and are not final yet (columns id, alpaca_id, status).
var OpenJournalsSQL = `
		SELECT id, alpaca_id::text AS alpaca_id, status FROM journals
		WHERE run_id = $1 AND id > $2 AND alpaca_id IS NOT NULL
		  AND status NOT IN (` + finalList + `)
		ORDER BY id LIMIT $3`

// JournalProgressSQL counts the journals of run $1 by where they stand (columns total, final,
// unsent, funded).
var JournalProgressSQL = `
		SELECT count(*) AS total,
		       count(*) FILTER (WHERE status IN (` + finalList + `)) AS final,
		       count(*) FILTER (WHERE alpaca_id IS NULL AND status NOT IN (` + finalList + `)) AS unsent,
		       COALESCE(sum(amount) FILTER (WHERE status IN (` + fundedList + `)), 0) AS funded
		FROM journals WHERE run_id = $1`

// queryPlannedProgress counts the journals of run $1 while none of its batches has left planned
// ($2): each batch's entries, and the journals plan wrote without a batch (refused before
// sending), of which the final ones. None is answered yet, so the rest are unsent and none is
// funded. No row once a batch of the run is marked sending (or later).
var queryPlannedProgress = `
		SELECT (SELECT COALESCE(sum(entries), 0) FROM batches WHERE run_id = $1) + count(*) AS total,
		       count(*) FILTER (WHERE status IN (` + finalList + `)) AS final
		FROM journals WHERE run_id = $1 AND batch_id IS NULL
		HAVING NOT EXISTS (SELECT 1 FROM batches WHERE run_id = $1 AND status <> $2)`

// PlannedProgress is where run runID's journals stand while nothing of it is sent yet (ok false
// once a batch is marked sending), read from its batches and its journals without one, not
// from all of its journals: total, final, and unsent (the others).
func PlannedProgress(ctx context.Context, q Querier, runID int64) (total, final int, ok bool, err error) {
	err = q.QueryRowxContext(ctx, queryPlannedProgress, runID, BatchPlanned).Scan(&total, &final)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, false, nil
	}
	return total, final, err == nil, err
}

// UnsentAmount is the sum of the journals of run runID that never left: their batch is still
// planned, never marked sending. A batch marked sending may already be at Alpaca with its cash
// taken; counting its journals again would hold a recovering night for money already paid.
func UnsentAmount(ctx context.Context, q Querier, runID int64) (decimal.Decimal, error) {
	var sum decimal.Decimal
	err := q.GetContext(ctx, &sum, `SELECT COALESCE(sum(j.amount), 0) FROM journals j JOIN batches b ON b.id = j.batch_id
		WHERE j.run_id = $1 AND j.status = $2 AND b.status = $3`, runID, JournalPlanned, BatchPlanned)
	return sum, err
}

// deleteJournalsOfNoRun deletes the journals written under the given run ids that name no run: a
// plan's, dead before its run committed (ClearDeadPlans). Never sent, they have no history or answer.
func deleteJournalsOfNoRun(ctx context.Context, q Querier, runIDs []int64) (int64, error) {
	res, err := q.ExecContext(ctx, `
		DELETE FROM journals j WHERE j.run_id = ANY($1::bigint[])
		  AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = j.run_id)`, pq.Array(runIDs))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

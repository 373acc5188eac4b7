package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lib/pq"

	"github.com/cashpool/cashpool/batch/prepared"
)

// Every statement against batches (schema: migrations 00001, 00030). Steps write and read batches
// only through these; jnlc builds a new batch's exact body and key.

// Batch entry types: a JNLC batch is one POST /v1/journals/batch of cash journals, a JNLS batch one
// POST /v1/journals of one securities journal (Alpaca's batch endpoint takes cash only).
const (
	EntryJNLC = "JNLC"
	EntryJNLS = "JNLS"
)

// InsertBatch stores one planned batch of entryType with its exact body and Idempotency-Key, in the
// caller's transaction, and returns its id.
func InsertBatch(ctx context.Context, q Querier, runID int64, entryType, seq, key string, body []byte, entries int) (int64, error) {
	var id int64
	err := q.QueryRowxContext(ctx, `
		INSERT INTO batches (run_id, seq, idempotency_key, body, entries, status, entry_type) VALUES ($1, $2, $3, $4, $5, $6, $7)
		RETURNING id`, runID, seq, key, body, entries, BatchPlanned, entryType).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("insert batch %s: %w", seq, err)
	}
	return id, nil
}

// ReserveBatchIDs takes n ids for batches to be inserted later with InsertBatches: plan streams a
// batch's journals, which carry its id, before the batch row itself can be written. An id left
// unused is a gap, nothing more.
func ReserveBatchIDs(ctx context.Context, q Querier, n int) ([]int64, error) {
	var ids []int64
	if err := q.SelectContext(ctx, &ids, `SELECT nextval('batches_id_seq') FROM generate_series(1, $1)`, n); err != nil {
		return nil, fmt.Errorf("reserve batch ids: %w", err)
	}
	return ids, nil
}

// NewBatch is one planned batch of InsertBatches, with the id ReserveBatchIDs gave it.
type NewBatch struct {
	ID      int64
	Seq     string
	Key     string
	Body    []byte
	Entries int
}

// InsertBatches stores planned batches of entryType with their exact bodies and Idempotency-Keys,
// in the caller's transaction, up to insertBatchesAtOnce in a statement. Each body is a parameter
// of its own, sent as its bytes (an array of bodies is escaped twice over by the driver).
func InsertBatches(ctx context.Context, q Querier, runID int64, entryType string, bs []NewBatch) error {
	for len(bs) > 0 {
		n := min(len(bs), insertBatchesAtOnce)
		args := make([]any, 0, 5*n+3)
		args = append(args, runID, BatchPlanned, entryType)
		for _, b := range bs[:n] {
			args = append(args, b.ID, b.Seq, b.Key, b.Body, b.Entries)
		}
		if _, err := q.ExecContext(ctx, insertBatchesSQL[n], args...); err != nil {
			return fmt.Errorf("insert batches %s to %s: %w", bs[0].Seq, bs[n-1].Seq, err)
		}
		bs = bs[n:]
	}
	return nil
}

// insertBatchesAtOnce is how many batches one statement inserts: a plan's chunk of the cursor
// fills about ten, which went in ten round trips when each was planned anew. Prepared, four
// bodies a statement (~500 KB) inserted 2,000 in 1.3 s against 2.3–2.8 s for sixteen (a 2 MB
// message the driver grows by copying), at the same server CPU (measured alone, 121 KB bodies).
const insertBatchesAtOnce = 4

// insertBatchesSQL[n] inserts n batches: $1 the run, $2 the status, $3 the entry type, then five
// parameters a batch. Each is kept prepared (package prepared): planning one took the server
// several milliseconds of a plan's main connection.
var insertBatchesSQL = func() (qs [insertBatchesAtOnce + 1]string) {
	for n := 1; n <= insertBatchesAtOnce; n++ {
		var sql strings.Builder
		sql.WriteString(`INSERT INTO batches (id, run_id, seq, idempotency_key, body, entries, status, entry_type) VALUES `)
		for i := range n {
			if i > 0 {
				sql.WriteString(", ")
			}
			k := 3 + 5*i
			fmt.Fprintf(&sql, "($%d, $1, $%d, $%d, $%d, $%d, $2, $3)", k+1, k+2, k+3, k+4, k+5)
		}
		qs[n] = prepared.Statement(sql.String())
	}
	return qs
}()

// NoteBatchRefusal records Alpaca's HTTP status and message on batch id without moving it: the
// batch stays sending, to be resent with the same key and body.
func NoteBatchRefusal(ctx context.Context, q Querier, id int64, httpStatus int, msg string) error {
	_, err := q.ExecContext(ctx, `UPDATE batches SET http_status = $2, error = $3 WHERE id = $1`, id, httpStatus, msg)
	return err
}

// queryMoveBatch is the one statement that writes batches.status after a batch's creation. A
// worker's claim ($9) must hold at this very moment on the database's clock (clock_timestamp, not
// the transaction's start, now()).
var queryMoveBatch = prepared.Statement(`
UPDATE batches SET status = $2,
	attempts    = attempts + CASE WHEN $2 = $7 THEN 1 ELSE 0 END,
	sending_at  = CASE WHEN $2 = $7 THEN COALESCE(sending_at, $6) ELSE sending_at END,
	sent_at     = CASE WHEN $2 = $8 THEN $6 ELSE sent_at END,
	http_status = COALESCE($4, http_status),
	error       = COALESCE($5, error)
WHERE id = $1 AND status = ANY($3::text[]) AND ($9::text IS NULL OR claimed_by = $9 AND claimed_until > clock_timestamp())
RETURNING id`)

// Batch is a batch as submit sends it: its key, where it stands, and its exact body once read
// (BatchBody: a night's bodies are read one at a time, as each is sent).
type Batch struct {
	ID        int64        `db:"id"`
	Seq       string       `db:"seq"`
	Key       string       `db:"idempotency_key"`
	Body      []byte       `db:"body"`
	Entries   int          `db:"entries"`
	Status    string       `db:"status"`
	SendingAt sql.NullTime `db:"sending_at"`
	EntryType string       `db:"entry_type"`
}

// BatchesToSendOf lists the batches of run runID that are planned or were left sending, in seq
// order, without their bodies.
func BatchesToSendOf(ctx context.Context, q Querier, runID int64) ([]Batch, error) {
	var bs []Batch
	err := q.SelectContext(ctx, &bs, `
			SELECT id, seq, idempotency_key, entries, status, sending_at, entry_type FROM batches
			WHERE run_id = $1 AND status = ANY($2::text[]) ORDER BY seq`, runID, pq.Array(BatchesToSend))
	return bs, err
}

// toSend is the predicate of the batches still to send, written as the partial index batches_to_send
// (migration 00030) says it, so that the claim's scan uses the index.
const toSend = `status IN ('` + BatchPlanned + `', '` + BatchSending + `')`

// claimBatchesSQL is ClaimBatches' statement. The claimed ids are gathered first (an array, not a
// join), so the update reaches each by its primary key whatever the plan: kept prepared, its
// generic plan knows no LIMIT and would otherwise hash every batch of every night to join them.
var claimBatchesSQL = prepared.Statement(`
		UPDATE batches SET claimed_by = $2, claimed_until = now() + $3 * interval '1 microsecond'
		WHERE id = ANY(ARRAY(SELECT id FROM batches
			WHERE run_id = $1 AND ` + toSend + ` AND (claimed_until IS NULL OR claimed_until <= now())
			ORDER BY seq LIMIT $4 FOR UPDATE SKIP LOCKED))
		RETURNING id, seq, idempotency_key, entries, status, sending_at, entry_type`)

// ClaimBatches claims for worker, for lease, up to n batches of run runID still to send whose
// claim is free or ran out, in seq order, without their bodies. A batch another worker is claiming
// at this moment is skipped (SKIP LOCKED), never waited for. Leases are kept on the database's
// clock, as the tracking parts' are: the processes sharing a night may run on machines whose
// clocks disagree, and one whose clock ran ahead would take (and POST again) a batch another is
// still sending.
func ClaimBatches(ctx context.Context, q Querier, runID int64, worker string, n int, lease time.Duration) ([]Batch, error) {
	var bs []Batch
	err := q.SelectContext(ctx, &bs, claimBatchesSQL, runID, worker, lease.Microseconds(), n)
	slices.SortFunc(bs, func(a, b Batch) int { return strings.Compare(a.Seq, b.Seq) })
	return bs, err
}

// RenewClaims extends worker's claims on run runID's batches still to send to lease from now (the
// database's clock), and says how many it holds.
func RenewClaims(ctx context.Context, q Querier, runID int64, worker string, lease time.Duration) (int64, error) {
	res, err := q.ExecContext(ctx, `UPDATE batches SET claimed_until = now() + $3 * interval '1 microsecond'
		WHERE run_id = $1 AND `+toSend+` AND claimed_by = $2`, runID, worker, lease.Microseconds())
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// ReleaseClaims gives up worker's claims on run runID's batches still to send, so that another
// worker takes them at once rather than when they run out.
func ReleaseClaims(ctx context.Context, q Querier, runID int64, worker string) error {
	_, err := q.ExecContext(ctx, `UPDATE batches SET claimed_by = NULL, claimed_until = NULL
		WHERE run_id = $1 AND `+toSend+` AND claimed_by = $2`, runID, worker)
	return err
}

// FreeClaims gives up every claim on run runID's batches still to send, whoever holds it: for a new
// run lock holder, under whose epoch no earlier claimant can mark a batch sending any more. It
// frees nothing unless epoch is still lock fence's (its row held until the statement's transaction
// ends): a holder that lost the lock and resumes must not free the claims of the one sending now,
// whose other senders would then take a batch one of them is POSTing and POST it again.
func FreeClaims(ctx context.Context, q Querier, runID int64, fence string, epoch int64) error {
	_, err := q.ExecContext(ctx, `UPDATE batches SET claimed_by = NULL, claimed_until = NULL
		WHERE run_id = $1 AND `+toSend+` AND claimed_by IS NOT NULL
		  AND EXISTS (SELECT 1 FROM run_fences WHERE name = $2 AND epoch = $3 FOR SHARE)`, runID, fence, epoch)
	return err
}

// BatchesLeftOf counts run runID's batches still to send, claimed or not.
func BatchesLeftOf(ctx context.Context, q Querier, runID int64) (int, error) {
	var n int
	err := q.GetContext(ctx, &n, `SELECT count(*) FROM batches WHERE run_id = $1 AND `+toSend, runID)
	return n, err
}

// batchBodySQL is BatchBody's statement, kept prepared (package prepared).
var batchBodySQL = prepared.Statement(`
		SELECT CASE WHEN current_setting('server_encoding') = 'UTF8' THEN convert_from(body, 'UTF8') END,
		       CASE WHEN current_setting('server_encoding') <> 'UTF8' THEN body END
		FROM batches WHERE id = $1`)

// BatchBody reads the exact body stored for batch id. In a UTF8 database it comes as text (a
// body is JSON, valid UTF-8, and convert_from leaves its bytes as they are): bytea travels as hex,
// twice its size, written by the server and read back by the driver a character at a time, which
// was most of the CPU of reading a 200 KB body. Any other encoding reads the bytea itself.
func BatchBody(ctx context.Context, q Querier, id int64) ([]byte, error) {
	var text, raw []byte
	err := q.QueryRowxContext(ctx, batchBodySQL, id).Scan(&text, &raw)
	if text != nil {
		return text, err
	}
	return raw, err
}

// LastRedriveSeq is the highest number n of run runID's batches of redrive attempt attempt
// (seq rATTEMPT-n), 0 when there are none.
func LastRedriveSeq(ctx context.Context, q Querier, runID int64, attempt int) (int, error) {
	var last int
	err := q.GetContext(ctx, &last, `
			SELECT COALESCE(max(substring(seq FROM '^r' || $2::text || '-([0-9]+)')::int), 0)
			FROM batches WHERE run_id = $1`, runID, attempt)
	return last, err
}

// SentWindowSQL reads when the first and the last batch of run $1 were sent, and whether a reward
// (JNLS) was among them (columns first, last, rewards).
const SentWindowSQL = `SELECT min(sent_at) AS first, max(sent_at) AS last, COALESCE(bool_or(entry_type = 'JNLS'), false) AS rewards
	FROM batches WHERE run_id = $1 AND sent_at IS NOT NULL`

// FirstSending is when the first batch of run runID was sent, or began to be; NULL before any.
func FirstSending(ctx context.Context, q Querier, runID int64) (sql.NullTime, error) {
	var first sql.NullTime
	err := q.GetContext(ctx, &first, `SELECT min(coalesce(sent_at, sending_at)) FROM batches WHERE run_id = $1`, runID)
	return first, err
}

// BatchCount is how many batches of a run stand at a status.
type BatchCount struct {
	Status string `db:"status"`
	N      int    `db:"n"`
}

// BatchCounts counts the batches of run runID by status.
func BatchCounts(ctx context.Context, q Querier, runID int64) ([]BatchCount, error) {
	var bs []BatchCount
	err := q.SelectContext(ctx, &bs, `SELECT status, count(*) AS n FROM batches WHERE run_id = $1 GROUP BY status ORDER BY status`, runID)
	return bs, err
}

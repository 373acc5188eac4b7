package console

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/batch/store"
	"github.com/cashpool/cashpool/pool"
)

// Every statement of the console. It reads the pipeline's tables and writes only its own,
// redrive_requests; statuses come from batch/store.

// nightsShown bounds the nights list; older nights are in the reports folder.
const nightsShown = 60

type night struct {
	RunID      int64           `db:"id"`
	Date       string          `db:"business_date"`
	Status     string          `db:"status"`
	Unfinished bool            `db:"unfinished"`
	PlannedAt  time.Time       `db:"planned_at"`
	FinishedAt sql.NullTime    `db:"finished_at"`
	MoneyIn    decimal.Decimal `db:"money_in"`
	Funded     decimal.Decimal `db:"funded"`
	Failed     decimal.Decimal `db:"failed"`
	InFlight   decimal.Decimal `db:"in_flight"`
	Exceptions sql.NullInt64   `db:"exceptions"`
	// Journals are the cash (JNLC) journals; Rewards the rewards, each once, given by JNLS.
	Journals int `db:"journals"`
	Rewards  int `db:"rewards"`
}

// Duration is how long the night took from planning to its report; zero while unfinished.
func (n night) Duration() time.Duration {
	if !n.FinishedAt.Valid {
		return 0
	}
	return n.FinishedAt.Time.Sub(n.PlannedAt).Round(time.Second)
}

func listNights(ctx context.Context, db *sqlx.DB, sweep string) ([]night, error) {
	var ns []night
	err := db.SelectContext(ctx, &ns, `
		SELECT r.id, to_char(r.business_date, 'YYYY-MM-DD') AS business_date, r.status,
		       r.status = ANY($5) AS unfinished, r.planned_at, r.finished_at,
		       coalesce((SELECT sum(rr.amount) FROM run_receipts rr WHERE rr.run_id = r.id), 0) AS money_in,
		       coalesce(sum(j.amount) FILTER (WHERE j.status = ANY($2)), 0) AS funded,
		       coalesce(sum(j.amount) FILTER (WHERE j.status = ANY($3)), 0) AS failed,
		       coalesce(sum(j.amount) FILTER (WHERE NOT j.status = ANY($4)), 0) AS in_flight,
		       (r.totals->>'Exceptions')::int AS exceptions,
		       count(j.id) AS journals,
		       (SELECT count(DISTINCT w.reward_id) FROM journals w WHERE w.run_id = r.id AND w.entry_type = 'JNLS') AS rewards
		FROM runs r
		LEFT JOIN journals j ON j.run_id = r.id AND j.entry_type = 'JNLC' AND `+store.LatestAttemptSQL+`
		WHERE r.sweep_account = $1
		GROUP BY r.id
		ORDER BY unfinished DESC, r.business_date DESC
		LIMIT $6`,
		sweep, pq.Array(store.JournalsFunded), pq.Array(store.JournalsFailed), pq.Array(store.JournalsFinal),
		pq.Array(store.RunsUnfinished), nightsShown)
	return ns, err
}

type batchRow struct {
	ID         int64         `db:"id"`
	Seq        string        `db:"seq"`
	Status     string        `db:"status"`
	Entries    int           `db:"entries"`
	Attempts   int           `db:"attempts"`
	HTTPStatus sql.NullInt64 `db:"http_status"`
	Error      string        `db:"error"`
	SendingAt  sql.NullTime  `db:"sending_at"`
	SentAt     sql.NullTime  `db:"sent_at"`
}

func batchesOf(ctx context.Context, db *sqlx.DB, runID int64) ([]batchRow, error) {
	var bs []batchRow
	err := db.SelectContext(ctx, &bs, `
		SELECT id, seq, status, entries, attempts, http_status, error, sending_at, sent_at
		FROM batches WHERE run_id = $1 ORDER BY id`, runID)
	return bs, err
}

// journalRow is a cash journal (receipt, client ref, amount) or a reward's (reward, symbol, qty
// in shares); the other kind's fields are empty.
type journalRow struct {
	ID           int64               `db:"id"`
	JournalKey   string              `db:"journal_key"`
	AlpacaID     sql.NullString      `db:"alpaca_id"`
	Attempt      int                 `db:"attempt"`
	ReceiptID    string              `db:"receipt_id"`
	ClientRef    string              `db:"client_ref"`
	RewardID     string              `db:"reward_id"`
	ToAccount    string              `db:"to_account"`
	Amount       decimal.NullDecimal `db:"amount"`
	Symbol       string              `db:"symbol"`
	Qty          decimal.NullDecimal `db:"qty"`
	Status       string              `db:"status"`
	ErrorMessage string              `db:"error_message"`
	History      []historyRow        `db:"-"`
}

type historyRow struct {
	JournalID int64     `db:"journal_id"`
	From      string    `db:"status_from"`
	To        string    `db:"status_to"`
	Source    string    `db:"source"`
	At        time.Time `db:"at"`
	Actor     string    `db:"actor"`
	Reason    string    `db:"reason"`
	Detail    string    `db:"detail"`
}

// journalsOf is one batch's journals of a run, each with its whole history.
func journalsOf(ctx context.Context, db *sqlx.DB, runID, batchID int64) ([]journalRow, error) {
	var js []journalRow
	if err := db.SelectContext(ctx, &js, `
		SELECT id, journal_key, alpaca_id, attempt, COALESCE(receipt_id, '') AS receipt_id, COALESCE(client_ref, '') AS client_ref,
		       COALESCE(reward_id, '') AS reward_id, to_account, amount, COALESCE(symbol, '') AS symbol, qty, status, error_message
		FROM journals WHERE run_id = $1 AND batch_id = $2 ORDER BY receipt_id, client_ref, reward_id, attempt`, runID, batchID); err != nil {
		return nil, err
	}
	var hs []historyRow
	if err := db.SelectContext(ctx, &hs, `
		SELECT h.journal_id, h.status_from, h.status_to, h.source, h.at, h.actor, h.reason, h.detail
		FROM journal_history h JOIN journals j ON j.id = h.journal_id
		WHERE j.run_id = $1 AND j.batch_id = $2 ORDER BY h.id`, runID, batchID); err != nil {
		return nil, err
	}
	at := map[int64]int{}
	for i, j := range js {
		at[j.ID] = i
		// Values from files and Alpaca's message: control characters shown escaped, as elsewhere.
		js[i].ReceiptID, js[i].ClientRef, js[i].ErrorMessage = pool.Printable(j.ReceiptID), pool.Printable(j.ClientRef), pool.Printable(j.ErrorMessage)
		js[i].RewardID, js[i].Symbol = pool.Printable(j.RewardID), pool.Printable(j.Symbol)
	}
	for _, h := range hs {
		js[at[h.JournalID]].History = append(js[at[h.JournalID]].History, h)
	}
	return js, nil
}

type fileRow struct {
	Name       string    `db:"name"`
	Kind       string    `db:"kind"`
	Status     string    `db:"status"`
	Errors     int       `db:"errors"`
	Reason     string    `db:"reason"`
	ReceivedAt time.Time `db:"received_at"`
}

// filesShown bounds the rejected-files page.
const filesShown = 100

func rejectedFiles(ctx context.Context, db *sqlx.DB) ([]fileRow, error) {
	var fs []fileRow
	err := db.SelectContext(ctx, &fs, `
		SELECT name, kind, status, errors, reason, received_at FROM files
		WHERE status IN (`+store.SQLList(store.FilesRefused)+`) ORDER BY received_at DESC, id DESC LIMIT $1`, filesShown)
	for i := range fs {
		fs[i].Name, fs[i].Reason = pool.Printable(fs[i].Name), pool.Printable(fs[i].Reason)
	}
	return fs, err
}

// Request states.
const (
	stateRequested = "requested"
	stateApproved  = "approved"
)

type request struct {
	ID         int64          `db:"id"`
	Date       string         `db:"business_date"`
	Requester  string         `db:"requester"`
	Reason     string         `db:"reason"`
	Preview    string         `db:"preview"`
	CreatedAt  time.Time      `db:"created_at"`
	Approver   sql.NullString `db:"approver"`
	ApprovedAt sql.NullTime   `db:"approved_at"`
	State      string         `db:"state"`
}

const requestColumns = `id, to_char(business_date, 'YYYY-MM-DD') AS business_date, requester, reason, preview,
	created_at, approver, approved_at, state`

func requestsOf(ctx context.Context, db *sqlx.DB, sweep, date string) ([]request, error) {
	var rs []request
	err := db.SelectContext(ctx, &rs, `SELECT `+requestColumns+` FROM redrive_requests
		WHERE sweep_account = $1 AND business_date = $2 ORDER BY id DESC`, sweep, date)
	return rs, err
}

var errOpenRequest = errors.New("a redrive of this night is already waiting for approval")

func fileRequest(ctx context.Context, db *sqlx.DB, sweep, date, requester, reason, preview string, now time.Time) (int64, error) {
	var id int64
	err := db.GetContext(ctx, &id, `
		INSERT INTO redrive_requests (sweep_account, business_date, requester, reason, preview, created_at, state)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`, sweep, date, requester, reason, preview, now, stateRequested)
	var pe *pq.Error
	if errors.As(err, &pe) && pe.Code == "23505" {
		return 0, errOpenRequest
	}
	return id, err
}

func requestByID(ctx context.Context, db *sqlx.DB, sweep string, id int64) (request, error) {
	var r request
	err := db.GetContext(ctx, &r, `SELECT `+requestColumns+` FROM redrive_requests WHERE id = $1 AND sweep_account = $2`, id, sweep)
	return r, err
}

// claimApproval marks an open request approved by approver, unless approver filed it; it says
// whether this call took it (a second approval of the same request finds it approved).
func claimApproval(ctx context.Context, db *sqlx.DB, id int64, approver string, now time.Time) (bool, error) {
	res, err := db.ExecContext(ctx, `
		UPDATE redrive_requests SET state = $4, approver = $2, approved_at = $3
		WHERE id = $1 AND state = $5 AND requester <> $2`, id, approver, now, stateApproved, stateRequested)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// unclaimApproval reopens a request whose redrive did not go through, so it can be approved again.
func unclaimApproval(ctx context.Context, db *sqlx.DB, id int64) error {
	_, err := db.ExecContext(ctx, `
		UPDATE redrive_requests SET state = $2, approver = NULL, approved_at = NULL WHERE id = $1 AND state = $3`,
		id, stateRequested, stateApproved)
	return err
}

// Package submit sends a run's planned batches to Alpaca. The protocol makes a crash at any
// instruction harmless: a batch is marked 'sending' and committed before its POST; the POST carries
// the batch's Idempotency-Key and the exact bytes stored at plan time; every journal Alpaca returns is
// stored in one transaction. A batch found 'sending' after a crash is simply sent again: Alpaca
// replays its original answer for the same key and body.
package submit

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/cashpool/cashpool/alpaca"
	"github.com/cashpool/cashpool/batch/plan"
	"github.com/cashpool/cashpool/pool"
)

// Broker is the part of the Alpaca client submit uses.
type Broker interface {
	CreateBatch(ctx context.Context, key string, body []byte) ([]alpaca.BatchJournal, error)
	ListJournals(ctx context.Context, f alpaca.ListFilter) ([]alpaca.Journal, error)
}

// Config bounds the work.
type Config struct {
	SweepAccount string
	BusinessDate string
	MaxInFlight  int // batches sent at once; default 4
	// KeyRetention is how long Alpaca is trusted to remember an Idempotency-Key (default 24h). A
	// batch left 'sending' for longer is never re-sent blindly: its journals are looked for first.
	KeyRetention time.Duration
	Now          func() time.Time
	Logger       *slog.Logger
	// BeforePost and AfterPost, when set, run around every POST; the crash harness uses them.
	BeforePost func(batchID int64)
	AfterPost  func(batchID int64)
	Stored     func(batchID int64) // after the answer's transaction committed
}

// Result counts what happened.
type Result struct {
	Sent      int // batches answered by Alpaca
	Split     int // batches Alpaca canceled whole and cashpool split to isolate the bad entries
	Canceled  int // journals failed because Alpaca canceled them with their whole batch
	Recovered int // batches left sending past the key retention window and matched by listing
}

// ErrConflict means Alpaca saw this batch's key with a different body: a bug or a tampered
// database, never retried.
var ErrConflict = errors.New("idempotency key reused with a different body")

type batchRow struct {
	ID        int64        `db:"id"`
	Seq       string       `db:"seq"`
	Key       string       `db:"idempotency_key"`
	Body      []byte       `db:"body"`
	Entries   int          `db:"entries"`
	Status    string       `db:"status"`
	SendingAt sql.NullTime `db:"sending_at"`
}

// Submit sends every batch of the run that is planned or was left sending, until none is left.
func Submit(ctx context.Context, db *sqlx.DB, broker Broker, runID int64, cfg Config) (Result, error) {
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 4
	}
	if cfg.KeyRetention <= 0 {
		cfg.KeyRetention = 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &submitter{db: db, broker: broker, runID: runID, cfg: cfg}
	var res Result
	// Splitting a batch creates new planned batches: loop until a pass finds nothing to send.
	for {
		var todo []batchRow
		if err := db.SelectContext(ctx, &todo, `
			SELECT id, seq, idempotency_key, body, entries, status, sending_at FROM batches
			WHERE run_id = $1 AND status IN ('planned', 'sending') ORDER BY seq`, runID); err != nil {
			return res, fmt.Errorf("list batches: %w", err)
		}
		if len(todo) == 0 {
			break
		}
		if err := s.sendAll(ctx, todo, &res); err != nil {
			return res, err
		}
	}
	_, err := db.ExecContext(ctx, `UPDATE runs SET status = 'submitted' WHERE id = $1 AND status = 'planned'`, runID)
	return res, err
}

type submitter struct {
	db     *sqlx.DB
	broker Broker
	runID  int64
	cfg    Config
	mu     sync.Mutex
}

func (s *submitter) sendAll(ctx context.Context, todo []batchRow, res *Result) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan batchRow)
	var wg sync.WaitGroup
	var firstErr error
	var once sync.Once
	for range min(s.cfg.MaxInFlight, len(todo)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				if err := s.send(ctx, b, res); err != nil {
					once.Do(func() { firstErr = err; cancel() })
				}
			}
		}()
	}
	for _, b := range todo {
		select {
		case work <- b:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

func (s *submitter) send(ctx context.Context, b batchRow, res *Result) error {
	now := s.cfg.Now().UTC()
	if b.Status == "sending" && b.SendingAt.Valid && now.Sub(b.SendingAt.Time) > s.cfg.KeyRetention {
		if err := s.recoverStale(ctx, b); err != nil {
			return fmt.Errorf("recover batch %s sent before the key retention window: %w", b.Seq, err)
		}
		s.count(func() { res.Recovered++ })
		return nil
	}
	// Intent before money: the batch is 'sending' in the database before any byte leaves.
	if err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE batches SET status = 'sending', attempts = attempts + 1, sending_at = $2 WHERE id = $1`, b.ID, now); err != nil {
			return err
		}
		return setStatus(ctx, tx, `batch_id = $1 AND status = 'planned'`, b.ID, "sending", "submit", now)
	}); err != nil {
		return fmt.Errorf("mark batch %s sending: %w", b.Seq, err)
	}
	if s.cfg.BeforePost != nil {
		s.cfg.BeforePost(b.ID)
	}
	answer, err := s.broker.CreateBatch(ctx, b.Key, b.Body)
	if s.cfg.AfterPost != nil {
		s.cfg.AfterPost(b.ID)
	}
	var apiErr *alpaca.APIError
	switch {
	case err == nil:
		if err := s.store(ctx, b, answer); err != nil {
			return fmt.Errorf("store answer of batch %s: %w", b.Seq, err)
		}
		if s.cfg.Stored != nil {
			s.cfg.Stored(b.ID)
		}
		s.count(func() { res.Sent++ })
		return nil
	case errors.As(err, &apiErr) && apiErr.Code == alpaca.CodeIdempotencyConflict:
		s.inTx(ctx, func(tx *sqlx.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE batches SET status = 'failed', http_status = $2, error = $3 WHERE id = $1`,
				b.ID, apiErr.HTTPStatus, apiErr.Message)
			return err
		})
		return fmt.Errorf("batch %s: %w", b.Seq, ErrConflict)
	case errors.As(err, &apiErr) && wholeBatchCancel(apiErr.HTTPStatus):
		n, err := s.isolate(ctx, b, apiErr)
		if err != nil {
			return fmt.Errorf("isolate batch %s: %w", b.Seq, err)
		}
		s.count(func() {
			if n > 0 {
				res.Canceled += n
			} else {
				res.Split++
			}
		})
		return nil
	default:
		// Timeouts, 5xx and 429 past the client's retries: the batch stays 'sending' and the next
		// run resends it with the same key and body.
		return fmt.Errorf("send batch %s: %w", b.Seq, err)
	}
}

func (s *submitter) count(f func()) { s.mu.Lock(); f(); s.mu.Unlock() }

// wholeBatchCancel reports whether an HTTP status means Alpaca refused the whole batch for what is
// in it (an unknown, inactive or ineligible account, an invalid entry) and created nothing.
func wholeBatchCancel(status int) bool {
	switch status {
	case http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound, http.StatusUnprocessableEntity:
		return true
	}
	return false
}

type journalRow struct {
	ID        int64  `db:"id"`
	Key       string `db:"journal_key"`
	ToAccount string `db:"to_account"`
}

// store records Alpaca's answer to a batch: every journal's id, status and error_message, the
// batch 'sent', and the history, in one transaction. Entries are matched by the key token in their
// description, falling back to their position, which is the request order.
func (s *submitter) store(ctx context.Context, b batchRow, answer []alpaca.BatchJournal) error {
	now := s.cfg.Now().UTC()
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		var js []journalRow
		if err := tx.SelectContext(ctx, &js, `SELECT id, journal_key, to_account FROM journals WHERE batch_id = $1 ORDER BY id`, b.ID); err != nil {
			return err
		}
		var req alpaca.BatchRequest
		if err := json.Unmarshal(b.Body, &req); err != nil {
			return err
		}
		byKey := make(map[string]int64, len(js))
		for _, j := range js {
			byKey[j.Key] = j.ID
		}
		if len(answer) != len(req.Entries) {
			return fmt.Errorf("alpaca answered %d journals for %d entries", len(answer), len(req.Entries))
		}
		ids := make([]int64, 0, len(answer))
		alpacaIDs := make([]string, 0, len(answer))
		statuses := make([]string, 0, len(answer))
		msgs := make([]string, 0, len(answer))
		unknown := make([]bool, 0, len(answer))
		for i, a := range answer {
			key, ok := pool.TokenFromDescription(a.Description)
			if !ok {
				key, _ = pool.TokenFromDescription(req.Entries[i].Description)
			}
			id, ok := byKey[key]
			if !ok {
				return fmt.Errorf("answer entry %d (journal %s) matches no intent of the batch", i, a.ID)
			}
			if !strings.EqualFold(a.ToAccount, req.Entries[i].ToAccount) && a.ToAccount != "" {
				return fmt.Errorf("answer entry %d is for account %s, request entry for %s", i, a.ToAccount, req.Entries[i].ToAccount)
			}
			ids = append(ids, id)
			alpacaIDs = append(alpacaIDs, a.ID)
			statuses = append(statuses, a.Status)
			msgs = append(msgs, a.ErrorMessage)
			unknown = append(unknown, !alpaca.KnownStatus(a.Status))
		}
		if err := recordAnswers(ctx, tx, answers{ids, alpacaIDs, statuses, msgs, unknown}, "submit", now); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE batches SET status = 'sent', sent_at = $2, http_status = 200 WHERE id = $1`, b.ID, now)
		return err
	})
}

// isolate handles a batch Alpaca canceled whole. A single-entry batch fails its journal with
// Alpaca's message. A larger one is split, under new keys, into the entries the message names (if
// any) and the rest, or else into halves, so the good entries are sent again and the bad ones end up
// alone. Returns the number of journals failed.
func (s *submitter) isolate(ctx context.Context, b batchRow, apiErr *alpaca.APIError) (int, error) {
	now := s.cfg.Now().UTC()
	var failed int
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var req alpaca.BatchRequest
		if err := json.Unmarshal(b.Body, &req); err != nil {
			return err
		}
		var js []journalRow
		if err := tx.SelectContext(ctx, &js, `SELECT id, journal_key, to_account FROM journals WHERE batch_id = $1 ORDER BY id`, b.ID); err != nil {
			return err
		}
		if len(req.Entries) == 1 {
			failed = len(js)
			if _, err := tx.ExecContext(ctx, `UPDATE batches SET status = 'failed', http_status = $2, error = $3 WHERE id = $1`,
				b.ID, apiErr.HTTPStatus, apiErr.Message); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE journals SET error_message = $2 WHERE batch_id = $1`,
				b.ID, fmt.Sprintf("batch canceled by Alpaca (HTTP %d): %s", apiErr.HTTPStatus, apiErr.Message)); err != nil {
				return err
			}
			return setStatus(ctx, tx, `batch_id = $1`, b.ID, alpaca.StatusCanceled, "submit", now)
		}
		named, rest := splitEntries(req.Entries, apiErr.Message)
		if len(named) == 0 || len(rest) == 0 {
			half := len(req.Entries) / 2
			named, rest = req.Entries[:half], req.Entries[half:]
		}
		if _, err := tx.ExecContext(ctx, `UPDATE batches SET status = 'split', http_status = $2, error = $3 WHERE id = $1`,
			b.ID, apiErr.HTTPStatus, apiErr.Message); err != nil {
			return err
		}
		var children []int64
		for i, part := range [][]alpaca.BatchEntry{named, rest} {
			id, err := plan.InsertBatch(ctx, tx, s.runID, s.cfg.SweepAccount, s.cfg.BusinessDate, fmt.Sprintf("%s.%d", b.Seq, i+1), part)
			if err != nil {
				return err
			}
			children = append(children, id)
			keys := make([]string, len(part))
			for k, e := range part {
				keys[k], _ = pool.TokenFromDescription(e.Description)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE journals SET batch_id = $1 WHERE batch_id = $2 AND journal_key = ANY($3::uuid[])`,
				id, b.ID, pq.Array(keys)); err != nil {
				return err
			}
		}
		return setStatus(ctx, tx, `batch_id = ANY($1::bigint[])`, pq.Array(children), "planned", "split", now)
	})
	return failed, err
}

// splitEntries separates the entries whose account Alpaca's message names.
func splitEntries(entries []alpaca.BatchEntry, msg string) (named, rest []alpaca.BatchEntry) {
	msg = strings.ToLower(msg)
	for _, e := range entries {
		if strings.Contains(msg, strings.ToLower(e.ToAccount)) {
			named = append(named, e)
		} else {
			rest = append(rest, e)
		}
	}
	return named, rest
}

// answers are Alpaca's word on some journals, column by column.
type answers struct {
	ids       []int64
	alpacaIDs []string
	statuses  []string
	msgs      []string
	unknown   []bool
}

// recordAnswers stores Alpaca's id, status and error_message for each journal and appends every
// status change to the history, in two statements whatever the number of journals.
func recordAnswers(ctx context.Context, tx *sqlx.Tx, a answers, source string, now time.Time) error {
	args := []any{pq.Array(a.ids), pq.Array(a.alpacaIDs), pq.Array(a.statuses), pq.Array(a.msgs), pq.Array(a.unknown), now, source}
	const values = `unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bool[]) AS v(id, alpaca_id, status, msg, unknown)`
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO journal_history (journal_id, status_from, status_to, source, at)
		SELECT j.id, j.status, v.status, $7, $6
		FROM journals j JOIN `+values+` ON j.id = v.id
		WHERE j.status IS DISTINCT FROM v.status`, args...); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `
		UPDATE journals j SET alpaca_id = NULLIF(v.alpaca_id, '')::uuid, status = v.status, error_message = v.msg,
		       status_unknown = v.unknown, updated_at = $6
		FROM `+values+` WHERE j.id = v.id`, args[:6]...)
	return err
}

// setStatus moves the journals matching where (with $1 bound to arg) to status, recording history.
func setStatus(ctx context.Context, tx *sqlx.Tx, where string, arg any, status, source string, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO journal_history (journal_id, status_from, status_to, source, at)
		SELECT id, status, $2, $3, $4 FROM journals WHERE (`+where+`) AND status <> $2`, arg, status, source, now); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `UPDATE journals SET status = $2, updated_at = $3 WHERE (`+where+`) AND status <> $2`, arg, status, now)
	return err
}

func (s *submitter) inTx(ctx context.Context, f func(tx *sqlx.Tx) error) error {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// recoverStale settles a batch left 'sending' for longer than Alpaca keeps idempotency keys: a
// resend with the old key might create the journals a second time. The sweep account's journals
// around the time it was sent are listed and matched to its intents by the key token in their
// description. Journals found are stored as Alpaca's answer; intents not found were never
// created, and go into a new batch under a new key.
func (s *submitter) recoverStale(ctx context.Context, b batchRow) error {
	sent := b.SendingAt.Time
	list, err := s.broker.ListJournals(ctx, alpaca.ListFilter{
		FromAccount: s.cfg.SweepAccount, EntryType: "JNLC",
		After:  sent.AddDate(0, 0, -1).Format(time.DateOnly),
		Before: sent.AddDate(0, 0, 2).Format(time.DateOnly),
	})
	if err != nil {
		return fmt.Errorf("list journals: %w", err)
	}
	found := make(map[string]alpaca.Journal)
	for _, j := range list {
		if key, ok := pool.TokenFromDescription(j.Description); ok {
			found[key] = j
		}
	}
	now := s.cfg.Now().UTC()
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		var js []journalRow
		if err := tx.SelectContext(ctx, &js, `SELECT id, journal_key, to_account FROM journals WHERE batch_id = $1 ORDER BY id`, b.ID); err != nil {
			return err
		}
		var req alpaca.BatchRequest
		if err := json.Unmarshal(b.Body, &req); err != nil {
			return err
		}
		var ids []int64
		var alpacaIDs, statuses []string
		var unknown []bool
		var missing []alpaca.BatchEntry
		missingKeys := map[string]bool{}
		for _, j := range js {
			if a, ok := found[j.Key]; ok {
				ids = append(ids, j.ID)
				alpacaIDs = append(alpacaIDs, a.ID)
				statuses = append(statuses, a.Status)
				unknown = append(unknown, !alpaca.KnownStatus(a.Status))
			} else {
				missingKeys[j.Key] = true
			}
		}
		for _, e := range req.Entries {
			if k, _ := pool.TokenFromDescription(e.Description); missingKeys[k] {
				missing = append(missing, e)
			}
		}
		if len(ids) > 0 {
			// The list has no error_message; a journal found is one Alpaca accepted or refused.
			msgs := make([]string, len(ids))
			if err := recordAnswers(ctx, tx, answers{ids, alpacaIDs, statuses, msgs, unknown}, "recover", now); err != nil {
				return err
			}
		}
		note := fmt.Sprintf("left sending past the key retention window: %d of %d journals found at Alpaca by key token", len(ids), len(js))
		if len(missing) == 0 {
			_, err := tx.ExecContext(ctx, `UPDATE batches SET status = 'sent', sent_at = $2, error = $3 WHERE id = $1`, b.ID, now, note)
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE batches SET status = 'split', error = $2 WHERE id = $1`, b.ID, note+"; the rest re-batched under a new key"); err != nil {
			return err
		}
		id, err := plan.InsertBatch(ctx, tx, s.runID, s.cfg.SweepAccount, s.cfg.BusinessDate, b.Seq+".k", missing)
		if err != nil {
			return err
		}
		keys := make([]string, 0, len(missingKeys))
		for k := range missingKeys {
			keys = append(keys, k)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE journals SET batch_id = $1 WHERE batch_id = $2 AND journal_key = ANY($3::uuid[])`,
			id, b.ID, pq.Array(keys)); err != nil {
			return err
		}
		return setStatus(ctx, tx, `batch_id = $1`, id, "planned", "recover", now)
	})
}

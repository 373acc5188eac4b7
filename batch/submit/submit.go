// Package submit sends a run's planned batches to Alpaca. The protocol makes a crash at any
// instruction harmless: a batch is marked 'sending' and committed before its POST; the POST carries
// the batch's Idempotency-Key and the exact bytes stored at plan time; every journal Alpaca returns is
// stored in one transaction. A batch found 'sending' after a crash is simply sent again: Alpaca
// replays its original answer for the same key and body.
package submit

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/cashpool/cashpool/alpaca"
	"github.com/cashpool/cashpool/batch/jnlc"
	"github.com/cashpool/cashpool/batch/store"
	"github.com/cashpool/cashpool/pool"
)

// Broker is the part of the Alpaca client submit uses.
type Broker interface {
	CreateBatch(ctx context.Context, key string, body []byte) ([]alpaca.BatchJournal, error)
	CreateJournalBody(ctx context.Context, key string, body []byte) (*alpaca.Journal, error)
	alpaca.Lister
}

// Defaults of Config.
const (
	// MaxInFlightDefault is how many batches are sent at once. Defaults to 4.
	MaxInFlightDefault = 4
	// KeyRetentionDefault is how long Alpaca is trusted to remember an Idempotency-Key. Defaults
	// to 24h, what Alpaca documents.
	KeyRetentionDefault = 24 * time.Hour
)

// Config bounds the work.
type Config struct {
	SweepAccount string
	// RewardsAccount is the firm account JNLS rewards go from; SweepAccount when empty.
	RewardsAccount string
	BusinessDate   string
	MaxInFlight    int // batches sent at once; MaxInFlightDefault when zero
	// KeyRetention is how long Alpaca is trusted to remember an Idempotency-Key
	// (KeyRetentionDefault when zero). A
	// batch left 'sending' for longer is never re-sent blindly: its journals are looked for first.
	KeyRetention time.Duration
	Now          func() time.Time
	Logger       *slog.Logger
	// Fence is the run lock's fencing token, required: no batch is marked 'sending' without it.
	Fence Fence
	// BeforePost and AfterPost, when set, run around every POST of a cash batch; the crash harness
	// uses them.
	BeforePost func(batchID int64)
	AfterPost  func(batchID int64)
	Stored     func(batchID int64) // after the answer's transaction committed
	// BeforeRewardPost, AfterRewardPost and RewardStored are the same around a reward's POST.
	BeforeRewardPost, AfterRewardPost, RewardStored func(batchID int64)
}

// Result counts what happened.
type Result struct {
	Sent      int // batches answered by Alpaca
	Split     int // batches Alpaca canceled whole and cashpool split to isolate the bad entries
	Canceled  int // journals failed because Alpaca canceled them with their whole batch
	Recovered int // batches left sending past the key retention window and matched by listing
	Refused   int // rewards (JNLS) Alpaca refused with a definitive 4xx: their journal is refused
}

// ErrConflict means Alpaca already holds journals of this batch yet refused it: its key was seen
// with a different body, a bug or a tampered database. Never retried.
var ErrConflict = errors.New("idempotency key reused with a different body")

// Submit sends every batch of the run that is planned or was left sending, until none is left.
func Submit(ctx context.Context, db *sqlx.DB, broker Broker, runID int64, cfg Config) (Result, error) {
	cfg.MaxInFlight = cmp.Or(cfg.MaxInFlight, MaxInFlightDefault)
	cfg.KeyRetention = cmp.Or(cfg.KeyRetention, KeyRetentionDefault)
	cfg.RewardsAccount = strings.ToLower(cmp.Or(cfg.RewardsAccount, cfg.SweepAccount))
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Fence.Name == "" {
		return Result{}, errors.New("submit: no fencing token: the caller must hold the run lock")
	}
	s := &submitter{db: db, broker: broker, runID: runID, cfg: cfg}
	if err := s.holdsLock(ctx); err != nil {
		return Result{}, err
	}
	var res Result
	// Splitting a batch creates new planned batches: loop until a pass finds nothing to send.
	for pass := 0; ; pass++ {
		todo, err := store.BatchesToSendOf(ctx, db, runID)
		if err != nil {
			return res, fmt.Errorf("list batches: %w", err)
		}
		if len(todo) == 0 {
			break
		}
		if pass == 0 {
			s.sayRewardsPace(todo)
		}
		if err := s.sendAll(ctx, todo, &res); err != nil {
			return res, err
		}
	}
	_, err := store.MoveRun(ctx, db, runID, store.RunSubmitted, nil, cfg.Now().UTC())
	return res, err
}

type submitter struct {
	db     *sqlx.DB
	broker Broker
	runID  int64
	cfg    Config
	mu     sync.Mutex
}

func (s *submitter) sendAll(ctx context.Context, todo []store.Batch, res *Result) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan store.Batch)
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

// keyTrusted says whether a batch whose key first went out at first may still be re-sent blindly at
// now: Alpaca's retention is counted from the key's first use (a replay need not renew it), and the
// resend lands some time after this check, so a tenth of the retention is kept as a margin. At the
// edge itself a resend would find the key forgotten and create every journal a second time.
func keyTrusted(first, now time.Time, retention time.Duration) bool {
	return now.Sub(first) < retention-retention/10
}

func (s *submitter) send(ctx context.Context, b store.Batch, res *Result) error {
	// Only the batches in flight hold their bodies: a night's bodies together are most of its size.
	body, err := store.BatchBody(ctx, s.db, b.ID)
	if err != nil {
		return fmt.Errorf("read batch %s: %w", b.Seq, err)
	}
	b.Body = body
	now := s.cfg.Now().UTC()
	if b.Status == store.BatchSending && b.SendingAt.Valid && !keyTrusted(b.SendingAt.Time, now, s.cfg.KeyRetention) {
		recover := s.recoverStale
		if b.EntryType == store.EntryJNLS {
			recover = s.recoverStaleReward
		}
		if err := recover(ctx, b); err != nil {
			return fmt.Errorf("recover batch %s sent before the key retention window: %w", b.Seq, err)
		}
		s.count(func() { res.Recovered++ })
		return nil
	}
	if s.cfg.Fence.Held != nil {
		if err := s.cfg.Fence.Held(ctx); err != nil {
			return fmt.Errorf("batch %s not sent: %w", b.Seq, err)
		}
	}
	// Intent before money: the batch is 'sending' in the database before any byte leaves, and only
	// while this process still holds the run lock.
	if err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := checkFence(ctx, tx, s.cfg.Fence); err != nil {
			return err
		}
		// One row says it for the batch's every journal: they stay planned until Alpaca answers.
		return store.MoveBatch(ctx, tx, b.ID, store.BatchSending, store.BatchMove{}, now)
	}); err != nil {
		return fmt.Errorf("mark batch %s sending: %w", b.Seq, err)
	}
	if b.EntryType == store.EntryJNLS {
		call(s.cfg.BeforeRewardPost, b.ID)
		return s.sendReward(ctx, b, res)
	}
	call(s.cfg.BeforePost, b.ID)
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
	case errors.As(err, &apiErr) && wholeBatchCancel(apiErr.HTTPStatus):
		return s.refused(ctx, b, apiErr, res)
	default:
		// Timeouts, 5xx and 429 past the client's retries: the batch stays 'sending' and the next
		// run resends it with the same key and body.
		return fmt.Errorf("send batch %s: %w", b.Seq, err)
	}
}

// refused handles a batch Alpaca refused whole. Alpaca answers 422 with its generic code 42210000
// both for a key reused with another body and for a batch canceled for an inactive account, so a
// 422 is decided by what Alpaca holds: journals carrying this batch's key tokens mean the batch was
// created before (a conflict: never sent again); none mean it was canceled, and the message says
// which entries to blame.
func (s *submitter) refused(ctx context.Context, b store.Batch, apiErr *alpaca.APIError, res *Result) error {
	var req alpaca.BatchRequest
	if err := json.Unmarshal(b.Body, &req); err != nil {
		return err
	}
	named, _ := splitEntries(req.Entries, apiErr.Message)
	if apiErr.HTTPStatus == http.StatusUnprocessableEntity {
		now := s.cfg.Now().UTC()
		found, err := s.listByToken(ctx, req.Entries, now.Add(-s.cfg.KeyRetention), now)
		if err != nil {
			// The batch stays 'sending'; the next run asks again.
			return fmt.Errorf("batch %s refused (%w); listing Alpaca's journals to tell a conflict from a canceled batch: %w", b.Seq, apiErr, err)
		}
		keys, err := store.JournalKeysOfBatch(ctx, s.db, b.ID)
		if err != nil {
			return err
		}
		held := 0
		for _, k := range keys {
			if _, ok := found[k]; ok {
				held++
			}
		}
		if held > 0 || len(named) == 0 && strings.Contains(strings.ToLower(apiErr.Message), "idempotency") {
			return s.conflict(ctx, b, apiErr, found)
		}
	}
	if mentions(apiErr.Message, s.cfg.SweepAccount) {
		// Nothing was created and nothing in the batch is to blame: the sweep account itself was
		// refused. The batch stays 'sending' and is resent, same key and body, once it is fixed.
		if err := store.NoteBatchRefusal(ctx, s.db, b.ID, apiErr.HTTPStatus, apiErr.Message); err != nil {
			return err
		}
		return fmt.Errorf("batch %s: Alpaca refused the sweep account %s (%w); nothing was created: fix the account and re-run", b.Seq, s.cfg.SweepAccount, apiErr)
	}
	n, split, err := s.isolate(ctx, b, apiErr)
	if err != nil {
		return fmt.Errorf("isolate batch %s: %w", b.Seq, err)
	}
	s.count(func() {
		res.Canceled += n
		if split {
			res.Split++
		}
	})
	return nil
}

// conflict records the journals of a refused batch that Alpaca holds (so they are tracked, never
// re-sent), fails the batch and reports the conflict.
func (s *submitter) conflict(ctx context.Context, b store.Batch, apiErr *alpaca.APIError, found map[string]alpaca.Journal) error {
	now := s.cfg.Now().UTC()
	var note string
	if err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		js, err := store.JournalsOfBatch(ctx, tx, b.ID)
		if err != nil {
			return err
		}
		matched, _, err := recordFound(ctx, tx, js, found, "submit", now)
		if err != nil {
			return err
		}
		note = fmt.Sprintf("%d of %d journals found at Alpaca by key token", matched, len(js))
		return store.MoveBatch(ctx, tx, b.ID, store.BatchFailed, refusal(apiErr, apiErr.Message+"; "+note), now)
	}); err != nil {
		return err
	}
	return fmt.Errorf("batch %s: %w (Alpaca: %s; %s)", b.Seq, ErrConflict, apiErr.Message, note)
}

func (s *submitter) count(f func()) { s.mu.Lock(); f(); s.mu.Unlock() }

// call runs hook, when set, for batch id.
func call(hook func(int64), id int64) {
	if hook != nil {
		hook(id)
	}
}

// holdsLock checks that the run lock's session is alive and its fence still current, before any
// work: a run that lost its lock must not even find that nothing is left to send.
func (s *submitter) holdsLock(ctx context.Context) error {
	if s.cfg.Fence.Held != nil {
		if err := s.cfg.Fence.Held(ctx); err != nil {
			return err
		}
	}
	return s.inTx(ctx, func(tx *sqlx.Tx) error { return checkFence(ctx, tx, s.cfg.Fence) })
}

// wholeBatchCancel reports whether an HTTP status means Alpaca refused the whole batch: for what is
// in it (an unknown, inactive or ineligible account, an invalid entry), creating nothing, or, for a
// 422 only, because its key was used before (refused tells the two apart).
func wholeBatchCancel(status int) bool {
	switch status {
	case http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound, http.StatusUnprocessableEntity:
		return true
	}
	return false
}

// store records Alpaca's answer to a batch: every journal's id, status and error_message, the
// batch 'sent', and the history, in one transaction. Alpaca does not promise the answer keeps the
// request's order: each answered journal is matched to its intent by the key token of its
// description, never by position, and must agree with that intent's account and amount
// (store.AnswerBatch checks both against the journal, in the statement that stores the answer).
func (s *submitter) store(ctx context.Context, b store.Batch, answer []alpaca.BatchJournal) error {
	now := s.cfg.Now().UTC()
	a := make([]store.BatchAnswer, len(answer))
	seen := make(map[string]bool, len(answer))
	for i, got := range answer {
		key, ok := pool.TokenFromDescription(got.Description)
		if !ok {
			return fmt.Errorf("answer entry %d (journal %s) carries no key token of this batch", i, got.ID)
		}
		if seen[key] {
			return fmt.Errorf("answer entry %d (journal %s) repeats the key token %s", i, got.ID, key)
		}
		seen[key] = true
		a[i] = store.BatchAnswer{Key: key, AlpacaID: got.ID, Status: got.Status, Message: got.ErrorMessage, ToAccount: got.ToAccount}
		if got.NetAmount.Valid {
			a[i].Amount = got.NetAmount.Decimal.String()
		}
	}
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := store.AnswerBatch(ctx, tx, b.ID, a, "submit", now); err != nil {
			return err
		}
		return store.MoveBatch(ctx, tx, b.ID, store.BatchSent, store.BatchMove{HTTPStatus: sql.NullInt64{Int64: http.StatusOK, Valid: true}}, now)
	})
}

// isolate handles a batch Alpaca canceled whole, having created nothing. The entries whose account
// the message names fail with Alpaca's message and the rest go again, under a new key, in a batch
// of their own. When the message names no entry, the batch is split in halves under new keys until
// the bad entries end up alone; a batch of one fails. Returns the number of journals failed and
// whether new batches were made.
func (s *submitter) isolate(ctx context.Context, b store.Batch, apiErr *alpaca.APIError) (int, bool, error) {
	now := s.cfg.Now().UTC()
	var failed int
	var split bool
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var req alpaca.BatchRequest
		if err := json.Unmarshal(b.Body, &req); err != nil {
			return err
		}
		named, rest := splitEntries(req.Entries, apiErr.Message)
		var parts [][]alpaca.BatchEntry
		switch {
		case len(req.Entries) == 1:
			named, rest = req.Entries, nil
		case len(named) > 0:
			if len(rest) > 0 {
				parts = [][]alpaca.BatchEntry{rest}
			}
		default:
			half := len(req.Entries) / 2
			parts = [][]alpaca.BatchEntry{req.Entries[:half], req.Entries[half:]}
		}
		status := store.BatchFailed
		if len(parts) > 0 {
			status = store.BatchSplit
		}
		if err := store.MoveBatch(ctx, tx, b.ID, status, refusal(apiErr, apiErr.Message), now); err != nil {
			return err
		}
		if len(named) > 0 {
			ids, err := store.SetJournalsError(ctx, tx, b.ID, entryKeys(named), fmt.Sprintf("batch canceled by Alpaca (HTTP %d): %s", apiErr.HTTPStatus, apiErr.Message))
			if err != nil {
				return err
			}
			failed = len(ids)
			if _, err := store.MoveJournals(ctx, tx, store.Moves(ids, store.JournalCanceled), "submit", now); err != nil {
				return err
			}
		}
		for i, part := range parts {
			id, err := jnlc.InsertBatch(ctx, tx, s.runID, s.cfg.SweepAccount, s.cfg.BusinessDate, fmt.Sprintf("%s.%d", b.Seq, i+1), part)
			if err != nil {
				return err
			}
			if err := store.RebatchJournals(ctx, tx, id, b.ID, entryKeys(part)); err != nil {
				return err
			}
		}
		split = len(parts) > 0
		return nil
	})
	return failed, split, err
}

func entryKeys(entries []alpaca.BatchEntry) []string {
	keys := make([]string, len(entries))
	for i, e := range entries {
		keys[i], _ = pool.TokenFromDescription(e.Description)
	}
	return keys
}

// splitEntries separates the entries whose account Alpaca's message names.
func splitEntries(entries []alpaca.BatchEntry, msg string) (named, rest []alpaca.BatchEntry) {
	for _, e := range entries {
		if mentions(msg, e.ToAccount) {
			named = append(named, e)
		} else {
			rest = append(rest, e)
		}
	}
	return named, rest
}

// mentions reports whether Alpaca's message names the account id.
func mentions(msg, account string) bool {
	return account != "" && strings.Contains(strings.ToLower(msg), strings.ToLower(account))
}

// refusal is what a batch refused by Alpaca records: the HTTP status and the message (or a note).
func refusal(apiErr *alpaca.APIError, msg string) store.BatchMove {
	return store.BatchMove{HTTPStatus: sql.NullInt64{Int64: int64(apiErr.HTTPStatus), Valid: true}, Error: sql.NullString{String: msg, Valid: true}}
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
func (s *submitter) recoverStale(ctx context.Context, b store.Batch) error {
	var req alpaca.BatchRequest
	if err := json.Unmarshal(b.Body, &req); err != nil {
		return err
	}
	return s.recoverByToken(ctx, b, store.EntryJNLC, s.cfg.SweepAccount, req.Entries,
		func(tx *sqlx.Tx, _ bool, missingKeys map[string]bool, note string, now time.Time) error {
			var missing []alpaca.BatchEntry
			for _, e := range req.Entries {
				if k, _ := pool.TokenFromDescription(e.Description); missingKeys[k] {
					missing = append(missing, e)
				}
			}
			if len(missing) == 0 {
				return store.MoveBatch(ctx, tx, b.ID, store.BatchSent, store.BatchMove{Error: sql.NullString{String: note, Valid: true}}, now)
			}
			rest := note + "; the rest re-batched under a new key"
			if err := store.MoveBatch(ctx, tx, b.ID, store.BatchSplit, store.BatchMove{Error: sql.NullString{String: rest, Valid: true}}, now); err != nil {
				return err
			}
			id, err := jnlc.InsertBatch(ctx, tx, s.runID, s.cfg.SweepAccount, s.cfg.BusinessDate, b.Seq+".k", missing)
			if err != nil {
				return err
			}
			return store.RebatchJournals(ctx, tx, id, b.ID, entryKeys(missing))
		})
}

// recoverByToken lists fromAccount's journals of entryType from b's first send until now (any
// resend in between may have been the one that landed). In one transaction it stores those of b's
// journals found by key token as Alpaca's answer, then hands settle whether all were found, the
// keys of those that were not, and a note saying how many were.
func (s *submitter) recoverByToken(ctx context.Context, b store.Batch, entryType, fromAccount string, entries []alpaca.BatchEntry,
	settle func(tx *sqlx.Tx, allFound bool, missingKeys map[string]bool, note string, now time.Time) error) error {
	now := s.cfg.Now().UTC()
	found, err := s.listByTokenOf(ctx, entryType, fromAccount, entries, b.SendingAt.Time, now)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		js, err := store.JournalsOfBatch(ctx, tx, b.ID)
		if err != nil {
			return err
		}
		matched, missingKeys, err := recordFound(ctx, tx, js, found, "recover", now)
		if err != nil {
			return err
		}
		note := fmt.Sprintf("left sending past the key retention window: %d of %d journals found at Alpaca by key token", matched, len(js))
		return settle(tx, matched == len(js), missingKeys, note, now)
	})
}

// listByToken looks for the journals of a batch's entries among the sweep account's cash journals
// created between from and to (a day more on each side: Alpaca filters by creation date), and
// indexes those it finds by the key token of their description. A day over Alpaca's list limit is
// listed per to_account of the entries; one still over it is an error.
func (s *submitter) listByToken(ctx context.Context, entries []alpaca.BatchEntry, from, to time.Time) (map[string]alpaca.Journal, error) {
	return s.listByTokenOf(ctx, store.EntryJNLC, s.cfg.SweepAccount, entries, from, to)
}

// listByTokenOf is listByToken over the journals of entryType from the firm account fromAccount.
func (s *submitter) listByTokenOf(ctx context.Context, entryType, fromAccount string, entries []alpaca.BatchEntry, from, to time.Time) (map[string]alpaca.Journal, error) {
	wanted := make(map[string]bool, len(entries))
	accounts := make([]string, 0, len(entries))
	for _, e := range entries {
		if key, ok := pool.TokenFromDescription(e.Description); ok {
			wanted[key] = true
		}
		accounts = append(accounts, e.ToAccount)
	}
	slices.Sort(accounts)
	accounts = slices.Compact(accounts)
	found := make(map[string]alpaca.Journal)
	err := alpaca.EachJournalPaged(ctx, s.broker, alpaca.ListFilter{
		FromAccount: fromAccount, EntryType: entryType,
		After:  from.AddDate(0, 0, -1).Format(time.DateOnly),
		Before: to.AddDate(0, 0, 1).Format(time.DateOnly),
	}, alpaca.Narrow{ToAccounts: accounts}, func(j alpaca.Journal) error {
		if key, ok := pool.TokenFromDescription(j.Description); ok && wanted[key] {
			found[key] = j
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list journals: %w", err)
	}
	return found, nil
}

// recordFound stores, as Alpaca's answer, the journals of js found at Alpaca by key token, and
// returns how many were found and the keys of those that were not.
func recordFound(ctx context.Context, tx *sqlx.Tx, js []store.BatchJournal, found map[string]alpaca.Journal, source string, now time.Time) (int, map[string]bool, error) {
	var a []store.JournalMove
	missing := map[string]bool{}
	for _, j := range js {
		f, ok := found[j.Key]
		if !ok {
			missing[j.Key] = true
			continue
		}
		// The list has no error_message; a journal found is one Alpaca accepted or refused.
		a = append(a, store.JournalMove{ID: j.ID, To: f.Status, AlpacaID: f.ID})
	}
	if len(a) == 0 {
		return 0, missing, nil
	}
	return len(a), missing, store.AnswerJournals(ctx, tx, a, source, now)
}

// Package submit sends a run's planned batches to Alpaca. The protocol makes a crash at any
// instruction harmless: a batch is marked 'sending' and committed before its POST; the POST carries
// the batch's Idempotency-Key and the exact bytes stored at plan time; every journal Alpaca returns is
// stored in one transaction. A batch found 'sending' after a crash is simply sent again: Alpaca
// replays its original answer for the same key and body.
package submit

import (
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
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
	// LeaseDefault is how long a worker's claim on a batch lasts unless renewed (every third of
	// it while the worker works). Defaults to 1m.
	LeaseDefault = time.Minute
)

// lookEvery bounds the pause before a worker looks again for batches that other processes hold
// (their claims end when they are done or run out); the workers of one process wake each other.
const lookEvery = time.Second

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
	// Fence is the fencing token the night was opened for sending under, required: the run lock
	// holder's own, or (Join) the one recorded when the holder checked the night's cash. No batch
	// is marked 'sending' once another holder has taken the lock since.
	Fence Fence
	// Worker names this process's claims on batches (unique per process and night; one is made up
	// when empty). Lease is how long a claim lasts unless renewed (LeaseDefault when zero).
	Worker string
	Lease  time.Duration
	// Join is a process sending a night whose run lock another holds: it sends and leaves the
	// run's status to the holder.
	Join bool
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

// Submit sends batches of the run that are planned or were left sending, claimed one at a time
// with a lease so that any number of processes share the night, until none is left to send.
func Submit(ctx context.Context, db *sqlx.DB, broker Broker, runID int64, cfg Config) (Result, error) {
	cfg.MaxInFlight = cmp.Or(cfg.MaxInFlight, MaxInFlightDefault)
	cfg.KeyRetention = cmp.Or(cfg.KeyRetention, KeyRetentionDefault)
	cfg.Lease = cmp.Or(max(cfg.Lease, 0), LeaseDefault)
	cfg.RewardsAccount = strings.ToLower(cmp.Or(cfg.RewardsAccount, cfg.SweepAccount))
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Worker == "" {
		cfg.Worker = NewWorker()
	}
	if cfg.Fence.Name == "" {
		return Result{}, errors.New("submit: no fencing token: the caller must hold the run lock or join a night opened under one")
	}
	s := &submitter{db: db, broker: broker, runID: runID, cfg: cfg, woke: make(chan struct{})}
	if err := s.holdsLock(ctx); err != nil {
		return Result{}, err
	}
	if err := s.sayRewardsPace(ctx); err != nil {
		return Result{}, err
	}
	stopRenewing := s.renewClaims(ctx)
	var res Result
	err := s.sendAll(ctx, &res)
	stopRenewing()
	// Claims left (an error, a cancel) are given up so that another worker goes on at once.
	if rerr := store.ReleaseClaims(context.WithoutCancel(ctx), db, runID, cfg.Worker); rerr != nil && err == nil {
		err = rerr
	}
	if err != nil || cfg.Join {
		return res, err
	}
	_, err = store.MoveRun(ctx, db, runID, store.RunSubmitted, nil, cfg.Now().UTC())
	return res, err
}

// NewWorker makes up a worker name: host, process id and a random part.
func NewWorker() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), rand.Text()[:8])
}

type submitter struct {
	db     *sqlx.DB
	broker Broker
	runID  int64
	cfg    Config
	mu     sync.Mutex
	woke   chan struct{} // closed (and replaced) when a worker of this process finished a batch
}

// renewClaims renews this worker's claims every third of the lease until the returned function
// is called. A renewal that fails is only logged: a claim that runs out is checked where it
// counts, when a batch is marked sending.
func (s *submitter) renewClaims(ctx context.Context) func() {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(s.cfg.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if _, err := store.RenewClaims(ctx, s.db, s.runID, s.cfg.Worker, s.cfg.Lease); err != nil && ctx.Err() == nil {
					s.cfg.Logger.Warn("submit: renewing this worker's claims failed", "worker", s.cfg.Worker, "err", err)
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}

// sendAll runs MaxInFlight workers, each claiming one batch at a time, until no batch of the run
// is left to send, by this process or any other.
func (s *submitter) sendAll(ctx context.Context, res *Result) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var firstErr error
	var once sync.Once
	for range s.cfg.MaxInFlight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.work(ctx, res); err != nil {
				once.Do(func() { firstErr = err; cancel() })
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// work claims and sends batches one at a time until none is left to send. When every batch left
// is claimed by another worker, it waits for one to be done or its claim to run out.
func (s *submitter) work(ctx context.Context, res *Result) error {
	for ctx.Err() == nil {
		s.mu.Lock()
		woke := s.woke
		s.mu.Unlock()
		claimed, err := store.ClaimBatches(ctx, s.db, s.runID, s.cfg.Worker, 1, s.cfg.Lease)
		if err != nil {
			return fmt.Errorf("claim a batch: %w", err)
		}
		if len(claimed) == 0 {
			left, err := store.BatchesLeftOf(ctx, s.db, s.runID)
			if err != nil {
				return fmt.Errorf("batches left to send: %w", err)
			}
			if left == 0 {
				return nil
			}
			t := time.NewTimer(lookEvery)
			select {
			case <-ctx.Done():
			case <-woke:
			case <-t.C:
			}
			t.Stop()
			continue
		}
		b := claimed[0]
		err = s.send(ctx, b, res)
		switch {
		case errors.Is(err, store.ErrNotClaimed):
			s.cfg.Logger.Warn("submit: this worker's claim on a batch ran out before it was marked sending; another worker sends it",
				"batch", b.Seq, "worker", s.cfg.Worker)
		case errors.Is(err, store.ErrBatchMoved):
			s.cfg.Logger.Warn("submit: another worker settled a batch this worker was sending", "batch", b.Seq, "worker", s.cfg.Worker)
		case err != nil:
			return err
		}
		s.mu.Lock()
		close(s.woke)
		s.woke = make(chan struct{})
		s.mu.Unlock()
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
	// while the night's fencing epoch is still the one it was opened for sending under.
	if err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := checkFence(ctx, tx, s.cfg.Fence); err != nil {
			return err
		}
		// One row says it for the batch's every journal: they stay planned until Alpaca answers.
		// Only while this worker's claim holds: a worker that lost it (paused, cut off) sends nothing.
		return store.MarkSending(ctx, tx, b.ID, s.cfg.Worker, now)
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
		// The batch first: one settled by another worker meanwhile (this one's claim ran out) is
		// ErrBatchMoved, not an answer stored twice.
		if err := store.MoveBatch(ctx, tx, b.ID, store.BatchSent, store.BatchMove{HTTPStatus: sql.NullInt64{Int64: http.StatusOK, Valid: true}}, now); err != nil {
			return err
		}
		return store.AnswerBatch(ctx, tx, b.ID, a, "submit", now)
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

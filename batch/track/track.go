// Package track follows every journal of a run until Alpaca has settled it or the run's tracking
// deadline passes. This first version polls: one windowed list call per pass for the whole run
// (Alpaca's list has no pagination and fails above 100,000 rows), then a GET by id for any journal
// the list did not return. Every status change is applied with a guard (an older status never
// overwrites a newer one) and appended to the journal's history in the same transaction.
package track

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/cashpool/cashpool/alpaca"
)

// Broker is the part of the Alpaca client tracking uses.
type Broker interface {
	ListJournals(ctx context.Context, f alpaca.ListFilter) ([]alpaca.Journal, error)
	GetJournal(ctx context.Context, id string) (*alpaca.Journal, error)
}

// Config of a tracking session.
type Config struct {
	SweepAccount string
	PollEvery    time.Duration // pause between passes; default 30s
	Now          func() time.Time
	Logger       *slog.Logger
	// Wait pauses between passes; tests inject one that advances the simulator's clock instead.
	Wait func(ctx context.Context, d time.Duration) error
	// GetParallel bounds concurrent GET-by-id calls; default 4.
	GetParallel int
	// AfterPass, when set, runs after each pass committed (the crash harness kills there).
	AfterPass func()
}

// Result of a tracking session.
type Result struct {
	Passes  int
	Changed int // status changes applied
	Open    int // journals not final when tracking stopped
}

// rank orders statuses along Alpaca's flows so an old observation never overwrites a newer one.
// Failed and corrected statuses outrank executed: cashiering can still reverse an executed journal.
func rank(s string) int {
	switch s {
	case "planned":
		return 0
	case "sending":
		return 1
	case alpaca.StatusQueued:
		return 2
	case alpaca.StatusPending:
		return 3
	case alpaca.StatusSentToClearing:
		return 4
	case alpaca.StatusExecuted:
		return 5
	case alpaca.StatusActivityCreated:
		return 6
	case alpaca.StatusRejected, alpaca.StatusRefused, alpaca.StatusCanceled, alpaca.StatusDeleted, alpaca.StatusCorrect:
		return 7
	}
	return -1 // unknown: always recorded, never blocks a known status
}

// Newer reports whether moving from old to new is progress and should be applied.
func Newer(old, new string) bool {
	if old == new {
		return false
	}
	ro, rn := rank(old), rank(new)
	if ro < 0 || rn < 0 {
		return true
	}
	return rn > ro
}

type open struct {
	ID       int64  `db:"id"`
	AlpacaID string `db:"alpaca_id"`
	Status   string `db:"status"`
}

// Track polls until every journal of the run that Alpaca knows is final or the deadline passes.
func Track(ctx context.Context, db *sqlx.DB, broker Broker, runID int64, deadline time.Time, cfg Config) (Result, error) {
	if cfg.PollEvery <= 0 {
		cfg.PollEvery = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Wait == nil {
		cfg.Wait = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
				return nil
			}
		}
	}
	if cfg.GetParallel <= 0 {
		cfg.GetParallel = 4
	}
	var res Result
	for {
		n, changed, err := Pass(ctx, db, broker, runID, cfg)
		res.Passes++
		res.Changed += changed
		res.Open = n
		if err != nil {
			return res, err
		}
		cfg.Logger.Info("track pass", "run", runID, "changed", changed, "open", n)
		if cfg.AfterPass != nil {
			cfg.AfterPass()
		}
		if n == 0 || !cfg.Now().Before(deadline) {
			_, err := db.ExecContext(ctx, `UPDATE runs SET status = 'tracked' WHERE id = $1 AND status IN ('planned', 'submitted')`, runID)
			return res, err
		}
		if err := cfg.Wait(ctx, min(cfg.PollEvery, deadline.Sub(cfg.Now()))); err != nil {
			return res, err
		}
	}
}

// Pass looks every open journal of the run up once and applies what changed. It returns how many
// stay open. Funded journals (executed, activity_created) are not open: watching them for
// reversals is a later, longer-lived job.
func Pass(ctx context.Context, db *sqlx.DB, broker Broker, runID int64, cfg Config) (stillOpen, changed int, err error) {
	var js []open
	if err := db.SelectContext(ctx, &js, `
		SELECT id, alpaca_id::text AS alpaca_id, status FROM journals
		WHERE run_id = $1 AND alpaca_id IS NOT NULL
		  AND status NOT IN ('executed', 'activity_created', 'rejected', 'refused', 'canceled', 'deleted', 'correct')`, runID); err != nil {
		return 0, 0, fmt.Errorf("open journals: %w", err)
	}
	if len(js) == 0 {
		return 0, 0, nil
	}
	var window struct {
		From time.Time `db:"first"`
		To   time.Time `db:"last"`
	}
	if err := db.GetContext(ctx, &window, `SELECT min(sent_at) AS first, max(sent_at) AS last FROM batches WHERE run_id = $1 AND sent_at IS NOT NULL`, runID); err != nil {
		return 0, 0, fmt.Errorf("batch window: %w", err)
	}
	seen := make(map[string]alpaca.Journal, len(js))
	list, err := broker.ListJournals(ctx, alpaca.ListFilter{
		FromAccount: cfg.SweepAccount, EntryType: "JNLC",
		// The list filters by creation date; a day either side absorbs time zones.
		After:  window.From.AddDate(0, 0, -1).Format(time.DateOnly),
		Before: window.To.AddDate(0, 0, 1).Format(time.DateOnly),
	})
	var apiErr *alpaca.APIError
	switch {
	case err == nil:
		for _, j := range list {
			seen[strings.ToLower(j.ID)] = j
		}
	case errors.As(err, &apiErr) && apiErr.HTTPStatus == 422:
		cfg.Logger.Warn("journal list too large; looking journals up one by one", "run", runID)
	default:
		return len(js), 0, fmt.Errorf("list journals: %w", err)
	}
	var missing []open
	for _, j := range js {
		if _, ok := seen[strings.ToLower(j.AlpacaID)]; !ok {
			missing = append(missing, j)
		}
	}
	if err := getEach(ctx, broker, missing, seen, cfg.GetParallel); err != nil {
		return len(js), 0, err
	}

	var ids []int64
	var statuses []string
	var unknown []bool
	still := 0
	for _, j := range js {
		a, ok := seen[strings.ToLower(j.AlpacaID)]
		status := j.Status
		if ok && Newer(j.Status, a.Status) {
			ids = append(ids, j.ID)
			statuses = append(statuses, a.Status)
			unknown = append(unknown, !alpaca.KnownStatus(a.Status))
			status = a.Status
		}
		if !alpaca.Final(status) {
			still++
		}
	}
	if len(ids) == 0 {
		return still, 0, nil
	}
	now := cfg.Now().UTC()
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return still, 0, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO journal_history (journal_id, status_from, status_to, source, at)
		SELECT j.id, j.status, v.status, 'poll', $4
		FROM journals j JOIN unnest($1::bigint[], $2::text[], $3::bool[]) AS v(id, status, unknown) ON j.id = v.id
		WHERE j.status <> v.status`, pq.Array(ids), pq.Array(statuses), pq.Array(unknown), now); err != nil {
		return still, 0, err
	}
	if _, err := tx.ExecContext(ctx, `
		UPDATE journals j SET status = v.status, status_unknown = v.unknown, updated_at = $4
		FROM unnest($1::bigint[], $2::text[], $3::bool[]) AS v(id, status, unknown)
		WHERE j.id = v.id`, pq.Array(ids), pq.Array(statuses), pq.Array(unknown), now); err != nil {
		return still, 0, err
	}
	return still, len(ids), tx.Commit()
}

func getEach(ctx context.Context, broker Broker, js []open, seen map[string]alpaca.Journal, parallel int) error {
	var mu sync.Mutex
	var firstErr error
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for _, j := range js {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			a, err := broker.GetJournal(ctx, j.AlpacaID)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("get journal %s: %w", j.AlpacaID, err)
				}
				return
			}
			seen[strings.ToLower(j.AlpacaID)] = *a
		}()
	}
	wg.Wait()
	return firstErr
}

package track

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/cashpool/cashpool/alpaca"
	"github.com/cashpool/cashpool/batch/store"
	"github.com/cashpool/cashpool/pool"
)

// LinkCorrections finds, for every cash journal of the sweep account's runs from business date
// from on (the watch, as Watch's) that Alpaca marked 'correct' and that has no known replacement
// yet (Alpaca corrects an amount; a JNLS has none), the journal that replaced it: the one to the
// same account that carries the same key token in its description under another id. The list is
// narrowed to the account and the weeks around the correction, so it stays small. Older runs are
// not read: their journals are no longer watched, and reading every night the account ever had
// grew with each night (and asked Alpaca again for each unlinked one). Returns how many were linked.
func LinkCorrections(ctx context.Context, db *sqlx.DB, broker Broker, sweep string, from, now time.Time) (int, error) {
	var corrected []struct {
		ID        int64     `db:"id"`
		Key       string    `db:"journal_key"`
		ToAccount string    `db:"to_account"`
		AlpacaID  string    `db:"alpaca_id"`
		Updated   time.Time `db:"updated_at"`
	}
	if err := db.SelectContext(ctx, &corrected, `
		SELECT j.id, j.journal_key::text AS journal_key, j.to_account::text AS to_account, j.alpaca_id::text AS alpaca_id, j.updated_at
		FROM journals j JOIN runs r ON r.id = j.run_id
		WHERE r.sweep_account = $1 AND r.business_date >= $3 AND j.status = $2 AND j.entry_type = 'JNLC'
		  AND NOT EXISTS (SELECT 1 FROM journal_replacements x WHERE x.journal_id = j.id)`,
		sweep, store.JournalCorrect, from.Format(time.DateOnly)); err != nil {
		return 0, fmt.Errorf("corrected journals: %w", err)
	}
	linked := 0
	for _, c := range corrected {
		var repl *alpaca.Journal
		err := alpaca.EachJournalPaged(ctx, broker, alpaca.ListFilter{
			FromAccount: sweep, ToAccount: c.ToAccount, EntryType: "JNLC",
			After:  c.Updated.AddDate(0, 0, -14).Format(time.DateOnly),
			Before: now.AddDate(0, 0, 1).Format(time.DateOnly),
		}, alpaca.Narrow{}, func(j alpaca.Journal) error {
			key, ok := pool.TokenFromDescription(j.Description)
			if repl == nil && ok && key == c.Key && !strings.EqualFold(j.ID, c.AlpacaID) {
				repl = &j
			}
			return nil
		})
		if err != nil {
			return linked, fmt.Errorf("look for the replacement of journal %s: %w", c.AlpacaID, err)
		}
		if j := repl; j != nil {
			var amount any
			if j.NetAmount.Valid {
				amount = j.NetAmount.Decimal.StringFixed(2)
			}
			if _, err := db.ExecContext(ctx, insertReplacement, c.ID, j.ID, amount, j.Status, now.UTC()); err != nil {
				return linked, fmt.Errorf("link replacement: %w", err)
			}
			linked++
		}
	}
	return linked, nil
}

// Watch looks again at the journals of the sweep account's runs from business date from on that
// are funded or still open, and applies any change Alpaca made since (a reversal: executed →
// canceled; a correction: executed → correct; a late outcome of a journal that was stuck: pending
// → executed or rejected), with history source 'watch'. Alpaca is asked, status by status, for the
// journals that failed or were corrected and for those still open, so the answers stay small
// however many journals were funded; each list is paged under Alpaca's 100,000 limit, and a window
// that cannot be listed is an error, never a check skipped. An open journal of ours that no list
// shows has moved on (funded, or to a status Alpaca added) and is looked up by id.
//
// Rewards (JNLS) go from the rewards account (rewards; "" is the sweep account): once a reward of
// the watched runs was sent, the rewards account's JNLS are listed the same way.
func Watch(ctx context.Context, db *sqlx.DB, broker Broker, sweep, rewards string, from time.Time, now time.Time) (int, error) {
	var sent struct {
		First   sql.NullTime `db:"first"`
		Rewards bool         `db:"rewards"`
	}
	if err := db.GetContext(ctx, &sent, `
		SELECT min(b.sent_at) AS first, COALESCE(bool_or(b.entry_type = 'JNLS' AND b.sent_at IS NOT NULL), false) AS rewards
		FROM batches b JOIN runs r ON r.id = b.run_id
		WHERE r.sweep_account = $1 AND r.business_date >= $2`, sweep, from.Format(time.DateOnly)); err != nil {
		return 0, err
	}
	if !sent.First.Valid {
		return 0, nil // nothing was ever sent in the watch
	}
	window := alpaca.ListFilter{FromAccount: sweep, EntryType: "JNLC",
		After: sent.First.Time.AddDate(0, 0, -1).Format(time.DateOnly), Before: now.AddDate(0, 0, 1).Format(time.DateOnly)}
	windows := []alpaca.ListFilter{window}
	if sent.Rewards {
		window.FromAccount, window.EntryType = cmp.Or(rewards, sweep), "JNLS"
		windows = append(windows, window)
	}
	current := map[string]string{}
	for _, window := range windows {
		for _, status := range watchStatuses {
			f := window
			f.Status = status
			err := alpaca.EachJournalPaged(ctx, broker, f, alpaca.Narrow{}, func(j alpaca.Journal) error {
				// A journal that moved between two lists shows in both: the later status wins.
				id := strings.ToLower(j.ID)
				if was, ok := current[id]; !ok || store.JournalMayMove(was, j.Status) {
					current[id] = j.Status
				}
				return nil
			})
			if err != nil {
				return 0, fmt.Errorf("list %s %s journals: %w", status, window.EntryType, err)
			}
		}
	}
	listed := make([]string, 0, len(current))
	for id := range current {
		listed = append(listed, id)
	}
	var watched []open
	if err := db.SelectContext(ctx, &watched, `
		SELECT j.id, j.alpaca_id::text AS alpaca_id, j.status FROM journals j JOIN runs r ON r.id = j.run_id
		WHERE r.sweep_account = $1 AND r.business_date >= $3 AND j.alpaca_id IS NOT NULL
		  AND j.status NOT IN (`+failedList+`)
		  AND (j.alpaca_id = ANY($2::uuid[]) OR j.status NOT IN (`+finalList+`))`,
		sweep, pq.Array(listed), from.Format(time.DateOnly)); err != nil {
		return 0, fmt.Errorf("funded and open journals: %w", err)
	}
	var moved []open
	for _, j := range watched {
		if _, ok := current[strings.ToLower(j.AlpacaID)]; !ok {
			moved = append(moved, j)
		}
	}
	got := make(map[string]alpaca.Journal, len(moved))
	if err := getEach(ctx, broker, moved, got, 4); err != nil {
		return 0, err
	}
	for id, j := range got {
		current[id] = j.Status
	}
	var moves []store.JournalMove
	for _, j := range watched {
		if s, ok := current[strings.ToLower(j.AlpacaID)]; ok && store.JournalMayMove(j.Status, s) {
			moves = append(moves, store.JournalMove{ID: j.ID, Seen: j.Status, To: s})
		}
	}
	if len(moves) == 0 {
		return 0, nil
	}
	return applyChanges(ctx, db, nil, moves, "watch", now.UTC())
}

// watchStatuses are what Watch lists: where a funded or open journal can end without being funded,
// and the open statuses.
var watchStatuses = []string{alpaca.StatusCanceled, alpaca.StatusCorrect, alpaca.StatusRejected, alpaca.StatusRefused,
	alpaca.StatusDeleted, alpaca.StatusQueued, alpaca.StatusSentToClearing, alpaca.StatusPending}

// failedList are the statuses after which nothing more happens to a journal.
var failedList = store.SQLList(store.JournalsDone)

// finalList are the statuses a journal in the normal flow ends in.
var finalList = store.SQLList(store.JournalsFinal)

package batch

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/cashpool/cashpool/batch/store"
)

// ErrNoRun means the sweep account has no run of the date.
var ErrNoRun = errors.New("no run for this date")

// ErrNoJournal means the sweep account has no journal by that key or Alpaca id.
var ErrNoJournal = errors.New("no such journal")

// RunID is the id of the sweep account's run of date (YYYY-MM-DD), or ErrNoRun.
func RunID(ctx context.Context, db *sqlx.DB, sweep, date string) (int64, error) {
	id, err := store.RunOf(ctx, db, date, sweep)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("%s: %w", date, ErrNoRun)
	}
	return id, err
}

// JournalDate is the business date of the run a journal, named by its cashpool key or its Alpaca
// id (a UUID, checked by the caller), belongs to; ErrNoJournal when the sweep account has none.
func JournalDate(ctx context.Context, db *sqlx.DB, sweep, journal string) (string, error) {
	var date string
	err := db.GetContext(ctx, &date, `
		SELECT to_char(r.business_date, 'YYYY-MM-DD') FROM journals j JOIN runs r ON r.id = j.run_id
		WHERE r.sweep_account = $1 AND j.id IN (
			SELECT k.id FROM journals k WHERE k.journal_key = $2::uuid
			UNION ALL SELECT a.journal_id FROM journal_answers a WHERE a.alpaca_id = $2::uuid)`, sweep, journal)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("%s: %w", journal, ErrNoJournal)
	}
	return date, err
}

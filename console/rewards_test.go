package console_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cashpool/cashpool/batch/schema/schematest"
	"github.com/cashpool/cashpool/console"
)

// A reward's JNLS journal has no receipt, client ref or amount: wherever the console lists
// journals (a batch's journals, the night's exceptions) it shows the reward, its shares and
// symbol, and the nights list counts cash journals and rewards apart.
func TestConsoleShowsRewardsInShares(t *testing.T) {
	t.Parallel()
	db := schematest.DB(t)
	const (
		date    = "2026-11-24"
		account = "c0000000-0000-4000-8000-000000000001"
	)
	planned := time.Date(2026, 11, 24, 22, 0, 0, 0, time.UTC)
	db.MustExec(`INSERT INTO files (id, sha256, name, kind, status, rows, received_at)
		VALUES (1, 'c', 'rewards-1.csv', 'rewards', 'loaded', 2, $1)`, planned.Add(-time.Hour))
	var runID, batchID int64
	if err := db.Get(&runID, `INSERT INTO runs (business_date, sweep_account, status, planned_at, track_deadline)
		VALUES ($1, $2, 'tracked', $3, $4) RETURNING id`, date, sweep, planned, planned.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for i, w := range []struct{ id, qty, status, message string }{
		{"RW-1", "1.5", "executed", ""},
		{"RW-2", "2", "refused", "The amount requested to move is not available."},
	} {
		if err := db.Get(&batchID, `INSERT INTO batches (run_id, seq, idempotency_key, body, entries, status, entry_type)
			VALUES ($1, $2, gen_random_uuid(), '{}', 1, 'sent', 'JNLS') RETURNING id`, runID, w.id); err != nil {
			t.Fatal(err)
		}
		db.MustExec(`INSERT INTO rewards (reward_id, file_id, line, account_id, symbol, qty, reason, description)
			VALUES ($1, 1, $2, $3, 'AAPL', $4, 'signup', 'welcome')`, w.id, i+2, account, w.qty)
		db.MustExec(`INSERT INTO journals (run_id, batch_id, journal_key, entry_type, reward_id, symbol, qty, attempt, to_account,
			description, alpaca_id, status, status_unknown, error_message, updated_at)
			VALUES ($1, $2, gen_random_uuid(), 'JNLS', $3, 'AAPL', $4, 1, $5, 'welcome', gen_random_uuid(), $6, false, $7, now())`,
			runID, batchID, w.id, w.qty, account, w.status, w.message)
	}
	srv := httptest.NewServer(console.New(console.Config{DB: db, SweepAccount: sweep, TZ: time.UTC}))
	t.Cleanup(srv.Close)
	get := func(path string) string {
		t.Helper()
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d\n%s", path, res.StatusCode, b)
		}
		return string(b)
	}

	batch := get("/nights/" + date + "/batches/" + strconv.FormatInt(batchID, 10))
	if !strings.Contains(batch, "RW-2") || !strings.Contains(batch, "2 AAPL") || strings.Contains(batch, "USD") {
		t.Errorf("batch page shows no RW-2 with 2 AAPL (and no amount):\n%s", batch)
	}
	night := get("/nights/" + date)
	for _, want := range []string{"reward_refused", "RW-2", "2 AAPL", "Rewards (shares): AAPL 1.5 of 3.5 delivered, 2 failed"} {
		if !strings.Contains(night, want) {
			t.Errorf("night page lacks %q:\n%s", want, night)
		}
	}
	nights := get("/")
	// journals 0 (no cash journal), rewards 2.
	if !strings.Contains(nights, `<td class="num">0</td><td class="num">2</td>`) {
		t.Errorf("nights list does not count 0 journals and 2 rewards:\n%s", nights)
	}
}

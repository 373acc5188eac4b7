package batch_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cashpool/cashpool/fixtures"
	"github.com/cashpool/cashpool/pool"
)

// reward is one loaded reward of a test.
type reward struct{ id, account, symbol, qty string }

// dropRewards writes rewards as operations drops them: a rewards file with its .ready marker.
func dropRewards(t *testing.T, b *bundle, rs []reward) {
	t.Helper()
	var f strings.Builder
	f.WriteString("reward_id,account_id,symbol,qty,reason,description\n")
	for _, r := range rs {
		fmt.Fprintf(&f, "%s,%s,%s,%s,referral,thanks for the referral\n", r.id, r.account, r.symbol, r.qty)
	}
	if err := os.WriteFile(filepath.Join(b.drop, "rewards-1.csv"), []byte(f.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.drop, "rewards-1.csv.ready"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// A night with a rewards file beside its cash: each reward is one JNLS from the sweep account (the
// default rewards account), followed by the same stream and heal passes as the cash journals to a
// final status; one to the sweep account itself is refused before anything is sent and one Alpaca
// refuses is refused with its message; the broker's books hold each reward at most once.
func TestRewardsNightTrackedToFinal(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	sweep := b.runner.Config.SweepAccount
	rs := []reward{
		{"REF-1", acct(1), "AAPL", "0.25"},
		{"REF-2", acct(2), "MSFT", "2"},
		{"REF-3", sweep, "AAPL", "1"},
		{"REF-4", acct(3), "ZZZZ", "1"},  // no such asset: 422
		{"REF-5", acct(4), "TSLA", "1"},  // the sweep account holds no TSLA: 403
		{"REF-6", acct(5), "OLDCO", "1"}, // inactive, untradable: 422
	}
	dropRewards(t, b, rs)
	if _, err := b.runner.Run(ctx, fixtures.BusinessDate); err != nil {
		t.Fatal(err)
	}
	checkBrokerLedger(t, b)
	given := map[string]int{}
	for _, e := range b.sim.Ledger() {
		if e.EntryType != "JNLS" {
			continue
		}
		key, _ := pool.TokenFromDescription(e.Description)
		for _, r := range rs {
			if key == pool.RewardJournalKey(sweep, fixtures.BusinessDate, r.id, 1) {
				given[r.id]++
				if e.Status != "executed" {
					t.Errorf("reward %s is %s at the broker, want executed", r.id, e.Status)
				}
			}
		}
	}
	if given["REF-1"] != 1 || given["REF-2"] != 1 || len(given) != 2 {
		t.Fatalf("rewards at the broker %v, want REF-1 and REF-2 once each", given)
	}
	var rows []struct {
		Reward string `db:"reward_id"`
		Status string `db:"status"`
		Error  string `db:"error_message"`
		Moves  int    `db:"moves"`
	}
	if err := b.db.Select(&rows, `
		SELECT reward_id, status, error_message, (SELECT count(*) FROM journal_history h WHERE h.journal_id = j.id AND h.source <> 'submit') AS moves
		FROM journals j WHERE entry_type = 'JNLS' AND reward_id LIKE 'REF-%' ORDER BY reward_id`); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"REF-1": "executed", "REF-2": "executed", "REF-3": "refused", "REF-4": "refused",
		"REF-5": "refused", "REF-6": "refused"}
	for _, r := range rows {
		if r.Status != want[r.Reward] {
			t.Errorf("reward %s is %s, want %s (%s)", r.Reward, r.Status, want[r.Reward], r.Error)
		}
		if r.Status == "executed" && r.Moves < 1 {
			t.Errorf("reward %s reached executed with %d history rows after its answer: not tracked", r.Reward, r.Moves)
		}
	}
	if len(rows) != len(rs) {
		t.Fatalf("%d reward journals, want %d", len(rows), len(rs))
	}
	for i, why := range map[int]string{2: "sweep account itself", 3: "HTTP 422", 4: "HTTP 403", 5: "HTTP 422"} {
		if !strings.Contains(rows[i].Error, why) {
			t.Errorf("reward %s refused with %q, want %q", rows[i].Reward, rows[i].Error, why)
		}
	}

	// Alpaca takes a given reward back: the next night's watch of funded journals sees it.
	var id string
	if err := b.db.Get(&id, `SELECT alpaca_id::text FROM journals WHERE reward_id = 'REF-1'`); err != nil {
		t.Fatal(err)
	}
	admin(t, b, "journals/"+id+"/reverse", "")
	b.clock.Advance(24 * time.Hour)
	if _, err := b.runner.Run(ctx, "2026-11-21"); err != nil {
		t.Fatal(err)
	}
	var status string
	if err := b.db.Get(&status, `SELECT status FROM journals WHERE reward_id = 'REF-1'`); err != nil || status != "canceled" {
		t.Fatalf("reversed reward is %q (%v) after the next night, want canceled", status, err)
	}
}

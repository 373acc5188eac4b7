package ingest_test

import (
	"path/filepath"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/batch/ingest"
)

const rewardsHeader = "reward_id,account_id,symbol,qty,reason,description\n"

type rewardRow struct {
	RewardID    string          `db:"reward_id"`
	Line        int             `db:"line"`
	AccountID   string          `db:"account_id"`
	Symbol      string          `db:"symbol"`
	Qty         decimal.Decimal `db:"qty"`
	Reason      string          `db:"reason"`
	Description string          `db:"description"`
}

// A good rewards file is loaded whole with its files row; rows keep their physical lines (RW-2's
// description spans lines 3 and 4, so RW-3 is on line 5) and their values as written out here
// (the CSV reader gives a quoted CRLF as LF).
func TestLoadsRewardsFile(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.dropFile(t, "testdata/good/rewards_base.csv", "rewards_base.csv")
	f := outcomeOf(t, b.run(t), "rewards_base.csv")
	if f.Outcome != ingest.OutcomeLoaded || f.Kind != ingest.KindRewards || f.Rows != 3 || f.MovedTo != "archive/rewards_base.csv" {
		t.Fatalf("%+v", f)
	}
	var got []rewardRow
	if err := b.db.Select(&got, `SELECT reward_id, line, account_id, symbol, qty, reason, description FROM rewards ORDER BY line`); err != nil {
		t.Fatal(err)
	}
	want := []rewardRow{
		{"RW-1", 2, "0d9f6e2c-3b1a-4c5d-8e7f-123456789abc", "AAPL", decimal.RequireFromString("0.5"), "sign_up", "Welcome, a half share"},
		{"RW-2", 3, "1a2b3c4d-0000-4000-8000-00000000000b", "BRK.B", decimal.RequireFromString("0.123456789"), "referral", "Referral bonus\nfor inviting a friend"},
		{"RW-3", 5, "1a2b3c4d-0000-4000-8000-00000000000a", "SPY", decimal.RequireFromString("2"), "referral", ""},
	}
	if len(got) != len(want) {
		t.Fatalf("%d rewards loaded, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.RewardID != w.RewardID || g.Line != w.Line || g.AccountID != w.AccountID || g.Symbol != w.Symbol ||
			!g.Qty.Equal(w.Qty) || g.Reason != w.Reason || g.Description != w.Description {
			t.Fatalf("reward %d = %+v, want %+v", i, g, w)
		}
	}
	if n := b.count(t, `SELECT count(*) FROM files WHERE kind = 'rewards' AND status = 'loaded' AND rows = 3`); n != 1 {
		t.Fatalf("%d loaded rewards files rows, want 1", n)
	}
}

// A reward_id already loaded from an earlier file refuses the whole later file, naming the line
// and the earlier file; its good rows are not loaded either.
func TestRewardIDOnceAcrossFiles(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.dropFile(t, "testdata/good/rewards_base.csv", "rewards_base.csv")
	b.run(t)
	b.drop(t, "rewards_again.csv", rewardsHeader+
		"RW-9,0d9f6e2c-3b1a-4c5d-8e7f-123456789abc,MSFT,1,referral,new\n"+
		"RW-2,0d9f6e2c-3b1a-4c5d-8e7f-123456789abc,MSFT,1,referral,given before\n", true)
	f := outcomeOf(t, b.run(t), "rewards_again.csv")
	if f.Outcome != ingest.OutcomeRejected || f.Errors != 1 || f.MovedTo != "rejected/rewards_again.csv" ||
		!exists(t, filepath.Join(b.dir, "rejected", "rewards_again.csv.errors.csv")) {
		t.Fatalf("%+v", f)
	}
	p := f.Problems[0]
	if p.Line != 3 || p.Column != 1 || p.Field != "reward_id" || p.Problem != "reward_id RW-2 was already loaded from rewards_base.csv (line 3)" {
		t.Fatalf("problem %+v", p)
	}
	if n := b.count(t, `SELECT count(*) FROM rewards`); n != 3 {
		t.Fatalf("%d rewards, want the first file's 3", n)
	}
	if n := b.count(t, `SELECT count(*) FROM files WHERE name = 'rewards_again.csv' AND kind = 'rewards' AND status = 'rejected'`); n != 1 {
		t.Fatalf("the refused file is not recorded")
	}
}

package ingest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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

// A held-out file, written apart from the corpus the parser was tuned on: a CRM export with a byte
// order mark, CRLF ends, a header in another case, quoted descriptions across lines (one with an
// empty line and doubled quotes inside) and a decimal comma in the qty of the reward on physical
// line 7. The file is refused whole with that one line named; nothing of it is loaded. Fixed, the
// same export loads all four rewards on lines 2, 4, 7 and 8.
func TestHeldOutRewardsExportRefusedWithItsLine(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/heldout/rewards_export.csv")
	if err != nil {
		t.Fatal(err)
	}
	b := setup(t)
	b.drop(t, "Rewards_Export_2026-11.csv", string(data), true)
	f := outcomeOf(t, b.run(t), "Rewards_Export_2026-11.csv")
	if f.Outcome != ingest.OutcomeRejected || f.Errors != 1 || f.MovedTo != "rejected/Rewards_Export_2026-11.csv" {
		t.Fatalf("%+v", f)
	}
	if p := f.Problems[0]; p.Line != 7 || p.Column != 4 || p.Field != "qty" || p.Value != "0,125" {
		t.Fatalf("problem %+v, want line 7, column 4, qty 0,125", p)
	}
	errs, err := os.ReadFile(filepath.Join(b.dir, "rejected", "Rewards_Export_2026-11.csv.errors.csv"))
	if err != nil || !strings.HasPrefix(string(errs), "line,column,field,value,problem\n7,4,qty,\"0,125\",") {
		t.Fatalf("errors file %q, %v", errs, err)
	}
	if n := b.count(t, `SELECT count(*) FROM rewards`); n != 0 {
		t.Fatalf("%d rewards loaded from a refused file", n)
	}
	if n := b.count(t, `SELECT count(*) FROM files WHERE kind = 'rewards' AND status = 'rejected' AND reason LIKE 'line 7, column 4 (qty): %'`); n != 1 {
		t.Fatalf("the refusal is not recorded with its line")
	}

	fixed := strings.Replace(string(data), `"0,125"`, "0.125", 1)
	b.drop(t, "Rewards_Export_2026-11.csv", fixed, true)
	if f := outcomeOf(t, b.run(t), "Rewards_Export_2026-11.csv"); f.Outcome != ingest.OutcomeLoaded || f.Rows != 4 {
		t.Fatalf("fixed export: %+v", f)
	}
	var lines []int
	if err := b.db.Select(&lines, `SELECT line FROM rewards ORDER BY line`); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(lines) != "[2 4 7 8]" {
		t.Fatalf("lines %v, want [2 4 7 8]", lines)
	}
}

// RewardsPattern names rewards files like the other patterns: matched without regard to case, and
// a rewards file under the default name is then no longer taken.
func TestRewardsPattern(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.cfg.RewardsPattern = "gifts_*.csv"
	b.dropFile(t, "testdata/good/rewards_base.csv", "GIFTS_2026-11.CSV")
	b.drop(t, "rewards_other.csv", rewardsHeader+"RW-9,0d9f6e2c-3b1a-4c5d-8e7f-123456789abc,MSFT,1,referral,\n", true)
	res := b.run(t)
	if f := outcomeOf(t, res, "GIFTS_2026-11.CSV"); f.Outcome != ingest.OutcomeLoaded || f.Kind != ingest.KindRewards || f.Rows != 3 {
		t.Fatalf("%+v", f)
	}
	if f := outcomeOf(t, res, "rewards_other.csv"); f.Outcome != ingest.OutcomeIgnored || !exists(t, filepath.Join(b.dir, "rewards_other.csv")) {
		t.Fatalf("%+v", f)
	}
	b.cfg.RewardsPattern = "gifts_[.csv"
	if _, err := ingest.Run(context.Background(), b.db, b.cfg); err == nil || !strings.Contains(err.Error(), "rewards pattern") {
		t.Fatalf("a bad pattern: %v", err)
	}
}

// A rewards file still being written when it was read is not half loaded: nothing of the version
// read is kept in rewards, it goes to rejected/, and the finished file loads whole at the next scan.
func TestRewardsFileChangedWhileReadIsNotHalfLoaded(t *testing.T) {
	t.Parallel()
	b := setup(t)
	first := rewardsHeader + "RW-1,0d9f6e2c-3b1a-4c5d-8e7f-123456789abc,AAPL,1,sign_up,\n"
	b.drop(t, "rewards_a.csv", first, true)
	path := filepath.Join(b.dir, "rewards_a.csv")
	b.cfg.AfterRead = func(string) {
		if err := os.WriteFile(path, []byte(first+"RW-2,0d9f6e2c-3b1a-4c5d-8e7f-123456789abc,MSFT,2,referral,\n"), 0o644); err != nil {
			t.Error(err)
		}
	}
	if f := outcomeOf(t, b.run(t), "rewards_a.csv"); f.Outcome != ingest.OutcomeChanged || f.MovedTo != "rejected/rewards_a.csv" {
		t.Fatalf("%+v", f)
	}
	if n := b.count(t, `SELECT count(*) FROM rewards`); n != 0 {
		t.Fatalf("%d rewards loaded from a file that changed while it was read", n)
	}
	b.cfg.AfterRead = nil
	if f := outcomeOf(t, b.run(t), "rewards_a.csv"); f.Outcome != ingest.OutcomeLoaded || f.Rows != 2 {
		t.Fatalf("after the writer finished: %+v", f)
	}
	if n := b.count(t, `SELECT count(*) FROM rewards WHERE reward_id IN ('RW-1', 'RW-2')`); n != 2 {
		t.Fatalf("%d rewards, want RW-1 and RW-2", n)
	}
}

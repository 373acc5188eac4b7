package main

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cashpool/cashpool/batch/schema"
	"github.com/cashpool/cashpool/pool"
)

// Operations redrives journals Alpaca canceled for an unknown and an inactive account to the
// corrected accounts (one with a corrected description too), end to end against the simulator:
// the preview changes nothing, mistakes are usage errors, the corrected journals are funded, the
// history says who and why, the failed attempts stay, and the report balances.
func TestRedriveToCorrectedAccountAgainstSimulator(t *testing.T) {
	const (
		date     = "2026-11-20"
		active   = "c0000000-0000-4000-8000-000000000001"
		inactive = "c0000000-0000-4000-8000-000000000099"
		unknown  = "c0ffee00-0000-4000-8000-000000000777" // a typo: no such account at Alpaca
		fixed2   = "c0000000-0000-4000-8000-000000000002"
		fixed3   = "c0000000-0000-4000-8000-000000000003"
	)
	night := newSimNight(t, map[string]string{
		"receipts-1.csv": receiptsCSVHeader + "W1," + date + ",1000.00,USD,Acme Corp,123,First Bank,1 Main St,wire 1\n",
		"allocations-1.csv": "receipt_id,account_id,amount,weight,client_ref,description\n" +
			"W1," + active + ",500.00,,A-001,Funding\n" +
			"W1," + inactive + ",300.00,,A-002,Funding to a closed account\n" +
			"W1," + unknown + ",200.00,,A-003,Funding\n",
	}, nil)
	seed, sim, out, dbURL := night.seed, night.sim, night.out, night.dbURL
	ctx := context.Background()
	db, err := schema.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	count := func(q string, args ...any) int {
		t.Helper()
		var n int
		if err := db.Get(&n, q, args...); err != nil {
			t.Fatal(err)
		}
		return n
	}

	cashpool(t, exitExceptions, "run", "--date", date)
	key := func(ref string, attempt int) string {
		t.Helper()
		var id int64
		// An allocation never loaded gets id 0, which none has: the key of no journal.
		if err := db.Get(&id, `SELECT COALESCE((SELECT id FROM allocations WHERE receipt_id = 'W1' AND client_ref = $1), 0)`, ref); err != nil {
			t.Fatal(err)
		}
		return pool.JournalKey(seed.SweepAccount, date, id, attempt)
	}
	if n := count(`SELECT count(*) FROM journals WHERE status = 'canceled' AND journal_key = ANY(ARRAY[$1, $2]::uuid[])`, key("A-002", 1), key("A-003", 1)); n != 2 {
		t.Fatalf("%d of A-002, A-003 canceled by Alpaca, want 2", n)
	}

	// The preview names the correction and changes nothing; the date is the journal's own.
	preview := cashpool(t, exitOK, "redrive", "--journal", key("A-003", 1), "--account", fixed2, "--by", "alice", "--reason", "typo in the account id")
	for _, want := range []string{unknown + " -> " + fixed2, "1 to redrive (200.00)", "Dry run: nothing was changed. Add --yes to create this journal and send it."} {
		if !strings.Contains(preview, want) {
			t.Errorf("preview lacks %q:\n%s", want, preview)
		}
	}
	if n := count(`SELECT count(*) FROM journals`); n != 3 {
		t.Fatalf("%d journals after the preview, want 3", n)
	}
	// Mistakes are usage errors and change nothing.
	for _, args := range [][]string{
		{"--journal", key("A-003", 1), "--account", seed.SweepAccount, "--by", "alice", "--reason", "r"},
		{"--journal", key("A-003", 1), "--account", "c0000000-0000-4000-8000-00000000000z", "--by", "alice", "--reason", "r"},
		{"--journal", key("A-003", 1), "--account", fixed2 + " ", "--by", "alice", "--reason", "r"},
		{"--journal", key("A-003", 1), "--account", fixed2, "--reason", "who is missing"},
		{"--journal", key("A-003", 1), "--account", fixed2, "--by", "alice"},
		{"--account", fixed2, "--by", "alice", "--reason", "no journal named", "--date", date},
		{"--journal", key("A-001", 1), "--by", "alice", "--reason", "already funded"},
		{"--journal", "A-003", "--by", "alice", "--reason", "not a key"},
		{"--journal", key("A-404", 1), "--by", "alice", "--reason", "no such journal"},
	} {
		cashpool(t, exitUsage, append(append([]string{"redrive"}, args...), "--yes")...)
	}
	if n := count(`SELECT count(*) FROM journals`); n != 3 {
		t.Fatalf("%d journals after refused redrives, want 3", n)
	}

	// The unknown account corrected: funded; A-002 is still failed, so exceptions remain.
	cashpool(t, exitExceptions, "redrive", "--journal", key("A-003", 1), "--account", fixed2, "--by", "alice", "--reason", "typo in the account id", "--yes")
	// The closed account replaced, with a corrected description (named by key: Alpaca gave a
	// journal of a canceled batch no id). Everything is now funded: exit 0.
	cashpool(t, exitOK, "redrive", "--journal", key("A-002", 1), "--account", fixed3, "--description", "Funding, account replaced",
		"--by", "bob", "--reason", "account closed; the customer gave a new one", "--yes")

	// Oracle: the simulator's ledger. Each corrected journal funded once, to its corrected account,
	// from the sweep account; nothing to the sweep account, nothing live to the wrong accounts.
	funded := map[string]string{}
	for _, e := range sim.Ledger() {
		if e.FromAccount != seed.SweepAccount || e.ToAccount == seed.SweepAccount {
			t.Errorf("ledger journal %s: %s -> %s", e.ID, e.FromAccount, e.ToAccount)
		}
		if e.Status == "executed" {
			if _, dup := funded[e.ToAccount]; dup {
				t.Errorf("account %s funded twice", e.ToAccount)
			}
			funded[e.ToAccount] = e.Amount.StringFixed(2) + " " + e.Description
		}
	}
	for acc, want := range map[string]string{
		active: "500.00 Funding " + pool.KeyToken(key("A-001", 1)),
		fixed2: "200.00 Funding " + pool.KeyToken(key("A-003", 2)),
		fixed3: "300.00 Funding, account replaced " + pool.KeyToken(key("A-002", 2)),
	} {
		if funded[acc] != want {
			t.Errorf("ledger: %s funded %q, want %q", acc, funded[acc], want)
		}
	}
	if len(funded) != 3 {
		t.Errorf("ledger funded %v; want exactly the three accounts", funded)
	}

	// The failed attempts stay; the new ones carry who, why and what changed in their history.
	if n := count(`SELECT count(*) FROM journals WHERE status = 'canceled' AND attempt = 1 AND to_account = ANY(ARRAY[$1, $2]::uuid[])`, inactive, unknown); n != 2 {
		t.Errorf("%d failed attempts kept, want 2", n)
	}
	var hist []struct {
		Key    string `db:"journal_key"`
		Actor  string `db:"actor"`
		Reason string `db:"reason"`
		Detail string `db:"detail"`
	}
	if err := db.Select(&hist, `SELECT j.journal_key::text AS journal_key, h.actor, h.reason, h.detail
		FROM journal_history h JOIN journals j ON j.id = h.journal_id WHERE h.source = 'redrive' ORDER BY j.client_ref`); err != nil {
		t.Fatal(err)
	}
	wantHist := []string{
		key("A-002", 2) + "|bob|account closed; the customer gave a new one|redrive of journal " + key("A-002", 1) +
			" (attempt 1, canceled); account " + inactive + " -> " + fixed3 +
			`; description "Funding to a closed account ` + pool.KeyToken(key("A-002", 1)) + `" -> "Funding, account replaced"`,
		key("A-003", 2) + "|alice|typo in the account id|redrive of journal " + key("A-003", 1) +
			" (attempt 1, canceled); account " + unknown + " -> " + fixed2,
	}
	if len(hist) != len(wantHist) {
		t.Fatalf("redrive history %+v, want %d rows", hist, len(wantHist))
	}
	for i, h := range hist {
		if got := h.Key + "|" + h.Actor + "|" + h.Reason + "|" + h.Detail; got != wantHist[i] {
			t.Errorf("history row %d:\n got %s\nwant %s", i, got, wantHist[i])
		}
	}

	// Oracle: the report file. Everything funded, nothing failed, balanced.
	f, err := os.Open(filepath.Join(out, date, "totals.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	totals := map[string]string{}
	for _, r := range rows[1:] {
		totals[r[0]] = r[1]
	}
	for k, v := range map[string]string{"receipts": "1000.00", "planned": "1000.00", "executed": "1000.00",
		"failed": "0.00", "in_flight": "0.00", "journals": "3", "exceptions": "0", "balanced": "true"} {
		if totals[k] != v {
			t.Errorf("totals.csv %s = %q, want %s", k, totals[k], v)
		}
	}
}

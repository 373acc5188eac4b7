package submit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/alpaca/sandbox"
	"github.com/cashpool/cashpool/batch/plan"
	"github.com/cashpool/cashpool/batch/submit"
	"github.com/cashpool/cashpool/pool"
)

// firm is a second firm account, the rewards account when one apart from the sweep is configured.
const firm = "f1a00000-0000-4000-8000-000000000001"

// rwd is one loaded reward.
type rwd struct{ id, account, symbol, qty string }

// setupRewards loads rewards (as ingest would: a files row, then the rows) and plans them from
// rewardsAccount ("" = the sweep account), against a simulator knowing the sweep account, firm
// and every rewarded account.
func setupRewards(t *testing.T, rewardsAccount string, rewards []rwd) *env {
	t.Helper()
	e := newEnv(t)
	seed := sandbox.Seed{SweepAccount: sweep, SweepCash: decimal.RequireFromString("1000.00"),
		Accounts: []sandbox.Account{{ID: firm, Status: sandbox.AccountActive, Firm: true}}}
	seed.Positions = map[string]map[string]decimal.Decimal{}
	for _, a := range []string{sweep, firm} {
		seed.Positions[a] = map[string]decimal.Decimal{"AAPL": decimal.NewFromInt(10), "TSLA": decimal.NewFromInt(1),
			"SPY": decimal.NewFromInt(1)}
	}
	seen := map[string]bool{sweep: true, firm: true}
	for _, r := range rewards {
		if !seen[r.account] {
			seen[r.account] = true
			seed.Accounts = append(seed.Accounts, sandbox.Account{ID: r.account, Status: sandbox.AccountActive})
		}
	}
	e.serve(t, seed, func(*sandbox.Options) {})

	var fileID int64
	if err := e.db.Get(&fileID, `INSERT INTO files (sha256, name, kind, status, rows, received_at)
		VALUES ('r1', 'rewards-1.csv', 'rewards', 'loaded', $1, $2) RETURNING id`, len(rewards), e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	for i, r := range rewards {
		if _, err := e.db.Exec(`INSERT INTO rewards (reward_id, file_id, line, account_id, symbol, qty, reason, description)
			VALUES ($1, $2, $3, $4, $5, $6, 'sign-up', 'welcome shares')`, r.id, fileID, i+2, r.account, r.symbol, r.qty); err != nil {
			t.Fatal(err)
		}
	}
	if p := e.planRun(t, plan.Config{RewardsAccount: rewardsAccount}); p.Rewards != len(rewards) {
		t.Fatalf("planned %d rewards, want %d", p.Rewards, len(rewards))
	}
	return e
}

// rewardKey is the journal key plan derives for a reward (first attempt).
func rewardKey(from, id string) string { return pool.RewardJournalKey(from, date, id, 1) }

// rewardRow is one JNLS journal as submit left it.
type rewardRow struct {
	Key, ToAccount, Symbol, Qty, AlpacaID, Status, Error string
	Batched                                              bool
}

func (e *env) rewardJournals(t *testing.T) map[string]rewardRow {
	t.Helper()
	var rows []struct {
		Reward    string `db:"reward_id"`
		Key       string `db:"journal_key"`
		ToAccount string `db:"to_account"`
		Symbol    string `db:"symbol"`
		Qty       string `db:"qty"`
		AlpacaID  string `db:"alpaca_id"`
		Status    string `db:"status"`
		Error     string `db:"error_message"`
		Batched   bool   `db:"batched"`
	}
	if err := e.db.Select(&rows, `
		SELECT reward_id, journal_key::text AS journal_key, to_account::text AS to_account, symbol, qty::text AS qty,
		       COALESCE(alpaca_id::text, '') AS alpaca_id, status, COALESCE(error_message, '') AS error_message,
		       batch_id IS NOT NULL AS batched
		FROM journals WHERE run_id = $1 AND entry_type = 'JNLS'`, e.runID); err != nil {
		t.Fatal(err)
	}
	out := map[string]rewardRow{}
	for _, r := range rows {
		out[r.Reward] = rewardRow{r.Key, r.ToAccount, r.Symbol, r.Qty, r.AlpacaID, r.Status, r.Error, r.Batched}
	}
	return out
}

// checkRewardsLedger is the oracle for rewards: every JNLS at the simulator carries the key token
// of exactly one reward in want (reward id -> recipient), goes from the rewards account to that
// reward's account, and was stored by it; the rewards in want that must never reach Alpaca have
// no journal there at all. It returns the ledger's journal of each reward.
func (e *env) checkRewardsLedger(t *testing.T, from string, rewards []rwd, never ...string) map[string]sandbox.LedgerEntry {
	t.Helper()
	got := map[string]sandbox.LedgerEntry{}
	for _, l := range e.sim.Ledger() {
		if l.EntryType != "JNLS" {
			continue
		}
		owner := ""
		for _, r := range rewards {
			if strings.HasSuffix(l.Description, " cp:"+rewardKey(from, r.id)) {
				owner = r.id
			}
		}
		if owner == "" {
			t.Fatalf("JNLS %s at Alpaca (%q) belongs to no reward", l.ID, l.Description)
		}
		if prev, dup := got[owner]; dup {
			t.Fatalf("reward %s given twice: %s and %s", owner, prev.ID, l.ID)
		}
		got[owner] = l
	}
	js := e.rewardJournals(t)
	for _, r := range rewards {
		l, sent := got[r.id]
		isNever := false
		for _, n := range never {
			isNever = isNever || n == r.id
		}
		switch {
		case isNever && sent:
			t.Errorf("reward %s: journal %s at Alpaca, want none", r.id, l.ID)
		case isNever:
		case !sent:
			t.Errorf("reward %s: no JNLS at Alpaca", r.id)
		default:
			if l.FromAccount != from || l.ToAccount != r.account || l.Symbol != r.symbol || !l.Qty.Equal(decimal.RequireFromString(r.qty)) {
				t.Errorf("reward %s: Alpaca has %s %s %s -> %s, want %s %s %s -> %s", r.id,
					l.Qty, l.Symbol, l.FromAccount, l.ToAccount, r.qty, r.symbol, from, r.account)
			}
			if j := js[r.id]; j.AlpacaID != l.ID || j.Status != l.Status {
				t.Errorf("reward %s: stored journal %q status %q, Alpaca has %s %s", r.id, j.AlpacaID, j.Status, l.ID, l.Status)
			}
		}
	}
	return got
}

// Rewards go from the rewards account only, one JNLS each with its own POST /v1/journals: a reward
// naming the rewards or the sweep account as recipient is refused before any POST (a reported
// refusal, not a crash), one Alpaca refuses (a crypto pair it does not journal) is refused with
// Alpaca's message, and the rest are given exactly once.
func TestRewardsGoFromTheRewardsAccountOnly(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, rewards string // rewards: the configured rewards account; "" = the sweep account
	}{{"sweep account", ""}, {"firm account apart", firm}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			from := tc.rewards
			if from == "" {
				from = sweep
			}
			rewards := []rwd{
				{"W1", account(1), "AAPL", "1.5"},
				{"W2", account(2), "TSLA", "0.000000001"},
				{"W3", sweep, "AAPL", "1"},         // to the sweep account: never sent
				{"W4", firm, "AAPL", "2"},          // to the other firm account: refused too when it gives rewards
				{"W5", account(1), "BTC/USD", "1"}, // Alpaca does not journal crypto: 400
				{"W6", account(2), "TSLA", "1.5"},  // more than the rewards account holds: 403
			}
			e := setupRewards(t, tc.rewards, rewards)
			b := &broker{real: e.client}
			cfg := e.config(t)
			cfg.RewardsAccount = tc.rewards
			res, err := submit.Submit(context.Background(), e.db, b, e.runID, cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range b.posts {
				var req map[string]any
				if err := json.Unmarshal(p.body, &req); err != nil {
					t.Fatal(err)
				}
				if req["entry_type"] != "JNLS" || req["from_account"] != from || req["to_account"] == sweep || req["to_account"] == from {
					t.Errorf("POST %s: %v", p.key, req)
				}
			}
			e.checkRewardsLedger(t, from, rewards, "W3", "W4", "W5", "W6")
			js := e.rewardJournals(t)
			for _, id := range []string{"W3"} {
				if j := js[id]; j.Status != "refused" || j.Batched || !strings.Contains(j.Error, "sweep account itself") {
					t.Errorf("reward %s to the sweep account: %+v, want refused before sending, no batch", id, j)
				}
			}
			if tc.rewards != "" {
				if j := js["W4"]; j.Status != "refused" || j.Batched || !strings.Contains(j.Error, "rewards account itself") {
					t.Errorf("reward W4 to the rewards account: %+v, want refused before sending, no batch", j)
				}
			} else if j := js["W4"]; j.Status != "refused" || !strings.Contains(j.Error, "HTTP 403") {
				// Another firm account as recipient is Alpaca's to refuse: 403.
				t.Errorf("reward W4 to another firm account: %+v, want refused by Alpaca", j)
			}
			if j := js["W5"]; j.Status != "refused" || !strings.Contains(j.Error, "HTTP 400") || !strings.Contains(j.Error, "BTC/USD") {
				t.Errorf("reward W5 of a crypto pair: %+v, want refused with Alpaca's message", j)
			}
			if j := js["W6"]; j.Status != "refused" || !strings.Contains(j.Error, "HTTP 403") || !strings.Contains(j.Error, "insufficient") {
				t.Errorf("reward W6 beyond the rewards account's shares: %+v, want refused with Alpaca's message", j)
			}
			wantRefused := 3
			if tc.rewards != "" {
				wantRefused = 2
			}
			if res.Refused != wantRefused {
				t.Errorf("%d rewards refused by Alpaca, want %d", res.Refused, wantRefused)
			}
		})
	}
}

// A reward whose answer was lost stays sending and is sent again with the same key and the same
// bytes: Alpaca replays its answer and the reward is given once.
func TestRewardResentWithSameKeyAfterLostAnswer(t *testing.T) {
	t.Parallel()
	rewards := []rwd{{"W1", account(1), "AAPL", "3"}, {"W2", account(2), "SPY", "0.5"}}
	e := setupRewards(t, "", rewards)
	b := &broker{real: e.client, loseAnswer: true}
	cfg := e.config(t)
	cfg.MaxInFlight = 1
	if _, err := submit.Submit(context.Background(), e.db, b, e.runID, cfg); !errors.Is(err, errLost) {
		t.Fatalf("first submit: %v, want the lost answer", err)
	}
	b.loseAnswer = false
	if _, err := submit.Submit(context.Background(), e.db, b, e.runID, e.config(t)); err != nil {
		t.Fatal(err)
	}
	// The second submit sends the other reward and the resend in either order.
	resends := 0
	for _, p := range b.posts[1:] {
		if p.key == b.posts[0].key && string(p.body) == string(b.posts[0].body) {
			resends++
		}
	}
	if len(b.posts) != 3 || resends != 1 {
		t.Fatalf("posts %d, %d repeating the first POST's key and bytes; want 3, and the resend once", len(b.posts), resends)
	}
	e.checkRewardsLedger(t, sweep, rewards)
}

// A night of many rewards says how long they take (one call each at Alpaca's 1,000 calls a
// minute) and gives each once.
func TestManyRewardsSayHowLongTheyTake(t *testing.T) {
	t.Parallel()
	var rewards []rwd
	for i := range 90 {
		rewards = append(rewards, rwd{fmt.Sprintf("W%03d", i), account(1 + i%7), "AAPL", "0.01"})
	}
	e := setupRewards(t, "", rewards)
	var log bytes.Buffer
	cfg := e.config(t)
	cfg.Logger = slog.New(slog.NewTextHandler(&log, nil))
	if _, err := submit.Submit(context.Background(), e.db, &broker{real: e.client}, e.runID, cfg); err != nil {
		t.Fatal(err)
	}
	if want := "90 rewards, one call each, about 5s at the rate limit"; !strings.Contains(log.String(), want) {
		t.Errorf("log does not say %q:\n%s", want, log.String())
	}
	e.checkRewardsLedger(t, sweep, rewards)
}

// A reward left sending past Alpaca's key retention is never resent blindly: the rewards account's
// JNLS are listed and the reward found by its key token is stored as Alpaca's answer; one that never
// reached Alpaca goes again, same body, under a new key. Either way it is given once.
func TestStaleRewardIsLookedForFirst(t *testing.T) {
	t.Parallel()
	for _, reached := range []bool{true, false} {
		t.Run(fmt.Sprintf("reached=%v", reached), func(t *testing.T) {
			t.Parallel()
			rewards := []rwd{{"W1", account(1), "AAPL", "1"}}
			e := setupRewards(t, firm, rewards)
			b := &broker{real: e.client, loseAnswer: reached, neverSent: !reached}
			cfg := e.config(t)
			cfg.RewardsAccount = firm
			if _, err := submit.Submit(context.Background(), e.db, b, e.runID, cfg); !errors.Is(err, errLost) {
				t.Fatalf("first submit: %v, want the lost answer", err)
			}
			e.clock.Advance(25 * time.Hour)
			b.loseAnswer, b.neverSent = false, false
			cfg = e.config(t)
			cfg.RewardsAccount = firm
			res, err := submit.Submit(context.Background(), e.db, b, e.runID, cfg)
			if err != nil || res.Recovered != 1 {
				t.Fatalf("submit past the retention: %+v %v, want the reward recovered by listing", res, err)
			}
			switch {
			case reached && len(b.posts) != 1:
				t.Fatalf("%d POSTs, want the first one only", len(b.posts))
			case !reached && (len(b.posts) != 2 || b.posts[0].key == b.posts[1].key || string(b.posts[0].body) != string(b.posts[1].body)):
				t.Fatalf("%d POSTs; want the same body again under a new key", len(b.posts))
			}
			e.checkRewardsLedger(t, firm, rewards)
		})
	}
}

// A reward's POST leaves only once its batch is durably 'sending' with the exact body that goes
// out: read through a connection of its own inside the POST. Its journal is still planned.
func TestRewardIsDurablySendingBeforeItsPost(t *testing.T) {
	t.Parallel()
	rewards := []rwd{{"W1", account(1), "AAPL", "1"}, {"W2", account(2), "TSLA", "1"}}
	e := setupRewards(t, "", rewards)
	other := e.otherConnection(t)
	b := &broker{real: e.client}
	b.check = func(key string, body []byte) {
		var row struct {
			Status  string `db:"status"`
			Type    string `db:"entry_type"`
			Body    []byte `db:"body"`
			Journal string `db:"journal"`
		}
		if err := other.Get(&row, `SELECT b.status, b.entry_type, b.body, j.status AS journal
			FROM batches b JOIN journals j ON j.batch_id = b.id WHERE b.idempotency_key = $1`, key); err != nil {
			t.Errorf("reward %s not readable before its POST: %v", key, err)
			return
		}
		if row.Status != "sending" || row.Type != "JNLS" || row.Journal != "planned" || string(row.Body) != string(body) {
			t.Errorf("reward %s before its POST: batch %s %s, journal %s, body stored as sent %v",
				key, row.Type, row.Status, row.Journal, string(row.Body) == string(body))
		}
	}
	if _, err := submit.Submit(context.Background(), e.db, b, e.runID, e.config(t)); err != nil {
		t.Fatal(err)
	}
	if len(b.posts) != 2 {
		t.Fatalf("%d POSTs, want 2", len(b.posts))
	}
	e.checkRewardsLedger(t, sweep, rewards)
}

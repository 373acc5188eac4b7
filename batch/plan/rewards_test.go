package plan_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/cashpool/cashpool/batch/plan"
	"github.com/cashpool/cashpool/batch/schema"
	"github.com/cashpool/cashpool/batch/schema/schematest"
	"github.com/cashpool/cashpool/pool"
)

// Each loaded reward becomes one JNLS journal with a batch of its own whose body is the exact
// single POST /v1/journals request (written out here by hand) and whose keys are the same however
// often the night is planned; a reward is planned by exactly one run, and plan refuses a reward to
// the sweep account before it has a batch.
func TestRewardsPlannedOnceAsSingleJournals(t *testing.T) {
	t.Parallel()
	bodies := map[string]string{}
	keys := map[string]string{}
	for round := range 2 { // two databases, the same files: the same bytes and keys
		db := schematest.DB(t)
		db.MustExec(`INSERT INTO files (sha256, name, kind, status, received_at) VALUES ('w', 'rewards.csv', 'rewards', 'loaded', now())`)
		for i, r := range [][]string{
			{"W2", acct(2), "BRK.B", "0.000000001", "see you"},
			{"W1", acct(1), "AAPL", "1.500000000", "welcome shares"},
			{"W3", sweep, "AAPL", "1", "oops"},
		} {
			db.MustExec(`INSERT INTO rewards (reward_id, file_id, line, account_id, symbol, qty, reason, description)
				VALUES ($1, 1, $2, $3, $4, $5, 'sign-up', $6)`, r[0], i+2, r[1], r[2], r[3], r[4])
		}
		res := planDate(t, db, "2026-11-20", 500)
		if res.Rewards != 3 || res.RewardsRefused != 1 || res.Batches != 2 || res.Journals != 0 {
			t.Fatalf("round %d: result %+v", round, res)
		}
		var rows []struct {
			Reward string  `db:"reward_id"`
			Key    string  `db:"journal_key"`
			Status string  `db:"status"`
			Seq    *string `db:"seq"`
			Type   *string `db:"entry_type"`
			Body   *string `db:"body"`
			IKey   *string `db:"idempotency_key"`
		}
		if err := db.Select(&rows, `SELECT j.reward_id, j.journal_key::text AS journal_key, j.status, b.seq, b.entry_type,
				convert_from(b.body, 'UTF8') AS body, b.idempotency_key
			FROM journals j LEFT JOIN batches b ON b.id = j.batch_id WHERE j.entry_type = 'JNLS' ORDER BY j.reward_id`); err != nil {
			t.Fatal(err)
		}
		k1, k2 := pool.RewardJournalKey(sweep, "2026-11-20", "W1", 1), pool.RewardJournalKey(sweep, "2026-11-20", "W2", 1)
		want := map[string]string{
			"W1": `{"entry_type":"JNLS","from_account":"` + sweep + `","to_account":"` + acct(1) +
				`","symbol":"AAPL","qty":"1.5","description":"welcome shares cp:` + k1 + `"}`,
			"W2": `{"entry_type":"JNLS","from_account":"` + sweep + `","to_account":"` + acct(2) +
				`","symbol":"BRK.B","qty":"0.000000001","description":"see you cp:` + k2 + `"}`,
		}
		for _, r := range rows {
			if r.Reward == "W3" {
				if r.Status != "refused" || r.Body != nil {
					t.Errorf("reward to the sweep account: status %s, batch %v; want refused without a batch", r.Status, r.Body)
				}
				continue
			}
			if r.Status != "planned" || r.Body == nil || *r.Body != want[r.Reward] || *r.Type != "JNLS" {
				t.Errorf("reward %s: %s, body %v, want planned with %s", r.Reward, r.Status, r.Body, want[r.Reward])
				continue
			}
			if round == 1 && (*r.Body != bodies[r.Reward] || *r.IKey != keys[r.Reward]) {
				t.Errorf("reward %s planned again gives another body or key", r.Reward)
			}
			bodies[r.Reward], keys[r.Reward] = *r.Body, *r.IKey
		}
		if len(rows) != 3 {
			t.Fatalf("%d reward journals, want 3", len(rows))
		}
		if again := planDate(t, db, "2026-11-21", 500); again.Rewards != 0 {
			t.Fatalf("the next night planned %d rewards again", again.Rewards)
		}
	}
}

// Runs of two dates planning at once give each reward once, and neither fails: the one that comes
// second finds the rewards planned.
func TestRewardsPlannedByOneOfTwoRunsAtOnce(t *testing.T) {
	t.Parallel()
	db := schematest.DB(t)
	db.MustExec(`INSERT INTO files (sha256, name, kind, status, received_at) VALUES ('w', 'rewards.csv', 'rewards', 'loaded', now())`)
	for i := range 20 {
		db.MustExec(`INSERT INTO rewards (reward_id, file_id, line, account_id, symbol, qty, reason, description)
			VALUES ($1, 1, $2, $3, 'AAPL', 1, 'sign-up', '')`, fmt.Sprintf("W%02d", i), i+2, acct(1+i%5))
	}
	// Both plans start while the rewards are held, so they reach them together.
	conn, release, err := schema.Lock(context.Background(), db.DB, plan.RewardsLock)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var wg sync.WaitGroup
	results := make([]plan.Result, 2)
	errs := make([]error, 2)
	for i, date := range []string{"2026-11-20", "2026-11-21"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = plan.Plan(context.Background(), db, plan.Config{SweepAccount: sweep, BusinessDate: date})
		}()
	}
	waitLockWaiters(t, db, 2)
	release()
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("plan %d: %v", i, err)
		}
	}
	if results[0].Rewards+results[1].Rewards != 20 {
		t.Fatalf("planned %d and %d rewards, want 20 in all", results[0].Rewards, results[1].Rewards)
	}
	var journals int
	if err := db.Get(&journals, `SELECT count(*) FROM journals WHERE entry_type = 'JNLS'`); err != nil || journals != 20 {
		t.Fatalf("%d reward journals (%v), want 20", journals, err)
	}
}

// waitLockWaiters waits until n sessions wait for an advisory lock.
func waitLockWaiters(t *testing.T, db *sqlx.DB, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting int
		if err := db.Get(&waiting, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`); err != nil {
			t.Fatal(err)
		}
		if waiting >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions wait for the rewards, want %d", waiting, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

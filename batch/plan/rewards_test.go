package plan_test

import (
	"testing"

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

package track_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lib/pq"
	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/alpaca"
	"github.com/cashpool/cashpool/alpaca/sandbox"
	"github.com/cashpool/cashpool/batch/track"
)

// gets counts the GET-by-id calls of a broker.
type gets struct {
	*alpaca.Client
	n atomic.Int64
}

func (g *gets) GetJournal(ctx context.Context, id string) (*alpaca.Journal, error) {
	g.n.Add(1)
	return g.Client.GetJournal(ctx, id)
}

// postRewards gives n rewards (JNLS, one POST each) from the sweep account and records them as
// submit would: a sent batch each, the journal with Alpaca's id and status, no cash columns.
func (b *bundle) postRewards(tb testing.TB, n int) {
	tb.Helper()
	ctx := context.Background()
	if _, err := b.db.ExecContext(ctx, `INSERT INTO files (sha256, name, kind, status, received_at)
		VALUES ('w', 'rewards.csv', 'rewards', 'loaded', $1)`, b.sim.Now()); err != nil {
		tb.Fatal(err)
	}
	for i := range n {
		key := fmt.Sprintf("10000000-0000-4000-8000-%012d", i)
		j, err := b.client.CreateJournal(ctx, key, alpaca.CreateJournalRequest{EntryType: "JNLS", FromAccount: sweep,
			ToAccount: cust1, Symbol: "AAPL", Qty: "1"})
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := b.db.ExecContext(ctx, `
			WITH b AS (INSERT INTO batches (run_id, seq, idempotency_key, body, entries, status, sending_at, sent_at, entry_type)
				VALUES ($1, $2::text, $2::uuid, '{}', 1, 'sent', $3, $3, 'JNLS') RETURNING id),
			j AS (INSERT INTO journals (run_id, batch_id, journal_key, entry_type, reward_id, symbol, qty, to_account,
				description, alpaca_id, status, updated_at)
				SELECT $1, b.id, $2::uuid, 'JNLS', $2::text, 'AAPL', 1, $4, '', $5::uuid, $6, $3 FROM b RETURNING id)
			INSERT INTO journal_answers (alpaca_id, journal_id) SELECT $5::uuid, id FROM j`,
			b.runID, key, b.sim.Now(), cust1, j.ID, j.Status); err != nil {
			tb.Fatal(err)
		}
	}
}

// TestRewardsHealedByList: a pass over many open rewards lists the rewards account's JNLS, as it
// lists the sweep account's cash journals, instead of one GET per reward, and brings each to its
// status at the simulator.
func TestRewardsHealedByList(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Faults{}, nil, func(o *sandbox.Options) {
		o.Seed.Positions = map[string]map[string]decimal.Decimal{sweep: {"AAPL": decimal.NewFromInt(100)}}
	})
	b.postRewards(t, 12)
	b.sim.Advance(3 * time.Second)
	g := &gets{Client: b.client}
	open, changed, err := track.Pass(context.Background(), b.db, g, b.runID, b.config())
	if err != nil {
		t.Fatal(err)
	}
	if open != 0 || changed != 12 {
		t.Errorf("pass left %d open after %d changes, want 0 after 12", open, changed)
	}
	if n := g.n.Load(); n != 0 {
		t.Errorf("%d GETs by id, want the list to answer for every reward", n)
	}
	var executed int
	if err := b.db.Get(&executed, `SELECT count(*) FROM journals j WHERE status = 'executed' AND alpaca_id = ANY($1::uuid[])`,
		pq.Array(b.ledgerIDs("executed"))); err != nil || executed != 12 {
		t.Errorf("%d rewards executed as the simulator says (%v), want 12", executed, err)
	}
}

// ledgerIDs lists the simulator's journals in status.
func (b *bundle) ledgerIDs(status string) []string {
	var ids []string
	for _, e := range b.sim.Ledger() {
		if e.Status == status {
			ids = append(ids, e.ID)
		}
	}
	return ids
}

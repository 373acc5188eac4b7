package batch_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/alpaca"
	"github.com/cashpool/cashpool/alpaca/sandbox"
	"github.com/cashpool/cashpool/batch"
	"github.com/cashpool/cashpool/batch/redrive"
	"github.com/cashpool/cashpool/fixtures"
)

// recordingBroker remembers every Idempotency-Key it was asked to POST.
type recordingBroker struct {
	batch.Broker
	mu   sync.Mutex
	keys map[string]int
}

func (r *recordingBroker) CreateBatch(ctx context.Context, key string, body []byte) ([]alpaca.BatchJournal, error) {
	r.mu.Lock()
	if r.keys == nil {
		r.keys = map[string]int{}
	}
	r.keys[key]++
	r.mu.Unlock()
	return r.Broker.CreateBatch(ctx, key, body)
}

func sendingBatches(t *testing.T, b *bundle) []string {
	t.Helper()
	var keys []string
	if err := b.db.Select(&keys, `SELECT idempotency_key::text FROM batches WHERE status = 'sending'`); err != nil {
		t.Fatal(err)
	}
	return keys
}

func assertAllAnswered(t *testing.T, b *bundle) {
	t.Helper()
	var n int
	// A reward refused before a journal existed (by plan, or by the broker's 403) has no Alpaca id.
	if err := b.db.Get(&n, `SELECT count(*) FROM journals WHERE status = 'planned'
		OR (alpaca_id IS NULL AND status <> 'canceled' AND NOT (entry_type = 'JNLS' AND status = 'refused'))`); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d journals were never answered", n)
	}
}

// A batch whose answer was lost and which stays 'sending' longer than Alpaca keeps idempotency
// keys must not be re-sent with its old key (the simulator, like Alpaca, has forgotten it and would
// create the journals again): cashpool lists the sweep account's journals and matches them by the
// key token in their description.
func TestStaleSendingBatchIsMatchedByListingNotResent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	rec := &recordingBroker{Broker: &lostAnswer{Broker: b.client}}
	b.runner.Broker = rec
	b.runner.Config.MaxInFlight = 1
	if _, err := b.runner.Run(ctx, fixtures.BusinessDate); err == nil {
		t.Fatal("want the run to stop on the lost answer")
	}
	stale := sendingBatches(t, b)
	if len(stale) != 1 {
		t.Fatalf("%d batches sending, want 1", len(stale))
	}
	b.clock.Advance(25 * time.Hour)
	if _, err := b.runner.Run(ctx, fixtures.BusinessDate); err != nil {
		t.Fatal(err)
	}
	if n := rec.keys[stale[0]]; n != 1 {
		t.Fatalf("the stale batch's key was POSTed %d times, want exactly once", n)
	}
	checkBrokerLedger(t, b)
	assertAllAnswered(t, b)
}

// beforePostFails is a broker that dies just before its first POST leaves: the batch is committed
// 'sending' but Alpaca never saw it.
type beforePostFails struct {
	batch.Broker
	once sync.Once
}

func (f *beforePostFails) CreateBatch(ctx context.Context, key string, body []byte) ([]alpaca.BatchJournal, error) {
	failed := false
	f.once.Do(func() { failed = true })
	if failed {
		return nil, context.Canceled
	}
	return f.Broker.CreateBatch(ctx, key, body)
}

func TestStaleSendingBatchNeverSeenByAlpacaIsRebatchedUnderNewKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	rec := &recordingBroker{Broker: &beforePostFails{Broker: b.client}}
	b.runner.Broker = rec
	b.runner.Config.MaxInFlight = 1
	if _, err := b.runner.Run(ctx, fixtures.BusinessDate); err == nil {
		t.Fatal("want the run to stop")
	}
	stale := sendingBatches(t, b)
	if len(stale) != 1 {
		t.Fatalf("%d batches sending, want 1", len(stale))
	}
	b.clock.Advance(25 * time.Hour)
	out, err := b.runner.Run(ctx, fixtures.BusinessDate)
	if err != nil {
		t.Fatal(err)
	}
	if n := rec.keys[stale[0]]; n != 1 {
		t.Fatalf("stale key POSTed %d times, want once (the attempt that never left)", n)
	}
	var rebatched int
	if err := b.db.Get(&rebatched, `SELECT count(*) FROM batches WHERE seq LIKE '%.k'`); err != nil {
		t.Fatal(err)
	}
	if rebatched != 1 {
		t.Fatalf("%d re-batched batches, want 1", rebatched)
	}
	checkBrokerLedger(t, b)
	assertAllAnswered(t, b)
	if !out.Report.Totals.Balanced {
		t.Fatal(out.Report.Totals.Problems)
	}
}

// Two bad accounts in one batch: Alpaca's message names only one at a time, so isolation must keep
// splitting until both are alone, while every good entry is still sent exactly once.
func TestWholeBatchCancelIsolatesEveryBadEntry(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	for _, id := range []string{"c0000000-0000-4000-8000-000000000003", "c0000000-0000-4000-8000-000000000027"} {
		b.sim.SetAccount(sandbox.Account{ID: id, Status: "ACCOUNT_CLOSED"})
	}
	b.runner.Config.BatchSize = 8
	if _, err := b.runner.Run(ctx, fixtures.BusinessDate); err != nil {
		t.Fatal(err)
	}
	var canceled []string
	if err := b.db.Select(&canceled, `SELECT DISTINCT to_account::text FROM journals WHERE status = 'canceled' ORDER BY 1`); err != nil {
		t.Fatal(err)
	}
	want := []string{"c0000000-0000-4000-8000-000000000003", "c0000000-0000-4000-8000-000000000027", "c0000000-0000-4000-8000-000000000099"}
	if len(canceled) != len(want) {
		t.Fatalf("canceled accounts %v, want %v", canceled, want)
	}
	for i := range want {
		if canceled[i] != want[i] {
			t.Fatalf("canceled accounts %v, want %v", canceled, want)
		}
	}
	var goodNotFunded int
	if err := b.db.Get(&goodNotFunded, `
		SELECT count(*) FROM journals WHERE to_account::text <> ALL($1) AND status IN ('planned', 'canceled')`, want); err != nil {
		t.Fatal(err)
	}
	if goodNotFunded != 0 {
		t.Fatalf("%d good journals were caught in the cancel", goodNotFunded)
	}
	checkBrokerLedger(t, b)
}

// Operations activates the inactive account and funds what was refused; a redrive sends new
// journals under new keys for exactly the failed ones, and never touches executed or pending ones.
func TestRedriveAfterTheCauseIsFixed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	// The cash check before the first POST passes; then the sweep account is drawn down to
	// 40,000.00 (elsewhere, before the POSTs), so Alpaca refuses the later entries.
	var drain sync.Once
	b.runner.Config.BeforePost = func(int64) {
		drain.Do(func() { b.sim.SetCash("", decimal.RequireFromString("40000.00")) })
	}
	if _, err := b.runner.Run(ctx, fixtures.BusinessDate); err != nil {
		t.Fatal(err)
	}
	var refused int
	if err := b.db.Get(&refused, `SELECT count(*) FROM journals WHERE status = 'refused' AND entry_type = 'JNLC'`); err != nil {
		t.Fatal(err)
	}
	if refused == 0 {
		t.Fatal("setup: expected refused journals for lack of cash")
	}
	b.sim.SetAccount(sandbox.Account{ID: "c0000000-0000-4000-8000-000000000099", Status: "ACTIVE"})
	b.sim.SetCash("", decimal.RequireFromString("1000000.00"))
	cfg := redrive.Config{SweepAccount: b.runner.Config.SweepAccount, BusinessDate: fixtures.BusinessDate}
	p, err := redrive.Apply(ctx, b.db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if p.Redrive != refused+1 { // the refused ones and the inactive account's canceled journal
		t.Fatalf("redrive of %d journals, want %d", p.Redrive, refused+1)
	}
	out, err := b.runner.Run(ctx, fixtures.BusinessDate)
	if err != nil {
		t.Fatal(err)
	}
	if out.AlreadyRan {
		t.Fatal("the redriven run was not resumed")
	}
	checkBrokerLedger(t, b)
	var open int
	if err := b.db.Get(&open, `
		SELECT count(*) FROM (
		  SELECT DISTINCT ON (allocation_id) status FROM journals WHERE entry_type = 'JNLC' ORDER BY allocation_id, attempt DESC) j
		WHERE status IN ('refused', 'canceled')`); err != nil {
		t.Fatal(err)
	}
	if open != 0 {
		t.Fatalf("%d allocations still failed after the redrive", open)
	}
	// Nothing is left to redrive: a second redrive would send nothing.
	again, err := redrive.Preview(ctx, b.db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if again.Redrive != 0 {
		t.Fatalf("second preview would redrive %d, want 0", again.Redrive)
	}
}

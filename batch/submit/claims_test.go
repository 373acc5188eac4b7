package submit_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cashpool/cashpool/batch/store"
	"github.com/cashpool/cashpool/batch/submit"
)

// manyAllocations is n allocations of R1, 10.00 more each.
func manyAllocations(n int) []alloc {
	out := make([]alloc, n)
	for i := range out {
		out[i] = alloc{account(i + 1), fmt.Sprintf("%d.00", 10*(i+1)), fmt.Sprintf("A%02d", i+1), "payroll"}
	}
	return out
}

// postedOnce checks that every batch key went out exactly once over all the brokers, and that
// every batch of the run ended sent.
func (e *env) postedOnce(t *testing.T, brokers ...*broker) {
	t.Helper()
	posts := map[string]int{}
	for _, b := range brokers {
		for _, p := range b.posts {
			posts[p.key]++
		}
	}
	var keys []string
	if err := e.db.Select(&keys, `SELECT idempotency_key::text FROM batches WHERE run_id = $1`, e.runID); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if posts[k] != 1 {
			t.Errorf("batch %s POSTed %d times, want once", k, posts[k])
		}
	}
	if len(posts) != len(keys) {
		t.Errorf("%d keys POSTed, the run has %d batches", len(posts), len(keys))
	}
	counts, err := store.BatchCounts(context.Background(), e.db, e.runID)
	if err != nil {
		t.Fatal(err)
	}
	if len(counts) != 1 || counts[0].Status != store.BatchSent {
		t.Errorf("batches by status %+v, want every one sent", counts)
	}
}

// TestTwoWorkersSendANightOnce: two processes' workers share one night's batches through their
// claims: each batch is POSTed exactly once, both send, and Alpaca's books hold every intent once.
func TestTwoWorkersSendANightOnce(t *testing.T) {
	t.Parallel()
	e := setup(t, manyAllocations(12), 2)
	cfg := e.config(t)
	holder, joiner := &broker{real: e.client}, &broker{real: e.client}
	// Each worker's first POST waits until the other has a batch too: both send by the end,
	// whatever the pace and whichever starts first (each holds at most two of the six claims).
	holderHas, joinerHas := make(chan struct{}), make(chan struct{})
	var holderOnce, joinerOnce sync.Once
	meet := func(mine, other chan struct{}, once *sync.Once, who string) func(int64) {
		return func(int64) {
			once.Do(func() { close(mine) })
			select {
			case <-other:
			case <-time.After(30 * time.Second):
				t.Errorf("the %s never got a batch while the other held one", who)
			}
		}
	}
	hc, jc := cfg, cfg
	hc.Worker, hc.MaxInFlight = "holder", 2
	hc.BeforePost = meet(holderHas, joinerHas, &holderOnce, "joiner")
	jc.Worker, jc.MaxInFlight, jc.Join = "joiner", 2, true
	jc.Fence.Held = nil
	jc.BeforePost = meet(joinerHas, holderHas, &joinerOnce, "holder")

	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, w := range []struct {
		b *broker
		c submit.Config
	}{{holder, hc}, {joiner, jc}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = submit.Submit(context.Background(), e.db, w.b, e.runID, w.c)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	e.postedOnce(t, holder, joiner)
	if len(holder.posts) == 0 || len(joiner.posts) == 0 {
		t.Errorf("holder sent %d batches, joiner %d: want both to send", len(holder.posts), len(joiner.posts))
	}
	e.checkAgainstLedger(t)
}

// TestExpiredClaimCannotMarkSending: a worker paused between its claim and marking the batch
// sending, past its lease, wakes up while another worker has taken the batch and marked it sending
// (its POST on its way): it must not mark the batch sending again, let alone POST it a second time.
func TestExpiredClaimCannotMarkSending(t *testing.T) {
	t.Parallel()
	e := setup(t, fourAllocations(), 2)
	cfg := e.config(t)
	paused, other := &broker{real: e.client}, &broker{real: e.client}
	pc, oc := cfg, cfg
	pc.Worker, pc.MaxInFlight, pc.Lease = "paused", 1, time.Minute
	oc.Worker, oc.MaxInFlight, oc.Lease, oc.Join, oc.Fence.Held = "other", 1, time.Minute, true, nil

	otherSending, pausedMoved := make(chan struct{}), make(chan struct{})
	var otherOnce, pausedOnce sync.Once
	wait := func(c chan struct{}, what string) {
		select {
		case <-c:
		case <-time.After(10 * time.Second):
			t.Error("never happened: " + what)
		}
	}
	// The other worker, its first batch marked sending, holds its POST until the paused worker
	// has made its move: tried to mark that batch and moved on, or marked it and is POSTing it.
	oc.BeforePost = func(int64) { otherOnce.Do(func() { close(otherSending); wait(pausedMoved, "the paused worker woke") }) }
	pc.BeforePost = func(int64) { pausedOnce.Do(func() { close(pausedMoved) }) }
	otherDone := make(chan error, 1)
	checks := 0
	// Held runs once before any work, then just before each batch is marked sending: at the
	// first batch the worker stalls past its lease while the other worker takes that batch.
	pc.Fence.Held = func(context.Context) error {
		checks++
		switch checks {
		case 2:
			e.clock.Advance(2 * time.Minute)
			go func() {
				_, err := submit.Submit(context.Background(), e.db, other, e.runID, oc)
				otherDone <- err
			}()
			wait(otherSending, "the other worker marked the batch sending")
		case 3:
			pausedOnce.Do(func() { close(pausedMoved) })
		}
		return nil
	}
	if _, err := submit.Submit(context.Background(), e.db, paused, e.runID, pc); err != nil {
		t.Fatal(err)
	}
	if err := <-otherDone; err != nil {
		t.Fatal(err)
	}
	e.postedOnce(t, paused, other)
	e.checkAgainstLedger(t)
}

// TestClaimRunsOut: a claim is its worker's until its lease ends on the database's clock, whatever
// the workers' own clocks say; then it can mark nothing, and another worker can claim the batch.
func TestClaimRunsOut(t *testing.T) {
	t.Parallel()
	e := setup(t, fourAllocations(), 4)
	ctx := context.Background()
	mine, err := store.ClaimBatches(ctx, e.db, e.runID, "a", 5, time.Hour)
	if err != nil || len(mine) != 1 {
		t.Fatalf("claimed %d batches (%v), want the run's one", len(mine), err)
	}
	id := mine[0].ID
	// b can neither claim a's batch under a's live claim nor, with its clock a day ahead, mark it.
	if got, _ := store.ClaimBatches(ctx, e.db, e.runID, "b", 5, time.Hour); len(got) != 0 {
		t.Fatalf("worker b claimed %d batches under a's live claim", len(got))
	}
	if err := store.MarkSending(ctx, e.db, id, "b", e.clock.Now().Add(24*time.Hour)); !errors.Is(err, store.ErrNotClaimed) {
		t.Fatalf("b marked a's claimed batch sending: %v", err)
	}

	// a renews for a millisecond only: its claim runs out on the database's clock.
	if n, err := store.RenewClaims(ctx, e.db, e.runID, "a", time.Millisecond); err != nil || n != 1 {
		t.Fatalf("a renewed %d claims (%v), want 1", n, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var out bool
		if err := e.db.Get(&out, `SELECT claimed_until <= now() FROM batches WHERE id = $1`, id); err != nil {
			t.Fatal(err)
		}
		if out {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a's claim never ran out")
		}
	}
	// a's clock, a day behind, does not keep its claim alive.
	if err := store.MarkSending(ctx, e.db, id, "a", e.clock.Now().Add(-24*time.Hour)); !errors.Is(err, store.ErrNotClaimed) {
		t.Fatalf("a marked its batch sending after its claim ran out: %v", err)
	}
	got, err := store.ClaimBatches(ctx, e.db, e.runID, "b", 5, time.Hour)
	if err != nil || len(got) != 1 || got[0].ID != id {
		t.Fatalf("worker b claimed %+v (%v) after a's claim ran out, want batch %d", got, err, id)
	}
	if err := store.MarkSending(ctx, e.db, id, "a", e.clock.Now()); !errors.Is(err, store.ErrNotClaimed) {
		t.Fatalf("a marked b's batch sending: %v", err)
	}
	if err := store.MarkSending(ctx, e.db, id, "b", e.clock.Now()); err != nil {
		t.Fatalf("b could not mark its claimed batch sending: %v", err)
	}
}

package batch_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/cashpool/cashpool/batch"
	"github.com/cashpool/cashpool/fixtures"
)

// TestWorkJoinsTheNight: a second process joins the night the run holds the lock of: both send
// batches, every batch is POSTed exactly once, and the broker's books hold each intent once.
func TestWorkJoinsTheNight(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.runner.Config.BatchSize = 4
	b.runner.Config.MaxInFlight = 1
	holder := &postCounter{Broker: b.client}
	joiner := &postCounter{Broker: b.client}
	b.runner.Broker = holder
	worker := &batch.Runner{DB: b.db, Broker: joiner, Config: b.runner.Config}

	joinerPosted := make(chan struct{})
	var joinOnce, startOnce sync.Once
	worker.Config.BeforePost = func(int64) { joinOnce.Do(func() { close(joinerPosted) }) }
	workDone := make(chan error, 1)
	// The run's first POST: the night is open for sending. The worker joins now, and the run
	// sends on only once the worker has sent a batch of its own.
	b.runner.Config.BeforePost = func(int64) {
		startOnce.Do(func() {
			go func() { _, err := worker.Work(ctx, fixtures.BusinessDate); workDone <- err }()
			select {
			case <-joinerPosted:
			case <-time.After(30 * time.Second):
				t.Error("the worker never sent a batch of the open night")
			}
		})
	}
	if _, err := b.runner.Run(ctx, fixtures.BusinessDate); err != nil {
		t.Fatal(err)
	}
	if err := <-workDone; err != nil {
		t.Fatal(err)
	}
	if holder.posts() == 0 || joiner.posts() == 0 {
		t.Errorf("the run POSTed %d batches, the worker %d: want both to send", holder.posts(), joiner.posts())
	}
	var batches int
	if err := b.db.Get(&batches, `SELECT count(*) FROM batches`); err != nil {
		t.Fatal(err)
	}
	for key, n := range joiner.keys {
		if holder.keys[key] > 0 || n != 1 {
			t.Errorf("batch %s POSTed %d times by the worker and %d by the run, want once", key, n, holder.keys[key])
		}
	}
	for key, n := range holder.keys {
		if n != 1 {
			t.Errorf("batch %s POSTed %d times by the run, want once", key, n)
		}
	}
	if got := len(holder.keys) + len(joiner.keys); got != batches {
		t.Errorf("%d batches POSTed, the night has %d", got, batches)
	}
	checkBrokerLedger(t, b)
}

// TestNewRunLockHolderFreesOldClaims: claims left by a run that died (killed with its batches
// claimed for another hour) can mark nothing sending under the next holder's epoch; the next run
// frees them instead of waiting for them to run out.
func TestNewRunLockHolderFreesOldClaims(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.runner.Config.ClaimLease = time.Hour
	if _, err := b.runner.Ingest(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.runner.Plan(ctx, fixtures.BusinessDate); err != nil {
		t.Fatal(err)
	}
	if _, err := b.db.Exec(`UPDATE batches SET claimed_by = 'dead', claimed_until = $1`, b.clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// Waiting out the dead claims would take an hour of real time: the run must not need to.
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := b.runner.Run(ctx, fixtures.BusinessDate); err != nil {
		t.Fatal(err)
	}
	checkBrokerLedger(t, b)
}

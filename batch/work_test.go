package batch_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/cashpool/cashpool/batch"
	"github.com/cashpool/cashpool/batch/schema"
	"github.com/cashpool/cashpool/fixtures"
)

// TestWorkJoinsTheNight: a second process joins the night the run holds the lock of: both send
// batches, every batch is POSTed exactly once, and the broker's books hold each intent once.
func TestWorkJoinsTheNight(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	holder, joiner := joinedNight(t, b, func(worker *batch.Runner) (stop func() error) {
		done := make(chan error, 1)
		go func() { _, err := worker.Work(ctx, fixtures.BusinessDate); done <- err }()
		return func() error { return <-done }
	})
	checkJoinedNight(t, b, holder, joiner)
}

// TestStandbyReplicaJoinsTheNight: a serve replica waiting for the leader lock sends batches of the
// night another process runs, each exactly once.
func TestStandbyReplicaJoinsTheNight(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Another replica leads.
	_, unlock, err := schema.TryLock(ctx, b.db.DB, "serve:"+b.runner.Config.SweepAccount)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	sched, _ := cron.ParseStandard("CRON_TZ=UTC 30 1 1 1 *")
	holder, joiner := joinedNight(t, b, func(worker *batch.Runner) (stop func() error) {
		s := &batch.Scheduler{Runner: worker, Schedule: sched, TZ: time.UTC, LeaderPoll: 10 * time.Millisecond}
		done := make(chan error, 1)
		go func() { done <- s.Serve(ctx) }()
		return func() error { cancel(); <-done; return nil }
	})
	checkJoinedNight(t, b, holder, joiner)
}

// joinedNight runs the sample night in small batches with the run's broker counted, and a second
// process (its own counted broker) started by join when the night is open for sending: the run's
// first POST waits until the second process has POSTed a batch of its own. It returns once the run
// finished and join's stop returned.
func joinedNight(t *testing.T, b *bundle, join func(worker *batch.Runner) (stop func() error)) (holder, joiner *postCounter) {
	t.Helper()
	b.runner.Config.BatchSize = 4
	b.runner.Config.MaxInFlight = 1
	holder, joiner = &postCounter{Broker: b.client}, &postCounter{Broker: b.client}
	b.runner.Broker = holder
	worker := &batch.Runner{DB: b.db, Broker: joiner, Config: b.runner.Config}

	joinerPosted := make(chan struct{})
	var joinOnce, startOnce sync.Once
	worker.Config.BeforePost = func(int64) { joinOnce.Do(func() { close(joinerPosted) }) }
	var stop func() error
	b.runner.Config.BeforePost = func(int64) {
		startOnce.Do(func() {
			stop = join(worker)
			select {
			case <-joinerPosted:
			case <-time.After(30 * time.Second):
				t.Error("the second process never sent a batch of the open night")
			}
		})
	}
	if _, err := b.runner.Run(context.Background(), fixtures.BusinessDate); err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	return holder, joiner
}

// checkJoinedNight: both processes sent, every batch of the night was POSTed exactly once, and the
// broker's books hold each intent once.
func checkJoinedNight(t *testing.T, b *bundle, holder, joiner *postCounter) {
	t.Helper()
	if holder.posts() == 0 || joiner.posts() == 0 {
		t.Errorf("the run POSTed %d batches, the other process %d: want both to send", holder.posts(), joiner.posts())
	}
	var batches int
	if err := b.db.Get(&batches, `SELECT count(*) FROM batches`); err != nil {
		t.Fatal(err)
	}
	for key, n := range joiner.keys {
		if holder.keys[key] > 0 || n != 1 {
			t.Errorf("batch %s POSTed %d times by the other process and %d by the run, want once", key, n, holder.keys[key])
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

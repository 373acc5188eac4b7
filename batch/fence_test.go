package batch_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/cashpool/cashpool/alpaca"
	"github.com/cashpool/cashpool/batch"
	"github.com/cashpool/cashpool/batch/submit"
	"github.com/cashpool/cashpool/fixtures"
)

// postCounter is the pipeline's broker with every batch POST's key counted (a reward's single
// POST included).
type postCounter struct {
	batch.Broker
	mu   sync.Mutex
	keys map[string]int
}

func (p *postCounter) CreateBatch(ctx context.Context, key string, body []byte) ([]alpaca.BatchJournal, error) {
	p.mu.Lock()
	if p.keys == nil {
		p.keys = map[string]int{}
	}
	p.keys[key]++
	p.mu.Unlock()
	return p.Broker.CreateBatch(ctx, key, body)
}

// CreateJournalBody counts a reward's one POST /v1/journals, which is its batch.
func (p *postCounter) CreateJournalBody(ctx context.Context, key string, body []byte) (*alpaca.Journal, error) {
	p.mu.Lock()
	if p.keys == nil {
		p.keys = map[string]int{}
	}
	p.keys[key]++
	p.mu.Unlock()
	return p.Broker.CreateJournalBody(ctx, key, body)
}

func (p *postCounter) posts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, c := range p.keys {
		n += c
	}
	return n
}

// killRunLock ends the database session holding this test database's advisory lock (what a
// PostgreSQL restart does to a runner) and waits until the lock is free.
func killRunLock(t *testing.T, db *sqlx.DB) {
	t.Helper()
	const held = `FROM pg_locks WHERE locktype = 'advisory' AND granted
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`
	var killed []bool
	if err := db.Select(&killed, `SELECT pg_terminate_backend(pid) `+held); err != nil || len(killed) != 1 || !killed[0] {
		t.Fatalf("terminate the run lock's session: %v %v", killed, err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		var n int
		if err := db.Get(&n, `SELECT count(*) `+held); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the run lock outlived its session")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Runner A loses its lock's session after planning (a database restart) and runner B takes the
// lock with the next epoch. While B is about to send, A resumes: it POSTs nothing, stopping with a
// lost lock before marking any batch sending. B then sends each batch exactly once.
func TestRunnerThatLostItsLockSendsNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	date := fixtures.BusinessDate
	b.runner.Config.BatchSize = 3

	bBroker := &postCounter{Broker: b.client}
	runnerB := &batch.Runner{DB: b.db, Broker: bBroker, Config: b.runner.Config}
	reached, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	runnerB.Config.BeforePost = func(int64) {
		once.Do(func() { close(reached) })
		<-release
	}
	aBroker := &postCounter{Broker: b.client}
	runnerA := &batch.Runner{DB: b.db, Broker: aBroker, Config: b.runner.Config}
	runnerA.Config.LockCheckEvery = time.Hour // only the checks before sending stand between A and a POST
	var epochA, epochB int64
	bDone := make(chan error, 1)
	runnerA.Config.Failpoint = func(name string) {
		if name != "after-plan" {
			return
		}
		if err := b.db.Get(&epochA, `SELECT epoch FROM run_fences`); err != nil {
			t.Error(err)
		}
		killRunLock(t, b.db)
		go func() { _, err := runnerB.Run(ctx, date); bDone <- err }()
		select {
		case <-reached:
		case err := <-bDone:
			t.Fatalf("runner B ended before sending: %v", err)
		}
		if err := b.db.Get(&epochB, `SELECT epoch FROM run_fences`); err != nil {
			t.Error(err)
		}
	}
	_, errA := runnerA.Run(ctx, date)
	close(release)
	if err := <-bDone; err != nil {
		t.Fatalf("runner B: %v", err)
	}
	if !errors.Is(errA, submit.ErrLostLock) {
		t.Errorf("runner A after losing its lock: %v, want a lost lock", errA)
	}
	if n := aBroker.posts(); n != 0 {
		t.Errorf("runner A made %d POSTs without its lock", n)
	}
	if epochA != 1 || epochB != 2 {
		t.Errorf("epochs: A took %d, B %d; want 1 then 2", epochA, epochB)
	}
	var keys []string
	if err := b.db.Select(&keys, `SELECT idempotency_key::text FROM batches WHERE status <> 'planned'`); err != nil {
		t.Fatal(err)
	}
	if len(keys) < 2 || bBroker.posts() != len(keys) {
		t.Errorf("runner B made %d POSTs for %d batches", bBroker.posts(), len(keys))
	}
	for _, k := range keys {
		if bBroker.keys[k] != 1 {
			t.Errorf("batch %s POSTed %d times by B", k, bBroker.keys[k])
		}
	}
	checkBrokerLedger(t, b)
}

// A run whose lock's session dies while it tracks stops within LockCheckEvery, naming the lost lock.
func TestRunStopsWhenItsLockSessionDies(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.runner.Config.LockCheckEvery = 20 * time.Millisecond
	killed := false
	b.runner.Config.TrackWait = func(ctx context.Context, d time.Duration) error {
		if !killed {
			killed = true
			killRunLock(t, b.db)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(30 * time.Second):
				t.Error("the run went on for 30s without its lock")
			}
		}
		b.clock.Advance(d)
		return nil
	}
	_, err := b.runner.Run(context.Background(), fixtures.BusinessDate)
	if !killed {
		t.Fatal("tracking never waited; the test did not run")
	}
	if !errors.Is(err, submit.ErrLostLock) {
		t.Fatalf("run after its lock's session died: %v, want a lost lock", err)
	}
}

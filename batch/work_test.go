package batch_test

import (
	"context"
	"log/slog"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/cashpool/cashpool/alpaca"
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
	if _, err := b.db.Exec(`UPDATE batches SET claimed_by = 'dead', claimed_until = now() + interval '1 hour'`); err != nil {
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

// TestWorkTracksBesideTheRun: a second process that joined the night (Work) also tracks its share
// of the run's parts beside the run's holder: both apply events, every journal ends at the
// broker's status, the night's report is written, and Work returns once the holder has ended
// tracking. (Before, Work returned after sending and the holder
// tracked alone.)
func TestWorkTracksBesideTheRun(t *testing.T) {
	t.Parallel()
	tracksBesideTheRun(t, func(ctx context.Context, worker *batch.Runner) (wait func() error) {
		worked := make(chan error, 1)
		go func() { _, err := worker.Work(ctx, fixtures.BusinessDate); worked <- err }()
		return func() error { return <-worked }
	})
}

// TestStandbyReplicaTracksBesideTheRun: a serve replica waiting for the leader lock joins the open
// night's tracking as a `cashpool work` does, besides its sending: both it and the run's holder
// apply events, and every journal ends at the broker's status.
func TestStandbyReplicaTracksBesideTheRun(t *testing.T) {
	t.Parallel()
	tracksBesideTheRun(t, func(ctx context.Context, worker *batch.Runner) (wait func() error) {
		// Another replica leads.
		_, unlock, err := schema.TryLock(ctx, worker.DB.DB, "serve:"+worker.Config.SweepAccount)
		if err != nil {
			t.Fatal(err)
		}
		sched, _ := cron.ParseStandard("CRON_TZ=UTC 30 1 1 1 *")
		sctx, cancel := context.WithCancel(ctx)
		s := &batch.Scheduler{Runner: worker, Schedule: sched, TZ: time.UTC, LeaderPoll: 10 * time.Millisecond}
		done := make(chan error, 1)
		go func() { done <- s.Serve(sctx) }()
		// Called once the run has finished: the replica has ended its tracking by then.
		return func() error { cancel(); <-done; unlock(); return nil }
	})
}

// tracksBesideTheRun runs the sample night with a second process, started by join before the run,
// that must take part of the run's tracking; wait returns once the second process is done.
func tracksBesideTheRun(t *testing.T, join func(ctx context.Context, worker *batch.Runner) (wait func() error)) {
	t.Helper()
	b := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var holderLog, workerLog safeLog
	b.runner.Config.Logger = slog.New(slog.NewTextHandler(&holderLog, nil))
	// Stuck journals keep tracking to its deadline: the waits to it leave the worker time to apply.
	b.runner.Config.TrackFor = 4 * time.Hour
	// Batches of 4, so that the night has batches for the second process to send too.
	b.runner.Config.BatchSize = 4
	worker := &batch.Runner{DB: b.db, Broker: b.client, Config: b.runner.Config}
	// The second process joins a night only while it is open for sending: the run's first POST
	// waits until it has joined (it claimed or sent a batch), so that however slowly it is
	// scheduled it never finds the night already sent.
	var sending sync.Once
	b.runner.Config.BeforePost = func(int64) {
		sending.Do(func() {
			end := time.Now().Add(30 * time.Second)
			for {
				var joined bool
				if err := b.db.Get(&joined, `SELECT count(DISTINCT claimed_by) >= 2 OR coalesce(bool_or(status = 'sent'), false) FROM batches`); err != nil || joined {
					return
				}
				if time.Now().After(end) {
					t.Error("the second process never joined the night's sending")
					return
				}
				_ = alpaca.Sleep(ctx, 5*time.Millisecond)
			}
		})
	}
	worker.Config.Logger = slog.New(slog.NewTextHandler(&workerLog, nil))
	// The worker's pauses are its own, in real time: the simulator's clock is the run's to move.
	worker.Config.TrackWait = func(ctx context.Context, d time.Duration) error { return alpaca.Sleep(ctx, 10*time.Millisecond) }
	joined := regexp.MustCompile(`msg="track parts" run=\d+ holder=(\S+) parts=(\d+) events_applied=(\d+)`)
	// Journals move only when the run's tracking waits (the clock advances there): its first wait
	// once tracking began lasts until the worker holds parts, so that both have events to apply.
	var gate sync.Once
	b.runner.Config.TrackWait = func(ctx context.Context, d time.Duration) error {
		var parts int
		if err := b.db.Get(&parts, `SELECT count(*) FROM track_parts`); err != nil {
			return err
		}
		if parts > 0 {
			gate.Do(func() {
				end := time.Now().Add(30 * time.Second)
				for {
					var shared bool
					if err := b.db.Get(&shared, `SELECT EXISTS (SELECT FROM track_parts WHERE holder <> 'run')`); err != nil || shared {
						return
					}
					if time.Now().After(end) {
						t.Error("the worker never claimed parts of the run's tracking")
						return
					}
					_ = alpaca.Sleep(ctx, 5*time.Millisecond)
				}
			})
		}
		b.clock.Advance(d)
		return alpaca.Sleep(ctx, 10*time.Millisecond)
	}
	wait := join(ctx, worker)
	if _, err := b.runner.Run(ctx, fixtures.BusinessDate); err != nil {
		t.Fatal(err)
	}
	if err := wait(); err != nil {
		t.Fatalf("the second process: %v", err)
	}
	applied := map[string]int{}
	for _, l := range []string{holderLog.String(), workerLog.String()} {
		for _, m := range joined.FindAllStringSubmatch(l, -1) {
			n, _ := strconv.Atoi(m[3])
			applied[m[1]] += n
		}
	}
	if len(applied) != 2 || applied["run"] == 0 {
		t.Fatalf("events applied per tracker %v, want the run's holder and the worker both to apply some", applied)
	}
	for h, n := range applied {
		if n == 0 {
			t.Errorf("tracker %s applied no event (%v)", h, applied)
		}
	}
	want := map[string]string{}
	for _, l := range b.sim.Ledger() {
		want[l.ID] = l.Status
	}
	var rows []struct {
		AlpacaID string `db:"alpaca_id"`
		Status   string `db:"status"`
	}
	if err := b.db.Select(&rows, `SELECT alpaca_id::text AS alpaca_id, status FROM journals WHERE alpaca_id IS NOT NULL`); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if want[r.AlpacaID] != r.Status {
			t.Errorf("journal %s: status %q, the broker says %q", r.AlpacaID, r.Status, want[r.AlpacaID])
		}
	}
	checkBrokerLedger(t, b)
}

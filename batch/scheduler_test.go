package batch_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/cashpool/cashpool/batch"
	"github.com/cashpool/cashpool/fixtures"
)

func TestDueDatesCatchUpMissedNights(t *testing.T) {
	t.Parallel()
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	sched, err := cron.ParseStandard("CRON_TZ=America/New_York 30 1 * * *")
	if err != nil {
		t.Fatal(err)
	}
	last := time.Date(2026, 11, 17, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		now  time.Time
		want string
	}{
		{time.Date(2026, 11, 18, 1, 0, 0, 0, ny), ""},                                 // the 18th's run is not due yet
		{time.Date(2026, 11, 18, 1, 30, 0, 0, ny), "2026-11-18"},                      // due at its fire time
		{time.Date(2026, 11, 20, 9, 0, 0, 0, ny), "2026-11-18 2026-11-19 2026-11-20"}, // two nights missed
		{time.Date(2026, 11, 17, 23, 0, 0, 0, ny), ""},                                // nothing after the last completed
	} {
		got := strings.Join(batch.DueDates(sched, ny, last, c.now, 31), " ")
		if got != c.want {
			t.Errorf("now %s: due %q, want %q", c.now, got, c.want)
		}
	}
	// Spring forward in New York skips 02:30 on 2026-03-08: a 02:30 job still gets that date.
	sched230, _ := cron.ParseStandard("CRON_TZ=America/New_York 30 2 * * *")
	got := batch.DueDates(sched230, ny, time.Date(2026, 3, 7, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 9, 12, 0, 0, 0, ny), 31)
	if strings.Join(got, " ") != "2026-03-09" && strings.Join(got, " ") != "2026-03-08 2026-03-09" {
		t.Errorf("DST dates %v", got)
	}
	if n := len(batch.DueDates(sched, ny, last, time.Date(2027, 1, 1, 0, 0, 0, 0, ny), 5)); n != 5 {
		t.Errorf("catch-up not bounded: %d dates", n)
	}
}

func TestSchedulerCatchUpRunsMissedDateOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	if _, err := b.db.Exec(`INSERT INTO schedule_state (sweep_account, last_completed, updated_at) VALUES ($1, '2026-11-19', now())`,
		b.runner.Config.SweepAccount); err != nil {
		t.Fatal(err)
	}
	sched, _ := cron.ParseStandard("CRON_TZ=UTC 30 1 * * *")
	s := &batch.Scheduler{Runner: b.runner, Schedule: sched, TZ: time.UTC,
		Now: func() time.Time { return time.Date(2026, 11, 20, 23, 0, 0, 0, time.UTC) }}
	if err := s.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	var last string
	if err := b.db.Get(&last, `SELECT to_char(last_completed, 'YYYY-MM-DD') FROM schedule_state`); err != nil {
		t.Fatal(err)
	}
	if last != fixtures.BusinessDate {
		t.Fatalf("last completed %s, want %s", last, fixtures.BusinessDate)
	}
	calls := b.client.Calls()
	if err := s.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if b.client.Calls() != calls {
		t.Fatal("a second catch-up called the broker again")
	}
	checkBrokerLedger(t, b)
}

func TestOnlyOneSchedulerLeads(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sched, _ := cron.ParseStandard("CRON_TZ=UTC 30 1 1 1 *")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	leaders := make(chan string, 2)
	standby := make(chan struct{}, 100)
	start := func(name string) {
		s := &batch.Scheduler{Runner: b.runner, Schedule: sched, TZ: time.UTC, LeaderPoll: 10 * time.Millisecond,
			OnLeader: func(on bool) {
				if on {
					leaders <- name
				}
			},
			OnStandby: func() { standby <- struct{}{} }}
		go s.Serve(ctx)
	}
	start("a")
	first := <-leaders
	start("b")
	// Wait until the second replica has found the lock held three times, then check it never led.
	for range 3 {
		<-standby
	}
	select {
	case second := <-leaders:
		t.Fatalf("%s became leader while %s held the lock", second, first)
	default:
	}
}

// The leader names itself, with the time it took the lock, while it leads, and no more once it
// stops.
func TestSchedulerRecordsItsLeader(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sched, _ := cron.ParseStandard("CRON_TZ=UTC 30 1 1 1 *")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	took := time.Date(2026, 11, 20, 6, 0, 0, 0, time.UTC)
	s := &batch.Scheduler{Runner: b.runner, Schedule: sched, TZ: time.UTC, Identity: "replica-a (pid 42)",
		Now: func() time.Time { return took }}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	sweep := b.runner.Config.SweepAccount
	deadline := time.Now().Add(20 * time.Second)
	for {
		holder, since, err := batch.CurrentLeader(ctx, b.runner.DB, sweep)
		if err != nil {
			t.Fatal(err)
		}
		if holder != "" {
			if holder != "replica-a (pid 42)" || !since.Equal(took) {
				t.Fatalf("leader %q since %s, want replica-a (pid 42) since %s", holder, since, took)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the leader was not recorded within 20s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	if holder, _, err := batch.CurrentLeader(context.Background(), b.runner.DB, sweep); err != nil || holder != "" {
		t.Fatalf("after stopping, leader %q (%v), want none", holder, err)
	}
}

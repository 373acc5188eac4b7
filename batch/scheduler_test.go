package batch_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
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

// Catch-up across Thanksgiving 2026 (Thursday the 26th; the Fed is open Friday the 27th) and the
// weekend after runs only the Fed's business dates, and each of those nights takes every receipt
// valued since the last business night; with RunOnHolidays every date is run.
func TestCatchUpRunsOnlyFedBusinessDates(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		runOnHolidays bool
		want          string // business date: receipts planned, night by night
	}{
		{false, "2026-11-27: W26 W27; 2026-11-30: W28 W29 W30"},
		{true, "2026-11-26: W26; 2026-11-27: W27; 2026-11-28: W28; 2026-11-29: W29; 2026-11-30: W30"},
	} {
		t.Run(fmt.Sprintf("run on holidays %v", c.runOnHolidays), func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ctx := context.Background()
			// This night's files only: one receipt valued each day from Thanksgiving to Monday.
			entries, err := os.ReadDir(b.drop)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				if err := os.Remove(filepath.Join(b.drop, e.Name())); err != nil {
					t.Fatal(err)
				}
			}
			receipts := "receipt_id,value_date,amount,currency,originator_name,originator_account,originator_bank,originator_address,reference\n"
			allocations := "receipt_id,account_id,amount,weight,client_ref,description\n"
			for day := 26; day <= 30; day++ {
				receipts += fmt.Sprintf("W%d,2026-11-%d,1000.00,USD,Acme Holdings LLC,DE89370400440532013000,Deutsche Bank AG,\"Taunusanlage 12, 60325 Frankfurt, DE\",ACME %d NOV\n", day, day, day)
				allocations += fmt.Sprintf("W%d,c0000000-0000-4000-8000-00000000000%d,1000.00,,ACME-%d,Payout\n", day, day-25, day)
			}
			for name, body := range map[string]string{"receipts-thanksgiving.csv": receipts, "allocations-thanksgiving.csv": allocations} {
				if err := os.WriteFile(filepath.Join(b.drop, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(b.drop, name+".ready"), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := b.db.Exec(`INSERT INTO schedule_state (sweep_account, last_completed, updated_at) VALUES ($1, '2026-11-25', now())`,
				b.runner.Config.SweepAccount); err != nil {
				t.Fatal(err)
			}
			sched, _ := cron.ParseStandard("CRON_TZ=UTC 30 1 * * *")
			s := &batch.Scheduler{Runner: b.runner, Schedule: sched, TZ: time.UTC, RunOnHolidays: c.runOnHolidays,
				Now: func() time.Time { return time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC) }}
			if err := s.CatchUp(ctx); err != nil {
				t.Fatal(err)
			}
			var rows []struct {
				Date    string `db:"business_date"`
				Receipt string `db:"receipt_id"`
			}
			if err := b.db.Select(&rows, `SELECT to_char(r.business_date, 'YYYY-MM-DD') AS business_date, rr.receipt_id
				FROM run_receipts rr JOIN runs r ON r.id = rr.run_id ORDER BY r.business_date, rr.receipt_id`); err != nil {
				t.Fatal(err)
			}
			var nights []string
			for _, r := range rows {
				if len(nights) > 0 && strings.HasPrefix(nights[len(nights)-1], r.Date+":") {
					nights[len(nights)-1] += " " + r.Receipt
					continue
				}
				nights = append(nights, r.Date+": "+r.Receipt)
			}
			if got := strings.Join(nights, "; "); got != c.want {
				t.Fatalf("nights run\n got %s\nwant %s", got, c.want)
			}
			var runs []string
			if err := b.db.Select(&runs, `SELECT to_char(business_date, 'YYYY-MM-DD') FROM runs ORDER BY 1`); err != nil {
				t.Fatal(err)
			}
			if want := strings.Count(c.want, ":"); len(runs) != want {
				t.Fatalf("runs %v, want %d", runs, want)
			}
		})
	}
}

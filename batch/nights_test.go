package batch_test

import (
	"context"
	"github.com/shopspring/decimal"
	"strings"
	"testing"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/cashpool/cashpool/alpaca/sandbox"
	"github.com/cashpool/cashpool/batch"
	"github.com/cashpool/cashpool/fixtures"
	"github.com/cashpool/cashpool/pool"
)

// nextDate is the business date after the sample night's.
const nextDate = "2026-11-21"

// assertSentOnce checks, against the simulator's ledger, that every journal planned for date went
// to Alpaca exactly once, except those to an account the seed holds not ACTIVE, which Alpaca
// refuses with their whole batch and so never holds.
func assertSentOnce(t *testing.T, b *bundle, date string) {
	t.Helper()
	raw, err := fixtures.FS.ReadFile("accounts.json")
	if err != nil {
		t.Fatal(err)
	}
	seed, err := sandbox.ParseSeed(raw)
	if err != nil {
		t.Fatal(err)
	}
	// A journal reaches the broker when its account is an active customer's: a reward naming a
	// firm account is refused before sending, and one for more shares than the firm holds is
	// refused by the broker (403) without a journal.
	active := map[string]bool{}
	for _, a := range seed.Accounts {
		active[a.ID] = a.Status == sandbox.AccountActive && !a.Firm
	}
	held := seed.Positions[seed.SweepAccount]
	atBroker := map[string]int{}
	for _, e := range b.sim.Ledger() {
		if key, ok := pool.TokenFromDescription(e.Description); ok {
			atBroker[key]++
		}
	}
	var intents []struct {
		Key     string              `db:"journal_key"`
		Account string              `db:"to_account"`
		Symbol  string              `db:"symbol"`
		Qty     decimal.NullDecimal `db:"qty"`
	}
	if err := b.db.Select(&intents, `SELECT j.journal_key::text, j.to_account::text, COALESCE(j.symbol, '') AS symbol, j.qty
		FROM journals j JOIN runs r ON r.id = j.run_id WHERE r.business_date = $1`, date); err != nil {
		t.Fatal(err)
	}
	if len(intents) == 0 {
		t.Fatalf("no journals planned for %s", date)
	}
	for _, in := range intents {
		want := 0
		if active[in.Account] && (!in.Qty.Valid || held[in.Symbol].GreaterThanOrEqual(in.Qty.Decimal)) {
			want = 1
		}
		if atBroker[in.Key] != want {
			t.Errorf("journal %s of %s (to %s) is %d times at the broker, want %d", in.Key, date, in.Account, atBroker[in.Key], want)
		}
	}
	checkBrokerLedger(t, b)
}

func runStatus(t *testing.T, b *bundle, date string) string {
	t.Helper()
	var s string
	if err := b.db.Get(&s, `SELECT status FROM runs WHERE business_date = $1`, date); err != nil {
		t.Fatal(err)
	}
	return s
}

// A night left with a batch 'sending' (its answer lost) is resumed by the next night's run, before
// that night's own work: its journals reach Alpaca exactly once and its run is finished.
func TestLaterRunResumesEarlierNightLeftSending(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.runner.Broker = &lostAnswer{Broker: b.client}
	b.runner.Config.MaxInFlight = 1
	if _, err := b.runner.Run(ctx, fixtures.BusinessDate); err == nil {
		t.Fatal("want the first night to stop on the lost answer")
	}
	b.runner.Broker = b.client
	b.clock.Advance(20 * time.Hour) // the next evening, within Alpaca's key retention
	out, err := b.runner.Run(ctx, nextDate)
	if err != nil {
		t.Fatal(err)
	}
	if s := runStatus(t, b, fixtures.BusinessDate); s != "reconciled" {
		t.Fatalf("the earlier night is %s after the next night's run, want reconciled", s)
	}
	assertSentOnce(t, b, fixtures.BusinessDate)
	for _, e := range out.Report.Exceptions {
		if e.Kind == "unfinished_run" {
			t.Errorf("the next night reports a night it finished: %+v", e)
		}
	}
}

// A night that cannot be finished now (another process holds it) is named in the next night's
// report, with what to do, and makes that run exit 3.
func TestLaterRunReportsEarlierNightItCannotFinish(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	// The first night's runner stops just before its first POST and holds its run there.
	held, release := make(chan struct{}), make(chan struct{})
	first := &batch.Runner{DB: b.db, Broker: b.client, Config: b.runner.Config}
	first.Config.BeforePost = func(int64) {
		select {
		case <-held:
		default:
			close(held)
			<-release
		}
	}
	done := make(chan error, 1)
	go func() { _, err := first.Run(ctx, fixtures.BusinessDate); done <- err }()
	<-held

	out, err := b.runner.Run(ctx, nextDate)
	close(release)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var named []string
	for _, e := range out.Report.Exceptions {
		if e.Kind == "unfinished_run" {
			named = append(named, e.Reason+" | "+e.NextAction)
		}
	}
	if len(named) != 1 || !strings.Contains(named[0], fixtures.BusinessDate) || !strings.Contains(named[0], "cashpool run --date "+fixtures.BusinessDate) {
		t.Fatalf("unfinished_run exceptions %q, want one naming %s and how to finish it", named, fixtures.BusinessDate)
	}
	if out.Report.ExitCode() != 3 {
		t.Fatalf("exit code %d with an earlier night open, want 3", out.Report.ExitCode())
	}
	// The first runner finished its own night; nothing was sent twice.
	assertSentOnce(t, b, fixtures.BusinessDate)
}

// serve's catch-up finishes an unfinished night even when the schedule's memory is past it.
func TestCatchUpFinishesUnfinishedEarlierRun(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	// A run planned the sample night and died before sending anything.
	if _, err := b.runner.Ingest(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.runner.Plan(ctx, fixtures.BusinessDate); err != nil {
		t.Fatal(err)
	}
	if _, err := b.db.Exec(`INSERT INTO schedule_state (sweep_account, last_completed, updated_at) VALUES ($1, $2, now())`,
		b.runner.Config.SweepAccount, nextDate); err != nil {
		t.Fatal(err)
	}
	sched, _ := cron.ParseStandard("CRON_TZ=UTC 30 1 * * *")
	s := &batch.Scheduler{Runner: b.runner, Schedule: sched, TZ: time.UTC,
		Now: func() time.Time { return time.Date(2026, 11, 21, 23, 0, 0, 0, time.UTC) }}
	if err := s.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if st := runStatus(t, b, fixtures.BusinessDate); st != "reconciled" {
		t.Fatalf("the unfinished night is %s after catch-up, want reconciled", st)
	}
	assertSentOnce(t, b, fixtures.BusinessDate)
}

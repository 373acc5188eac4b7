package batch_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cashpool/cashpool/batch"
	"github.com/cashpool/cashpool/fixtures"
)

// stopDuringTracking runs the sample night and cancels it, as Ctrl-C does, at tracking's first
// wait: everything is sent, nothing is final yet.
func stopDuringTracking(t *testing.T, b *bundle) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wait := b.runner.Config.TrackWait
	b.runner.Config.TrackWait = func(ctx context.Context, d time.Duration) error {
		cancel()
		<-ctx.Done()
		return ctx.Err()
	}
	_, err := b.runner.Run(ctx, fixtures.BusinessDate)
	b.runner.Config.TrackWait = wait
	if err == nil {
		t.Fatal("a run canceled while tracking succeeded")
	}
	return err
}

// Ctrl-C while tracking says what state the night is in and how to resume it.
func TestCancelDuringTrackingSaysStateAndHowToResume(t *testing.T) {
	t.Parallel()
	b := setup(t)
	err := stopDuringTracking(t, b)
	var journals int
	if err := b.db.Get(&journals, `SELECT count(*) FROM journals`); err != nil {
		t.Fatal(err)
	}
	msg := err.Error()
	want := regexp.MustCompile(fmt.Sprintf(`%s: submitted, \d+ of %d journals final \([0-9.]+ funded\), \d+ open \(0 not sent yet\); nothing is lost: run `+
		"`cashpool run --date %s`"+` again to resume`, fixtures.BusinessDate, journals, fixtures.BusinessDate))
	if !want.MatchString(msg) {
		t.Fatalf("stopped run says %q, want it to match %s", msg, want)
	}
	if !strings.Contains(msg, context.Canceled.Error()) {
		t.Errorf("stopped run %q does not say it was canceled", msg)
	}
}

// The tracking deadline follows the CASHPOOL_TRACK_FOR of the run that tracks, counted from the
// submission: a second run with a shorter setting stops at submission + the shorter setting.
func TestSecondRunHonoursShorterTrackFor(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.runner.Config.TrackFor = 6 * time.Hour
	submitted := b.clock.Now() // the clock moves only in tracking's waits
	stopDuringTracking(t, b)
	if !b.clock.Now().Equal(submitted) {
		t.Fatalf("the clock moved before tracking: %s", b.clock.Now().Sub(submitted))
	}

	b.runner.Config.TrackFor = 10 * time.Minute
	out, err := b.runner.Run(context.Background(), fixtures.BusinessDate)
	if err != nil {
		t.Fatal(err)
	}
	if tracked := b.clock.Now().Sub(submitted); tracked > 10*time.Minute {
		t.Fatalf("the second run tracked until %s after submission, want at most the 10m it was given", tracked)
	}
	stuck := 0
	for _, e := range out.Report.Exceptions {
		if e.Kind == "stuck_pending" || e.Kind == "stuck" {
			stuck++
		}
	}
	if stuck == 0 {
		t.Error("nothing reported stuck at the shortened deadline; the over-limit journal is still pending")
	}
}

// safeLog is a log sink the tracker writes while the test reads it.
type safeLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeLog) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *safeLog) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// noStream hides the client's event stream: tracking polls, and waits where the test says.
type noStream struct{ batch.Broker }

// A long wait logs progress at a steady pace: journals final of total, amount funded, time left.
func TestTrackingLogsProgress(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var logs safeLog
	b.runner.Config.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	b.runner.Broker = noStream{b.client}
	b.runner.Config.ProgressEvery = 10 * time.Millisecond
	progress := regexp.MustCompile(`msg="track progress" run=\d+ final=\d+ total=(\d+) open=\d+ funded=[0-9]+\.[0-9]{2} left=\S+`)
	var once sync.Once
	b.runner.Config.TrackWait = func(ctx context.Context, d time.Duration) error {
		// The first pause is a long wait in real time: it ends once two progress lines appeared.
		once.Do(func() {
			end := time.Now().Add(10 * time.Second)
			for len(progress.FindAllString(logs.String(), -1)) < 2 {
				if time.Now().After(end) {
					t.Errorf("no progress lines within 10s of waiting; log:\n%s", logs.String())
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
		b.clock.Advance(d)
		return nil
	}
	if _, err := b.runner.Run(context.Background(), fixtures.BusinessDate); err != nil {
		t.Fatal(err)
	}
	var journals int
	if err := b.db.Get(&journals, `SELECT count(*) FROM journals`); err != nil {
		t.Fatal(err)
	}
	m := progress.FindStringSubmatch(logs.String())
	if m == nil || m[1] != fmt.Sprint(journals) {
		t.Fatalf("progress line %q, want one counting the run's %d journals", m, journals)
	}
}

// Every progress line says where the night stands in the table at that moment, though tracking
// counts the run only once: journals final of total, open, and the amount funded, as the test counts
// them by hand at each of tracking's waits (nothing moves while it waits: it polls).
func TestTrackingProgressFollowsTheTable(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var logs safeLog
	b.runner.Config.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	b.runner.Broker = noStream{b.client}
	b.runner.Config.ProgressEvery = 10 * time.Millisecond
	line := regexp.MustCompile(`msg="track progress" run=\d+ final=(\d+) total=(\d+) open=(\d+) funded=([0-9]+\.[0-9]{2})`)
	type standing struct{ final, total, open, funded string }
	var seen []standing
	b.runner.Config.TrackWait = func(ctx context.Context, d time.Duration) error {
		// The second line logged after the wait began was read after it began.
		before := len(line.FindAllString(logs.String(), -1))
		end := time.Now().Add(10 * time.Second)
		var ms [][]string
		for ms = line.FindAllStringSubmatch(logs.String(), -1); len(ms) < before+2; ms = line.FindAllStringSubmatch(logs.String(), -1) {
			if time.Now().After(end) {
				t.Errorf("no progress lines within 10s of waiting; log:\n%s", logs.String())
				return ctx.Err()
			}
			time.Sleep(5 * time.Millisecond)
		}
		m := ms[len(ms)-1]
		got := standing{m[1], m[2], m[3], m[4]}
		var want standing
		if err := b.db.QueryRow(`SELECT count(*) FILTER (WHERE status IN ('executed', 'activity_created', 'rejected',
				'refused', 'canceled', 'deleted', 'correct')), count(*),
			count(*) FILTER (WHERE status NOT IN ('executed', 'activity_created', 'rejected', 'refused', 'canceled',
				'deleted', 'correct')),
			to_char(COALESCE(sum(amount) FILTER (WHERE status IN ('executed', 'activity_created')), 0), 'FM999999990.00')
			FROM journals`).Scan(&want.final, &want.total, &want.open, &want.funded); err != nil {
			t.Error(err)
		}
		if got != want {
			t.Errorf("progress line says %+v, the table %+v", got, want)
		}
		seen = append(seen, got)
		b.clock.Advance(d)
		return nil
	}
	if _, err := b.runner.Run(context.Background(), fixtures.BusinessDate); err != nil {
		t.Fatal(err)
	}
	// The night must have moved between two checked lines, or a count never kept would pass.
	if len(seen) < 2 || seen[0] == seen[len(seen)-1] {
		t.Fatalf("checked progress lines %+v: want lines before and after journals moved", seen)
	}
}

// The progress hook hears of ingest's rows per file and of tracking's journals final of total,
// never going backwards, and tracking's total is the run's journals.
func TestProgressHookCountsRise(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.runner.Broker = noStream{b.client}
	b.runner.Config.ProgressEvery = 10 * time.Millisecond
	type call struct {
		step        string
		done, total int
	}
	var mu sync.Mutex
	var calls []call
	b.runner.Config.Progress = func(step string, done, total int) {
		mu.Lock()
		calls = append(calls, call{step, done, total})
		mu.Unlock()
	}
	tracked := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, c := range calls {
			if c.step == "track" {
				n++
			}
		}
		return n
	}
	var once sync.Once
	b.runner.Config.TrackWait = func(ctx context.Context, d time.Duration) error {
		// The first pause is a long wait in real time: it ends once tracking told of itself twice.
		once.Do(func() {
			end := time.Now().Add(10 * time.Second)
			for tracked() < 2 {
				if time.Now().After(end) {
					t.Errorf("the hook heard nothing of tracking within 10s of waiting")
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
		b.clock.Advance(d)
		return nil
	}
	if _, err := b.runner.Run(context.Background(), fixtures.BusinessDate); err != nil {
		t.Fatal(err)
	}
	var journals int
	if err := b.db.Get(&journals, `SELECT count(*) FROM journals`); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	last := map[string]int{}
	for _, c := range calls {
		if c.done < last[c.step] {
			t.Errorf("%s went back from %d to %d", c.step, last[c.step], c.done)
		}
		last[c.step] = c.done
		if c.step == "track" && (c.total != journals || c.done > c.total) {
			t.Errorf("track: %d of %d, want of the run's %d journals", c.done, c.total, journals)
		}
	}
	// The sample's receipts file holds 7 rows below its header (fixtures/drop, counted by hand).
	if got := last["ingest receipts-2026-11-20.csv"]; got != 7 {
		t.Errorf("ingest of the receipts file: %d rows heard of, want 7; calls %v", got, calls)
	}
}

// Tracking runs beside sending: the stream's events of a batch already answered are applied while
// later batches are still to be sent, and the night still ends balanced, as the broker's books say.
func TestTrackingBeginsWhileBatchesAreSent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.runner.Config.BatchSize = 5
	b.runner.Config.MaxInFlight = 1
	var once sync.Once
	var executed, unsent int
	b.runner.Config.Failpoint = func(name string) {
		if name != "after-store" {
			return
		}
		once.Do(func() {
			b.clock.Advance(3 * time.Second) // the first batch's journals go to executed at the broker
			end := time.Now().Add(10 * time.Second)
			for executed == 0 && time.Now().Before(end) {
				if err := b.db.QueryRow(`SELECT
					(SELECT count(*) FROM journal_history WHERE source = 'sse' AND status_to = 'executed'),
					(SELECT count(*) FROM batches WHERE status = 'planned')`).Scan(&executed, &unsent); err != nil {
					t.Error(err)
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	out, err := b.runner.Run(context.Background(), fixtures.BusinessDate)
	if err != nil {
		t.Fatal(err)
	}
	if executed == 0 || unsent == 0 {
		t.Fatalf("while batches were being sent (%d still to send), the stream executed %d journals; want some", unsent, executed)
	}
	if !out.Report.Totals.Balanced {
		t.Fatalf("totals do not balance: %v", out.Report.Totals.Problems)
	}
	checkBrokerLedger(t, b)
}

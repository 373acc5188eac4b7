package batch_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/alpaca"
	"github.com/cashpool/cashpool/alpaca/sandbox"
	"github.com/cashpool/cashpool/batch"
	"github.com/cashpool/cashpool/batch/schema"
	"github.com/cashpool/cashpool/batch/schema/schematest"
	"github.com/cashpool/cashpool/fixtures"
	"github.com/cashpool/cashpool/pool"
	"github.com/cashpool/cashpool/reconcile"
)

func TestMain(m *testing.M) { schematest.Main(m) }

// clock is the one clock the pipeline and the simulator share in a test: time moves only when the
// test (or the tracker's wait) moves it.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type bundle struct {
	db     *sqlx.DB
	sim    *sandbox.Server
	client *alpaca.Client
	clock  *clock
	drop   string
	runner *batch.Runner
	simURL string
}

// setup starts a database, a simulator (adjust, when given, changes its options) and a runner.
func setup(t *testing.T, adjust ...func(*sandbox.Options)) *bundle {
	t.Helper()
	b := &bundle{db: schematest.DB(t), clock: &clock{t: time.Date(2026, 11, 20, 22, 0, 0, 0, time.UTC)}}
	seedBytes, err := fixtures.FS.ReadFile("accounts.json")
	if err != nil {
		t.Fatal(err)
	}
	seed, err := sandbox.ParseSeed(seedBytes)
	if err != nil {
		t.Fatal(err)
	}
	o := sandbox.Options{Seed: seed, KeyID: "k", Secret: "s", Now: b.clock.Now, StepEvery: time.Second}
	for _, f := range adjust {
		f(&o)
	}
	b.sim = sandbox.New(o)
	ts := httptest.NewServer(b.sim)
	t.Cleanup(ts.Close)
	b.simURL = ts.URL
	b.client = alpaca.NewClient(alpaca.Options{BaseURL: ts.URL, KeyID: "k", Secret: "s", Now: b.clock.Now})
	b.drop = t.TempDir()
	copyFixtures(t, b.drop)
	b.runner = &batch.Runner{DB: b.db, Broker: b.client, Config: batch.Config{
		SweepAccount: seed.SweepAccount, DropDir: b.drop, OutDir: t.TempDir(), BatchSize: 500, BankAccount: fixtures.BankAccount,
		JournalLimit: decimal.RequireFromString("10000.00"), MaxInFlight: 4,
		TrackFor: time.Hour, PollEvery: time.Minute, Now: b.clock.Now,
		TrackWait: func(ctx context.Context, d time.Duration) error { b.clock.Advance(d); return nil },
	}}
	return b
}

func copyFixtures(t *testing.T, dir string) {
	t.Helper()
	err := fs.WalkDir(fixtures.FS, "drop", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fixtures.FS.ReadFile(path)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, d.Name()), data, 0o644); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, d.Name()+".ready"), nil, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func expectedExceptions(t *testing.T) []string {
	t.Helper()
	f, err := fixtures.FS.Open("expected-exceptions.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rows[1:] {
		out = append(out, strings.Join(r, ","))
	}
	sort.Strings(out)
	return out
}

// trackedNight plays date up to its report the way the demo does (ingest, plan, submit, the
// broker's end of day, track) on whatever the drop folder holds now, and returns the run's id.
func trackedNight(t *testing.T, b *bundle, date string) int64 {
	t.Helper()
	ctx := context.Background()
	if _, err := b.runner.Ingest(ctx); err != nil {
		t.Fatal(err)
	}
	runID, err := b.runner.Plan(ctx, date)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.runner.Submit(ctx, date, runID); err != nil {
		t.Fatal(err)
	}
	b.sim.EndOfDay()
	if err := b.runner.Track(ctx, runID); err != nil {
		t.Fatal(err)
	}
	return runID
}

// nightBySteps plays the sample night the way the demo does, with the broker's end of day between
// submit and track.
func nightBySteps(t *testing.T, b *bundle) *batch.Outcome {
	t.Helper()
	date := fixtures.BusinessDate
	trackedNight(t, b, date)
	out, err := b.runner.Reconcile(context.Background(), date)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSampleNightAgainstSimulator(t *testing.T) {
	t.Parallel()
	b := setup(t)
	out := nightBySteps(t, b)

	var got []string
	for _, e := range out.Report.Exceptions {
		got = append(got, exceptionKey(e))
	}
	sort.Strings(got)
	want := expectedExceptions(t)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("exceptions:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	tot := out.Report.Totals
	if !tot.Balanced {
		t.Fatalf("totals do not balance: %v", tot.Problems)
	}
	for name, c := range map[string]struct{ got, want string }{
		// W1007 (1,860.50) held: a refused file names it; of the statements' credits, 57,150.00 are
		// planned and the two an ambiguous bank reference matches (4,750.00, 12,000.00) held.
		"receipts":    {tot.Receipts.StringFixed(2), "169650.00"},
		"unallocated": {tot.Unallocated.StringFixed(2), "23500.00"}, // W1002's 11,500 remainder + W1003 held whole
		"failed":      {tot.Failed.StringFixed(2), "7500.00"},       // rejected fixture 5,000 + inactive account 2,500
	} {
		if c.got != c.want {
			t.Errorf("%s = %s, want %s", name, c.got, c.want)
		}
	}
	if out.Report.ExitCode() != 3 {
		t.Errorf("exit code %d, want 3 (exceptions for a person)", out.Report.ExitCode())
	}
	checkBrokerLedger(t, b)
	checkFundedByReference(t, b)

	// The weight split of W1004 (three equal weights over 10,000.00) must be 3333.34/3333.33/3333.33,
	// the extra cent to the first client_ref.
	var parts []string
	if err := b.db.Select(&parts, `SELECT amount::text FROM journals WHERE receipt_id = 'W1004' ORDER BY client_ref`); err != nil {
		t.Fatal(err)
	}
	if strings.Join(parts, " ") != "3333.34 3333.33 3333.33" {
		t.Errorf("W1004 split = %v", parts)
	}
}

// checkFundedByReference checks, in the simulator's books, what the sample's allocations by bank
// reference funded: each resolved one exactly once, and nothing for the ambiguous (MSD-001, account
// 40) or the unmatched one (TLW-001, 1,200.00 to account 31).
func checkFundedByReference(t *testing.T, b *bundle) {
	t.Helper()
	want := map[string][]string{ // account → amounts funded, by hand from fixtures/drop
		acct(31): {"10000.00"}, acct(32): {"8250.00"}, // Harbor Light, by UETR (camt.054 and camt.053: one receipt)
		acct(33): {"3200.00"}, acct(34): {"3200.00"}, // North Ridge, by the bank's entry reference, weights 1:1
		acct(35): {"9000.00"}, acct(36): {"9000.00"}, acct(37): {"6000.00"}, acct(38): {"6000.00"}, // Silver Birch (BAI2), by IMAD
		acct(39): {"2500.00"}, // Juniper Row, by the bank's reference of a book transfer
		acct(40): nil,         // Maple Street or Orchard Lane: ambiguous, never funded
	}
	got := map[string][]string{}
	for _, e := range b.sim.Ledger() {
		if _, ok := want[e.ToAccount]; ok && !alpaca.Failed(e.Status) {
			got[e.ToAccount] = append(got[e.ToAccount], e.Amount.StringFixed(2))
		}
	}
	for account, amounts := range want {
		if strings.Join(got[account], " ") != strings.Join(amounts, " ") {
			t.Errorf("broker journals to %s: %v, want %v", account, got[account], amounts)
		}
	}
}

func acct(n int) string { return fmt.Sprintf("c0000000-0000-4000-8000-%012d", n) }

// checkBrokerLedger checks the invariants against the simulator's own books, not cashpool's tables:
// no allocation funded twice, every journal the broker holds is one cashpool planned, from the sweep
// account, for the planned amount.
func checkBrokerLedger(t *testing.T, b *bundle) {
	t.Helper()
	type intent struct {
		Key     string `db:"journal_key"`
		Amount  string `db:"amount"` // a reward's: its qty of symbol
		Symbol  string `db:"symbol"`
		Account string `db:"to_account"`
	}
	var intents []intent
	if err := b.db.Select(&intents, `SELECT journal_key::text, COALESCE(amount, qty)::text AS amount, COALESCE(symbol, '') AS symbol,
		to_account::text FROM journals`); err != nil {
		t.Fatal(err)
	}
	byKey := map[string]intent{}
	for _, in := range intents {
		byKey[in.Key] = in
	}
	live := map[string]int{}
	for _, e := range b.sim.Ledger() {
		key, ok := pool.TokenFromDescription(e.Description)
		if !ok {
			t.Fatalf("broker journal %s carries no cashpool key: %q", e.ID, e.Description)
		}
		in, ok := byKey[key]
		if !ok {
			t.Fatalf("broker journal %s has key %s that cashpool never planned", e.ID, key)
		}
		got := e.Amount
		if e.EntryType == "JNLS" {
			got = e.Qty
		}
		if e.FromAccount != b.runner.Config.SweepAccount || e.ToAccount != in.Account || !got.Equal(decimal.RequireFromString(in.Amount)) ||
			e.Symbol != in.Symbol {
			t.Fatalf("broker journal %s (%s → %s, %s) does not match its intent %+v", e.ID, e.FromAccount, e.ToAccount, e.Amount, in)
		}
		if !alpaca.Failed(e.Status) {
			live[key]++
			if live[key] > 1 {
				t.Fatalf("allocation with key %s has %d live journals at the broker", key, live[key])
			}
		}
	}
}

func TestSecondRunOfSameDateSendsNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	first, err := b.runner.Run(ctx, fixtures.BusinessDate)
	if err != nil {
		t.Fatal(err)
	}
	if first.AlreadyRan {
		t.Fatal("first run reported as already ran")
	}
	calls, ledger := b.client.Calls(), len(b.sim.Ledger())
	copyFixtures(t, b.drop) // the same files dropped again must not load again either
	second, err := b.runner.Run(ctx, fixtures.BusinessDate)
	if err != nil {
		t.Fatal(err)
	}
	if !second.AlreadyRan {
		t.Fatal("second run did not notice the first")
	}
	if b.client.Calls() != calls || len(b.sim.Ledger()) != ledger {
		t.Fatalf("second run made %d broker calls and %d journals", b.client.Calls()-calls, len(b.sim.Ledger())-ledger)
	}
	var files int
	if err := b.db.Get(&files, `SELECT count(*) FROM files WHERE status = 'loaded'`); err != nil {
		t.Fatal(err)
	}
	if files != 7 {
		t.Fatalf("%d files loaded, want the 7 good sample files once", files)
	}
}

// lostAnswer is a broker whose first accepted batch reaches Alpaca but whose answer never comes back,
// as when a connection drops after the journals were created.
type lostAnswer struct {
	batch.Broker
	mu   sync.Mutex
	lost bool
	keys []string
}

func (l *lostAnswer) CreateBatch(ctx context.Context, key string, body []byte) ([]alpaca.BatchJournal, error) {
	res, err := l.Broker.CreateBatch(ctx, key, body)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		return res, err
	}
	l.keys = append(l.keys, key)
	if !l.lost {
		l.lost = true
		return nil, context.DeadlineExceeded
	}
	return res, err
}

func TestBatchLeftSendingIsResentWithSameKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	lossy := &lostAnswer{Broker: b.client}
	b.runner.Broker = lossy
	b.runner.Config.MaxInFlight = 1
	if _, err := b.runner.Run(ctx, fixtures.BusinessDate); err == nil {
		t.Fatal("run with a lost answer succeeded; want it to stop with the batch left sending")
	}
	var sending int
	if err := b.db.Get(&sending, `SELECT count(*) FROM batches WHERE status = 'sending'`); err != nil {
		t.Fatal(err)
	}
	if sending != 1 {
		t.Fatalf("%d batches sending after the lost answer, want 1", sending)
	}
	before := len(b.sim.Ledger())
	if _, err := b.runner.Run(ctx, fixtures.BusinessDate); err != nil {
		t.Fatal(err)
	}
	if lossy.keys[0] != lossy.keys[1] {
		t.Fatalf("resend used key %s, first send %s", lossy.keys[1], lossy.keys[0])
	}
	if len(b.sim.Ledger()) < before {
		t.Fatal("ledger shrank")
	}
	checkBrokerLedger(t, b)
	var notSent int
	if err := b.db.Get(&notSent, `SELECT count(*) FROM journals WHERE status = 'planned'`); err != nil {
		t.Fatal(err)
	}
	if notSent != 0 {
		t.Fatalf("%d journals never got an answer", notSent)
	}
}

func TestOneRunnerPerDate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	// Hold the date's run while a second runner tries it.
	blocked := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	b.runner.Config.BeforePost = func(int64) {
		once.Do(func() { close(blocked); <-release })
	}
	done := make(chan error, 1)
	go func() { _, err := b.runner.Run(ctx, fixtures.BusinessDate); done <- err }()
	<-blocked
	second := &batch.Runner{DB: b.db, Broker: b.client, Config: b.runner.Config}
	second.Config.BeforePost = nil
	_, err := second.Run(ctx, fixtures.BusinessDate)
	close(release)
	if err == nil || !strings.Contains(err.Error(), schema.ErrBusy.Error()) {
		t.Fatalf("second runner: %v, want ErrBusy", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	checkBrokerLedger(t, b)
}

func exceptionKey(e reconcile.Exception) string {
	file := ""
	if e.Kind == reconcile.KindRejectedFile {
		file = e.File
	}
	return strings.Join([]string{e.Kind, e.ReceiptID, e.ClientRef, e.RewardID, file}, ",")
}

// A night that starts while another scan of the drop folder holds the ingest lock (serve scans
// between nights) waits its turn instead of failing with ErrBusy.
func TestNightWaitsForAScanUnderWay(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	_, unlock, err := schema.TryLock(ctx, b.db.DB, "ingest")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := b.runner.Run(ctx, fixtures.BusinessDate); done <- err }()
	// Release only once the night is seen waiting for the lock.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var waiting int
		if err := b.db.Get(&waiting, `SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
			WHERE l.locktype = 'advisory' AND NOT l.granted AND a.datname = current_database()`); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		select {
		case err := <-done:
			unlock()
			t.Fatalf("the night ended while the scan held the ingest lock: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the night never waited for the ingest lock")
		}
		runtime.Gosched()
	}
	unlock()
	if err := <-done; err != nil {
		t.Fatalf("night after the scan: %v", err)
	}
	checkBrokerLedger(t, b)
}

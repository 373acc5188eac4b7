package submit_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/alpaca"
	"github.com/cashpool/cashpool/alpaca/sandbox"
	"github.com/cashpool/cashpool/batch/ingest"
	"github.com/cashpool/cashpool/batch/plan"
	"github.com/cashpool/cashpool/batch/schema"
	"github.com/cashpool/cashpool/batch/schema/schematest"
	"github.com/cashpool/cashpool/batch/submit"
	"github.com/cashpool/cashpool/pool"
)

func TestMain(m *testing.M) { schematest.Main(m) }

const (
	sweep = "8f8c8cee-2591-4f83-be12-82c659b5e748"
	date  = "2026-11-20"
)

func account(n int) string { return fmt.Sprintf("c0000000-0000-4000-8000-%012d", n) }

// alloc is one allocation of the test's single receipt R1.
type alloc struct{ account, amount, ref, desc string }

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

// env is one planned run in its own database, and the simulator as Alpaca.
type env struct {
	url    string
	db     *sqlx.DB
	sim    *sandbox.Server
	client *alpaca.Client
	clock  *clock
	runID  int64
	allocs []alloc
}

// setup plans allocs (one receipt, batchSize entries per batch) against a simulator that knows
// every allocated account, ACTIVE unless listed in inactive.
func setup(t *testing.T, allocs []alloc, batchSize int, inactive ...string) *env {
	t.Helper()
	return setupSim(t, func(*sandbox.Options) {}, allocs, batchSize, inactive...)
}

// setupSim is setup with the simulator's options changed by adjust.
func setupSim(t *testing.T, adjust func(*sandbox.Options), allocs []alloc, batchSize int, inactive ...string) *env {
	t.Helper()
	ctx := context.Background()
	e := newEnv(t)
	e.allocs = allocs

	seed := sandbox.Seed{SweepAccount: sweep, SweepCash: decimal.RequireFromString("1000000.00")}
	seen := map[string]bool{}
	total := decimal.Zero
	for _, a := range allocs {
		total = total.Add(decimal.RequireFromString(a.amount))
		if seen[a.account] {
			continue
		}
		seen[a.account] = true
		status := sandbox.AccountActive
		for _, in := range inactive {
			if in == a.account {
				status = sandbox.AccountInactive
			}
		}
		seed.Accounts = append(seed.Accounts, sandbox.Account{ID: a.account, Status: status})
	}
	e.serve(t, seed, adjust)

	drop := t.TempDir()
	receipts := "receipt_id,value_date,amount,currency,originator_name,originator_account,originator_bank,originator_address,reference\n" +
		"R1," + date + "," + total.StringFixed(2) + ",USD,Acme LLC,DE89370400440532013000,Deutsche Bank AG,Frankfurt,NOV\n"
	var b strings.Builder
	b.WriteString("receipt_id,account_id,amount,weight,client_ref,description\n")
	for _, a := range allocs {
		fmt.Fprintf(&b, "R1,%s,%s,,%s,\"%s\"\n", a.account, a.amount, a.ref, strings.ReplaceAll(a.desc, `"`, `""`))
	}
	for name, body := range map[string]string{"receipts-1.csv": receipts, "allocations-1.csv": b.String()} {
		if err := os.WriteFile(filepath.Join(drop, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(drop, name+".ready"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	res, err := ingest.Run(ctx, e.db, ingest.Config{DropDir: drop, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if n := res.Count(ingest.OutcomeLoaded); n != 2 {
		t.Fatalf("ingest loaded %d files, want 2: %+v", n, res)
	}
	if p := e.planRun(t, plan.Config{BatchSize: batchSize}); p.Journals != len(allocs) {
		t.Fatalf("planned %d journals, want %d", p.Journals, len(allocs))
	}
	return e
}

// newEnv is a test's own database, the clock at 22:00 on the business date.
func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{url: schematest.URL(t), clock: &clock{t: time.Date(2026, 11, 20, 22, 0, 0, 0, time.UTC)}}
	db, err := schema.Open(context.Background(), e.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e.db = db
	return e
}

// serve runs a simulator seeded with seed, its options changed by adjust, over loopback HTTP and
// points e's client at it.
func (e *env) serve(t *testing.T, seed sandbox.Seed, adjust func(*sandbox.Options)) {
	t.Helper()
	o := sandbox.Options{Seed: seed, KeyID: "k", Secret: "s", Now: e.clock.Now}
	adjust(&o)
	e.sim = sandbox.New(o)
	ts := httptest.NewServer(e.sim)
	t.Cleanup(ts.Close)
	e.client = alpaca.NewClient(alpaca.Options{BaseURL: ts.URL, KeyID: "k", Secret: "s", Now: e.clock.Now})
}

// otherConnection is a pool of its own on the test's database, to see only what was committed.
func (e *env) otherConnection(t *testing.T) *sqlx.DB {
	t.Helper()
	other, err := sqlx.Open("postgres", e.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	return other
}

// planRun plans what is loaded with cfg, from the sweep account on the business date, and keeps
// the run.
func (e *env) planRun(t *testing.T, cfg plan.Config) plan.Result {
	t.Helper()
	cfg.SweepAccount, cfg.BusinessDate, cfg.Now = sweep, date, e.clock.Now
	p, err := plan.Plan(context.Background(), e.db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.runID = p.RunID
	return p
}

// config is submit's configuration under a freshly taken run lock fence.
func (e *env) config(t *testing.T) submit.Config {
	t.Helper()
	f, err := submit.TakeFence(context.Background(), e.db, schema.RunLockName(sweep, date), e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return submit.Config{SweepAccount: sweep, BusinessDate: date, Now: e.clock.Now, Fence: f, MaxInFlight: 2}
}

// stored is one journal as submit left it in the database.
type stored struct {
	Key, ToAccount, Amount, AlpacaID, Status, ErrorMessage string
}

func (e *env) journals(t *testing.T) map[string]stored {
	t.Helper()
	var rows []struct {
		Key       string `db:"journal_key"`
		ToAccount string `db:"to_account"`
		Amount    string `db:"amount"`
		AlpacaID  string `db:"alpaca_id"`
		Status    string `db:"status"`
		Error     string `db:"error_message"`
	}
	if err := e.db.Select(&rows, `
		SELECT journal_key::text AS journal_key, to_account::text AS to_account, amount::text AS amount,
		       COALESCE(alpaca_id::text, '') AS alpaca_id, status, COALESCE(error_message, '') AS error_message
		FROM journals WHERE run_id = $1`, e.runID); err != nil {
		t.Fatal(err)
	}
	out := map[string]stored{}
	for _, r := range rows {
		out[r.Key] = stored{r.Key, r.ToAccount, r.Amount, r.AlpacaID, r.Status, r.Error}
	}
	return out
}

// key is the journal key plan derives for allocation ref of R1 (first attempt): its allocation id,
// as ingest gave it, names it.
func (e *env) key(t *testing.T, ref string) string {
	t.Helper()
	var id int64
	if err := e.db.Get(&id, `SELECT id FROM allocations WHERE receipt_id = 'R1' AND client_ref = $1`, ref); err != nil {
		t.Fatal(err)
	}
	return keyOf(id)
}

// keyOf is the journal key of allocation id (first attempt), for tokens written into free text.
func keyOf(id int64) string { return pool.JournalKey(sweep, date, id, 1) }

// checkAgainstLedger is the oracle: every journal at the simulator belongs to exactly one intent
// (its description ends with that intent's token), for that intent's account and amount, and the
// intent stored that journal's id. Intents listed in unsent must have no journal at all.
func (e *env) checkAgainstLedger(t *testing.T, unsent ...string) {
	t.Helper()
	js := e.journals(t)
	byKey := map[string]sandbox.LedgerEntry{}
	for _, l := range e.sim.Ledger() {
		var owner string
		for _, a := range e.allocs {
			if strings.HasSuffix(l.Description, " cp:"+e.key(t, a.ref)) || l.Description == "cp:"+e.key(t, a.ref) {
				owner = a.ref
			}
		}
		if owner == "" {
			t.Fatalf("journal %s at Alpaca (%q) belongs to no intent", l.ID, l.Description)
		}
		if prev, dup := byKey[e.key(t, owner)]; dup {
			t.Fatalf("intent %s was paid twice: %s and %s", owner, prev.ID, l.ID)
		}
		byKey[e.key(t, owner)] = l
	}
	for _, a := range e.allocs {
		j := js[e.key(t, a.ref)]
		l, sent := byKey[e.key(t, a.ref)]
		isUnsent := false
		for _, u := range unsent {
			isUnsent = isUnsent || u == a.ref
		}
		if isUnsent {
			if sent {
				t.Errorf("%s: journal %s at Alpaca, want none", a.ref, l.ID)
			}
			continue
		}
		if !sent {
			t.Errorf("%s: no journal at Alpaca", a.ref)
			continue
		}
		if l.ToAccount != a.account || !l.Amount.Equal(decimal.RequireFromString(a.amount)) {
			t.Errorf("%s: Alpaca journal %s is %s to %s, want %s to %s", a.ref, l.ID, l.Amount, l.ToAccount, a.amount, a.account)
		}
		if j.AlpacaID != l.ID || j.Status != l.Status {
			t.Errorf("%s: stored journal %q status %q, Alpaca has %s %s", a.ref, j.AlpacaID, j.Status, l.ID, l.Status)
		}
	}
}

// broker is the real client with a look at every call: it counts POSTs and lists, runs check
// inside CreateBatch before the POST leaves, and can lose the answer after Alpaca acted.
type broker struct {
	real  *alpaca.Client
	check func(key string, body []byte)

	mu         sync.Mutex
	posts      []post
	lists      int
	loseAnswer bool
	neverSent  bool // a reward's POST fails before it leaves (CreateJournalBody only)
}

type post struct {
	key  string
	body []byte
}

var errLost = errors.New("connection reset after the request was sent")

func (b *broker) CreateBatch(ctx context.Context, key string, body []byte) ([]alpaca.BatchJournal, error) {
	if b.check != nil {
		b.check(key, body)
	}
	b.mu.Lock()
	b.posts = append(b.posts, post{key, append([]byte(nil), body...)})
	lose := b.loseAnswer
	b.mu.Unlock()
	out, err := b.real.CreateBatch(ctx, key, body)
	if err == nil && lose {
		return nil, errLost
	}
	return out, err
}

func (b *broker) CreateJournalBody(ctx context.Context, key string, body []byte) (*alpaca.Journal, error) {
	if b.check != nil {
		b.check(key, body)
	}
	b.mu.Lock()
	b.posts = append(b.posts, post{key, append([]byte(nil), body...)})
	lose, never := b.loseAnswer, b.neverSent
	b.mu.Unlock()
	if never {
		return nil, errLost
	}
	out, err := b.real.CreateJournalBody(ctx, key, body)
	if err == nil && lose {
		return nil, errLost
	}
	return out, err
}

func (b *broker) EachJournal(ctx context.Context, f alpaca.ListFilter, fn func(alpaca.Journal) error) error {
	b.mu.Lock()
	b.lists++
	b.mu.Unlock()
	return b.real.EachJournal(ctx, f, fn)
}

func fourAllocations() []alloc {
	return []alloc{
		{account(1), "100.00", "A1", "payroll"},
		{account(2), "200.00", "A2", "payroll"},
		{account(3), "300.00", "A3", ""},
		{account(4), "400.00", "A4", "bonus"},
	}
}

// The POST must leave only once the batch is durably 'sending': the stub reads the row through a
// connection of its own inside CreateBatch, and sees only what was committed. The batch row says it
// once for its journals: they are not written (still planned, with only plan's history row).
func TestBatchIsDurablySendingBeforeItsPost(t *testing.T) {
	t.Parallel()
	e := setup(t, fourAllocations(), 2)
	other := e.otherConnection(t)
	b := &broker{real: e.client}
	b.check = func(key string, body []byte) {
		var row struct {
			Status string `db:"status"`
			Body   []byte `db:"body"`
			Open   int    `db:"open"`
		}
		if err := other.Get(&row, `
			SELECT b.status, b.body,
			       (SELECT count(*) FROM journals j WHERE j.batch_id = b.id AND j.status <> 'planned') +
			       (SELECT count(*) FROM journal_history h JOIN journals j ON j.id = h.journal_id
			        WHERE j.batch_id = b.id AND h.source <> 'plan') AS open
			FROM batches b WHERE b.idempotency_key = $1`, key); err != nil {
			t.Errorf("batch %s not readable before its POST: %v", key, err)
			return
		}
		if row.Status != "sending" || row.Open != 0 || string(row.Body) != string(body) {
			t.Errorf("batch %s before its POST: status %q, %d journal rows or history rows written, body stored as sent %v",
				key, row.Status, row.Open, string(row.Body) == string(body))
		}
	}
	if _, err := submit.Submit(context.Background(), e.db, b, e.runID, e.config(t)); err != nil {
		t.Fatal(err)
	}
	if len(b.posts) != 2 {
		t.Fatalf("%d POSTs, want 2", len(b.posts))
	}
	e.checkAgainstLedger(t)
}

// A batch left 'sending' (the answer was lost) is sent again with the same key and the same bytes;
// Alpaca's replay is stored and nothing is paid twice.
func TestResendOfSendingBatchIsByteIdentical(t *testing.T) {
	t.Parallel()
	e := setup(t, fourAllocations(), 10)
	b := &broker{real: e.client, loseAnswer: true}
	if _, err := submit.Submit(context.Background(), e.db, b, e.runID, e.config(t)); !errors.Is(err, errLost) {
		t.Fatalf("first submit: %v, want the lost answer", err)
	}
	var status string
	if err := e.db.Get(&status, `SELECT status FROM batches WHERE run_id = $1`, e.runID); err != nil || status != "sending" {
		t.Fatalf("batch after a lost answer: %q %v, want sending", status, err)
	}
	b.loseAnswer = false
	res, err := submit.Submit(context.Background(), e.db, b, e.runID, e.config(t))
	if err != nil || res.Sent != 1 {
		t.Fatalf("resend: %+v %v", res, err)
	}
	if len(b.posts) != 2 || b.posts[0].key != b.posts[1].key || string(b.posts[0].body) != string(b.posts[1].body) {
		t.Fatalf("resend differs from the first POST: %d posts", len(b.posts))
	}
	if n := len(e.sim.Ledger()); n != 4 {
		t.Fatalf("Alpaca holds %d journals, want 4", n)
	}
	e.checkAgainstLedger(t)
}

// Alpaca answers batches in an order of its own (the simulator: reversed). Each journal id and
// status lands on its own intent.
func TestReorderedAnswerIsStoredOnTheRightIntents(t *testing.T) {
	t.Parallel()
	e := setup(t, fourAllocations(), 10)
	res, err := submit.Submit(context.Background(), e.db, e.client, e.runID, e.config(t))
	if err != nil || res.Sent != 1 {
		t.Fatalf("submit: %+v %v", res, err)
	}
	e.checkAgainstLedger(t)
}

// A batch with an inactive account is canceled whole by Alpaca with 422 and its generic code
// 42210000, the code of an idempotency conflict too. Alpaca holds none of the batch's journals
// and the message names the account: only that journal fails, with Alpaca's reason; the rest are
// sent again under a new key.
func TestInactiveAccountFailsOnlyItsJournal(t *testing.T) {
	t.Parallel()
	allocs := fourAllocations()
	e := setup(t, allocs, 10, account(3))
	b := &broker{real: e.client}
	res, err := submit.Submit(context.Background(), e.db, b, e.runID, e.config(t))
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	if res.Canceled != 1 || res.Sent != 1 {
		t.Fatalf("result %+v, want 1 journal canceled and 1 batch sent", res)
	}
	if len(b.posts) != 2 || b.posts[0].key == b.posts[1].key || b.lists != 1 {
		t.Fatalf("%d POSTs, %d lists: want the batch, Alpaca's books looked at once, then the rest under a new key", len(b.posts), b.lists)
	}
	e.checkAgainstLedger(t, "A3")
	j := e.journals(t)[e.key(t, "A3")]
	if j.Status != alpaca.StatusCanceled || !strings.Contains(j.ErrorMessage, account(3)) || !strings.Contains(j.ErrorMessage, "not ACTIVE") {
		t.Fatalf("inactive account's journal: %+v, want canceled with Alpaca's reason", j)
	}
	var open int
	if err := e.db.Get(&open, `SELECT count(*) FROM batches WHERE run_id = $1 AND status IN ('planned', 'sending')`, e.runID); err != nil || open != 0 {
		t.Fatalf("%d batches left to send (%v)", open, err)
	}
}

// A 422 that names the sweep account blames no entry: nothing is failed, the batch stays
// 'sending', and once the account is fixed the same key and body go again.
func TestInactiveSweepAccountFailsNoJournal(t *testing.T) {
	t.Parallel()
	e := setup(t, fourAllocations()[:2], 10)
	e.sim.SetAccount(sandbox.Account{ID: sweep, Status: sandbox.AccountInactive, Firm: true})
	b := &broker{real: e.client}
	if _, err := submit.Submit(context.Background(), e.db, b, e.runID, e.config(t)); err == nil || !strings.Contains(err.Error(), "sweep account") {
		t.Fatalf("submit with an inactive sweep account: %v", err)
	}
	for _, j := range e.journals(t) {
		if j.Status != "planned" {
			t.Fatalf("journal %+v failed for the sweep account's state", j)
		}
	}
	e.sim.SetAccount(sandbox.Account{ID: sweep, Status: sandbox.AccountActive, Firm: true})
	if _, err := submit.Submit(context.Background(), e.db, b, e.runID, e.config(t)); err != nil {
		t.Fatal(err)
	}
	if len(b.posts) != 2 || b.posts[0].key != b.posts[1].key {
		t.Fatalf("%d POSTs; the resend must reuse the key", len(b.posts))
	}
	e.checkAgainstLedger(t)
}

// The true conflict: a batch whose answer was lost is found 'sending' with a body that is no longer
// the one sent under its key (a tampered database). Alpaca answers the same 422 42210000; its
// books hold the batch's journals, so submit records them, fails the batch and reports the
// conflict; nothing is paid twice.
func TestIdempotencyConflictIsCheckedAgainstAlpaca(t *testing.T) {
	t.Parallel()
	e := setup(t, fourAllocations(), 10)
	b := &broker{real: e.client, loseAnswer: true}
	if _, err := submit.Submit(context.Background(), e.db, b, e.runID, e.config(t)); !errors.Is(err, errLost) {
		t.Fatalf("first submit: %v", err)
	}
	if _, err := e.db.Exec(`UPDATE batches SET body = convert_to(replace(convert_from(body, 'UTF8'), '"100.00"', '"100.01"'), 'UTF8') WHERE run_id = $1`, e.runID); err != nil {
		t.Fatal(err)
	}
	b.loseAnswer = false
	_, err := submit.Submit(context.Background(), e.db, b, e.runID, e.config(t))
	if !errors.Is(err, submit.ErrConflict) {
		t.Fatalf("submit of a tampered batch: %v, want ErrConflict", err)
	}
	if b.lists != 1 {
		t.Fatalf("%d list calls, want Alpaca's books looked at once", b.lists)
	}
	var status string
	if err := e.db.Get(&status, `SELECT status FROM batches WHERE run_id = $1`, e.runID); err != nil || status != "failed" {
		t.Fatalf("batch %q %v, want failed", status, err)
	}
	e.checkAgainstLedger(t)
}

// Operators write free text; "cp:" in it, foreign keys and upper-case UUIDs included, never hides
// a journal's token: the answer is stored, and a batch whose answer was lost past Alpaca's key
// retention is recovered by listing, without paying anyone twice.
func TestOperatorDescriptionsThroughSubmitAndRecovery(t *testing.T) {
	t.Parallel()
	allocs := []alloc{
		{account(1), "10.00", "D1", "tcp: gateway"},
		{account(2), "20.00", "D2", "see cp: 42"},
		{account(3), "30.00", "D3", "cp:0C6F2A9E-4B1D-8E3A-9F00-1A2B3C4D5E6F"},
		{account(4), "40.00", "D4", "refund of cp:" + keyOf(1)},
		{account(5), "50.00", "D5", "cp:" + keyOf(6)},
		{account(6), "60.00", "D6", "ends in cp:"},
	}
	e := setup(t, allocs, 3)
	b := &broker{real: e.client, loseAnswer: true}
	cfg := e.config(t)
	cfg.MaxInFlight = 1
	if _, err := submit.Submit(context.Background(), e.db, b, e.runID, cfg); !errors.Is(err, errLost) {
		t.Fatalf("first submit: %v", err)
	}
	b.loseAnswer = false
	if res, err := submit.Submit(context.Background(), e.db, b, e.runID, e.config(t)); err != nil || res.Sent != 2 {
		t.Fatalf("second submit: %+v %v", res, err)
	}
	e.checkAgainstLedger(t)

	// A second night of the same descriptions: its first batch's answer is lost and Alpaca
	// forgets the key before the next run, which must find the journals by their tokens.
	e2 := setup(t, allocs, 6)
	b2 := &broker{real: e2.client, loseAnswer: true}
	if _, err := submit.Submit(context.Background(), e2.db, b2, e2.runID, e2.config(t)); !errors.Is(err, errLost) {
		t.Fatalf("first submit: %v", err)
	}
	e2.clock.Advance(25 * time.Hour)
	b2.loseAnswer = false
	res, err := submit.Submit(context.Background(), e2.db, b2, e2.runID, e2.config(t))
	if err != nil || res.Recovered != 1 || len(b2.posts) != 1 {
		t.Fatalf("recovery: %+v %v, %d POSTs (want the one first POST only)", res, err, len(b2.posts))
	}
	e2.checkAgainstLedger(t)
}

// A process whose fence is no longer current (another took the run lock since) marks nothing
// 'sending' and POSTs nothing.
func TestStaleFenceSendsNothing(t *testing.T) {
	t.Parallel()
	e := setup(t, fourAllocations(), 10)
	stale := e.config(t)
	e.config(t) // another process takes the lock
	b := &broker{real: e.client}
	_, err := submit.Submit(context.Background(), e.db, b, e.runID, stale)
	if !errors.Is(err, submit.ErrLostLock) || !strings.Contains(err.Error(), "another runner took over") {
		t.Fatalf("submit with a stale fence: %v", err)
	}
	if len(b.posts) != 0 {
		t.Fatalf("%d POSTs with a stale fence", len(b.posts))
	}
	var sending int
	if err := e.db.Get(&sending, `SELECT count(*) FROM batches WHERE run_id = $1 AND status <> 'planned'`, e.runID); err != nil || sending != 0 {
		t.Fatalf("%d batches moved (%v)", sending, err)
	}
}

// A batch is re-sent blindly only while Alpaca surely still remembers its key, counted from the
// key's first use: a resend at the very edge of the retention window (the simulator forgets a key
// at exactly 24h) would create every journal again. Resends in between do not renew the window.
func TestResendNearKeyRetentionEdgeLooksFirst(t *testing.T) {
	t.Parallel()
	for _, after := range []time.Duration{22 * time.Hour, 24 * time.Hour} {
		t.Run(after.String(), func(t *testing.T) {
			t.Parallel()
			e := setup(t, fourAllocations(), 10)
			b := &broker{real: e.client, loseAnswer: true}
			if _, err := submit.Submit(context.Background(), e.db, b, e.runID, e.config(t)); !errors.Is(err, errLost) {
				t.Fatalf("first submit: %v, want the lost answer", err)
			}
			// A resend an hour later, also lost: it must not move the window's start.
			e.clock.Advance(time.Hour)
			if _, err := submit.Submit(context.Background(), e.db, b, e.runID, e.config(t)); !errors.Is(err, errLost) {
				t.Fatalf("second submit: %v, want the lost answer", err)
			}
			e.clock.Advance(after - time.Hour)
			b.loseAnswer = false
			res, err := submit.Submit(context.Background(), e.db, b, e.runID, e.config(t))
			if err != nil || res.Recovered != 1 {
				t.Fatalf("submit %s after the first POST: %+v %v, want the batch recovered by listing", after, res, err)
			}
			if len(b.posts) != 2 {
				t.Fatalf("%d POSTs, want the 2 lost ones only", len(b.posts))
			}
			if n := len(e.sim.Ledger()); n != 4 {
				t.Fatalf("Alpaca holds %d journals, want 4", n)
			}
			e.checkAgainstLedger(t)
		})
	}
}

// A batch left sending past the key retention is looked for among more of the sweep account's
// journals than Alpaca lists at once (its limit lowered here to 2): the list is narrowed to the
// batch's accounts, every journal is found, and none is sent twice.
func TestRecoveryListsUnderTheListLimit(t *testing.T) {
	t.Parallel()
	var allocs []alloc
	for i := range 6 {
		allocs = append(allocs, alloc{account(i + 1), "10.00", fmt.Sprintf("L%d", i), "payroll"})
	}
	e := setupSim(t, func(o *sandbox.Options) { o.MaxListResults = 2 }, allocs, 6)
	b := &broker{real: e.client, loseAnswer: true}
	if _, err := submit.Submit(context.Background(), e.db, b, e.runID, e.config(t)); !errors.Is(err, errLost) {
		t.Fatalf("first submit: %v", err)
	}
	e.clock.Advance(25 * time.Hour)
	b.loseAnswer = false
	res, err := submit.Submit(context.Background(), e.db, b, e.runID, e.config(t))
	if err != nil || res.Recovered != 1 || len(b.posts) != 1 {
		t.Fatalf("recovery: %+v %v, %d POSTs (want the one first POST only)", res, err, len(b.posts))
	}
	e.checkAgainstLedger(t)
}

// altered is a broker whose batch answers are changed by edit before submit sees them.
type altered struct {
	*broker
	edit func([]alpaca.BatchJournal) []alpaca.BatchJournal
}

func (a altered) CreateBatch(ctx context.Context, key string, body []byte) ([]alpaca.BatchJournal, error) {
	out, err := a.broker.CreateBatch(ctx, key, body)
	if err == nil {
		out = a.edit(out)
	}
	return out, err
}

// An answer that does not agree with the batch's intents is not stored, none of it: an entry for
// another amount or account, one whose token is no journal of the batch, one repeated, one
// missing. The batch stays sending and the error names what is wrong.
func TestAnswerDisagreeingWithItsIntentsIsNotStored(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		edit func([]alpaca.BatchJournal) []alpaca.BatchJournal
		want string
	}{
		{"amount", func(js []alpaca.BatchJournal) []alpaca.BatchJournal {
			js[1].NetAmount = decimal.NewNullDecimal(js[1].NetAmount.Decimal.Add(decimal.RequireFromString("0.01")))
			return js
		}, "answer entry 1 (journal "},
		{"account", func(js []alpaca.BatchJournal) []alpaca.BatchJournal { js[2].ToAccount = account(9); return js }, "is for account " + account(9)},
		{"foreign token", func(js []alpaca.BatchJournal) []alpaca.BatchJournal {
			js[0].Description = "Payroll cp:" + keyOf(999)
			return js
		}, "answer entry 0 (journal "},
		{"repeated", func(js []alpaca.BatchJournal) []alpaca.BatchJournal { js[3].Description = js[2].Description; return js }, "repeats the key token"},
		{"no token", func(js []alpaca.BatchJournal) []alpaca.BatchJournal { js[3].Description = "Payroll"; return js }, "carries no key token"},
		{"missing", func(js []alpaca.BatchJournal) []alpaca.BatchJournal { return js[:3] }, " 4 "},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, fourAllocations(), 10)
			b := altered{&broker{real: e.client}, c.edit}
			_, err := submit.Submit(context.Background(), e.db, b, e.runID, e.config(t))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("submit: %v, want an error saying %q", err, c.want)
			}
			for _, j := range e.journals(t) {
				if j.Status != "planned" || j.AlpacaID != "" {
					t.Errorf("journal %+v took part of an answer that disagrees with its intents", j)
				}
			}
			var status string
			if err := e.db.Get(&status, `SELECT status FROM batches WHERE run_id = $1`, e.runID); err != nil || status != "sending" {
				t.Errorf("batch %q (%v), want sending", status, err)
			}
		})
	}
}

package redrive_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/alpaca"
	"github.com/cashpool/cashpool/batch"
	"github.com/cashpool/cashpool/batch/plan"
	"github.com/cashpool/cashpool/batch/redrive"
	"github.com/cashpool/cashpool/batch/schema"
	"github.com/cashpool/cashpool/batch/schema/schematest"
	"github.com/cashpool/cashpool/pool"
)

func TestMain(m *testing.M) { schematest.Main(m) }

const (
	sweep = "8e00a1b2-0000-4000-8000-000000000000"
	date  = "2026-11-24"
)

var now = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

func cfg() redrive.Config {
	return redrive.Config{SweepAccount: sweep, BusinessDate: date, Now: func() time.Time { return now }}
}

// account is the customer account of allocation i.
func account(i int) string { return fmt.Sprintf("8e00a1b2-0000-4000-8000-%012d", i+1) }

type fixture struct {
	t  *testing.T
	db *sqlx.DB
}

// setup loads one receipt R1 with one amount allocation per client ref (c00, c01, ...; amount
// 10.00+i) and plans the date with batchSize entries per batch. It returns the run id.
func setup(t *testing.T, n, batchSize int) (*fixture, int64) {
	t.Helper()
	f := &fixture{t: t, db: schematest.DB(t)}
	f.exec(`INSERT INTO files (sha256, name, kind, status, received_at) VALUES ('r', 'receipts.csv', 'receipts', 'loaded', $1)`, now)
	f.exec(`INSERT INTO files (sha256, name, kind, status, received_at) VALUES ('a', 'allocations.csv', 'allocations', 'loaded', $1)`, now)
	f.exec(`INSERT INTO receipts VALUES ('R1', 1, 2, $1, 100000, 'USD', 'Orig Name', 'ORIG-ACC', 'Orig Bank', '1 Orig Street', 'ref')`, date)
	for i := range n {
		f.exec(`INSERT INTO allocations (file_id, line, receipt_id, account_id, amount, client_ref, description)
			VALUES (2, $1, 'R1', $2, $3, $4, $5)`, i+2, account(i), decimal.NewFromInt(int64(1000+100*i)).Shift(-2),
			fmt.Sprintf("c%02d", i), fmt.Sprintf("funding c%02d", i))
	}
	res, err := plan.Plan(context.Background(), f.db, plan.Config{
		SweepAccount: sweep, BusinessDate: date, BatchSize: batchSize, Now: func() time.Time { return now.Add(-time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Journals != n {
		t.Fatalf("planned %d journals, want %d", res.Journals, n)
	}
	// As submit, track and reconcile leave a finished run; answer then sets what Alpaca said.
	f.exec(`UPDATE batches SET status = 'sent', attempts = 1, sending_at = $1, sent_at = $1, http_status = 200`, now.Add(-50*time.Minute))
	f.exec(`UPDATE runs SET status = 'reconciled', track_deadline = $1, finished_at = $1`, now.Add(-time.Minute))
	return f, res.RunID
}

// key is the journal key of allocation ref of R1 at attempt: its allocation id, as loaded, names it.
func (f *fixture) key(ref string, attempt int) string {
	f.t.Helper()
	var id int64
	if err := f.db.Get(&id, `SELECT id FROM allocations WHERE receipt_id = 'R1' AND client_ref = $1`, ref); err != nil {
		f.t.Fatal(err)
	}
	return pool.JournalKey(sweep, date, id, attempt)
}

func (f *fixture) exec(q string, args ...any) {
	f.t.Helper()
	if _, err := f.db.Exec(q, args...); err != nil {
		f.t.Fatalf("%s: %v", q, err)
	}
}

func (f *fixture) count(q string, args ...any) int {
	f.t.Helper()
	var n int
	if err := f.db.Get(&n, q, args...); err != nil {
		f.t.Fatalf("%s: %v", q, err)
	}
	return n
}

// answer simulates Alpaca's answer for the highest attempt of client ref ref.
func (f *fixture) answer(ref, status, msg string) {
	f.t.Helper()
	f.exec(`UPDATE journals SET status = $2, error_message = $3, status_unknown = $4,
			alpaca_id = CASE WHEN $2 = 'planned' THEN NULL ELSE gen_random_uuid() END
		WHERE client_ref = $1 AND attempt = (SELECT max(attempt) FROM journals WHERE client_ref = $1)`,
		ref, status, msg, !alpaca.KnownStatus(status) && status != "planned")
}

func apply(t *testing.T, db *sqlx.DB, c redrive.Config) *redrive.Plan {
	t.Helper()
	p, err := redrive.Apply(context.Background(), db, c)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

type row struct {
	ID           int64           `db:"id"`
	BatchID      *int64          `db:"batch_id"`
	Key          string          `db:"journal_key"`
	AllocationID int64           `db:"allocation_id"`
	Attempt      int             `db:"attempt"`
	ReceiptID    string          `db:"receipt_id"`
	ClientRef    string          `db:"client_ref"`
	ToAccount    string          `db:"to_account"`
	Amount       decimal.Decimal `db:"amount"`
	Description  string          `db:"description"`
	Status       string          `db:"status"`
}

func (f *fixture) journals(ref string) []row {
	f.t.Helper()
	var rs []row
	if err := f.db.Select(&rs, `SELECT id, batch_id, journal_key::text AS journal_key, allocation_id, attempt, receipt_id,
			client_ref, to_account::text AS to_account, amount, description, status
		FROM journals WHERE client_ref = $1 ORDER BY attempt`, ref); err != nil {
		f.t.Fatal(err)
	}
	return rs
}

func TestRefusedClasses(t *testing.T) {
	t.Parallel()
	cases := []struct{ status, why string }{
		{"executed", "already funded"},
		{"activity_created", "already funded"},
		{"pending", "still in flight at Alpaca"},
		{"queued", "still in flight at Alpaca"},
		{"sent_to_clearing", "still in flight at Alpaca"},
		{"planned", "never answered: re-run `cashpool run`; it resends with the same key"},
		{"correct", "corrected by Alpaca"},
		{"reversal_pending", "unknown status: look it up first"},
	}
	f, runID := setup(t, len(cases), 500)
	for i, c := range cases {
		f.answer(fmt.Sprintf("c%02d", i), c.status, "")
	}
	before := f.count(`SELECT count(*) FROM journal_history`)
	p := apply(t, f.db, cfg())
	if p.RunID != runID || p.Redrive != 0 || p.Refuse != len(cases) || !p.Amount.Equal(decimal.Zero) {
		t.Fatalf("plan = run %d, %d redrive, %d refuse, %s; want run %d, 0, %d, 0", p.RunID, p.Redrive, p.Refuse, p.Amount, runID, len(cases))
	}
	for i, c := range cases {
		it := p.Items[i]
		if it.ClientRef != fmt.Sprintf("c%02d", i) || it.Status != c.status || it.Action != redrive.ActionRefuse || it.Why != c.why {
			t.Errorf("item %d = %s %s %s %q; want %s refuse %q", i, it.ClientRef, it.Status, it.Action, it.Why, c.status, c.why)
		}
	}
	if n := f.count(`SELECT count(*) FROM journals`); n != len(cases) {
		t.Errorf("%d journals, want %d: a refused allocation got a new intent", n, len(cases))
	}
	if n := f.count(`SELECT count(*) FROM batches WHERE seq LIKE 'r%'`); n != 0 {
		t.Errorf("%d redrive batches, want 0", n)
	}
	if n := f.count(`SELECT count(*) FROM journal_history`); n != before {
		t.Errorf("history grew from %d to %d", before, n)
	}
	if n := f.count(`SELECT count(*) FROM runs WHERE status = 'reconciled' AND track_deadline IS NOT NULL`); n != 1 {
		t.Error("a redrive with nothing to do reopened the run")
	}
}

func TestRedriveFailedStatuses(t *testing.T) {
	t.Parallel()
	failed := []string{"refused", "rejected", "canceled", "deleted"}
	f, runID := setup(t, len(failed)+1, 500)
	want := decimal.Zero
	for i, s := range failed {
		f.answer(fmt.Sprintf("c%02d", i), s, "account "+s)
		want = want.Add(decimal.NewFromInt(int64(1000 + 100*i)).Shift(-2))
	}
	f.answer(fmt.Sprintf("c%02d", len(failed)), "executed", "")

	p := apply(t, f.db, cfg())
	if p.Redrive != len(failed) || p.Refuse != 1 || !p.Amount.Equal(want) {
		t.Fatalf("plan = %d redrive, %d refuse, %s; want %d, 1, %s", p.Redrive, p.Refuse, p.Amount, len(failed), want)
	}
	for i, s := range failed {
		ref := fmt.Sprintf("c%02d", i)
		it := p.Items[i]
		if it.Action != redrive.ActionRedrive || it.Status != s || it.ErrorMessage != "account "+s || it.Attempt != 1 || it.AlpacaID == "" {
			t.Errorf("item %s = %+v; want redrive of %s attempt 1", ref, it, s)
		}
		js := f.journals(ref)
		if len(js) != 2 {
			t.Fatalf("%s: %d journals, want 2", ref, len(js))
		}
		old, nu := js[0], js[1]
		if old.Status != s {
			t.Errorf("%s: old attempt now %s, want it left %s", ref, old.Status, s)
		}
		wantKey := f.key(ref, 2)
		if nu.Key != wantKey || nu.Key == old.Key {
			t.Errorf("%s: new key %s, want %s (old %s)", ref, nu.Key, wantKey, old.Key)
		}
		if nu.Attempt != 2 || nu.Status != "planned" || nu.AllocationID != old.AllocationID || nu.ReceiptID != old.ReceiptID ||
			nu.ClientRef != old.ClientRef || nu.ToAccount != old.ToAccount || !nu.Amount.Equal(old.Amount) {
			t.Errorf("%s: new intent %+v does not copy old %+v", ref, nu, old)
		}
		if wantDesc := "funding " + ref + " " + pool.KeyToken(wantKey); nu.Description != wantDesc {
			t.Errorf("%s: description %q, want %q", ref, nu.Description, wantDesc)
		}
		if n := f.count(`SELECT count(*) FROM journal_history WHERE journal_id = $1 AND status_from = '' AND status_to = 'planned' AND source = 'redrive' AND at = $2`, nu.ID, now); n != 1 {
			t.Errorf("%s: %d redrive history rows, want 1", ref, n)
		}
	}
	var runStatus string
	var deadline *time.Time
	if err := f.db.QueryRow(`SELECT status, track_deadline FROM runs WHERE id = $1`, runID).Scan(&runStatus, &deadline); err != nil {
		t.Fatal(err)
	}
	if runStatus != "planned" || deadline != nil {
		t.Errorf("run is %s with deadline %v; want planned with none", runStatus, deadline)
	}

	// The batch body carries exactly the new intents, with their new keys, in client_ref order.
	var b struct {
		ID      int64  `db:"id"`
		Seq     string `db:"seq"`
		Key     string `db:"idempotency_key"`
		Body    []byte `db:"body"`
		Entries int    `db:"entries"`
		Status  string `db:"status"`
	}
	if err := f.db.Get(&b, `SELECT id, seq, idempotency_key::text AS idempotency_key, body, entries, status FROM batches WHERE seq LIKE 'r%'`); err != nil {
		t.Fatal(err)
	}
	if b.Seq != "r2-000001" || b.Entries != len(failed) || b.Status != "planned" || b.Key != pool.BatchKey(sweep, date, b.Seq, b.Body) {
		t.Errorf("batch = %s, %d entries, %s, key %s", b.Seq, b.Entries, b.Status, b.Key)
	}
	var req alpaca.BatchRequest
	if err := json.Unmarshal(b.Body, &req); err != nil {
		t.Fatal(err)
	}
	if req.EntryType != "JNLC" || req.FromAccount != sweep || len(req.Entries) != len(failed) {
		t.Fatalf("body = %s", b.Body)
	}
	for i, e := range req.Entries {
		ref := fmt.Sprintf("c%02d", i)
		if k, _ := pool.TokenFromDescription(e.Description); k != f.key(ref, 2) {
			t.Errorf("entry %d carries key %s, want %s's attempt 2", i, k, ref)
		}
		if e.ToAccount != account(i) || e.Amount != decimal.NewFromInt(int64(1000+100*i)).Shift(-2).StringFixed(2) ||
			e.TransmitterName != "Orig Name" || e.TransmitterAccountNumber != "ORIG-ACC" || e.TransmitterAddress != "1 Orig Street" ||
			e.TransmitterFinancialInstitution != "Orig Bank" || e.TransmitterTimestamp != "2026-11-24T00:00:00Z" {
			t.Errorf("entry %d = %+v", i, e)
		}
	}
	if n := f.count(`SELECT count(*) FROM journals WHERE attempt = 2 AND batch_id = $1`, b.ID); n != len(failed) {
		t.Errorf("%d new journals in the batch, want %d", n, len(failed))
	}
}

func TestApplyTwiceCreatesNothing(t *testing.T) {
	t.Parallel()
	f, _ := setup(t, 3, 500)
	f.answer("c00", "refused", "inactive account")
	f.answer("c01", "rejected", "")
	f.answer("c02", "executed", "")
	if p := apply(t, f.db, cfg()); p.Redrive != 2 {
		t.Fatalf("first apply redrove %d, want 2", p.Redrive)
	}
	journals, batches, history := f.count(`SELECT count(*) FROM journals`), f.count(`SELECT count(*) FROM batches`), f.count(`SELECT count(*) FROM journal_history`)
	p := apply(t, f.db, cfg())
	if p.Redrive != 0 || p.Refuse != 3 || !p.Amount.Equal(decimal.Zero) {
		t.Fatalf("second apply: %d redrive, %d refuse, %s", p.Redrive, p.Refuse, p.Amount)
	}
	for _, it := range p.Items[:2] {
		if it.Attempt != 2 || it.Status != "planned" || !strings.HasPrefix(it.Why, "never answered") {
			t.Errorf("second apply item %+v; want attempt 2 refused as never answered", it)
		}
	}
	if j, b, h := f.count(`SELECT count(*) FROM journals`), f.count(`SELECT count(*) FROM batches`), f.count(`SELECT count(*) FROM journal_history`); j != journals || b != batches || h != history {
		t.Errorf("second apply wrote: journals %d→%d, batches %d→%d, history %d→%d", journals, j, batches, b, history, h)
	}
}

func TestHighestAttemptCounts(t *testing.T) {
	t.Parallel()
	f, _ := setup(t, 3, 500)
	f.answer("c00", "refused", "")
	f.answer("c01", "refused", "")
	f.answer("c02", "pending", "")
	apply(t, f.db, cfg())
	f.answer("c00", "executed", "") // the redrive worked
	f.answer("c01", "refused", "")  // failed again
	f.answer("c02", "canceled", "") // failed only after the first redrive

	p := apply(t, f.db, cfg())
	if p.Redrive != 2 || p.Refuse != 1 {
		t.Fatalf("%d redrive, %d refuse; want 2, 1", p.Redrive, p.Refuse)
	}
	if it := p.Items[0]; it.Action != redrive.ActionRefuse || it.Attempt != 2 || it.Why != "already funded" {
		t.Errorf("c00 = %+v; want its executed attempt 2 refused", it)
	}
	if js := f.journals("c00"); len(js) != 2 {
		t.Errorf("c00 has %d journals, want 2: an executed redrive was redriven", len(js))
	}
	want := map[string]struct {
		attempts int
		seq      string
	}{"c01": {3, "r3-000001"}, "c02": {2, "r2-000002"}}
	for ref, w := range want {
		js := f.journals(ref)
		last := js[len(js)-1]
		var seq string
		if err := f.db.Get(&seq, `SELECT seq FROM batches WHERE id = $1`, *last.BatchID); err != nil {
			t.Fatal(err)
		}
		if len(js) != w.attempts || last.Attempt != w.attempts || last.Status != "planned" || seq != w.seq ||
			last.Key != f.key(ref, w.attempts) {
			t.Errorf("%s: %d journals, last attempt %d %s in %s; want %d in %s", ref, len(js), last.Attempt, last.Status, seq, w.attempts, w.seq)
		}
		// Each allocation has exactly one live intent: every earlier attempt failed.
		if n := f.count(`SELECT count(*) FROM journals WHERE client_ref = $1 AND status NOT IN ('refused', 'rejected', 'canceled', 'deleted')`, ref); n != 1 {
			t.Errorf("%s: %d live intents, want 1", ref, n)
		}
	}
}

func TestBatchesChunked(t *testing.T) {
	t.Parallel()
	f, _ := setup(t, 5, 2)
	for i := range 5 {
		f.answer(fmt.Sprintf("c%02d", i), "refused", "")
	}
	c := cfg()
	c.BatchSize = 2
	apply(t, f.db, c)
	var got []struct {
		Seq     string `db:"seq"`
		Entries int    `db:"entries"`
		Refs    string `db:"refs"`
	}
	if err := f.db.Select(&got, `SELECT b.seq, b.entries, string_agg(j.client_ref, ',' ORDER BY j.client_ref) AS refs
		FROM batches b JOIN journals j ON j.batch_id = b.id WHERE b.seq LIKE 'r%' GROUP BY b.seq, b.entries ORDER BY b.seq`); err != nil {
		t.Fatal(err)
	}
	want := []string{"r2-000001 2 c00,c01", "r2-000002 2 c02,c03", "r2-000003 1 c04"}
	if len(got) != len(want) {
		t.Fatalf("batches %+v, want %v", got, want)
	}
	for i, g := range got {
		if s := fmt.Sprintf("%s %d %s", g.Seq, g.Entries, g.Refs); s != want[i] {
			t.Errorf("batch %d = %s, want %s", i, s, want[i])
		}
	}
}

// Two databases in the same state get the same keys and the same batch bytes: a redrive is as
// deterministic as a plan.
func TestDeterministic(t *testing.T) {
	t.Parallel()
	type out struct {
		Seq, Key string
		Body     []byte
		Keys     string
	}
	var got [2]out
	var f *fixture
	for k := range got {
		f, _ = setup(t, 3, 500)
		f.answer("c00", "refused", "")
		f.answer("c02", "deleted", "")
		apply(t, f.db, cfg())
		if err := f.db.QueryRow(`SELECT b.seq, b.idempotency_key::text, b.body,
				(SELECT string_agg(journal_key::text, ',' ORDER BY client_ref) FROM journals WHERE batch_id = b.id)
			FROM batches b WHERE seq LIKE 'r%'`).Scan(&got[k].Seq, &got[k].Key, &got[k].Body, &got[k].Keys); err != nil {
			t.Fatal(err)
		}
	}
	if got[0].Seq != got[1].Seq || got[0].Key != got[1].Key || !bytes.Equal(got[0].Body, got[1].Body) || got[0].Keys != got[1].Keys {
		t.Errorf("two identical redrives differ:\n%+v\n%+v", got[0], got[1])
	}
	if want := f.key("c00", 2) + "," + f.key("c02", 2); got[0].Keys != want {
		t.Errorf("keys %s, want %s", got[0].Keys, want)
	}
}

func TestPreviewWritesNothing(t *testing.T) {
	t.Parallel()
	f, _ := setup(t, 3, 500)
	f.answer("c00", "refused", "no")
	f.answer("c01", "pending", "")
	snapshot := func() string {
		var s string
		if err := f.db.Get(&s, `SELECT concat_ws('|',
				(SELECT count(*) FROM journals), (SELECT count(*) FROM batches), (SELECT count(*) FROM journal_history),
				(SELECT string_agg(status || coalesce(track_deadline::text, '-'), ',') FROM runs))`); err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := snapshot()
	pre, err := redrive.Preview(context.Background(), f.db, cfg())
	if err != nil {
		t.Fatal(err)
	}
	if after := snapshot(); after != before {
		t.Fatalf("Preview wrote: %s → %s", before, after)
	}
	got := apply(t, f.db, cfg())
	if pre.RunID != got.RunID || pre.Redrive != 1 || got.Redrive != 1 || pre.Refuse != got.Refuse || !pre.Amount.Equal(got.Amount) || len(pre.Items) != len(got.Items) {
		t.Fatalf("Preview %+v differs from Apply %+v", pre, got)
	}
	for i := range pre.Items {
		a, b := pre.Items[i], got.Items[i]
		if a.JournalID != b.JournalID || a.Action != b.Action || a.Why != b.Why || !a.Amount.Equal(b.Amount) {
			t.Errorf("item %d: Preview %+v, Apply %+v", i, a, b)
		}
	}
	var buf bytes.Buffer
	pre.Write(&buf)
	for _, want := range []string{"1 to redrive (10.00), 2 refused", "redrive", "c00", "refused", "no", "still in flight at Alpaca"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, buf.String())
		}
	}
}

func TestNoRun(t *testing.T) {
	t.Parallel()
	db := schematest.DB(t)
	if _, err := redrive.Preview(context.Background(), db, cfg()); !errors.Is(err, redrive.ErrNoRun) {
		t.Errorf("Preview: %v, want ErrNoRun", err)
	}
	if _, err := redrive.Apply(context.Background(), db, cfg()); !errors.Is(err, redrive.ErrNoRun) {
		t.Errorf("Apply: %v, want ErrNoRun", err)
	}
}

// Two operators redriving at once still give each allocation exactly one new intent: the run row
// lock serialises them and the second sees the first's planned attempts.
func TestConcurrentApply(t *testing.T) {
	t.Parallel()
	f, _ := setup(t, 4, 500)
	for i := range 4 {
		f.answer(fmt.Sprintf("c%02d", i), "refused", "")
	}
	var wg sync.WaitGroup
	plans := make([]*redrive.Plan, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Go(func() { plans[i], errs[i] = redrive.Apply(context.Background(), f.db, cfg()) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if total := plans[0].Redrive + plans[1].Redrive; total != 4 {
		t.Errorf("redrove %d in all, want 4", total)
	}
	if n := f.count(`SELECT count(*) FROM journals WHERE attempt = 2`); n != 4 {
		t.Errorf("%d attempt-2 journals, want 4", n)
	}
}

// A Runner holding the run's lock keeps a redrive out until it is done.
func TestBusyWhileRunnerHoldsTheRun(t *testing.T) {
	t.Parallel()
	f, _ := setup(t, 1, 500)
	f.answer("c00", "refused", "")
	br := &broker{block: make(chan struct{}), entered: make(chan struct{}, 1)}
	runner := &batch.Runner{DB: f.db, Broker: br, Config: batch.Config{SweepAccount: sweep, DropDir: t.TempDir(),
		OutDir: t.TempDir(), Now: func() time.Time { return now }, TrackFor: time.Hour}}
	apply(t, f.db, cfg())
	done := make(chan error, 1)
	go func() { _, err := runner.Run(context.Background(), date); done <- err }()
	<-br.entered // the Runner holds the run lock and is posting
	_, err := redrive.Apply(context.Background(), f.db, cfg())
	close(br.block)
	if !errors.Is(err, schema.ErrBusy) {
		t.Errorf("Apply during a run: %v, want ErrBusy", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// After Apply the Runner resumes the run: it sends only the new intents, tracks and reconciles.
func TestRunnerResumesRedrivenRun(t *testing.T) {
	t.Parallel()
	f, runID := setup(t, 3, 500)
	f.answer("c00", "refused", "inactive")
	f.answer("c01", "executed", "")
	f.answer("c02", "canceled", "")
	apply(t, f.db, cfg())
	br := &broker{}
	runner := &batch.Runner{DB: f.db, Broker: br, Config: batch.Config{SweepAccount: sweep, DropDir: t.TempDir(),
		OutDir: t.TempDir(), Now: func() time.Time { return now }, TrackFor: time.Hour}}
	out, err := runner.Run(context.Background(), date)
	if err != nil {
		t.Fatal(err)
	}
	if out.AlreadyRan {
		t.Fatal("the Runner took the redriven run for finished")
	}
	want := []string{f.key("c00", 2), f.key("c02", 2)}
	if fmt.Sprint(br.sent) != fmt.Sprint(want) {
		t.Errorf("sent keys %v, want only the new ones %v", br.sent, want)
	}
	if n := f.count(`SELECT count(*) FROM journals WHERE attempt = 2 AND status = 'executed'`); n != 2 {
		t.Errorf("%d new journals executed, want 2", n)
	}
	if n := f.count(`SELECT count(*) FROM runs WHERE id = $1 AND status = 'reconciled' AND track_deadline IS NOT NULL`, runID); n != 1 {
		t.Error("run not reconciled again")
	}
	if !out.Report.Totals.Executed.Equal(decimal.RequireFromString("33.00")) {
		t.Errorf("report executed %s, want 33.00", out.Report.Totals.Executed)
	}
	// Run again: finished, nothing is sent twice.
	out, err = runner.Run(context.Background(), date)
	if err != nil {
		t.Fatal(err)
	}
	if !out.AlreadyRan || len(br.sent) != 2 {
		t.Errorf("second run: already ran %v, %d sent in all", out.AlreadyRan, len(br.sent))
	}
}

// broker answers every entry executed and records the journal keys it was sent.
type broker struct {
	mu      sync.Mutex
	sent    []string
	byID    map[string]alpaca.Journal
	block   chan struct{} // when set, CreateBatch waits for it to close
	entered chan struct{}
}

// CreateJournalBody is never called: redrive sends cash batches only.
func (b *broker) CreateJournalBody(context.Context, string, []byte) (*alpaca.Journal, error) {
	return nil, errors.New("a single journal POST in a cash redrive")
}

func (b *broker) CreateBatch(ctx context.Context, key string, body []byte) ([]alpaca.BatchJournal, error) {
	if b.entered != nil {
		b.entered <- struct{}{}
	}
	if b.block != nil {
		<-b.block
	}
	var req alpaca.BatchRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.byID == nil {
		b.byID = map[string]alpaca.Journal{}
	}
	var out []alpaca.BatchJournal
	for _, e := range req.Entries {
		k, _ := pool.TokenFromDescription(e.Description)
		b.sent = append(b.sent, k)
		j := alpaca.Journal{ID: pool.BatchKey("alpaca", k, "", nil), EntryType: "JNLC", FromAccount: req.FromAccount,
			ToAccount: e.ToAccount, Status: alpaca.StatusExecuted, Description: e.Description,
			NetAmount: decimal.NewNullDecimal(decimal.RequireFromString(e.Amount))}
		b.byID[j.ID] = j
		out = append(out, alpaca.BatchJournal{Journal: j})
	}
	return out, nil
}

func (b *broker) GetAccount(ctx context.Context, id string) (*alpaca.Account, error) {
	return &alpaca.Account{ID: id, Status: alpaca.AccountActive, Currency: "USD"}, nil
}

func (b *broker) GetTradingAccount(ctx context.Context, id string) (*alpaca.TradingAccount, error) {
	return &alpaca.TradingAccount{ID: id, Status: alpaca.AccountActive, Currency: "USD",
		CashTransferable: decimal.NewNullDecimal(decimal.RequireFromString("1000000000"))}, nil
}

// StreamActivities finds nothing: this broker shows no cash, so no night of it is proved.
func (b *broker) StreamActivities(ctx context.Context, o alpaca.ActivityOptions, fn func(alpaca.Activity) error) error {
	return nil
}

func (b *broker) EachJournal(ctx context.Context, f alpaca.ListFilter, fn func(alpaca.Journal) error) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, j := range b.byID {
		if err := fn(j); err != nil {
			return err
		}
	}
	return nil
}

func (b *broker) GetJournal(ctx context.Context, id string) (*alpaca.Journal, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if j, ok := b.byID[id]; ok {
		return &j, nil
	}
	return nil, &alpaca.APIError{HTTPStatus: 404, Message: "not found"}
}

// A journal failed for a wrong account is redriven to the corrected account with a corrected
// description: only that journal, under a new key, with who, why and what changed in its history;
// the failed attempt is left as it was.
func TestRedriveOneJournalWithCorrections(t *testing.T) {
	t.Parallel()
	f, _ := setup(t, 3, 500)
	f.answer("c00", "canceled", "account is not active")
	f.answer("c01", "refused", "")
	f.answer("c02", "executed", "")
	old := f.journals("c00")[0]
	c := cfg()
	c.Journal = strings.ToUpper(old.Key) // a key is a UUID: either case names it
	c.Account = "8E00A1B2-0000-4000-8000-0000000000AA"
	c.Description = "funding c00, corrected account"
	c.By, c.Reason = "alice", "account number typo in the allocations file"

	pre, err := redrive.Preview(context.Background(), f.db, c)
	if err != nil {
		t.Fatal(err)
	}
	if pre.Redrive != 1 || len(pre.Items) != 1 || pre.Items[0].ClientRef != "c00" || pre.Items[0].NewAccount != "8e00a1b2-0000-4000-8000-0000000000aa" {
		t.Fatalf("preview %+v; want c00 alone, to the corrected account", pre)
	}
	var buf bytes.Buffer
	pre.Write(&buf)
	for _, want := range []string{account(0) + " -> 8e00a1b2-0000-4000-8000-0000000000aa", `"funding c00, corrected account"`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("preview lacks %q:\n%s", want, buf.String())
		}
	}
	apply(t, f.db, c)

	js := f.journals("c00")
	if len(js) != 2 {
		t.Fatalf("c00 has %d journals, want 2", len(js))
	}
	same := func(r row) string {
		return fmt.Sprint(*r.BatchID, r.Key, r.Attempt, r.ToAccount, r.Amount.StringFixed(2), r.Description, r.Status)
	}
	if same(js[0]) != same(old) {
		t.Errorf("the failed attempt changed: %s → %s", same(old), same(js[0]))
	}
	nu := js[1]
	key := f.key("c00", 2)
	if nu.Key != key || nu.ToAccount != "8e00a1b2-0000-4000-8000-0000000000aa" || !nu.Amount.Equal(old.Amount) ||
		nu.Description != "funding c00, corrected account "+pool.KeyToken(key) {
		t.Errorf("new attempt %+v", nu)
	}
	if n := len(f.journals("c01")); n != 1 {
		t.Errorf("c01 has %d journals: a journal not named was redriven", n)
	}
	var body []byte
	if err := f.db.Get(&body, `SELECT body FROM batches WHERE id = $1`, *nu.BatchID); err != nil {
		t.Fatal(err)
	}
	var req alpaca.BatchRequest
	if err := json.Unmarshal(body, &req); err != nil {
		t.Fatal(err)
	}
	if len(req.Entries) != 1 || req.Entries[0].ToAccount != "8e00a1b2-0000-4000-8000-0000000000aa" ||
		req.Entries[0].Description != nu.Description || req.FromAccount != sweep {
		t.Errorf("batch body %s", body)
	}
	var h struct {
		Actor  string `db:"actor"`
		Reason string `db:"reason"`
		Detail string `db:"detail"`
	}
	if err := f.db.Get(&h, `SELECT actor, reason, detail FROM journal_history WHERE journal_id = $1 AND source = 'redrive'`, nu.ID); err != nil {
		t.Fatal(err)
	}
	wantDetail := `redrive of journal ` + old.Key + ` (attempt 1, canceled); account ` + account(0) +
		` -> 8e00a1b2-0000-4000-8000-0000000000aa; description "funding c00 ` + pool.KeyToken(old.Key) + `" -> "funding c00, corrected account"`
	if h.Actor != "alice" || h.Reason != "account number typo in the allocations file" || h.Detail != wantDetail {
		t.Errorf("history = %+v\nwant detail %s", h, wantDetail)
	}
}

// The same journal named by its Alpaca id; an earlier attempt, a funded journal and an unknown one
// are refused; nothing is written for them.
func TestRedriveNamedJournal(t *testing.T) {
	t.Parallel()
	f, _ := setup(t, 3, 500)
	f.answer("c00", "refused", "")
	f.answer("c01", "executed", "")
	var alpacaID string
	if err := f.db.Get(&alpacaID, `SELECT alpaca_id::text FROM journals WHERE client_ref = 'c00'`); err != nil {
		t.Fatal(err)
	}
	first := f.journals("c00")[0].Key
	c := cfg()
	c.Journal = alpacaID
	if p := apply(t, f.db, c); p.Redrive != 1 || p.Items[0].ClientRef != "c00" {
		t.Fatalf("by Alpaca id: %+v", p)
	}
	f.answer("c00", "refused", "") // the second attempt failed too

	for _, tc := range []struct{ journal, why string }{
		{first, "is attempt 1; the latest attempt is 2 (refused, key " + f.key("c00", 2) + ")"},
		{f.journals("c01")[0].Key, "already funded"},
	} {
		c := cfg()
		c.Journal = tc.journal
		journals := f.count(`SELECT count(*) FROM journals`)
		p := apply(t, f.db, c)
		if p.Redrive != 0 || len(p.Items) != 1 || !strings.HasSuffix(p.Items[0].Why, tc.why) {
			t.Errorf("journal %s: %+v; want refused: %s", tc.journal, p, tc.why)
		}
		if n := f.count(`SELECT count(*) FROM journals`); n != journals {
			t.Errorf("journal %s: %d new journals", tc.journal, n-journals)
		}
	}
	c = cfg()
	c.Journal = "8e00a1b2-0000-4000-8000-00000000dead"
	if _, err := redrive.Preview(context.Background(), f.db, c); !errors.Is(err, redrive.ErrNoJournal) {
		t.Errorf("unknown journal: %v, want ErrNoJournal", err)
	}
}

// Corrections are checked before anything is read: direction (never to the sweep account), account
// id syntax, one named journal, and who and why.
func TestCorrectionsValidated(t *testing.T) {
	t.Parallel()
	f, _ := setup(t, 1, 500)
	f.answer("c00", "refused", "")
	key := f.journals("c00")[0].Key
	good := func() redrive.Config {
		c := cfg()
		c.Journal, c.Account, c.By, c.Reason = key, account(5), "alice", "typo"
		return c
	}
	for name, tc := range map[string]struct {
		change func(*redrive.Config)
		want   string
	}{
		"to the sweep account":          {func(c *redrive.Config) { c.Account = sweep }, "is the sweep account itself"},
		"to the sweep account, upper":   {func(c *redrive.Config) { c.Account = strings.ToUpper(sweep) }, "is the sweep account itself"},
		"account with a space":          {func(c *redrive.Config) { c.Account = " " + account(5) }, "has spaces"},
		"account not a uuid":            {func(c *redrive.Config) { c.Account = "12345" }, "is not an account id"},
		"nil account":                   {func(c *redrive.Config) { c.Account = "00000000-0000-0000-0000-000000000000" }, "nil UUID"},
		"no journal named":              {func(c *redrive.Config) { c.Journal = "" }, "applies to one journal"},
		"journal not a uuid":            {func(c *redrive.Config) { c.Journal = "BWP-003" }, "is not an account id"},
		"no by":                         {func(c *redrive.Config) { c.By = " " }, "who redrives is required"},
		"no reason":                     {func(c *redrive.Config) { c.Reason = "" }, "the reason is required"},
		"description with a control":    {func(c *redrive.Config) { c.Description = "a\x1b[2Jb" }, "control character"},
		"description too long":          {func(c *redrive.Config) { c.Description = strings.Repeat("x", 5000) }, "too long"},
		"description only, no reason":   {func(c *redrive.Config) { c.Account, c.Description, c.Reason = "", "fixed", "" }, "the reason is required"},
		"description without a journal": {func(c *redrive.Config) { c.Account, c.Description, c.Journal = "", "fixed", "" }, "applies to one journal"},
	} {
		c := good()
		tc.change(&c)
		_, err := redrive.Apply(context.Background(), f.db, c)
		if !errors.Is(err, redrive.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want ErrInvalid saying %q", name, err, tc.want)
		}
	}
	if n := f.count(`SELECT count(*) FROM journals`); n != 1 {
		t.Errorf("%d journals after refused corrections, want 1", n)
	}
	if p := apply(t, f.db, good()); p.Redrive != 1 {
		t.Errorf("the valid correction: %+v", p)
	}
}

// A reward (JNLS) is never redriven: named, it is refused with a message saying what to do; a
// redrive of its date leaves it alone.
func TestRewardIsNotRedriven(t *testing.T) {
	t.Parallel()
	f, _ := setup(t, 1, 500)
	const date2 = "2026-11-25"
	f.exec(`INSERT INTO files (sha256, name, kind, status, received_at) VALUES ('w', 'rewards.csv', 'rewards', 'loaded', $1)`, now)
	f.exec(`INSERT INTO rewards (reward_id, file_id, line, account_id, symbol, qty, reason, description)
		VALUES ('W1', 3, 2, $1, 'AAPL', 1, 'sign-up', 'welcome')`, account(0))
	if _, err := plan.Plan(context.Background(), f.db, plan.Config{SweepAccount: sweep, BusinessDate: date2, Now: func() time.Time { return now }}); err != nil {
		t.Fatal(err)
	}
	f.exec(`UPDATE journals SET status = 'refused', alpaca_id = gen_random_uuid(), error_message = 'insufficient assets' WHERE reward_id = 'W1'`)
	var key string
	if err := f.db.Get(&key, `SELECT journal_key::text FROM journals WHERE reward_id = 'W1'`); err != nil {
		t.Fatal(err)
	}
	journals := f.count(`SELECT count(*) FROM journals`)
	c := cfg()
	c.BusinessDate, c.Journal = date2, key
	_, err := redrive.Preview(context.Background(), f.db, c)
	if !errors.Is(err, redrive.ErrInvalid) || !strings.Contains(err.Error(), "reward W1 (JNLS) and rewards are not redriven") {
		t.Fatalf("redrive of a reward: %v, want refused as invalid", err)
	}
	c.Journal = ""
	if p := apply(t, f.db, c); p.Redrive != 0 || len(p.Items) != 0 {
		t.Fatalf("redrive of the reward's date: %+v, want nothing", p)
	}
	if n := f.count(`SELECT count(*) FROM journals`); n != journals {
		t.Fatalf("%d new journals", n-journals)
	}
}

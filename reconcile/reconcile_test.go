package reconcile_test

import (
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/batch/schema/schematest"
	"github.com/cashpool/cashpool/reconcile"
)

func TestMain(m *testing.M) { schematest.Main(m) }

const (
	sweep    = "8e00a1b2-0000-4000-8000-000000000000"
	account1 = "8e00a1b2-0000-4000-8000-000000000001"
	account2 = "8e00a1b2-0000-4000-8000-000000000002"
	date     = "2026-11-24"
)

var (
	plannedAt = time.Date(2026, 11, 24, 22, 0, 0, 0, time.UTC)
	deadline  = plannedAt.Add(6 * time.Hour)
	before    = deadline.Add(-time.Hour) // a report taken while journals may still settle
	after     = deadline.Add(time.Hour)  // a report taken once tracking has given up
)

// fixture builds one run's rows with plain SQL.
type fixture struct {
	t      *testing.T
	db     *sqlx.DB
	fileID int64
	runID  int64
	line   int // the next input line number, so every row points at a distinct line
}

func setup(t *testing.T, deadline *time.Time) *fixture {
	t.Helper()
	f := &fixture{t: t, db: schematest.DB(t), line: 1}
	f.fileID = f.insert(`INSERT INTO files (sha256,name,kind,status,rows,received_at)
		VALUES ('loaded-1','allocations-1.csv','allocations','loaded',10,$1) RETURNING id`, plannedAt.Add(-time.Hour))
	f.runID = f.newRun(date, plannedAt, deadline)
	return f
}

func (f *fixture) insert(q string, args ...any) int64 {
	f.t.Helper()
	var id int64
	if err := f.db.QueryRow(q, args...).Scan(&id); err != nil {
		f.t.Fatalf("%s: %v", q, err)
	}
	return id
}

func (f *fixture) exec(q string, args ...any) {
	f.t.Helper()
	if _, err := f.db.Exec(q, args...); err != nil {
		f.t.Fatalf("%s: %v", q, err)
	}
}

func (f *fixture) newRun(businessDate string, plannedAt time.Time, deadline *time.Time) int64 {
	f.t.Helper()
	return f.insert(`INSERT INTO runs (business_date,sweep_account,status,planned_at,track_deadline)
		VALUES ($1,$2,'tracked',$3,$4) RETURNING id`, businessDate, sweep, plannedAt, deadline)
}

// receipt inserts a receipt and the run's accounting of it.
func (f *fixture) receipt(id, amount, allocated string, held bool, reason string) {
	f.t.Helper()
	f.line++
	f.exec(`INSERT INTO receipts VALUES ($1,$2,$3,'2026-11-24',$4,'USD','Originator','ACC','BANK','ADDR','ref')`,
		id, f.fileID, f.line, amount)
	f.exec(`INSERT INTO run_receipts (receipt_id,run_id,amount,allocated,unallocated,held,reason)
		VALUES ($1,$2,$3::numeric,$4::numeric,$3::numeric-$4::numeric,$5,$6)`, id, f.runID, amount, allocated, held, reason)
}

// allocation inserts an allocation of amount (or, when amount is empty, of weight 1) and returns its id.
func (f *fixture) allocation(receiptID, clientRef, acct, amount string) int64 {
	f.t.Helper()
	var amt, weight any
	if amount == "" {
		weight = "1"
	} else {
		amt = amount
	}
	f.line++
	return f.insert(`INSERT INTO allocations (file_id,line,receipt_id,account_id,amount,weight,client_ref,description)
		VALUES ($1,$2,$3,$4,$5,$6,$7,'desc') RETURNING id`, f.fileID, f.line, receiptID, acct, amt, weight, clientRef)
}

type journal struct {
	receiptID, clientRef, amount, status, errorMessage string
	attempt                                            int
	expectedPending, noAlpacaID                        bool
}

// journal inserts an allocation (unless allocID is given) and a journal for it.
func (f *fixture) journal(allocID int64, j journal) int64 {
	f.t.Helper()
	if allocID == 0 {
		allocID = f.allocation(j.receiptID, j.clientRef, account1, j.amount)
	}
	if j.attempt == 0 {
		j.attempt = 1
	}
	alpacaID := "gen_random_uuid()"
	if j.noAlpacaID || j.status == "planned" {
		alpacaID = "NULL"
	}
	f.exec(`INSERT INTO journals (run_id,journal_key,allocation_id,attempt,receipt_id,client_ref,to_account,amount,
		description,expected_pending,alpaca_id,status,status_unknown,error_message,updated_at)
		VALUES ($1,gen_random_uuid(),$2,$3,$4,$5,$6,$7,'desc',$8,`+alpacaID+`,$9,$10,$11,now())`,
		f.runID, allocID, j.attempt, j.receiptID, j.clientRef, account1, j.amount, j.expectedPending,
		j.status, !knownStatus(j.status), j.errorMessage)
	return allocID
}

func knownStatus(s string) bool {
	return slices.Contains([]string{"planned", "queued", "sent_to_clearing", "pending", "executed",
		"activity_created", "rejected", "refused", "canceled", "deleted", "correct"}, s)
}

func (f *fixture) build(now time.Time) *reconcile.Report {
	f.t.Helper()
	r, err := reconcile.Build(context.Background(), f.db, f.runID, now)
	if err != nil {
		f.t.Fatalf("Build: %v", err)
	}
	return r
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func wantDecimal(t *testing.T, what string, got decimal.Decimal, want string) {
	t.Helper()
	if !got.Equal(dec(want)) {
		t.Errorf("%s = %s, want %s", what, got.StringFixed(2), want)
	}
}

func kinds(r *reconcile.Report) []string {
	var ks []string
	for _, e := range r.Exceptions {
		ks = append(ks, e.Kind)
	}
	return ks
}

func find(t *testing.T, r *reconcile.Report, kind, clientRef string) reconcile.Exception {
	t.Helper()
	for _, e := range r.Exceptions {
		if e.Kind == kind && e.ClientRef == clientRef {
			return e
		}
	}
	t.Fatalf("no %s exception for %q in %v", kind, clientRef, kinds(r))
	return reconcile.Exception{}
}

// everyKind builds a past-deadline run with one exception of each kind a report taken after the
// deadline can show, plus a funded journal that must not appear.
func everyKind(t *testing.T) *fixture {
	f := setup(t, &deadline)
	f.insert(`INSERT INTO files (sha256,name,kind,status,errors,reason,received_at)
		VALUES ('bad','allocations-bad.csv','allocations','rejected',3,'line 4, column amount: not a decimal',$1) RETURNING id`,
		plannedAt.Add(-30*time.Minute))
	f.receipt("R0-held", "100.00", "0.00", true, "allocations exceed the receipt by 5.00")
	f.receipt("R1", "1000.00", "700.00", false, "")
	f.receipt("R2", "50.00", "50.00", false, "")
	f.exec(`INSERT INTO run_skipped_allocations (allocation_id,run_id,reason) VALUES ($1,$2,'receipt held')`,
		f.allocation("R0-held", "skip-amount", account2, "105.00"), f.runID)
	f.exec(`INSERT INTO run_skipped_allocations (allocation_id,run_id,reason) VALUES ($1,$2,'awaiting its receipt')`,
		f.allocation("R9-missing", "skip-weight", account2, ""), f.runID)
	for _, j := range []journal{
		{clientRef: "executed", amount: "100.00", status: "executed"},
		{clientRef: "refused", amount: "100.00", status: "refused", errorMessage: "account is not active"},
		{clientRef: "canceled", amount: "100.00", status: "canceled", noAlpacaID: true, errorMessage: "batch canceled: inactive account"},
		{clientRef: "pending-limit", amount: "100.00", status: "pending", expectedPending: true},
		{clientRef: "pending", amount: "100.00", status: "pending"},
		{clientRef: "queued", amount: "100.00", status: "queued"},
		{clientRef: "planned", amount: "100.00", status: "planned"},
		{clientRef: "sending", amount: "50.00", status: "planned"}, // its batch marked sending
		{clientRef: "correct", amount: "25.00", status: "correct"},
		{clientRef: "weird", amount: "25.00", status: "reversed_by_ops"},
	} {
		j.receiptID = "R1"
		if j.clientRef == "executed" {
			j.receiptID = "R2"
			j.amount = "50.00"
		}
		f.journal(0, j)
	}
	return f
}

func TestBuildListsEveryExceptionKind(t *testing.T) {
	t.Parallel()
	f := everyKind(t)
	r := f.build(after)

	want := []string{"rejected_file", "over_allocated", "unallocated", "skipped_allocation", "skipped_allocation",
		"failed", "failed", "stuck_pending", "stuck_pending", "stuck", "not_sent", "not_sent", "corrected", "unknown_status"}
	if got := kinds(r); !slices.Equal(got, want) {
		t.Fatalf("kinds\n got %v\nwant %v", got, want)
	}
	if r.BusinessDate != date || r.SweepAccount != sweep || r.RunID != f.runID {
		t.Errorf("header = %q %q %d", r.BusinessDate, r.SweepAccount, r.RunID)
	}

	rf := r.Exceptions[0]
	if rf.File != "allocations-bad.csv" || !strings.Contains(rf.Reason, "not a decimal") || !strings.Contains(rf.Reason, "3 errors") ||
		rf.NextAction != "fix the file and drop it again (see rejected/allocations-bad.csv.errors.csv)" {
		t.Errorf("rejected file = %+v", rf)
	}
	oa := r.Exceptions[1]
	wantDecimal(t, "over_allocated amount", oa.Amount, "100")
	if oa.ReceiptID != "R0-held" || oa.Reason != "allocations exceed the receipt by 5.00" ||
		oa.NextAction != "correct the allocations for this receipt; nothing was sent" || oa.File != "allocations-1.csv" || oa.Line == 0 {
		t.Errorf("over_allocated = %+v", oa)
	}
	ua := r.Exceptions[2]
	wantDecimal(t, "unallocated amount", ua.Amount, "300")
	if ua.ReceiptID != "R1" || ua.NextAction != "remainder stays in the sweep account; allocate it or return it" {
		t.Errorf("unallocated = %+v", ua)
	}

	sa := find(t, r, "skipped_allocation", "skip-amount")
	wantDecimal(t, "skipped amount", sa.Amount, "105")
	if sa.AccountID != account2 || sa.Reason != "receipt held" {
		t.Errorf("skipped = %+v", sa)
	}
	if sw := find(t, r, "skipped_allocation", "skip-weight"); !sw.Amount.IsZero() || sw.Reason != "awaiting its receipt" {
		t.Errorf("skipped by weight = %+v, want no amount", sw)
	}

	refused := find(t, r, "failed", "refused")
	if refused.Status != "refused" || refused.Reason != "account is not active" || refused.JournalID == "" ||
		refused.JournalKey == "" || refused.AccountID != account1 ||
		refused.NextAction != "fix the cause, then `cashpool redrive --date 2026-11-24`" {
		t.Errorf("refused = %+v", refused)
	}
	if c := find(t, r, "failed", "canceled"); c.JournalID != "" || c.Reason != "batch canceled: inactive account" {
		t.Errorf("canceled = %+v", c)
	}
	if p := find(t, r, "stuck_pending", "pending-limit"); !strings.HasPrefix(p.NextAction, "above the per-journal limit") {
		t.Errorf("expected pending = %+v", p)
	}
	if p := find(t, r, "stuck_pending", "pending"); p.NextAction != "ask Alpaca operations why it is pending" {
		t.Errorf("pending = %+v", p)
	}
	if n := find(t, r, "not_sent", "planned"); n.NextAction != "re-run `cashpool run --date 2026-11-24`; it resends with the same key" || n.JournalID != "" {
		t.Errorf("not sent = %+v", n)
	}
	find(t, r, "not_sent", "sending")
	if c := find(t, r, "corrected", "correct"); c.NextAction != "Alpaca corrected this journal; check the replacement journal's amount" {
		t.Errorf("corrected = %+v", c)
	}
	if u := find(t, r, "unknown_status", "weird"); u.Status != "reversed_by_ops" ||
		u.NextAction != "look the journal up in the Alpaca dashboard; cashpool does not know this status" {
		t.Errorf("unknown = %+v", u)
	}
	for _, e := range r.Exceptions {
		if e.ClientRef == "executed" {
			t.Errorf("executed journal listed: %+v", e)
		}
	}

	tot := r.Totals
	if !tot.Balanced || len(tot.Problems) != 0 {
		t.Errorf("not balanced: %v", tot.Problems)
	}
	wantDecimal(t, "receipts", tot.Receipts, "1150")
	wantDecimal(t, "allocated", tot.Allocated, "750")
	wantDecimal(t, "unallocated", tot.Unallocated, "400")
	wantDecimal(t, "held", tot.Held, "100")
	wantDecimal(t, "planned", tot.Planned, "750")
	wantDecimal(t, "executed", tot.Executed, "50")
	wantDecimal(t, "failed", tot.Failed, "200")
	wantDecimal(t, "in flight", tot.InFlight, "500")
	if tot.Journals != 10 || tot.ExecutedCount != 1 || tot.FailedCount != 2 || tot.InFlightCount != 7 || tot.Exceptions != len(r.Exceptions) {
		t.Errorf("counts = %+v", tot)
	}
	if r.ExitCode() != 3 {
		t.Errorf("ExitCode = %d, want 3", r.ExitCode())
	}
}

func TestDeadlineSeparatesInFlightFromStuck(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		deadline *time.Time
		now      time.Time
		want     []string
	}{
		{"before the deadline", &deadline, before, []string{"in_flight", "in_flight", "in_flight"}},
		{"at the deadline", &deadline, deadline, []string{"stuck_pending", "stuck", "stuck"}},
		{"after the deadline", &deadline, after, []string{"stuck_pending", "stuck", "stuck"}},
		{"no deadline yet", nil, after, []string{"in_flight", "in_flight", "in_flight"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, tc.deadline)
			f.receipt("R1", "30.00", "30.00", false, "")
			f.journal(0, journal{receiptID: "R1", clientRef: "a", amount: "10.00", status: "pending"})
			f.journal(0, journal{receiptID: "R1", clientRef: "b", amount: "10.00", status: "queued"})
			f.journal(0, journal{receiptID: "R1", clientRef: "c", amount: "10.00", status: "sent_to_clearing"})
			r := f.build(tc.now)
			if got := kinds(r); !slices.Equal(got, tc.want) {
				t.Fatalf("kinds = %v, want %v", got, tc.want)
			}
			wantDecimal(t, "in flight", r.Totals.InFlight, "30")
			if !r.Totals.Balanced || r.ExitCode() != 3 {
				t.Errorf("balanced %v exit %d, want balanced and 3", r.Totals.Balanced, r.ExitCode())
			}
		})
	}
}

func TestOnlyTheHighestAttemptCounts(t *testing.T) {
	t.Parallel()
	f := setup(t, &deadline)
	f.receipt("R1", "30.00", "30.00", false, "")
	// Refused, then re-driven and executed: history, nothing to report.
	a := f.journal(0, journal{receiptID: "R1", clientRef: "redriven", amount: "10.00", status: "refused", errorMessage: "old"})
	f.journal(a, journal{receiptID: "R1", clientRef: "redriven", amount: "10.00", status: "executed", attempt: 2})
	// Three attempts; the last one failed again: reported once, with the last reason.
	b := f.journal(0, journal{receiptID: "R1", clientRef: "again", amount: "20.00", status: "canceled", noAlpacaID: true, errorMessage: "first"})
	f.journal(b, journal{receiptID: "R1", clientRef: "again", amount: "20.00", status: "rejected", attempt: 3, errorMessage: "third"})
	f.journal(b, journal{receiptID: "R1", clientRef: "again", amount: "20.00", status: "refused", attempt: 2, errorMessage: "second"})

	r := f.build(after)
	if got := kinds(r); !slices.Equal(got, []string{"failed"}) {
		t.Fatalf("kinds = %v, want one failed", got)
	}
	if e := r.Exceptions[0]; e.ClientRef != "again" || e.Status != "rejected" || e.Reason != "third" {
		t.Errorf("exception = %+v, want the third attempt", e)
	}
	tot := r.Totals
	if tot.Journals != 2 || !tot.Balanced {
		t.Errorf("journals %d balanced %v, want 2 and balanced (%v)", tot.Journals, tot.Balanced, tot.Problems)
	}
	wantDecimal(t, "planned", tot.Planned, "30")
	wantDecimal(t, "executed", tot.Executed, "10")
	wantDecimal(t, "failed", tot.Failed, "20")
}

func TestAllExecutedBalancesAndExitsZero(t *testing.T) {
	t.Parallel()
	f := setup(t, &deadline)
	f.receipt("R1", "100.01", "100.01", false, "")
	f.journal(0, journal{receiptID: "R1", clientRef: "a", amount: "33.34", status: "executed"})
	f.journal(0, journal{receiptID: "R1", clientRef: "b", amount: "33.34", status: "activity_created"})
	f.journal(0, journal{receiptID: "R1", clientRef: "c", amount: "33.33", status: "executed"})
	r := f.build(after)
	if len(r.Exceptions) != 0 || !r.Totals.Balanced || r.ExitCode() != 0 {
		t.Fatalf("exceptions %v balanced %v exit %d, want none, true, 0", kinds(r), r.Totals.Balanced, r.ExitCode())
	}
	wantDecimal(t, "executed", r.Totals.Executed, "100.01")
	if r.Totals.ExecutedCount != 3 {
		t.Errorf("executed count = %d", r.Totals.ExecutedCount)
	}
}

func TestManyJournalsStream(t *testing.T) {
	t.Parallel()
	f := setup(t, &deadline)
	const n = 5000
	f.receipt("R1", fmt.Sprintf("%d.00", n), fmt.Sprintf("%d.00", n), false, "")
	f.exec(`INSERT INTO allocations (file_id,line,receipt_id,account_id,amount,client_ref,description)
		SELECT $1, g, 'R1', $2, 1, 'c'||g, '' FROM generate_series(1,$3) g`, f.fileID, account1, n)
	f.exec(`INSERT INTO journals (run_id,journal_key,allocation_id,receipt_id,client_ref,to_account,amount,description,
		alpaca_id,status,updated_at)
		SELECT $1, gen_random_uuid(), a.id, a.receipt_id, a.client_ref, a.account_id, a.amount, '',
		       gen_random_uuid(), CASE WHEN a.line % 100 = 0 THEN 'rejected' ELSE 'executed' END, now()
		FROM allocations a`, f.runID)
	r := f.build(after)
	if r.Totals.Journals != n || r.Totals.FailedCount != n/100 || len(r.Exceptions) != n/100 || !r.Totals.Balanced {
		t.Fatalf("totals = %+v", r.Totals)
	}
	wantDecimal(t, "executed", r.Totals.Executed, fmt.Sprint(n-n/100))
}

func TestUnbalancedRunIsReported(t *testing.T) {
	t.Parallel()
	f := setup(t, &deadline)
	f.receipt("R1", "100.00", "100.00", false, "")
	// A journal that does not match what plan allocated: someone changed the database by hand.
	f.journal(0, journal{receiptID: "R1", clientRef: "a", amount: "99.99", status: "executed"})
	r := f.build(after)
	if r.Totals.Balanced {
		t.Fatal("Balanced = true, want false")
	}
	if len(r.Totals.Problems) != 1 || !strings.Contains(r.Totals.Problems[0], "allocated <> planned") {
		t.Fatalf("problems = %q", r.Totals.Problems)
	}
	if got := kinds(r); !slices.Equal(got, []string{"unbalanced"}) {
		t.Fatalf("kinds = %v", got)
	}
	wantDecimal(t, "difference", r.Exceptions[0].Amount, "0.01")
	if r.Totals.Exceptions != 1 || r.ExitCode() != 3 {
		t.Errorf("exceptions %d exit %d, want 1 and 3", r.Totals.Exceptions, r.ExitCode())
	}
}

func TestRejectedFilesAreReportedByOneRun(t *testing.T) {
	t.Parallel()
	f := setup(t, &deadline) // the first run, planned at plannedAt
	reject := func(name string, at time.Time) {
		f.insert(`INSERT INTO files (sha256,name,kind,status,errors,reason,received_at)
			VALUES ($1,$1,'receipts','rejected',1,'bad',$2) RETURNING id`, name, at)
	}
	reject("early.csv", plannedAt.Add(-48*time.Hour))
	reject("at-first-run.csv", plannedAt)
	reject("between.csv", plannedAt.Add(time.Hour))
	reject("at-second-run.csv", plannedAt.Add(24*time.Hour))
	reject("later.csv", plannedAt.Add(25*time.Hour))
	second := f.newRun("2026-11-25", plannedAt.Add(24*time.Hour), nil)

	files := func(runID int64) []string {
		r, err := reconcile.Build(context.Background(), f.db, runID, after.Add(48*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range r.Exceptions {
			if e.Kind == "rejected_file" {
				names = append(names, e.File)
			}
		}
		return names
	}
	if got, want := files(f.runID), []string{"at-first-run.csv", "early.csv"}; !slices.Equal(got, want) {
		t.Errorf("first run: %v, want %v", got, want)
	}
	if got, want := files(second), []string{"at-second-run.csv", "between.csv"}; !slices.Equal(got, want) {
		t.Errorf("second run: %v, want %v", got, want)
	}
}

func TestUnknownRun(t *testing.T) {
	t.Parallel()
	db := schematest.DB(t)
	if _, err := reconcile.Build(context.Background(), db, 42, after); !errors.Is(err, reconcile.ErrRunNotFound) {
		t.Errorf("Build: %v, want ErrRunNotFound", err)
	}
	if err := reconcile.Finish(context.Background(), db, &reconcile.Report{RunID: 42}, after); !errors.Is(err, reconcile.ErrRunNotFound) {
		t.Errorf("Finish: %v, want ErrRunNotFound", err)
	}
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	recs, err := csv.NewReader(fh).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return recs
}

func TestWriteCSV(t *testing.T) {
	t.Parallel()
	f := everyKind(t)
	r := f.build(after)
	dir := filepath.Join(t.TempDir(), "out", date)
	paths, err := reconcile.Write(dir, r)
	if err != nil {
		t.Fatal(err)
	}
	wantPaths := []string{filepath.Join(dir, "reconciliation.csv"), filepath.Join(dir, "totals.csv")}
	if !slices.Equal(paths, wantPaths) {
		t.Fatalf("paths = %v, want %v", paths, wantPaths)
	}

	recs := readCSV(t, paths[0])
	header := []string{"kind", "receipt_id", "client_ref", "account_id", "amount", "journal_id", "journal_key",
		"status", "reason", "next_action", "file", "line", "reward_id", "symbol", "qty"}
	if !slices.Equal(recs[0], header) {
		t.Fatalf("header = %v", recs[0])
	}
	if len(recs)-1 != len(r.Exceptions) {
		t.Fatalf("%d rows, want %d", len(recs)-1, len(r.Exceptions))
	}
	for i, e := range r.Exceptions {
		row := recs[i+1]
		if row[0] != e.Kind || row[1] != e.ReceiptID || row[2] != e.ClientRef || row[6] != e.JournalKey || row[8] != e.Reason || row[9] != e.NextAction {
			t.Errorf("row %d = %q, want %+v", i+1, row, e)
		}
	}
	byRef := map[string][]string{}
	for _, row := range recs[1:] {
		byRef[row[0]+"/"+row[2]] = row
	}
	if got := byRef["failed/refused"][4]; got != "100.00" {
		t.Errorf("refused amount = %q, want 100.00", got)
	}
	if got := byRef["skipped_allocation/skip-weight"][4]; got != "" {
		t.Errorf("weight allocation amount = %q, want empty", got)
	}
	if got := byRef["rejected_file/"]; got[4] != "" || got[10] != "allocations-bad.csv" || got[11] != "" {
		t.Errorf("rejected file row = %q", got)
	}

	totals := map[string]string{}
	trecs := readCSV(t, paths[1])
	if !slices.Equal(trecs[0], []string{"metric", "value"}) {
		t.Fatalf("totals header = %v", trecs[0])
	}
	for _, row := range trecs[1:] {
		totals[row[0]] = row[1]
	}
	for k, v := range map[string]string{"receipts": "1150.00", "held": "100.00", "executed": "50.00",
		"in_flight": "500.00", "journals": "10", "balanced": "true", "exceptions": fmt.Sprint(len(r.Exceptions))} {
		if totals[k] != v {
			t.Errorf("totals %s = %q, want %q", k, totals[k], v)
		}
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

func TestWriteJSONAndHTMLEscapes(t *testing.T) {
	t.Parallel()
	f := setup(t, &deadline)
	const hostile = `<script>alert("x")</script>`
	f.receipt("R1", "10.00", "10.00", false, "")
	f.journal(0, journal{receiptID: "R1", clientRef: `<img src=x onerror=alert(1)>`, amount: "10.00",
		status: "refused", errorMessage: hostile})
	r := f.build(after)
	dir := t.TempDir()
	paths, err := reconcile.Write(dir, r, "json", "html", "json")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 2 {
		t.Fatalf("paths = %v", paths)
	}

	b, err := os.ReadFile(filepath.Join(dir, "reconciliation.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		BusinessDate string            `json:"business_date"`
		RunID        int64             `json:"run_id"`
		Totals       map[string]any    `json:"totals"`
		Exceptions   []json.RawMessage `json:"exceptions"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if doc.BusinessDate != date || doc.RunID != f.runID || doc.Totals["failed"] != "10.00" || len(doc.Exceptions) != 1 {
		t.Errorf("json = %s", b)
	}
	var e map[string]any
	json.Unmarshal(doc.Exceptions[0], &e)
	if e["amount"] != "10.00" || e["reason"] != hostile {
		t.Errorf("exception json = %s", doc.Exceptions[0])
	}

	h, err := os.ReadFile(filepath.Join(dir, "reconciliation.html"))
	if err != nil {
		t.Fatal(err)
	}
	html := string(h)
	if strings.Contains(html, "<script>") || strings.Contains(html, "<img") {
		t.Errorf("html not escaped:\n%s", html)
	}
	if !strings.Contains(html, "&lt;script&gt;") || !strings.Contains(html, "10.00") {
		t.Errorf("html lacks the escaped reason or the amount:\n%s", html)
	}
}

func TestWriteRejectsUnknownFormat(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "d")
	if _, err := reconcile.Write(dir, &reconcile.Report{}, "csv", "pdf"); err == nil {
		t.Fatal("Write with format pdf succeeded")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("directory created for a refused format: %v", err)
	}
}

func TestWriteSummary(t *testing.T) {
	t.Parallel()
	f := everyKind(t)
	r := f.build(after)
	dir := t.TempDir()
	if _, err := reconcile.Write(dir, r, "csv", "html"); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	reconcile.WriteSummary(&b, r)
	out := b.String()
	for _, want := range []string{"  receipts         1150.00\n", "  in_flight         500.00\n", "  balanced            true\n",
		"14 exceptions", "  failed                2\n", "  skipped_allocation    2\n", filepath.Join(dir, "reconciliation.html"), filepath.Join(dir, "totals.csv")} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	one := *r
	one.Exceptions = r.Exceptions[:1]
	b.Reset()
	reconcile.WriteSummary(&b, &one)
	if !strings.Contains(b.String(), "\n1 exception:\n") {
		t.Errorf("a summary of one exception does not say \"1 exception:\":\n%s", b.String())
	}
}

func TestFinishStoresTotals(t *testing.T) {
	t.Parallel()
	f := everyKind(t)
	r := f.build(after)
	if err := reconcile.Finish(context.Background(), f.db, r, after); err != nil {
		t.Fatal(err)
	}
	// A second reconciliation later replaces the totals but keeps when the run first finished.
	if err := reconcile.Finish(context.Background(), f.db, r, after.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var row struct {
		Status     string       `db:"status"`
		FinishedAt sql.NullTime `db:"finished_at"`
		Totals     []byte       `db:"totals"`
	}
	if err := f.db.Get(&row, `SELECT status, finished_at, totals FROM runs WHERE id=$1`, f.runID); err != nil {
		t.Fatal(err)
	}
	if row.Status != "reconciled" || !row.FinishedAt.Valid || !row.FinishedAt.Time.Equal(after) {
		t.Errorf("run = %q %v", row.Status, row.FinishedAt)
	}
	var stored reconcile.Totals
	if err := json.Unmarshal(row.Totals, &stored); err != nil {
		t.Fatalf("%v: %s", err, row.Totals)
	}
	wantDecimal(t, "stored receipts", stored.Receipts, "1150")
	wantDecimal(t, "stored in flight", stored.InFlight, "500")
	if stored.Exceptions != r.Totals.Exceptions || stored.Journals != 10 || !stored.Balanced {
		t.Errorf("stored = %+v", stored)
	}
	var receiptsText string
	if err := f.db.Get(&receiptsText, `SELECT totals->>'receipts' FROM runs WHERE id=$1`, f.runID); err != nil || receiptsText != "1150.00" {
		t.Errorf("totals->>'receipts' = %q (%v), want 1150.00", receiptsText, err)
	}
}

func TestCSVNeutralisesFormulas(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := &reconcile.Report{BusinessDate: "2026-11-20", Exceptions: []reconcile.Exception{
		{Kind: "failed", ReceiptID: "R1", ClientRef: "=HYPERLINK(\"http://x\")", Reason: "@SUM(A1)"},
	}}
	paths, err := reconcile.Write(dir, r, "csv")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"'=HYPERLINK(""http://x"")"`) || !strings.Contains(string(b), "'@SUM(A1)") {
		t.Fatalf("formula not neutralised:\n%s", b)
	}
}

func TestAwaitingReceiptIsNotForAPerson(t *testing.T) {
	t.Parallel()
	r := &reconcile.Report{Totals: reconcile.Totals{Balanced: true},
		Exceptions: []reconcile.Exception{{Kind: reconcile.KindAwaitingReceipt, ReceiptID: "R9"}}}
	if r.ExitCode() != 0 {
		t.Fatalf("exit %d with only an allocation awaiting its receipt, want 0", r.ExitCode())
	}
	r.Exceptions = append(r.Exceptions, reconcile.Exception{Kind: reconcile.KindSkippedAllocation})
	if r.ExitCode() != 3 {
		t.Fatalf("exit %d with a skipped allocation, want 3", r.ExitCode())
	}
}

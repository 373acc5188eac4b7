package plan_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/batch/plan"
	"github.com/cashpool/cashpool/batch/schema/schematest"
)

func TestMain(m *testing.M) { schematest.Main(m) }

const sweep = "8f8c8cee-2591-4f83-be12-82c659b5e748"

func acct(n int) string { return fmt.Sprintf("c0000000-0000-4000-8000-%012d", n) }

// load inserts receipts "id:amount[:date]" and allocations "receipt:account:amount|wWEIGHT:ref".
func load(t testing.TB, db *sqlx.DB, receipts, allocations []string) {
	t.Helper()
	db.MustExec(`INSERT INTO files (sha256, name, kind, status, received_at) VALUES ('r', 'r.csv', 'receipts', 'loaded', now()), ('a', 'a.csv', 'allocations', 'loaded', now())`)
	for i, r := range receipts {
		f := strings.Split(r, ":")
		date := "2026-11-20"
		if len(f) > 2 {
			date = f[2]
		}
		db.MustExec(`INSERT INTO receipts VALUES ($1, 1, $2, $3, $4, 'USD', 'Orig', 'ACC1', 'Bank', 'Addr', 'ref')`, f[0], i+2, date, f[1])
	}
	for i, a := range allocations {
		f := strings.Split(a, ":")
		var amount, weight any
		if strings.HasPrefix(f[2], "w") {
			weight = f[2][1:]
		} else {
			amount = f[2]
		}
		db.MustExec(`INSERT INTO allocations (file_id, line, receipt_id, account_id, amount, weight, client_ref, description)
			VALUES (2, $1, $2, $3, $4, $5, $6, 'desc')`, i+2, f[0], f[1], amount, weight, f[3])
	}
}

func planDate(t testing.TB, db *sqlx.DB, date string, batchSize int) plan.Result {
	t.Helper()
	res, err := plan.Plan(context.Background(), db, plan.Config{SweepAccount: sweep, BusinessDate: date, BatchSize: batchSize,
		JournalLimit: decimal.RequireFromString("1000.00")})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestPlanControlTotals(t *testing.T) {
	t.Parallel()
	db := schematest.DB(t)
	load(t, db,
		[]string{"R1:100.00", "R2:50.00", "R3:10.00", "R4:30.00", "R5:5.00:2026-11-21"},
		[]string{
			"R1:" + acct(1) + ":20.00:a", "R1:" + acct(2) + ":w1:b", "R1:" + acct(3) + ":w2:c", // 20 + 80 split 1:2
			"R2:" + acct(1) + ":30.00:a", "R2:" + acct(2) + ":30.00:b", // over-allocated: held
			"R4:" + acct(4) + ":10.00:a", "R4:" + sweep + ":5.00:b", // to the sweep account itself: held
			"R9:" + acct(5) + ":1.00:a", // no such receipt yet
			"R5:" + acct(6) + ":5.00:a", // receipt dated after the business date
		})
	res := planDate(t, db, "2026-11-20", 500)
	if res.Receipts != 4 || res.Held != 2 || res.Journals != 3 || res.Batches != 1 {
		t.Fatalf("result %+v", res)
	}
	if !res.Planned.Equal(decimal.RequireFromString("100.00")) {
		t.Fatalf("planned %s", res.Planned)
	}
	type rr struct {
		ID          string `db:"receipt_id"`
		Allocated   string `db:"allocated"`
		Unallocated string `db:"unallocated"`
		Held        bool   `db:"held"`
	}
	var got []rr
	db.Select(&got, `SELECT receipt_id, allocated::text, unallocated::text, held FROM run_receipts ORDER BY receipt_id`)
	want := []rr{{"R1", "100.00", "0.00", false}, {"R2", "0.00", "50.00", true}, {"R3", "0.00", "10.00", false}, {"R4", "0.00", "30.00", true}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("run_receipts %v, want %v", got, want)
	}
	var amounts []string
	db.Select(&amounts, `SELECT client_ref || '=' || amount::text FROM journals WHERE receipt_id = 'R1' ORDER BY client_ref`)
	if strings.Join(amounts, " ") != "a=20.00 b=26.67 c=53.33" {
		t.Fatalf("R1 journals %v", amounts)
	}
	var skipped []string
	db.Select(&skipped, `SELECT a.receipt_id || '/' || a.client_ref FROM run_skipped_allocations s JOIN allocations a ON a.id = s.allocation_id ORDER BY 1`)
	if strings.Join(skipped, " ") != "R2/a R2/b R4/a R4/b R9/a" {
		t.Fatalf("skipped %v", skipped)
	}
	var fromCSV int
	db.Get(&fromCSV, `SELECT count(*) FROM journals WHERE to_account = $1`, sweep)
	if fromCSV != 0 {
		t.Fatal("a journal to the sweep account was planned")
	}

	// Planning the same date again writes nothing; the next date takes R5 and reports R9 again.
	again := planDate(t, db, "2026-11-20", 500)
	if !again.Existed || again.RunID != res.RunID {
		t.Fatalf("re-plan %+v", again)
	}
	next := planDate(t, db, "2026-11-21", 500)
	if next.Receipts != 1 || next.Journals != 1 || next.Skipped != 1 {
		t.Fatalf("next day %+v", next)
	}
}

func TestPlanIsDeterministic(t *testing.T) {
	t.Parallel()
	var receipts, allocs []string
	for r := range 5 {
		receipts = append(receipts, fmt.Sprintf("R%d:%d.%02d", r, 1000+r*37, r*7))
		for a := range 23 {
			if a%3 == 0 {
				allocs = append(allocs, fmt.Sprintf("R%d:%s:w%d:ref%02d", r, acct(a+1), a%5+1, a))
			} else {
				allocs = append(allocs, fmt.Sprintf("R%d:%s:%d.%02d:ref%02d", r, acct(a+1), a+1, a, a))
			}
		}
	}
	dump := func() string {
		db := schematest.DB(t)
		load(t, db, receipts, allocs)
		planDate(t, db, "2026-11-20", 7)
		var rows []string
		db.Select(&rows, `SELECT seq || ' ' || idempotency_key::text || ' ' || encode(sha256(body), 'hex') FROM batches ORDER BY seq`)
		var js []string
		db.Select(&js, `SELECT journal_key::text || ' ' || amount::text || ' ' || expected_pending::text FROM journals ORDER BY journal_key`)
		return strings.Join(rows, "\n") + "\n" + strings.Join(js, "\n")
	}
	a, b := dump(), dump()
	if a != b {
		t.Fatalf("same input, different plans:\n%s\n---\n%s", a, b)
	}
	if n := strings.Count(a, "\n"); n < 100 {
		t.Fatalf("suspiciously small plan: %d lines", n)
	}
}

// TestPlanAcrossCursorChunks: a night larger than the cursor's chunks, with receipts and batches
// straddling the chunk boundaries, is planned whole: every allocation once, batches numbered without
// gaps, each holding the journals its body lists, and the money planned is the money allocated.
func TestPlanAcrossCursorChunks(t *testing.T) {
	t.Parallel()
	db := schematest.DB(t)
	loadChunks(db)
	res, err := plan.Plan(context.Background(), db, plan.Config{SweepAccount: sweep, BusinessDate: "2026-11-20", BatchSize: 333})
	if err != nil {
		t.Fatal(err)
	}
	if res.Journals != 10010 || res.Batches != 31 || res.Receipts != 1430 || !res.Planned.Equal(decimal.RequireFromString("40040.00")) {
		t.Fatalf("planned %d journals in %d batches from %d receipts, %s; want 10010 in 31 from 1430, 40040.00",
			res.Journals, res.Batches, res.Receipts, res.Planned)
	}
	var check struct {
		Allocations, Journals, Batches, Orphans, Mismatched, RunReceipts int
		FirstSeq, LastSeq                                                string
		Amount                                                           decimal.Decimal
	}
	if err := db.Get(&check, `SELECT
		(SELECT count(DISTINCT allocation_id) FROM journals) AS allocations,
		(SELECT count(*) FROM journals) AS journals,
		(SELECT count(*) FROM batches) AS batches,
		(SELECT count(*) FROM journals j WHERE NOT EXISTS (SELECT 1 FROM batches b WHERE b.id = j.batch_id AND b.run_id = j.run_id)) AS orphans,
		(SELECT count(*) FROM batches b WHERE b.entries <> (SELECT count(*) FROM journals j WHERE j.batch_id = b.id)
		    OR b.entries <> jsonb_array_length(convert_from(b.body, 'UTF8')::jsonb -> 'entries')) AS mismatched,
		(SELECT min(seq) FROM batches) AS firstseq, (SELECT max(seq) FROM batches) AS lastseq,
		(SELECT sum(amount) FROM journals) AS amount,
		(SELECT count(*) FROM run_receipts) AS runreceipts`); err != nil {
		t.Fatal(err)
	}
	if check.Allocations != 10010 || check.Journals != 10010 || check.Batches != 31 || check.Orphans != 0 || check.Mismatched != 0 ||
		check.FirstSeq != "000001" || check.LastSeq != "000031" || !check.Amount.Equal(decimal.RequireFromString("40040.00")) ||
		check.RunReceipts != 1430 {
		t.Fatalf("plan across chunks: %+v", check)
	}
}

// BenchmarkPlan100k plans a night of 100,000 allocations over 1,000 receipts (a quarter by weight)
// into 200 batches.
func BenchmarkPlan100k(b *testing.B) {
	ctx := context.Background()
	var journals int
	for range b.N {
		b.StopTimer()
		db := schematest.DB(b)
		db.MustExec(`INSERT INTO files (sha256, name, kind, status, received_at) VALUES ('r', 'r.csv', 'receipts', 'loaded', now()), ('a', 'a.csv', 'allocations', 'loaded', now())`)
		db.MustExec(`INSERT INTO receipts SELECT 'R' || g, 1, g, '2026-11-20', 1000000.00, 'USD', 'O', 'A', 'B', 'C', 'r' FROM generate_series(1, 1000) g`)
		db.MustExec(`INSERT INTO allocations (file_id, line, receipt_id, account_id, amount, weight, client_ref, description)
			SELECT 2, g, 'R' || (g % 1000 + 1), ('c0000000-0000-4000-8000-' || lpad((g % 30 + 1)::text, 12, '0'))::uuid,
			       CASE WHEN g % 4 = 0 THEN NULL ELSE 100.00 END, CASE WHEN g % 4 = 0 THEN g % 7 + 1 END, 'ref' || g, 'd'
			FROM generate_series(1, 100000) g`)
		b.StartTimer()
		res, err := plan.Plan(ctx, db, plan.Config{SweepAccount: sweep, BusinessDate: "2026-11-20", BatchSize: 500})
		if err != nil {
			b.Fatal(err)
		}
		if res.Journals != 100000 {
			b.Fatalf("planned %d journals", res.Journals)
		}
		journals += res.Journals
	}
	b.ReportMetric(float64(journals)/b.Elapsed().Seconds(), "journals/s")
}

func TestAllocationAwaitsItsReceiptUntilTheDeadline(t *testing.T) {
	t.Parallel()
	db := schematest.DB(t)
	load(t, db, []string{"R1:10.00"}, []string{"R1:" + acct(1) + ":10.00:a", "R7:" + acct(2) + ":5.00:b"})
	received := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	db.MustExec(`UPDATE files SET received_at = $1`, received)
	awaiting := func(date string, now time.Time) (bool, string) {
		res, err := plan.Plan(context.Background(), db, plan.Config{SweepAccount: sweep, BusinessDate: date,
			AwaitReceiptFor: 48 * time.Hour, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		var row struct {
			Awaiting bool   `db:"awaiting"`
			Reason   string `db:"reason"`
		}
		if err := db.Get(&row, `SELECT awaiting, reason FROM run_skipped_allocations WHERE run_id = $1`, res.RunID); err != nil {
			t.Fatal(err)
		}
		return row.Awaiting, row.Reason
	}
	if ok, why := awaiting("2026-11-20", received.Add(time.Hour)); !ok || !strings.Contains(why, "until 2026-11-22 12:00 UTC") {
		t.Fatalf("within the wait: awaiting=%v %q", ok, why)
	}
	if ok, why := awaiting("2026-11-23", received.Add(72*time.Hour)); ok || !strings.Contains(why, "never arrived") {
		t.Fatalf("past the wait: awaiting=%v %q", ok, why)
	}
}

// An allocation to the sweep account holds its whole receipt: dropping it would let the other
// weights take its share. R1 (90.00 by weights 1:1:1, one of them to the sweep account) would have
// paid 45.00 + 45.00; R2 is planned as usual.
func TestSweepAllocationHoldsItsReceipt(t *testing.T) {
	t.Parallel()
	db := schematest.DB(t)
	load(t, db, []string{"R1:90.00", "R2:10.00"}, []string{
		"R1:" + acct(1) + ":w1:a", "R1:" + acct(2) + ":w1:b", "R1:" + strings.ToUpper(sweep) + ":w1:s",
		"R2:" + acct(3) + ":10.00:a",
	})
	res := planDate(t, db, "2026-11-20", 500)
	if res.Receipts != 2 || res.Held != 1 || res.Journals != 1 || !res.Planned.Equal(decimal.RequireFromString("10.00")) {
		t.Fatalf("result %+v", res)
	}
	var journals []string
	db.Select(&journals, `SELECT receipt_id || '/' || client_ref || '=' || amount::text FROM journals ORDER BY 1`)
	if strings.Join(journals, " ") != "R2/a=10.00" {
		t.Fatalf("journals %v, want only R2/a=10.00", journals)
	}
	var r1 struct {
		Allocated   string `db:"allocated"`
		Unallocated string `db:"unallocated"`
		Held        bool   `db:"held"`
		Reason      string `db:"reason"`
	}
	if err := db.Get(&r1, `SELECT allocated::text, unallocated::text, held, reason FROM run_receipts WHERE receipt_id = 'R1'`); err != nil {
		t.Fatal(err)
	}
	if r1.Allocated != "0.00" || r1.Unallocated != "90.00" || !r1.Held || !strings.Contains(r1.Reason, "allocation s is to the sweep account") {
		t.Fatalf("R1 %+v", r1)
	}
	var skipped []string
	db.Select(&skipped, `SELECT a.client_ref || ': ' || s.reason FROM run_skipped_allocations s JOIN allocations a ON a.id = s.allocation_id ORDER BY 1`)
	want := []string{"a: receipt R1 held: allocation to the sweep account", "b: receipt R1 held: allocation to the sweep account",
		"s: receipt R1 held: allocation to the sweep account"}
	if fmt.Sprint(skipped) != fmt.Sprint(want) {
		t.Fatalf("skipped %q, want %q", skipped, want)
	}
}

// Ties of the split go to the bytewise lower client_ref whatever the database's collation. On an
// en-US database "a1" < "b1" < "B2"; byte by byte "B2" < "a1" < "b1". 0.02 in thirds leaves two
// cents to hand out: to B2 and a1. The journals of a receipt are listed in byte order too.
func TestSplitTieBreakIgnoresDatabaseCollation(t *testing.T) {
	t.Parallel()
	db := schematest.CollatedDB(t, "en-US")
	var locale []string
	db.Select(&locale, `SELECT v FROM (VALUES ('a1'), ('b1'), ('B2')) t(v) ORDER BY v`)
	if strings.Join(locale, " ") != "a1 b1 B2" {
		t.Fatalf("the test database does not collate as en-US: %v", locale)
	}
	load(t, db, []string{"R1:0.02", "R2:5.00"}, []string{
		"R1:" + acct(1) + ":w1:a1", "R1:" + acct(2) + ":w1:b1", "R1:" + acct(3) + ":w1:B2",
		"R2:" + acct(1) + ":1.00:x", "R2:" + acct(2) + ":4.00:X",
	})
	planDate(t, db, "2026-11-20", 500)
	var got []string
	db.Select(&got, `SELECT client_ref || '=' || amount::text FROM journals ORDER BY id`)
	if want := "B2=0.01 a1=0.01 X=4.00 x=1.00"; strings.Join(got, " ") != want {
		t.Fatalf("journals %v, want %s", got, want)
	}
}

// The hold rules, one receipt each: R1's refused file names only an allocation another file
// loaded (not held); R2's names one nobody loaded (held); R3's file was released (not held); R4 is
// named by a file still being written (held); R5 is named by R2's file but dated after the
// business date (not this run's). Then a waiting file that cannot be read holds the whole night.
func TestIncompleteAllocationSetsHoldReceipts(t *testing.T) {
	t.Parallel()
	db := schematest.DB(t)
	load(t, db, []string{"R1:10.00", "R2:20.00", "R3:30.00", "R4:40.00", "R5:50.00:2026-11-21", "R6:60.00"}, []string{
		"R1:" + acct(1) + ":w1:x", "R2:" + acct(2) + ":w1:a", "R3:" + acct(3) + ":w1:a", "R4:" + acct(4) + ":w1:a",
		"R6:" + acct(6) + ":6.00:a",
	})
	db.MustExec(`INSERT INTO files (id, sha256, name, kind, status, received_at, released_at) VALUES
		(11, 'f1', 'alloc-1.csv', 'allocations', 'rejected', now(), NULL),
		(12, 'f2', 'alloc-2.csv', 'allocations', 'rejected', now(), NULL),
		(13, 'f3', 'alloc-3.csv', 'allocations', 'rejected', now(), now())`)
	db.MustExec(`INSERT INTO refused_allocations (file_id, receipt_id, client_ref) VALUES
		(11, 'R1', 'x'), (12, 'R2', 'b'), (12, 'R5', ''), (13, 'R3', 'b')`)
	db.MustExec(`INSERT INTO drop_scans (drop_dir, name, size, mtime_ns, seen_at) VALUES ('/d', 'alloc-4.csv', 1, 1, now())`)
	db.MustExec(`INSERT INTO drop_scan_receipts (drop_dir, name, receipt_id) VALUES ('/d', 'alloc-4.csv', 'R4')`)

	res := planDate(t, db, "2026-11-20", 500)
	if res.Waiting != 2 || res.NightHeld || res.Receipts != 3 {
		t.Fatalf("result %+v", res)
	}
	var held []string
	db.Select(&held, `SELECT receipt_id || ' ' || file || ' ' || waiting::text FROM run_held_receipts WHERE run_id = $1 ORDER BY 1`, res.RunID)
	if got := strings.Join(held, ", "); got != "R2 alloc-2.csv false, R4 alloc-4.csv true" {
		t.Fatalf("held %s", got)
	}
	var planned []string
	db.Select(&planned, `SELECT receipt_id FROM run_receipts ORDER BY 1`)
	if got := strings.Join(planned, " "); got != "R1 R3 R6" {
		t.Fatalf("planned %s", got)
	}

	// The next night: R2's missing allocation arrives, R4's file is still being written and can
	// no longer be read; nothing is planned.
	db.MustExec(`INSERT INTO allocations (file_id, line, receipt_id, account_id, weight, client_ref, description)
		VALUES (2, 99, 'R2', $1, 1, 'b', 'desc')`, acct(5))
	db.MustExec(`UPDATE drop_scans SET receipts_unread = true`)
	next := planDate(t, db, "2026-11-21", 500)
	if !next.NightHeld || next.Receipts != 0 || next.Journals != 0 {
		t.Fatalf("next night %+v", next)
	}
	held = nil
	db.Select(&held, `SELECT '[' || receipt_id || '] ' || file FROM run_held_receipts WHERE run_id = $1`, next.RunID)
	if got := strings.Join(held, ", "); got != "[] alloc-4.csv" {
		t.Fatalf("held %s", got)
	}

	// Taken at last: the night after plans R2 with both its allocations, and R4. R5, now due, is
	// held: alloc-2.csv names it with a client_ref that could not be read, which no file can match.
	db.MustExec(`DELETE FROM drop_scans`)
	after := planDate(t, db, "2026-11-22", 500)
	var amounts []string
	db.Select(&amounts, `SELECT receipt_id || '/' || client_ref || '=' || amount::text FROM journals WHERE run_id = $1 ORDER BY 1`, after.RunID)
	if got := strings.Join(amounts, " "); got != "R2/a=10.00 R2/b=10.00 R4/a=40.00" || after.Receipts != 2 || after.Waiting != 1 {
		t.Fatalf("after: %+v, journals %s", after, got)
	}
}

// TestPlanWritesNoHistory: a planned journal is its own record of its planning (status planned,
// updated_at the plan's time); its history starts with its first change, so planning a night
// writes no history row (at a million journals a row and two index entries each).
func TestPlanWritesNoHistory(t *testing.T) {
	t.Parallel()
	db := schematest.DB(t)
	load(t, db, []string{"R1:100.00"}, []string{"R1:" + acct(1) + ":40.00:a", "R1:" + acct(2) + ":60.00:b"})
	if res := planDate(t, db, "2026-11-20", 500); res.Journals != 2 {
		t.Fatalf("result %+v", res)
	}
	var planned, history int
	if err := db.Get(&planned, `SELECT count(*) FROM journals WHERE status = 'planned'`); err != nil || planned != 2 {
		t.Fatalf("planned journals: %d (%v), want 2", planned, err)
	}
	if err := db.Get(&history, `SELECT count(*) FROM journal_history`); err != nil || history != 0 {
		t.Fatalf("history rows after planning: %d (%v), want 0", history, err)
	}
}

// A plan that wrote a night's journals leaves their statistics fresh: the reads of the whole
// night after it (the cash check, counts, the report) are planned on what the table holds.
func TestPlanRefreshesTheJournalsStatistics(t *testing.T) {
	t.Parallel()
	db := schematest.DB(t)
	var allocs []string
	for i := range 40 {
		allocs = append(allocs, fmt.Sprintf("R1:%s:1.00:c%d", acct(i+1), i))
	}
	load(t, db, []string{"R1:40.00"}, allocs)
	tuples := func() (n float64) {
		t.Helper()
		if err := db.Get(&n, `SELECT reltuples FROM pg_class WHERE oid = 'journals'::regclass`); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := tuples(); n > 0 {
		t.Fatalf("journals' statistics know %v rows before any plan", n)
	}
	if res := planDate(t, db, "2026-11-20", 500); res.Journals != 40 {
		t.Fatalf("plan %+v", res)
	}
	if n := tuples(); n != 40 {
		t.Fatalf("journals' statistics know %v rows after a plan of 40 journals, want 40", n)
	}
}

// Each journal carries its own receipt's originator as its transmitter (the Travel Rule fields),
// across the cursor's chunks, with receipts of every originator different and some of them
// holding what a bank's free text may (a tab, a quote, a backslash, a multi-byte character).
// The oracle is the formula the receipts were written with.
func TestPlanTransmitterIsEachJournalsOwnReceipt(t *testing.T) {
	t.Parallel()
	db := schematest.DB(t)
	db.MustExec(`INSERT INTO files (sha256, name, kind, status, received_at) VALUES ('r', 'r.csv', 'receipts', 'loaded', now()), ('a', 'a.csv', 'allocations', 'loaded', now())`)
	db.MustExec(`INSERT INTO receipts SELECT 'R' || lpad(g::text, 5, '0'), 1, g, '2026-11-20', 28.00, 'USD',
		'Name ' || g || CASE g % 4 WHEN 0 THEN E'\t"x"' WHEN 1 THEN E' \\ é' ELSE '' END, 'Acct ' || g, 'Bank ' || g, 'Addr ' || g, 'r'
		FROM generate_series(1, 1430) g`)
	db.MustExec(`INSERT INTO allocations (file_id, line, receipt_id, account_id, amount, client_ref, description)
		SELECT 2, g, 'R' || lpad(((g - 1) / 7 + 1)::text, 5, '0'), ('c0000000-0000-4000-8000-' || lpad((g % 30 + 1)::text, 12, '0'))::uuid,
		       (g - 1) % 7 + 1, 'ref' || g, 'd'
		FROM generate_series(1, 10010) g`)
	if res := planDate(t, db, "2026-11-20", 333); res.Journals != 10010 {
		t.Fatalf("planned %d journals, want 10010", res.Journals)
	}
	var got struct{ Entries, Wrong int }
	if err := db.Get(&got, `
		WITH e AS (
			SELECT j.receipt_id, ltrim(j.receipt_id, 'R0')::int AS g, v
			FROM batches b, jsonb_array_elements(convert_from(b.body, 'UTF8')::jsonb -> 'entries') AS v
			JOIN journals j ON right(v ->> 'description', 36) = j.journal_key::text
			WHERE j.batch_id = b.id)
		SELECT count(*) AS entries,
		       count(*) FILTER (WHERE v ->> 'transmitter_name' <> 'Name ' || g || CASE g % 4 WHEN 0 THEN E'\t"x"' WHEN 1 THEN E' \\ é' ELSE '' END
		                           OR v ->> 'transmitter_account_number' <> 'Acct ' || g
		                           OR v ->> 'transmitter_financial_institution' <> 'Bank ' || g
		                           OR v ->> 'transmitter_address' <> 'Addr ' || g) AS wrong
		FROM e`); err != nil {
		t.Fatal(err)
	}
	if got.Entries != 10010 || got.Wrong != 0 {
		t.Fatalf("%d batch entries matched to their journals (want 10010), %d with another receipt's originator", got.Entries, got.Wrong)
	}
}

package ingest_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/batch/ingest"
	"github.com/cashpool/cashpool/batch/schema/schematest"
)

func TestMain(m *testing.M) { schematest.Main(m) }

var testNow = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

type bundle struct {
	db  *sqlx.DB
	dir string
	cfg ingest.Config
}

func setup(t *testing.T) *bundle {
	t.Helper()
	dir := t.TempDir()
	return &bundle{db: schematest.DB(t), dir: dir, cfg: ingest.Config{DropDir: dir, Now: func() time.Time { return testNow }}}
}

func (b *bundle) drop(t *testing.T, name, content string, ready bool) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(b.dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if ready {
		if err := os.WriteFile(filepath.Join(b.dir, name+".ready"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func (b *bundle) dropFile(t *testing.T, src, name string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	b.drop(t, name, string(data), true)
}

func (b *bundle) run(t *testing.T) ingest.Result {
	t.Helper()
	res, err := ingest.Run(context.Background(), b.db, b.cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res
}

func (b *bundle) count(t *testing.T, q string, args ...any) int {
	t.Helper()
	var n int
	if err := b.db.Get(&n, q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func outcomeOf(t *testing.T, res ingest.Result, name string) ingest.FileResult {
	t.Helper()
	for _, f := range res.Files {
		if f.Name == name {
			return f
		}
	}
	t.Fatalf("no result for %s in %+v", name, res)
	return ingest.FileResult{}
}

func exists(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Stat(path)
	return err == nil
}

func TestLoadsGoodFiles(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.dropFile(t, "testdata/good/receipts_base.csv", "receipts_base.csv")
	b.dropFile(t, "testdata/good/allocations_base.csv", "allocations_base.csv")
	res := b.run(t)
	for _, name := range []string{"receipts_base.csv", "allocations_base.csv"} {
		f := outcomeOf(t, res, name)
		if f.Outcome != ingest.OutcomeLoaded {
			t.Fatalf("%s: outcome %s, problems %v", name, f.Outcome, f.Problems)
		}
		if f.MovedTo != "archive/"+name || !exists(t, filepath.Join(b.dir, "archive", name)) {
			t.Fatalf("%s: moved to %q", name, f.MovedTo)
		}
		if !exists(t, filepath.Join(b.dir, "archive", name+".ready")) {
			t.Fatalf("%s: marker did not follow the file", name)
		}
		if exists(t, filepath.Join(b.dir, name)) {
			t.Fatalf("%s still in the drop folder", name)
		}
	}
	if res.Files[0].Name != "receipts_base.csv" {
		t.Fatalf("receipts must be handled first, got %s", res.Files[0].Name)
	}
	if n := b.count(t, `SELECT count(*) FROM receipts`); n != 3 {
		t.Fatalf("receipts: %d rows, want 3", n)
	}
	if n := b.count(t, `SELECT count(*) FROM allocations`); n != 4 {
		t.Fatalf("allocations: %d rows, want 4", n)
	}
	if n := b.count(t, `SELECT count(*) FROM files WHERE status = 'loaded' AND rows > 0`); n != 2 {
		t.Fatalf("files loaded: %d, want 2", n)
	}

	var rc struct {
		Amount  decimal.Decimal `db:"amount"`
		Address string          `db:"originator_address"`
		Line    int             `db:"line"`
		Bank    string          `db:"originator_bank"`
	}
	if err := b.db.Get(&rc, `SELECT amount, originator_address, line, originator_bank FROM receipts WHERE receipt_id = 'R-1002'`); err != nil {
		t.Fatal(err)
	}
	if !rc.Amount.Equal(decimal.RequireFromString("2500.50")) || rc.Address != "22 Elm Rd\nApt 4\nShelbyville" || rc.Line != 3 {
		t.Fatalf("R-1002 = %+v", rc)
	}
	if err := b.db.Get(&rc, `SELECT amount, originator_address, line, originator_bank FROM receipts WHERE receipt_id = 'R-1003'`); err != nil {
		t.Fatal(err)
	}
	// R-1003 starts on physical line 6: R-1002 spans lines 3 to 5.
	if rc.Line != 6 || rc.Bank != `Bank "Quoted" NA` {
		t.Fatalf("R-1003 = %+v", rc)
	}

	var a struct {
		Account string              `db:"account_id"`
		Weight  decimal.NullDecimal `db:"weight"`
		Amount  decimal.NullDecimal `db:"amount"`
		Line    int                 `db:"line"`
	}
	if err := b.db.Get(&a, `SELECT account_id, weight, amount, line FROM allocations WHERE client_ref = 'C-3'`); err != nil {
		t.Fatal(err)
	}
	if a.Account != "1a2b3c4d-0000-4000-8000-00000000000b" || !a.Weight.Valid || a.Amount.Valid ||
		!a.Weight.Decimal.Equal(decimal.RequireFromString("0.5000000001")) || a.Line != 4 {
		t.Fatalf("C-3 = %+v", a)
	}
}

func TestCompleteWhenStableAcrossTwoScans(t *testing.T) {
	t.Parallel()
	b := setup(t)
	good, err := os.ReadFile("testdata/good/receipts_base.csv")
	if err != nil {
		t.Fatal(err)
	}
	half := string(good[:len(good)/2])
	b.drop(t, "receipts_1.csv", half, false)
	if f := outcomeOf(t, b.run(t), "receipts_1.csv"); f.Outcome != ingest.OutcomeIncomplete {
		t.Fatalf("first scan: %s, want %s", f.Outcome, ingest.OutcomeIncomplete)
	}
	// The copy goes on between scans: the size changed, so still not complete.
	b.drop(t, "receipts_1.csv", string(good), false)
	if f := outcomeOf(t, b.run(t), "receipts_1.csv"); f.Outcome != ingest.OutcomeIncomplete {
		t.Fatalf("second scan after growth: %s, want %s", f.Outcome, ingest.OutcomeIncomplete)
	}
	if n := b.count(t, `SELECT count(*) FROM receipts`); n != 0 {
		t.Fatalf("%d receipts loaded from an incomplete file", n)
	}
	if f := outcomeOf(t, b.run(t), "receipts_1.csv"); f.Outcome != ingest.OutcomeLoaded || f.Rows != 3 {
		t.Fatalf("stable scan: %+v", f)
	}
	if n := b.count(t, `SELECT count(*) FROM drop_scans`); n != 0 {
		t.Fatalf("%d scan rows left for files no longer waiting", n)
	}
}

func TestDuplicateBytesUnderAnotherName(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.dropFile(t, "testdata/good/receipts_base.csv", "receipts_a.csv")
	b.run(t)
	b.dropFile(t, "testdata/good/receipts_base.csv", "receipts_b.csv")
	f := outcomeOf(t, b.run(t), "receipts_b.csv")
	if f.Outcome != ingest.OutcomeDuplicate || f.MovedTo != "rejected/receipts_b.csv" {
		t.Fatalf("second delivery: %+v", f)
	}
	errs, err := os.ReadFile(filepath.Join(b.dir, "rejected", "receipts_b.csv.errors.csv"))
	if err != nil {
		t.Fatal(err)
	}
	want := "duplicate of receipts_a.csv loaded at 2026-11-24T12:00:00Z"
	if !strings.Contains(string(errs), want) {
		t.Fatalf("errors file %q does not say %q", errs, want)
	}
	if n := b.count(t, `SELECT count(*) FROM receipts`); n != 3 {
		t.Fatalf("receipts: %d rows, want 3", n)
	}
}

// A crash after commit and before the move leaves a loaded file in the folder; the next scan
// recognises its bytes under its own name and only archives it.
func TestArchivesFileLoadedBeforeACrash(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.dropFile(t, "testdata/good/receipts_base.csv", "receipts_a.csv")
	b.run(t)
	b.dropFile(t, "testdata/good/receipts_base.csv", "receipts_a.csv")
	f := outcomeOf(t, b.run(t), "receipts_a.csv")
	if f.Outcome != ingest.OutcomeLoaded || !f.Recovered || f.Rows != 3 || f.MovedTo != "archive/receipts_a~1.csv" {
		t.Fatalf("recovery: %+v", f)
	}
	if n := b.count(t, `SELECT count(*) FROM receipts`); n != 3 {
		t.Fatalf("receipts: %d rows, want 3", n)
	}
}

func TestRejectedFileIsRecordedAndKept(t *testing.T) {
	t.Parallel()
	b := setup(t)
	content := "receipt_id,account_id,amount,weight,client_ref,description\n" +
		"R-1,0d9f6e2c-3b1a-4c5d-8e7f-123456789abc,\"1,000.00\",,C-1,\n" +
		"R-1,0d9f6e2c-3b1a-4c5d-8e7f-123456789abc,10.00,,C-2,=HYPERLINK()\n"
	b.drop(t, "allocations_x.csv", content, true)
	f := outcomeOf(t, b.run(t), "allocations_x.csv")
	if f.Outcome != ingest.OutcomeRejected || f.Errors != 1 || f.MovedTo != "rejected/allocations_x.csv" {
		t.Fatalf("%+v", f)
	}
	kept, err := os.ReadFile(filepath.Join(b.dir, "rejected", "allocations_x.csv"))
	if err != nil || string(kept) != content {
		t.Fatalf("rejected file not kept byte for byte: %v", err)
	}
	errs, err := os.ReadFile(filepath.Join(b.dir, "rejected", "allocations_x.csv.errors.csv"))
	if err != nil {
		t.Fatal(err)
	}
	want := "line,column,field,value,problem\n" +
		"2,3,amount,\"1,000.00\",\"amount must not contain thousands separators: write 1000.00, not 1,000.00\"\n"
	if string(errs) != want {
		t.Fatalf("errors file:\n%s\nwant:\n%s", errs, want)
	}
	var row struct {
		Status string `db:"status"`
		Errors int    `db:"errors"`
		Reason string `db:"reason"`
		Rows   int    `db:"rows"`
	}
	if err := b.db.Get(&row, `SELECT status, errors, reason, rows FROM files WHERE name = 'allocations_x.csv'`); err != nil {
		t.Fatal(err)
	}
	wantReason := "line 2, column 3 (amount): amount must not contain thousands separators: write 1000.00, not 1,000.00"
	if row.Status != "rejected" || row.Errors != 1 || row.Rows != 0 || row.Reason != wantReason {
		t.Fatalf("files row %+v", row)
	}
	if n := b.count(t, `SELECT count(*) FROM allocations`); n != 0 {
		t.Fatalf("%d allocations loaded from a rejected file", n)
	}

	// The same bad bytes again, under the same name: checked again, kept again, never overwritten.
	b.drop(t, "allocations_x.csv", content, true)
	f = outcomeOf(t, b.run(t), "allocations_x.csv")
	if f.Outcome != ingest.OutcomeRejected || f.MovedTo != "rejected/allocations_x~1.csv" ||
		!exists(t, filepath.Join(b.dir, "rejected", "allocations_x~1.csv.errors.csv")) ||
		!exists(t, filepath.Join(b.dir, "rejected", "allocations_x~1.csv.ready")) {
		t.Fatalf("second rejection: %+v", f)
	}
	if n := b.count(t, `SELECT count(*) FROM files`); n != 1 {
		t.Fatalf("%d files rows, want 1", n)
	}
}

func TestErrorsFileIsCapped(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var sb strings.Builder
	sb.WriteString("receipt_id,account_id,amount,weight,client_ref,description\n")
	for i := 0; i < ingest.MaxProblems+234; i++ {
		sb.WriteString("R-1,not-a-uuid,10.00,,C-1,\n")
	}
	b.drop(t, "allocations_many.csv", sb.String(), true)
	f := outcomeOf(t, b.run(t), "allocations_many.csv")
	if f.Errors != ingest.MaxProblems+234 || len(f.Problems) != ingest.MaxProblems {
		t.Fatalf("errors %d, listed %d", f.Errors, len(f.Problems))
	}
	errs, err := os.ReadFile(filepath.Join(b.dir, "rejected", "allocations_many.csv.errors.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(errs), "\n"), "\n")
	if len(lines) != 1+ingest.MaxProblems+1 || lines[len(lines)-1] != ",,,,234 more errors not listed" {
		t.Fatalf("%d lines, last %q", len(lines), lines[len(lines)-1])
	}
	if lines[1] != "2,2,account_id,not-a-uuid,account_id is not an account id: want a UUID such as 0d9f6e2c-3b1a-4c5d-8e7f-123456789abc" {
		t.Fatalf("first problem %q", lines[1])
	}
}

func TestPatternsAndIgnoredFiles(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.cfg.ReceiptsPattern = "wires_*.csv"
	b.dropFile(t, "testdata/good/receipts_crlf_header_case.csv", "WIRES_2026.CSV")
	b.dropFile(t, "testdata/good/receipts_base.csv", "receipts_base.csv")
	b.drop(t, ".hidden.csv", "x", true)
	b.drop(t, "notes.txt", "x", true)
	res := b.run(t)
	if f := outcomeOf(t, res, "WIRES_2026.CSV"); f.Outcome != ingest.OutcomeLoaded || f.Kind != ingest.KindReceipts || f.Rows != 1 {
		t.Fatalf("%+v", f)
	}
	if f := outcomeOf(t, res, "receipts_base.csv"); f.Outcome != ingest.OutcomeIgnored || !exists(t, filepath.Join(b.dir, "receipts_base.csv")) {
		t.Fatalf("%+v", f)
	}
	if len(res.Files) != 2 {
		t.Fatalf("results %+v, want only the two .csv files that are not hidden", res.Files)
	}
}

// The second file of a pair carries one row whose receipt is already loaded: it is refused whole,
// with the line, and the first file's rows stay as they were.
func TestCrossFileConflictIsARejectionNotAHalfLoad(t *testing.T) {
	t.Parallel()
	b := setup(t)
	head := "receipt_id,value_date,amount,currency,originator_name,originator_account,originator_bank,originator_address,reference\n"
	b.drop(t, "receipts_1.csv", head+"A,2026-11-23,1.00,USD,N,A,B,C,\nB,2026-11-23,2.00,USD,N,A,B,C,\n", true)
	b.drop(t, "receipts_2.csv", head+"C,2026-11-23,3.00,USD,N,A,B,C,\nB,2026-11-23,2.00,USD,N,A,B,C,\nD,2026-11-23,4.00,USD,N,A,B,C,\n", true)
	res := b.run(t)
	if f := outcomeOf(t, res, "receipts_1.csv"); f.Outcome != ingest.OutcomeLoaded {
		t.Fatalf("%+v", f)
	}
	f := outcomeOf(t, res, "receipts_2.csv")
	if f.Outcome != ingest.OutcomeRejected || len(f.Problems) != 1 ||
		f.Problems[0].String() != "line 3, column 1 (receipt_id): receipt_id B was already loaded from receipts_1.csv (line 3)" {
		t.Fatalf("%+v", f)
	}
	var sum decimal.Decimal
	if err := b.db.Get(&sum, `SELECT sum(amount) FROM receipts`); err != nil {
		t.Fatal(err)
	}
	if !sum.Equal(decimal.RequireFromString("3")) {
		t.Fatalf("receipts sum %s, want 3.00", sum)
	}
}

package ingest_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cashpool/cashpool/batch/ingest"
)

const allocationsHead = "receipt_id,account_id,amount,weight,client_ref,description\n"

// allocationLines is n good allocation rows, client_ref C-<first>..., one receipt per ten rows.
func allocationLines(first, n int) string {
	var b strings.Builder
	for i := first; i < first+n; i++ {
		fmt.Fprintf(&b, "R-%d,%08x-0000-4000-8000-%012x,%d.25,,C-%d,streamed row\n", i/10, i+1, i+1, 1+i%900, i)
	}
	return b.String()
}

// A file whose only problem is its very last line must load nothing, though all the rows before it
// were already streamed into the COPY (megabytes of it, many chunks): the COPY is rolled back.
func TestBadLastLineOfALargeFileLoadsNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const n = 100_000
	b.drop(t, "allocations_big.csv", allocationsHead+allocationLines(0, n-1)+
		"R-9,00000001-0000-4000-8000-000000000001,12.345,,C-last,streamed row\n", true)
	f := outcomeOf(t, b.run(t), "allocations_big.csv")
	if f.Outcome != ingest.OutcomeRejected || f.Errors != 1 || f.Problems[0].Line != n+1 || f.Problems[0].Field != "amount" {
		t.Fatalf("outcome %s, %d errors, problems %v; want rejected for the amount on line %d only", f.Outcome, f.Errors, f.Problems, n+1)
	}
	if got := b.count(t, `SELECT count(*) FROM allocations`); got != 0 {
		t.Fatalf("%d allocations loaded from a refused file, want 0", got)
	}
	if got := b.count(t, `SELECT count(*) FROM files WHERE status = 'rejected' AND rows = 0 AND errors = 1`); got != 1 {
		t.Fatalf("%d rejected file rows, want 1", got)
	}
}

// A row already loaded from an earlier file, early in a large file: the database refuses the COPY
// while later chunks are still being sent. Nothing of the second file is kept, the problem names
// its line, and the first file's rows stay as they were.
func TestConflictEarlyInALargeFileLoadsNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.drop(t, "allocations_1.csv", allocationsHead+allocationLines(0, 10), true)
	if f := outcomeOf(t, b.run(t), "allocations_1.csv"); f.Outcome != ingest.OutcomeLoaded {
		t.Fatalf("%+v", f)
	}
	// Line 3 repeats C-5 of receipt R-0 from the first file; 50,000 new rows follow.
	b.drop(t, "allocations_2.csv", allocationsHead+allocationLines(100, 1)+allocationLines(5, 1)+allocationLines(1000, 50_000), true)
	f := outcomeOf(t, b.run(t), "allocations_2.csv")
	want := "line 3, column 5 (client_ref): receipt_id R-0 with client_ref C-5 was already loaded from allocations_1.csv (line 7)"
	if f.Outcome != ingest.OutcomeRejected || f.Errors != 1 || f.Problems[0].String() != want {
		t.Fatalf("outcome %s, problems %v; want rejected with %q", f.Outcome, f.Problems, want)
	}
	if got := b.count(t, `SELECT count(*) FROM allocations`); got != 10 {
		t.Fatalf("%d allocations, want the first file's 10", got)
	}
}

// Every character COPY's text format gives a meaning to (backslash, tab, newline, carriage return,
// and \N and \. spelled out) arrives in the table as it was in the file.
func TestCopyKeepsEveryCharacter(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rhead := "receipt_id,value_date,amount,currency,originator_name,originator_account,originator_bank,originator_address,reference\n"
	b.drop(t, "receipts_esc.csv", rhead+
		`R\N,2026-11-23,10.00,USD,"Tab	Name",\.,"Bank\","1 Main St`+"\r\n"+`Line 2\r",\N`+"\n", true)
	b.drop(t, "allocations_esc.csv", allocationsHead+
		`R\N,1a2b3c4d-0000-4000-8000-00000000000b,,0.5,C\\.,"back\slash	tab`+"\n"+`newline \N \."`+"\n"+
		`R\N,1a2b3c4d-0000-4000-8000-00000000000c,4.00,,\,"cr`+"\r"+`here"`+"\n", true)
	res := b.run(t)
	for _, f := range res.Files {
		if f.Outcome != ingest.OutcomeLoaded {
			t.Fatalf("%s: %s %v", f.Name, f.Outcome, f.Problems)
		}
	}
	var rc struct {
		ID, Name, Account, Bank, Address, Reference string
	}
	if err := b.db.QueryRow(`SELECT receipt_id, originator_name, originator_account, originator_bank, originator_address, reference
		FROM receipts`).Scan(&rc.ID, &rc.Name, &rc.Account, &rc.Bank, &rc.Address, &rc.Reference); err != nil {
		t.Fatal(err)
	}
	// encoding/csv turns the CRLF inside the quoted address into LF; the \r spelled out stays text.
	wantRc := struct{ ID, Name, Account, Bank, Address, Reference string }{
		`R\N`, "Tab\tName", `\.`, `Bank\`, "1 Main St\nLine 2\\r", `\N`}
	if rc != wantRc {
		t.Fatalf("receipt %#v, want %#v", rc, wantRc)
	}
	rows, err := b.db.Query(`SELECT client_ref, description, amount IS NULL, weight IS NULL FROM allocations ORDER BY line`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	type alloc struct {
		Ref, Desc          string
		NoAmount, NoWeight bool
	}
	var got []alloc
	for rows.Next() {
		var a alloc
		if err := rows.Scan(&a.Ref, &a.Desc, &a.NoAmount, &a.NoWeight); err != nil {
			t.Fatal(err)
		}
		got = append(got, a)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := []alloc{
		{`C\\.`, "back\\slash\ttab\nnewline \\N \\.", true, false},
		{`\`, "cr\rhere", false, true},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("allocations %#v, want %#v", got, want)
	}
}

package ingest_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cashpool/cashpool/batch/ingest"
)

const acctA = "c0000000-0000-4000-8000-000000000001"

// What a refused or unfinished allocations file names, written out by hand: "receipt/client_ref"
// pairs in file order, or "unreadable".
func TestNamedAllocations(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		file    string
		partial bool
		want    string
	}{
		{"good", "receipt_id,account_id,amount,weight,client_ref,description\nR1," + acctA + ",1.00,,a,x\nR2," + acctA + ",,1,b,x\n", false, "R1/a R2/b"},
		{"bad amount and account still name their receipts", "receipt_id,account_id,amount,weight,client_ref,description\r\n" +
			"R1," + acctA + ",\"1,000.00\",,a,x\r\nR1,not-an-account ,12.00,,b,x\r\n", false, "R1/a R1/b"},
		{"columns in another order, spaces and quotes", "\ufeff Client_Ref ,description,RECEIPT_ID\nx,\"a, b\",\" R7 \"\n", false, "R7/x"},
		{"a stray quote swallows the next rows", "receipt_id,account_id,amount,weight,client_ref,description\n" +
			"R1," + acctA + ",\"5.00,,a,x\nR2," + acctA + ",5.00,,b,x\nR3," + acctA + ",5.00,,c,x\n", false, "R1/ R2/b R3/c"},
		{"wrong field counts", "receipt_id,client_ref\nR1\nR2,b,extra,fields\n", false, "R1/ R2/b"},
		{"unreadable client_ref is left empty", "receipt_id,client_ref\nR1,\x01bad\n", false, "R1/"},
		{"blank lines and empty rows", "receipt_id,client_ref\n\n,\nR1,a\n   \n", false, "R1/a"},
		{"empty file names nothing", "", false, ""},
		{"header only names nothing", "receipt_id,account_id,amount,weight,client_ref,description\n", false, ""},
		{"no receipt_id column", "receipt,account_id,amount\nR1," + acctA + ",1.00\n", false, "unreadable"},
		{"not a header", "R1," + acctA + ",1.00,,a,x\n", false, "unreadable"},
		{"a row without a receipt id", "receipt_id,client_ref\nR1,a\n,b\nR2,c\n", false, "unreadable"},
		{"receipt id not UTF-8", "receipt_id,client_ref\nR\xe91,a\n", false, "unreadable"},
		{"UTF-16", "\xff\xfer\x00e\x00", false, "unreadable"},
		{"NUL bytes", "receipt_id,client_ref\nR1,a\x00\n", false, "unreadable"},
		{"a long record is read whole", "receipt_id,description\nR1,\"" + strings.Repeat("x", ingest.MaxRecordBytes+10) + "\"\nR2,x\n", false, "R1/ R2/"},
		{"a stray quote swallowing more than a record's limit", "receipt_id,description\nR1,\"x\n" + strings.Repeat("R9,x\n", ingest.MaxRecordBytes/4), false, "unreadable"},
		{"still being written: a cut last line is not held against it", "client_ref,receipt_id\na,R1\nb", true, "R1/a"},
		{"complete file: a last row without receipt id is", "client_ref,receipt_id\na,R1\nb", false, "unreadable"},
		{"still being written: header cut short", "receipt_i", true, "unreadable"},
	}
	for _, c := range cases {
		named, ok, err := ingest.NamedAllocations(strings.NewReader(c.file), c.partial)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got := "unreadable"
		if ok {
			var parts []string
			for _, n := range named {
				parts = append(parts, n.ReceiptID+"/"+n.ClientRef)
			}
			got = strings.Join(parts, " ")
		}
		if got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

// A refused allocations file is recorded with what it names in the same transaction as its
// refusal; one that cannot be read is marked so; one still waiting in the folder records the
// receipts it names until it is taken.
func TestRefusedAndWaitingAllocationsAreRecorded(t *testing.T) {
	t.Parallel()
	b := setup(t)
	header := "receipt_id,account_id,amount,weight,client_ref,description\n"
	b.drop(t, "allocations-bad.csv", header+"R1,"+acctA+",\"1,000.00\",,a,x\nR2,"+acctA+",1.00,,b,x\n", true)
	b.drop(t, "allocations-binary.csv", "\xff\xfeR\x001\x00", true)
	b.drop(t, "allocations-slow.csv", header+"R3,"+acctA+",1.00,,c,x\nR4,", false)
	res := b.run(t)
	for name, want := range map[string]ingest.Outcome{
		"allocations-bad.csv": ingest.OutcomeRejected, "allocations-binary.csv": ingest.OutcomeRejected,
		"allocations-slow.csv": ingest.OutcomeIncomplete,
	} {
		if got := outcomeOf(t, res, name).Outcome; got != want {
			t.Fatalf("%s: %s, want %s", name, got, want)
		}
	}
	var refused []string
	if err := b.db.Select(&refused, `SELECT f.name || ':' || ra.receipt_id || '/' || ra.client_ref FROM refused_allocations ra
		JOIN files f ON f.id = ra.file_id ORDER BY 1`); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(refused, " "); got != "allocations-bad.csv:R1/a allocations-bad.csv:R2/b" {
		t.Fatalf("refused allocations: %s", got)
	}
	var unread []string
	b.db.Select(&unread, `SELECT name FROM files WHERE receipts_unread ORDER BY name`)
	if fmt.Sprint(unread) != "[allocations-binary.csv]" {
		t.Fatalf("unreadable refused files: %v", unread)
	}
	var waiting []string
	b.db.Select(&waiting, `SELECT name || ':' || receipt_id FROM drop_scan_receipts ORDER BY 1`)
	if got := strings.Join(waiting, " "); got != "allocations-slow.csv:R3 allocations-slow.csv:R4" {
		t.Fatalf("waiting file's receipts: %s", got)
	}

	// Taken at the next scan (unchanged), the waiting file is refused (R4's row is cut short) and
	// what it names moves from the scan state to the refused file's record.
	res = b.run(t)
	if got := outcomeOf(t, res, "allocations-slow.csv").Outcome; got != ingest.OutcomeRejected {
		t.Fatalf("allocations-slow.csv: %s", got)
	}
	if n := b.count(t, `SELECT count(*) FROM drop_scan_receipts`); n != 0 {
		t.Fatalf("%d waiting receipts left after the file was taken", n)
	}
	refused = nil
	b.db.Select(&refused, `SELECT ra.receipt_id || '/' || ra.client_ref FROM refused_allocations ra
		JOIN files f ON f.id = ra.file_id WHERE f.name = 'allocations-slow.csv' AND NOT f.receipts_unread ORDER BY 1`)
	if got := strings.Join(refused, " "); got != "R3/c R4/" {
		t.Fatalf("the taken file names %q, want R3/c and R4 (client_ref unread)", got)
	}
}

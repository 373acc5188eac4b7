package ingest_test

import (
	"testing"

	"github.com/cashpool/cashpool/batch/ingest"
)

// An allocations file loaded before the statement names its receipts by the bank's references; the
// scan that loads the statement resolves each reference that exactly one receipt carries (a UETR in
// upper case, the bank's entry reference), records which reference it was, and leaves alone one
// whose receipt already has the client_ref.
func TestBankReferencesResolveWhenTheStatementArrives(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.cfg.BankAccount = "987654321"
	b.drop(t, "allocations-refs.csv", "bank_reference,receipt_id,account_id,amount,weight,client_ref,description\n"+
		"4F1C2B8E-5D3A-4C7E-9A10-2B6D8E3F7A91,,0d9f6e2c-3b1a-4c5d-8e7f-123456789abc,100.00,,C-1,by UETR\n"+
		"FW2507150004502,,0d9f6e2c-3b1a-4c5d-8e7f-123456789abc,50.00,,C-2,by the bank's reference\n"+
		",bai2:ref:122099999/987654321/FW2507150004502,0d9f6e2c-3b1a-4c5d-8e7f-123456789abc,10.00,,C-3,by receipt_id\n"+
		"FW2507150004502,,0d9f6e2c-3b1a-4c5d-8e7f-123456789abc,10.00,,C-3,the same allocation by reference\n", true)
	if f := outcomeOf(t, b.run(t), "allocations-refs.csv"); f.Outcome != ingest.OutcomeLoaded || f.Rows != 4 {
		t.Fatalf("allocations: %+v", f)
	}
	if n := b.count(t, `SELECT count(*) FROM allocations WHERE bank_reference IS NOT NULL AND receipt_id IS NULL`); n != 3 {
		t.Fatalf("%d allocations wait for their reference, want 3", n)
	}

	b.dropFile(t, "testdata/statements/statement.bai", "prevday.bai")
	b.run(t)
	type resolved struct {
		ClientRef string `db:"client_ref"`
		ReceiptID string `db:"receipt_id"`
		Reference string `db:"bank_reference"`
	}
	var got []resolved
	if err := b.db.Select(&got, `SELECT a.client_ref, COALESCE(a.receipt_id, x.receipt_id, '') AS receipt_id,
		COALESCE(x.bank_reference, '') AS bank_reference
		FROM allocations a LEFT JOIN allocation_references x ON x.allocation_id = a.id ORDER BY a.line`); err != nil {
		t.Fatal(err)
	}
	want := []resolved{
		{"C-1", "uetr:4f1c2b8e-5d3a-4c7e-9a10-2b6d8e3f7a91", "4F1C2B8E-5D3A-4C7E-9A10-2B6D8E3F7A91"},
		{"C-2", "bai2:ref:122099999/987654321/FW2507150004502", "FW2507150004502"},
		{"C-3", "bai2:ref:122099999/987654321/FW2507150004502", ""},
		{"C-3", "", ""}, // its receipt has C-3 already: never a second one
	}
	if len(got) != len(want) {
		t.Fatalf("allocations %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("allocation %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

// Resolving a bank reference records the receipt beside the allocation and leaves the loaded
// allocations row exactly as the file gave it; the same (bank_reference, client_ref) delivered
// again, or the resolved receipt's client_ref named again by receipt_id, is refused.
func TestResolvedReferenceLeavesTheLoadedRowAndIsNeverTakenTwice(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.cfg.BankAccount = "987654321"
	const account = "0d9f6e2c-3b1a-4c5d-8e7f-123456789abc"
	b.drop(t, "allocations-refs.csv", "bank_reference,receipt_id,account_id,amount,weight,client_ref,description\n"+
		"4F1C2B8E-5D3A-4C7E-9A10-2B6D8E3F7A91,,"+account+",100.00,,C-1,by UETR\n"+
		"FW2507150004502,,"+account+",50.00,,C-2,by the bank's reference\n", true)
	if f := outcomeOf(t, b.run(t), "allocations-refs.csv"); f.Outcome != ingest.OutcomeLoaded || f.Rows != 2 {
		t.Fatalf("allocations: %+v", f)
	}
	const rows = `SELECT string_agg(row(a.*)::text, E'\n' ORDER BY a.id) FROM allocations a`
	var before, after string
	if err := b.db.Get(&before, rows); err != nil {
		t.Fatal(err)
	}

	b.dropFile(t, "testdata/statements/statement.bai", "prevday.bai")
	b.run(t)
	if n := b.count(t, `SELECT count(*) FROM allocation_references`); n != 2 {
		t.Fatalf("%d references resolved, want 2", n)
	}
	if err := b.db.Get(&after, rows); err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Fatalf("resolution rewrote the loaded rows:\n%s\nwant\n%s", after, before)
	}
	if n := b.count(t, `SELECT count(*) FROM allocations WHERE receipt_id IS NULL AND bank_reference IN
		('4F1C2B8E-5D3A-4C7E-9A10-2B6D8E3F7A91', 'FW2507150004502')`); n != 2 {
		t.Fatalf("%d rows still name their receipt by the reference as loaded, want 2", n)
	}

	refused := []struct{ name, content, problem string }{
		{"allocations-again.csv", "bank_reference,account_id,amount,weight,client_ref,description\n" +
			"FW2507150004502," + account + ",5.00,,C-2,delivered again\n",
			"line 2, column 5 (client_ref): bank_reference FW2507150004502 with client_ref C-2 was already loaded from allocations-refs.csv (line 3)"},
		{"allocations-twice.csv", "bank_reference,account_id,amount,weight,client_ref,description\n" +
			"FW2507150004502," + account + ",5.00,,C-9,once\n" +
			"FW2507150004502," + account + ",5.00,,C-9,twice\n",
			"line 3, column 5 (client_ref): bank_reference FW2507150004502 with client_ref C-9 appears twice in the file: first at line 2"},
		{"allocations-by-id.csv", "receipt_id,account_id,amount,weight,client_ref,description\n" +
			"bai2:ref:122099999/987654321/FW2507150004502," + account + ",5.00,,C-2,the resolved one by receipt_id\n",
			"line 2, column 5 (client_ref): receipt_id bai2:ref:122099999/987654321/FW2507150004502 with client_ref C-2 was already loaded from allocations-refs.csv (line 3)"},
	}
	for _, r := range refused {
		b.drop(t, r.name, r.content, true)
		f := outcomeOf(t, b.run(t), r.name)
		if f.Outcome != ingest.OutcomeRejected || len(f.Problems) != 1 || f.Problems[0].String() != r.problem {
			t.Errorf("%s: %+v, want rejected with %q", r.name, f, r.problem)
		}
	}
	if n := b.count(t, `SELECT count(*) FROM allocations`); n != 2 {
		t.Fatalf("%d allocations loaded, want the first file's 2", n)
	}

	// The database itself refuses the pair twice, and a row naming its receipt both ways or neither.
	for _, q := range []string{
		`INSERT INTO allocations (file_id, line, bank_reference, account_id, amount, client_ref, description)
		 SELECT file_id, 9, bank_reference, account_id, amount, client_ref, '' FROM allocations WHERE client_ref = 'C-2'`,
		`INSERT INTO allocations (file_id, line, receipt_id, bank_reference, account_id, amount, client_ref, description)
		 SELECT file_id, 9, 'R-1', bank_reference, account_id, amount, 'C-8', '' FROM allocations WHERE client_ref = 'C-2'`,
		`INSERT INTO allocations (file_id, line, account_id, amount, client_ref, description)
		 SELECT file_id, 9, account_id, amount, 'C-8', '' FROM allocations WHERE client_ref = 'C-2'`,
	} {
		if _, err := b.db.Exec(q); err == nil {
			t.Errorf("the database took %s", q)
		}
	}
}

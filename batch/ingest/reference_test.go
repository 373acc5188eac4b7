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
	if n := b.count(t, `SELECT count(*) FROM allocations WHERE receipt_id LIKE E'\x1fref:%'`); n != 3 {
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
	if err := b.db.Select(&got, `SELECT a.client_ref, a.receipt_id, COALESCE(x.bank_reference, '') AS bank_reference
		FROM allocations a LEFT JOIN allocation_references x ON x.allocation_id = a.id ORDER BY a.line`); err != nil {
		t.Fatal(err)
	}
	want := []resolved{
		{"C-1", "uetr:4f1c2b8e-5d3a-4c7e-9a10-2b6d8e3f7a91", "4F1C2B8E-5D3A-4C7E-9A10-2B6D8E3F7A91"},
		{"C-2", "bai2:ref:122099999/987654321/FW2507150004502", "FW2507150004502"},
		{"C-3", "bai2:ref:122099999/987654321/FW2507150004502", ""},
		{"C-3", "\x1fref:FW2507150004502", ""}, // its receipt has C-3 already: never a second one
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

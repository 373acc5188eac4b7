package ingest_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cashpool/cashpool/batch/ingest"
)

// receiptRow is a receipts row as text, written by hand from the statements in testdata/statements.
type receiptRow struct {
	ID, File                          string
	Line                              int
	ValueDate, Amount, Currency       string
	Name, Account, Bank, Address, Ref string
}

func (b *bundle) receiptRows(t *testing.T) []receiptRow {
	t.Helper()
	var got []receiptRow
	err := b.db.Select(&got, `SELECT r.receipt_id AS id, f.name AS file, r.line, to_char(r.value_date, 'YYYY-MM-DD') AS valuedate,
		r.amount::text AS amount, r.currency, r.originator_name AS name, r.originator_account AS account,
		r.originator_bank AS bank, r.originator_address AS address, r.reference AS ref
		FROM receipts r JOIN files f ON f.id = r.file_id ORDER BY r.receipt_id`)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func sameRows(t *testing.T, got, want []receiptRow) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("receipts:\n got %+v\nwant %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("receipt %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

// TestStatementsLoadAsReceipts: a camt.054 during the day and the camt.053 at night report the
// same wire; it is one receipt, the statement's other credits are loaded, and both files load.
func TestStatementsLoadAsReceipts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.cfg.BankAccount = "987654321"
	b.dropFile(t, "testdata/statements/camt054_v08.xml", "camt054_0042.xml")
	res := b.run(t)
	f := outcomeOf(t, res, "camt054_0042.xml")
	if f.Outcome != ingest.OutcomeLoaded || f.Kind != ingest.KindReceipts || f.Rows != 1 || f.NotReceipts != 1 {
		t.Fatalf("camt.054: %+v", f)
	}
	b.dropFile(t, "testdata/statements/camt053_v08.xml", "camt053_20250715.xml")
	res = b.run(t)
	f = outcomeOf(t, res, "camt053_20250715.xml")
	if f.Outcome != ingest.OutcomeLoaded || f.Rows != 2 || f.AlreadyReceived != 1 || f.NotReceipts != 2 {
		t.Fatalf("camt.053: %+v", f)
	}
	if !exists(t, filepath.Join(b.dir, "archive", "camt053_20250715.xml")) {
		t.Fatal("camt.053 not archived")
	}
	sameRows(t, b.receiptRows(t), []receiptRow{
		{"camt:ref:BT2507150000888-1", "camt053_20250715.xml", 45, "2025-07-15", "20000.00", "USD",
			"EXAMPLE GMBH", "DE89370400440532013000", "BIC EXMPDEFFXXX", "Musterstrasse 1, 10115 Berlin DE", "RF18539007547034"},
		{"camt:ref:BT2507150000888-2", "camt053_20250715.xml", 56, "2025-07-15", "15000.00", "USD",
			"SAMPLE TRADING LTD", "", "", "", "INVOICE 2025-301"},
		{"uetr:4f1c2b8e-5d3a-4c7e-9a10-2b6d8e3f7a91", "camt054_0042.xml", 15, "2025-07-15", "150000.00", "USD",
			"ACME HOLDINGS LLC", "000123456789", "ABA 122099999", "", "FFC 5XA-000123 JANE DOE"},
	})
}

func TestBAI2LoadsAsReceipts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.cfg.BankAccount = "987654321"
	b.dropFile(t, "testdata/statements/statement.bai", "prevday_20250716.bai")
	res := b.run(t)
	if f := outcomeOf(t, res, "prevday_20250716.bai"); f.Outcome != ingest.OutcomeLoaded || f.Rows != 2 {
		t.Fatalf("BAI2: %+v", f)
	}
	// The same entries again in another file (a final report after an interim one): skipped, loaded.
	data, err := os.ReadFile("testdata/statements/statement.bai")
	if err != nil {
		t.Fatal(err)
	}
	b.drop(t, "final_20250716.bai2", strings.Replace(string(data), ",0605,", ",0610,", 1), true)
	res = b.run(t)
	if f := outcomeOf(t, res, "final_20250716.bai2"); f.Outcome != ingest.OutcomeLoaded || f.Rows != 0 || f.AlreadyReceived != 2 {
		t.Fatalf("BAI2 again: %+v", f)
	}
	sameRows(t, b.receiptRows(t), []receiptRow{
		{"bai2:ref:122099999/987654321/FW2507150004502", "prevday_20250716.bai", 7, "2025-07-15", "100000.00", "USD",
			"EXAMPLE GMBH BERLIN DE", "", "EXMPDEFFXXX", "", "INV 2025/07/15-9"},
		{"uetr:4f1c2b8e-5d3a-4c7e-9a10-2b6d8e3f7a91", "prevday_20250716.bai", 4, "2025-07-15", "150000.00", "USD",
			"ACME HOLDINGS LLC", "000123456789", "LAST NATIONAL BANK/122099999", "NEW YORK NY 10001", "FFC 5XA-000123 JANE DOE"},
	})
}

func TestBadStatementRefusedWhole(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.cfg.BankAccount = "987654321"
	b.dropFile(t, "testdata/statements/camt053_totals_sum_off.xml", "camt053_off.xml")
	res := b.run(t)
	if f := outcomeOf(t, res, "camt053_off.xml"); f.Outcome != ingest.OutcomeRejected || f.Errors != 1 {
		t.Fatalf("bad statement: %+v", f)
	}
	got, err := os.ReadFile(filepath.Join(b.dir, "rejected", "camt053_off.xml.errors.csv"))
	if err != nil {
		t.Fatal(err)
	}
	const want = "line,column,field,value,problem\n" +
		`11,51,Stmt/TxsSummry/TtlNtries/Sum,185525.01,"the summary's sum of entries is 185525.01, the file's entries add up to 185525.00"` + "\n"
	if string(got) != want {
		t.Fatalf("errors file:\n%s\nwant\n%s", got, want)
	}
	if n := b.count(t, `SELECT count(*) FROM receipts`); n != 0 {
		t.Fatalf("%d receipts loaded from a refused file", n)
	}
}

func TestStatementWithoutBankAccountRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.dropFile(t, "testdata/statements/statement.bai", "prevday.bai")
	res := b.run(t)
	f := outcomeOf(t, res, "prevday.bai")
	if f.Outcome != ingest.OutcomeRejected || len(f.Problems) != 1 ||
		!strings.Contains(f.Problems[0].Problem, "no bank account is configured (CASHPOOL_BANK_ACCOUNT)") {
		t.Fatalf("statement without a bank account: %+v", f)
	}
	if !exists(t, filepath.Join(b.dir, "rejected", "prevday.bai.errors.csv")) {
		t.Fatal("no errors file")
	}
	if n := b.count(t, `SELECT count(*) FROM receipts`); n != 0 {
		t.Fatalf("%d receipts loaded", n)
	}
}

func TestNonUSDStatementReceiptRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.cfg.BankAccount = "987654321"
	data, err := os.ReadFile("testdata/statements/statement.bai")
	if err != nil {
		t.Fatal(err)
	}
	b.drop(t, "eur.bai", strings.ReplaceAll(string(data), ",USD,", ",EUR,"), true)
	f := outcomeOf(t, b.run(t), "eur.bai")
	if f.Outcome != ingest.OutcomeRejected || f.Errors != 2 || f.Problems[0].Line != 4 || f.Problems[0].Field != "currency" ||
		!strings.Contains(f.Problems[0].Problem, "is not USD") {
		t.Fatalf("EUR statement: %+v", f)
	}
}

// A wire with a UETR is one payment whichever format reports it: the BAI2 after the camt.054 of the
// same wire skips it as already received.
func TestSameWireInBAI2AndCAMTIsOneReceipt(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.cfg.BankAccount = "987654321"
	b.dropFile(t, "testdata/statements/camt054_v08.xml", "camt054_0042.xml")
	b.run(t)
	b.dropFile(t, "testdata/statements/statement.bai", "prevday_20250716.bai")
	res := b.run(t)
	if f := outcomeOf(t, res, "prevday_20250716.bai"); f.Outcome != ingest.OutcomeLoaded || f.Rows != 1 || f.AlreadyReceived != 1 {
		t.Fatalf("BAI2 after the camt.054: %+v", f)
	}
	if n := b.count(t, `SELECT count(*) FROM receipts WHERE receipt_id = 'uetr:4f1c2b8e-5d3a-4c7e-9a10-2b6d8e3f7a91'`); n != 1 {
		t.Fatalf("%d receipts for the one wire, want 1", n)
	}
}

// errorsFile is the errors CSV ingest wrote beside a refused file.
func (b *bundle) errorsFile(t *testing.T, name string) string {
	t.Helper()
	got, err := os.ReadFile(filepath.Join(b.dir, "rejected", name+".errors.csv"))
	if err != nil {
		t.Fatal(err)
	}
	return string(got)
}

// A BAI2 correction (group status 3) of a day already loaded: one that restates the day's entries
// and adds one loads only the new one (never two receipts for one entry); one that drops a loaded
// receipt, and a deletion (group status 2) of the day, are refused naming what they would take
// back; a deletion of a day nothing was loaded for loads nothing; and an entry restated with
// another amount is refused.
func TestBAI2CorrectionAndDeletion(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.cfg.BankAccount = "987654321"
	b.dropFile(t, "testdata/statements/statement.bai", "prevday.bai")
	if f := outcomeOf(t, b.run(t), "prevday.bai"); f.Outcome != ingest.OutcomeLoaded || f.Rows != 2 {
		t.Fatalf("prevday: %+v", f)
	}

	b.dropFile(t, "testdata/statements/correction_restates.bai", "correction1.bai")
	if f := outcomeOf(t, b.run(t), "correction1.bai"); f.Outcome != ingest.OutcomeLoaded || f.Rows != 1 || f.AlreadyReceived != 2 {
		t.Fatalf("correction restating the day: %+v", f)
	}
	if n := b.count(t, `SELECT count(*) FROM receipts`); n != 3 {
		t.Fatalf("%d receipts, want 3", n)
	}

	b.dropFile(t, "testdata/statements/correction_drops_one.bai", "correction2.bai")
	if f := outcomeOf(t, b.run(t), "correction2.bai"); f.Outcome != ingest.OutcomeRejected {
		t.Fatalf("correction dropping a loaded receipt: %+v", f)
	}
	const dropped = "line,column,field,value,problem\n" +
		`2,4,group status,3,"this correction (group status 3) no longer reports receipt bai2:ref:122099999/987654321/FW2507150004502 ` +
		`of 122099999/987654321/2025-07-15 (loaded from prevday.bai for 100000.00): a loaded receipt is never withdrawn by a file; ` +
		`ask the bank, and hold its allocations if the wire was withdrawn"` + "\n"
	if got := b.errorsFile(t, "correction2.bai"); got != dropped {
		t.Fatalf("errors file:\n%s\nwant\n%s", got, dropped)
	}

	b.dropFile(t, "testdata/statements/deletion.bai", "deletion.bai")
	f := outcomeOf(t, b.run(t), "deletion.bai")
	if f.Outcome != ingest.OutcomeRejected || f.Errors != 3 {
		t.Fatalf("deletion of a loaded day: %+v", f)
	}
	for i, id := range []string{"bai2:ref:122099999/987654321/FW2507150004502", "bai2:ref:122099999/987654321/FW2507150004600",
		"uetr:4f1c2b8e-5d3a-4c7e-9a10-2b6d8e3f7a91"} {
		if p := f.Problems[i]; p.Line != 2 || p.Column != 4 || !strings.HasPrefix(p.Problem, "this deletion (group status 2) withdraws receipt "+id+" ") {
			t.Fatalf("problem %d: %+v", i, p)
		}
	}

	b.dropFile(t, "testdata/statements/deletion_other_day.bai", "deletion-0714.bai")
	if f := outcomeOf(t, b.run(t), "deletion-0714.bai"); f.Outcome != ingest.OutcomeLoaded || f.Rows != 0 || f.NotReceipts != 1 {
		t.Fatalf("deletion of a day nothing was loaded for: %+v", f)
	}

	b.dropFile(t, "testdata/statements/amount_restated.bai", "restated.bai")
	if f := outcomeOf(t, b.run(t), "restated.bai"); f.Outcome != ingest.OutcomeRejected {
		t.Fatalf("entry restated with another amount: %+v", f)
	}
	const restated = "line,column,field,value,problem\n" +
		`7,,amount,100001.00,"receipt bai2:ref:122099999/987654321/FW2507150004502 was loaded from prevday.bai for 100000.00; ` +
		`this statement reports 100001.00: a loaded receipt is never changed by a file, ask the bank which is right"` + "\n"
	if got := b.errorsFile(t, "restated.bai"); got != restated {
		t.Fatalf("errors file:\n%s\nwant\n%s", got, restated)
	}
	if n := b.count(t, `SELECT count(*) FROM receipts`); n != 3 {
		t.Fatalf("%d receipts, want 3", n)
	}
}

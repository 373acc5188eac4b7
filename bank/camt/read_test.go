package camt_test

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the tests' New York zone on machines without a zoneinfo database

	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/bank/camt"
)

var newYork = func() *time.Location {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		panic(err)
	}
	return loc
}()

func opts() camt.Options { return camt.Options{Account: "987654321", Location: newYork} }

func day(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return d
}

func amt(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func readFile(t *testing.T, path string, o camt.Options) (camt.Statement, camt.Problems) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return camt.Read(f, o)
}

// sameReceipts compares amounts by value and everything else exactly.
func sameReceipts(t *testing.T, got, want []camt.Receipt) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d receipts, want %d:\n%+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if !g.Amount.Equal(w.Amount) {
			t.Errorf("receipt %d amount %s, want %s", i, g.Amount, w.Amount)
		}
		g.Amount, w.Amount = decimal.Zero, decimal.Zero
		if !reflect.DeepEqual(g, w) {
			t.Errorf("receipt %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

func sameOthers(t *testing.T, got, want []camt.Entry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d other entries, want %d:\n%+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if !g.Amount.Equal(w.Amount) {
			t.Errorf("entry %d amount %s, want %s", i, g.Amount, w.Amount)
		}
		g.Amount, w.Amount = decimal.Zero, decimal.Zero
		if !reflect.DeepEqual(g, w) {
			t.Errorf("entry %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

func TestStatementV08(t *testing.T) {
	t.Parallel()
	st, probs := readFile(t, "testdata/good/camt053_v08.xml", opts())
	if probs.Total != 0 {
		t.Fatalf("problems: %+v", probs.List)
	}
	if st.Kind != camt.KindStatement || st.Version != camt.V08 || st.MessageID != "STMT-20250716-0001" || st.Account != "987654321" {
		t.Fatalf("header %s %s %s %s", st.Kind, st.Version, st.MessageID, st.Account)
	}
	sameReceipts(t, st.Receipts, []camt.Receipt{
		{Line: 22, EntryRef: "FW2507150004471", NtryRef: "1", Tx: 1, Txs: 1,
			UETR: "4f1c2b8e-5d3a-4c7e-9a10-2b6d8e3f7a91", MsgID: "20250715B1QGC01R000123", EndToEndID: "INV-2025-0715",
			ValueDate: day("2025-07-15"), BookingDate: day("2025-07-15"), Amount: amt("150000.00"), Currency: "USD",
			BankTxCode: "PMNT/RCDT/DMCT", OriginatorName: "ACME HOLDINGS LLC", OriginatorAccount: "000123456789",
			OriginatorBank: "ABA 122099999 LAST NATIONAL BANK", OriginatorAddress: "100 Main Street, New York NY 10001 US",
			Remittance: "FFC 5XA-000123 JANE DOE"},
		{Line: 45, EntryRef: "BT2507150000888", NtryRef: "2", TxRef: "BT2507150000888-1", Tx: 1, Txs: 2, EndToEndID: "ORD-77",
			ValueDate: day("2025-07-15"), BookingDate: day("2025-07-15"), Amount: amt("20000"), Currency: "USD",
			BankTxCode: "PMNT/RCDT/XBCT", OriginatorName: "EXAMPLE GMBH", OriginatorAccount: "DE89370400440532013000",
			OriginatorBank: "BIC EXMPDEFFXXX", OriginatorAddress: "Musterstrasse 1, 10115 Berlin DE", Remittance: "RF18539007547034"},
		{Line: 56, EntryRef: "BT2507150000888", NtryRef: "2", TxRef: "BT2507150000888-2", Tx: 2, Txs: 2,
			ValueDate: day("2025-07-15"), BookingDate: day("2025-07-15"), Amount: amt("15000"), Currency: "USD",
			BankTxCode: "PMNT/RCDT/XBCT", OriginatorName: "SAMPLE TRADING LTD", Remittance: "INVOICE 2025-301"},
	})
	sameOthers(t, st.Others, []camt.Entry{
		{Line: 64, EntryRef: "FE2507150000001", NtryRef: "3", Amount: amt("25"), Currency: "USD", Status: "BOOK",
			ValueDate: day("2025-07-15"), Why: "debit"},
		{Line: 71, EntryRef: "RV2507150000002", NtryRef: "4", Amount: amt("500"), Currency: "USD", Credit: true, Reversal: true,
			Status: "BOOK", ValueDate: day("2025-07-14"), Why: "reversal of a debit: not new money"},
	})
}

// The .001.02 shapes (Dbtr/Nm, BIC, Sts as text, AmtDtls/TxAmt), a prefixed root, and a value
// date-time in UTC that is the previous day in New York.
func TestStatementV02(t *testing.T) {
	t.Parallel()
	st, probs := readFile(t, "testdata/good/camt053_v02.xml", opts())
	if probs.Total != 0 {
		t.Fatalf("problems: %+v", probs.List)
	}
	if st.Kind != camt.KindStatement || st.Version != camt.V02 || st.MessageID != "STMT-20250717-0001" {
		t.Fatalf("header %s %s %s", st.Kind, st.Version, st.MessageID)
	}
	sameReceipts(t, st.Receipts, []camt.Receipt{
		{Line: 27, EntryRef: "FW2507160001234", NtryRef: "1", Tx: 1, Txs: 1, EndToEndID: "PO-4471",
			ValueDate: day("2025-07-16"), BookingDate: day("2025-07-16"), Amount: amt("250000.00"), Currency: "USD",
			BankTxCode: "195", OriginatorName: "NORTHWIND CAPITAL INC", OriginatorAccount: "004455667788",
			OriginatorBank: "BIC EXBKUS33XXX EXAMPLE BANK NA", OriginatorAddress: "200 Harbor Road, Boston MA 02110",
			Remittance: "CAPITAL CALL Q3 FUND II"},
	})
	sameOthers(t, st.Others, []camt.Entry{
		{Line: 40, EntryRef: "OW2507160000077", NtryRef: "2", Amount: amt("1000"), Currency: "USD", Status: "BOOK",
			ValueDate: day("2025-07-16"), Why: "debit"},
	})
}

// A notification: the booked credit is the one the v08 statement books again (same key); the
// pending one is reported only. Its offset-less value date-time keeps its written date.
func TestNotificationV08(t *testing.T) {
	t.Parallel()
	st, probs := readFile(t, "testdata/good/camt054_v08.xml", opts())
	if probs.Total != 0 {
		t.Fatalf("problems: %+v", probs.List)
	}
	if st.Kind != camt.KindNotification || st.Version != camt.V08 || st.MessageID != "NTFN-20250715-0042" {
		t.Fatalf("header %s %s %s", st.Kind, st.Version, st.MessageID)
	}
	sameReceipts(t, st.Receipts, []camt.Receipt{
		{Line: 15, EntryRef: "FW2507150004471", NtryRef: "0042-1", Tx: 1, Txs: 1,
			UETR: "4f1c2b8e-5d3a-4c7e-9a10-2b6d8e3f7a91", MsgID: "20250715B1QGC01R000123", EndToEndID: "INV-2025-0715",
			ValueDate: day("2025-07-15"), BookingDate: day("2025-07-15"), Amount: amt("150000.00"), Currency: "USD",
			BankTxCode: "PMNT/RCDT/DMCT", OriginatorName: "ACME HOLDINGS LLC", OriginatorAccount: "000123456789",
			OriginatorBank: "ABA 122099999", Remittance: "FFC 5XA-000123 JANE DOE"},
	})
	sameOthers(t, st.Others, []camt.Entry{
		{Line: 26, EntryRef: "FW2507150004999", NtryRef: "0042-2", Amount: amt("5000"), Currency: "USD", Credit: true,
			Status: "PDNG", ValueDate: day("2025-07-16"), Why: "status PDNG: not booked"},
	})

	night, probs := readFile(t, "testdata/good/camt053_v08.xml", opts())
	if probs.Total != 0 {
		t.Fatal(probs.List)
	}
	if got, want := st.Receipts[0].MatchKey(), night.Receipts[0].MatchKey(); got != want || got != "uetr:4f1c2b8e-5d3a-4c7e-9a10-2b6d8e3f7a91" {
		t.Fatalf("notification key %q, statement key %q", got, want)
	}
}

// Without a UETR or IMAD, a batch's transactions are told apart by their own reference, else by the
// entry's and their place in it.
func TestMatchKey(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		r    camt.Receipt
		want string
	}{
		{camt.Receipt{UETR: "u", MsgID: "20250715B1QGC01R000123", EntryRef: "E"}, "uetr:u"},
		{camt.Receipt{MsgID: "20250715B1QGC01R000123", EntryRef: "E"}, "imad:20250715B1QGC01R000123"},
		{camt.Receipt{MsgID: "STMT-1", TxRef: "T", EntryRef: "E"}, "ref:T"},
		{camt.Receipt{EntryRef: "E", Tx: 2, Txs: 3}, "ref:E#2"},
		{camt.Receipt{EntryRef: "E", Tx: 1, Txs: 1}, "ref:E"},
	} {
		if got := c.r.MatchKey(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.r, got, c.want)
		}
	}
}

// A statement with only debits adds up and yields no receipts, which is no problem.
func TestDebitOnly(t *testing.T) {
	t.Parallel()
	const doc = `<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt>
<GrpHdr><MsgId>M</MsgId><CreDtTm>2025-07-16T06:05:00-04:00</CreDtTm></GrpHdr>
<Stmt><Id>S</Id><Acct><Id><IBAN>US00 EXMP 0000 9876 5432 1</IBAN></Id></Acct>
<Bal><Tp><CdOrPrtry><Cd>PRCD</Cd></CdOrPrtry></Tp><Amt Ccy="USD">100.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2025-07-15</Dt></Dt></Bal>
<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="USD">50.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><Dt><Dt>2025-07-15</Dt></Dt></Bal>
<TxsSummry><TtlNtries><NbOfNtries>1</NbOfNtries><Sum>150.00</Sum><TtlNetNtry><Amt>150.00</Amt><CdtDbtInd>DBIT</CdtDbtInd></TtlNetNtry></TtlNtries></TxsSummry>
<Ntry><Amt Ccy="USD">150.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts><ValDt><Dt>2025-07-15</Dt></ValDt><AcctSvcrRef>D1</AcctSvcrRef></Ntry>
</Stmt></BkToCstmrStmt></Document>`
	st, probs := camt.Read(strings.NewReader(doc), camt.Options{Account: "us00exmp0000987654321"})
	if probs.Total != 0 {
		t.Fatalf("problems: %+v", probs.List)
	}
	if len(st.Receipts) != 0 || len(st.Others) != 1 || st.Others[0].Why != "debit" || st.Account != "US00 EXMP 0000 9876 5432 1" {
		t.Fatalf("statement %+v", st)
	}
}

// One element beyond the bound is refused without being held whole, wherever it sits.
func TestElementTooLarge(t *testing.T) {
	t.Parallel()
	huge := strings.Repeat("A", camt.MaxElementBytes+64<<10)
	doc := `<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"><BkToCstmrDbtCdtNtfctn>
<Ntfctn><Acct><Id><Othr><Id>987654321</Id></Othr></Id></Acct>
<Ntry><Amt Ccy="USD">1.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts><AddtlNtryInf>` + huge + `</AddtlNtryInf></Ntry>
</Ntfctn></BkToCstmrDbtCdtNtfctn></Document>`
	st, probs := camt.Read(strings.NewReader(doc), opts())
	if probs.Total != 1 || !strings.Contains(probs.List[0].Problem, "larger than") || len(st.Receipts) != 0 {
		t.Fatalf("problems %+v", probs.List)
	}
}

// A file with several accounts' statements gives the configured one's entries; the others are
// checked, not taken.
func TestOtherAccountsSkipped(t *testing.T) {
	t.Parallel()
	stmt := func(acct, ref string) string {
		return `<Ntfctn><Acct><Id><Othr><Id>` + acct + `</Id></Othr></Id></Acct>
<TxsSummry><TtlNtries><NbOfNtries>1</NbOfNtries></TtlNtries></TxsSummry>
<Ntry><Amt Ccy="USD">10.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts><ValDt><Dt>2025-07-15</Dt></ValDt><AcctSvcrRef>` + ref + `</AcctSvcrRef></Ntry></Ntfctn>`
	}
	doc := `<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"><BkToCstmrDbtCdtNtfctn>` +
		stmt("0987654321", "A1") + stmt("987654321", "B1") + `</BkToCstmrDbtCdtNtfctn></Document>`
	st, probs := camt.Read(strings.NewReader(doc), opts())
	if probs.Total != 0 {
		t.Fatalf("problems %+v", probs.List)
	}
	if len(st.Receipts) != 1 || st.Receipts[0].EntryRef != "B1" || st.Account != "987654321" {
		t.Fatalf("receipts %+v", st.Receipts)
	}
}

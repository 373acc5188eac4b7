package bai2_test

import (
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/bank/bai2"
)

func day(s string) time.Time {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return t
}

func usd(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func readFile(t *testing.T, path string, accounts ...string) (bai2.Statement, bai2.Problems) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return bai2.Read(f, bai2.Options{Accounts: accounts})
}

// TestGoodFiles reads realistic statements into hand-written expected entries.
func TestGoodFiles(t *testing.T) {
	t.Parallel()
	grp := func(e bai2.Entry) bai2.Entry {
		e.Bank, e.GroupStatus, e.AsOfModifier = "122099999", "1", "2"
		return e
	}
	tests := []struct {
		file, account string
		want          bai2.Statement
	}{
		{
			file: "statement.bai", account: "987654321",
			want: bai2.Statement{
				Sender: "122099999", Receiver: "CASHPOOL", FileID: "1",
				Created: time.Date(2025, 7, 16, 6, 5, 0, 0, time.UTC),
				Receipts: []bai2.Entry{
					grp(bai2.Entry{
						Line: 4, Kind: bai2.KindCredit, Account: "987654321", Currency: "USD",
						AsOfDate: day("2025-07-15"), ValueDate: day("2025-07-15"), Amount: usd("150000.00"),
						TypeCode: "195", FundsType: "0", BankRef: "FW2507150004471", CustomerRef: "INV-2025-0715",
						Text: "FEDWIRE CREDIT VIA: LAST NATIONAL BANK/122099999 B/O: ACME HOLDINGS LLC NEW YORK NY 10001 " +
							"REF: ORG=/000123456789 ACME HOLDINGS LLC OBI=FFC 5XA-000123 JANE DOE " +
							"IMAD: 0715B1QGC01R000123 UETR: 4f1c2b8e-5d3a-4c7e-9a10-2b6d8e3f7a91",
						Originator: bai2.Originator{Name: "ACME HOLDINGS LLC", Account: "000123456789",
							Bank: "LAST NATIONAL BANK/122099999", Address: "NEW YORK NY 10001", Info: "FFC 5XA-000123 JANE DOE"},
						UETR: "4f1c2b8e-5d3a-4c7e-9a10-2b6d8e3f7a91", IMAD: "0715B1QGC01R000123",
					}),
					grp(bai2.Entry{
						Line: 7, Kind: bai2.KindCredit, Account: "987654321", Currency: "USD",
						AsOfDate: day("2025-07-15"), ValueDate: day("2025-07-15"), Amount: usd("100000.00"),
						TypeCode: "208", FundsType: "V", BankRef: "FW2507150004502",
						Text:       "INTL WIRE B/O: EXAMPLE GMBH BERLIN DE SND BK=EXMPDEFFXXX OBI=INV 2025/07/15-9",
						Originator: bai2.Originator{Name: "EXAMPLE GMBH BERLIN DE", Bank: "EXMPDEFFXXX", Info: "INV 2025/07/15-9"},
					}),
				},
			},
		},
		{
			file: "realistic-crlf.bai", account: "000555000111",
			want: bai2.Statement{
				Sender: "122099999", Receiver: "CASHPOOL", FileID: "2",
				Created: time.Date(2025, 7, 17, 6, 10, 0, 0, time.UTC),
				Receipts: []bai2.Entry{
					grp(bai2.Entry{
						Line: 5, Kind: bai2.KindCredit, Account: "000555000111", Currency: "USD",
						AsOfDate: day("2025-07-16"), ValueDate: day("2025-07-17"), Amount: usd("50000.00"),
						TypeCode: "195", FundsType: "V", BankRef: "FW2507160000001",
						Text: "FEDWIRE CREDIT VIA: FIRST EXAMPLE BANK/021000089 B/O: NORTHWIND TRADING INC " +
							"CHICAGO IL 60601 REF: ORG=/4400123 NORTHWIND TRADING INC OBI=ACCT 5XA-000777",
						Originator: bai2.Originator{Name: "NORTHWIND TRADING INC", Account: "4400123",
							Bank: "FIRST EXAMPLE BANK/021000089", Address: "CHICAGO IL 60601", Info: "ACCT 5XA-000777"},
					}),
					grp(bai2.Entry{
						Line: 7, Kind: bai2.KindCredit, Account: "000555000111", Currency: "USD",
						AsOfDate: day("2025-07-16"), ValueDate: day("2025-07-16"), Amount: usd("123.45"),
						TypeCode: "206", FundsType: "Z", BankRef: "BT2507160000002", CustomerRef: "CUST-9",
					}),
				},
				Debits: []bai2.Entry{
					grp(bai2.Entry{
						Line: 8, Kind: bai2.KindDebit, Account: "000555000111", Currency: "USD",
						AsOfDate: day("2025-07-16"), ValueDate: day("2025-07-16"), Amount: usd("15000.00"),
						TypeCode: "475", BankRef: "CHK000123",
					}),
					grp(bai2.Entry{
						Line: 10, Kind: bai2.KindDebit, Account: "000555000111", Currency: "USD",
						AsOfDate: day("2025-07-16"), ValueDate: day("2025-07-16"), Amount: usd("10000.00"),
						TypeCode: "495", FundsType: "0", BankRef: "FW2507160000004", Text: "OUTGOING WIRE",
					}),
				},
				Reversals: []bai2.Entry{
					grp(bai2.Entry{
						Line: 9, Kind: bai2.KindReversal, Account: "000555000111", Currency: "USD",
						AsOfDate: day("2025-07-16"), ValueDate: day("2025-07-16"), Amount: usd("123.45"),
						TypeCode: "252", BankRef: "RV2507160000003", Text: "DEBIT REVERSAL OF CHK000122",
					}),
				},
				Other: []bai2.Entry{
					grp(bai2.Entry{
						Line: 11, Kind: bai2.KindOther, Account: "000555000111", Currency: "USD",
						AsOfDate: day("2025-07-16"), ValueDate: day("2025-07-16"),
						TypeCode: "890", BankRef: "NM0001", Text: "ACCOUNT ANALYSIS STATEMENT AVAILABLE",
					}),
				},
			},
		},
		{
			// Deviations accepted: YYYYMMDD dates, 9999 time, blank padding, a / ending a 16 before the
			// customer reference, / inside text and at an 88's start, ",/" ending a 49, a 98 without
			// its number of accounts, an empty as-of modifier.
			file: "deviations.bai", account: "987654321",
			want: bai2.Statement{
				Sender: "122099999", Receiver: "CASHPOOL", FileID: "7", Created: day("2025-07-16"),
				Receipts: []bai2.Entry{{
					Line: 4, Kind: bai2.KindCredit, Account: "987654321", Currency: "USD",
					AsOfDate: day("2025-07-15"), ValueDate: day("2025-07-15"), Amount: usd("2500.00"),
					TypeCode: "195", FundsType: "1", BankRef: "FW1", CustomerRef: "CUST-1",
					Text: "TEXT WITH 13/05/24 IN IT /SLASH AT START OF 88", Bank: "122099999", GroupStatus: "1",
				}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			got, probs := readFile(t, "testdata/good/"+tt.file, tt.account)
			if probs.Total != 0 {
				t.Fatalf("problems: %v", probs.List)
			}
			if !equalStatements(got, tt.want) {
				t.Fatalf("got\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

// equalStatements compares amounts by value (decimal's internal form is not canonical).
func equalStatements(a, b bai2.Statement) bool {
	lists := func(s bai2.Statement) [][]bai2.Entry {
		return [][]bai2.Entry{s.Receipts, s.Debits, s.Reversals, s.Other}
	}
	la, lb := lists(a), lists(b)
	for i := range la {
		if len(la[i]) != len(lb[i]) {
			return false
		}
		for j := range la[i] {
			x, y := la[i][j], lb[i][j]
			if !x.Amount.Equal(y.Amount) {
				return false
			}
			x.Amount, y.Amount = decimal.Zero, decimal.Zero
			if !reflect.DeepEqual(x, y) {
				return false
			}
		}
	}
	a.Receipts, a.Debits, a.Reversals, a.Other = nil, nil, nil, nil
	b.Receipts, b.Debits, b.Reversals, b.Other = nil, nil, nil, nil
	return reflect.DeepEqual(a, b)
}

// A correction group (status 3) names the account and as-of date it restates, for the caller to
// replace what an earlier report of that day gave; an update group (status 1) names none.
func TestCorrectionGroupIsRestated(t *testing.T) {
	t.Parallel()
	st, probs := readFile(t, "testdata/good/correction.bai", "987654321")
	if probs.Total != 0 {
		t.Fatalf("problems: %+v", probs.List)
	}
	want := []bai2.Restated{{Line: 2, Status: "3", Bank: "122099999", Account: "987654321",
		AsOfDate: time.Date(2025, 7, 15, 0, 0, 0, 0, time.UTC)}}
	if !reflect.DeepEqual(st.Restated, want) {
		t.Fatalf("restated %+v, want %+v", st.Restated, want)
	}
	if len(st.Receipts) != 2 || st.Receipts[0].GroupStatus != "3" {
		t.Fatalf("receipts %+v", st.Receipts)
	}
	st, _ = readFile(t, "testdata/good/statement.bai", "987654321")
	if len(st.Restated) != 0 {
		t.Fatalf("an update group restated %+v", st.Restated)
	}
}

package bai2_test

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"

	"github.com/shopspring/decimal"
	"pgregory.net/rapid"

	"github.com/cashpool/cashpool/bank/bai2"
)

// FuzzRead feeds arbitrary bytes to Read: it must never panic, must list every problem with a
// position and a message, must answer the same twice, and a file it accepts holds only the
// configured account's entries with positive amounts.
func FuzzRead(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		opts := bai2.Options{Accounts: []string{"987654321"}}
		st, probs := bai2.Read(bytes.NewReader(data), opts)
		st2, probs2 := bai2.Read(bytes.NewReader(data), opts)
		if !reflect.DeepEqual(probs, probs2) || !reflect.DeepEqual(st, st2) {
			t.Fatalf("two reads differ")
		}
		if probs.Total < len(probs.List) || len(probs.List) > bai2.MaxProblems {
			t.Fatalf("problems: total %d, listed %d", probs.Total, len(probs.List))
		}
		for _, p := range probs.List {
			if p.Line < 0 || p.Column < 0 || p.Problem == "" {
				t.Fatalf("malformed problem %+v", p)
			}
		}
		if probs.Total > 0 {
			if !reflect.DeepEqual(st, bai2.Statement{}) {
				t.Fatalf("a refused file returned a statement")
			}
			return
		}
		for kind, list := range map[bai2.Kind][]bai2.Entry{bai2.KindCredit: st.Receipts, bai2.KindDebit: st.Debits, bai2.KindReversal: st.Reversals} {
			for _, e := range list {
				if e.Kind != kind || e.Account != "987654321" || !e.Amount.IsPositive() || e.ValueDate.Before(e.AsOfDate) {
					t.Fatalf("entry %+v in the %s list", e, kind)
				}
			}
		}
		for _, e := range st.Receipts {
			if e.BankRef == "" {
				t.Fatalf("receipt without a bank reference: %+v", e)
			}
		}
	})
}

// TestAmountsRoundTrip: any amount written as BAI2 digits (zero-padded or not) in any currency
// reads back as the same decimal, applying the currency's ISO 4217 decimals.
func TestAmountsRoundTrip(t *testing.T) {
	t.Parallel()
	minor := map[string]int32{"USD": 2, "EUR": 2, "JPY": 0, "KWD": 3}
	rapid.Check(t, func(t *rapid.T) {
		units := rapid.Int64Range(1, 999_999_999_999_999_999).Draw(t, "units")
		ccy := rapid.SampledFrom([]string{"USD", "EUR", "JPY", "KWD"}).Draw(t, "currency")
		digits := fmt.Sprint(units)
		width := rapid.IntRange(len(digits), 18).Draw(t, "width")
		text := fmt.Sprintf("%0*d", width, units)
		file := fmt.Sprintf("01,122099999,CASHPOOL,250716,0605,1,,,2/\n"+
			"02,CASHPOOL,122099999,1,250715,,,2/\n"+
			"03,987654321,%s,,,,/\n"+
			"16,195,%s,0,FW1,,TEXT\n"+
			"49,%s,3/\n98,+%s,1,5/\n99,%s,1,7/\n", ccy, text, digits, digits, text)
		st, probs := bai2.Read(bytes.NewReader([]byte(file)), bai2.Options{Accounts: []string{"987654321"}})
		if probs.Total != 0 {
			t.Fatalf("problems %v in\n%s", probs.List, file)
		}
		want := decimal.New(units, -minor[ccy])
		if len(st.Receipts) != 1 || !st.Receipts[0].Amount.Equal(want) || st.Receipts[0].Currency != ccy {
			t.Fatalf("receipts %+v, want %s %s", st.Receipts, want, ccy)
		}
	})
}

package camt_test

import (
	"bytes"
	"testing"

	"github.com/cashpool/cashpool/bank/camt"
)

// The seed corpus is testdata/fuzz/FuzzRead/: the good and bad files of testdata.

// FuzzRead holds the reader to what it promises whatever arrives: a refused file yields nothing
// and lists its problems; an accepted one yields only positive, booked, unreversed credits in a
// currency, with a reference to match them by.
func FuzzRead(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		st, probs := camt.Read(bytes.NewReader(data), opts())
		if probs.Total < len(probs.List) || len(probs.List) > camt.MaxProblems {
			t.Fatalf("problems: total %d, listed %d", probs.Total, len(probs.List))
		}
		for _, p := range probs.List {
			if p.Problem == "" || p.Line < 0 || p.Column < 0 {
				t.Fatalf("problem without text or with a bad position: %+v", p)
			}
		}
		if probs.Total > 0 {
			if len(st.Receipts)+len(st.Others) != 0 || st.Kind != "" {
				t.Fatalf("refused file yielded %+v", st)
			}
			return
		}
		if st.Kind != camt.KindStatement && st.Kind != camt.KindNotification {
			t.Fatalf("accepted file of kind %q", st.Kind)
		}
		for _, r := range st.Receipts {
			if r.Amount.Sign() <= 0 || r.Currency == "" || r.ValueDate.IsZero() || r.Tx < 1 || r.Tx > r.Txs {
				t.Fatalf("receipt %+v", r)
			}
			if r.UETR == "" && r.TxRef == "" && r.EntryRef == "" {
				t.Fatalf("receipt without a reference to match it by: %+v", r)
			}
		}
		for _, e := range st.Others {
			if e.Why == "" {
				t.Fatalf("entry reported without a reason: %+v", e)
			}
		}
	})
}

package ingest_test

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/batch/ingest"
	"github.com/cashpool/cashpool/pool"
)

// The seed corpus is testdata/fuzz/Fuzz*/: the good and bad files of testdata.

func FuzzReceipts(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		var rows []pool.Receipt
		probs, err := ingest.ReadReceipts(bytes.NewReader(data), testNow, func(_ int, rc pool.Receipt) error {
			rows = append(rows, rc)
			return nil
		})
		checkProblems(t, probs, err)
		if probs.Total > 0 {
			return
		}
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		w.Write(ingest.ReceiptColumns)
		for _, rc := range rows {
			w.Write([]string{rc.ReceiptID, rc.ValueDate.Format(time.DateOnly), rc.Amount.String(), rc.Currency,
				rc.OriginatorName, rc.OriginatorAccount, rc.OriginatorBank, rc.OriginatorAddress, rc.Reference})
		}
		w.Flush()
		i := 0
		probs, err = ingest.ReadReceipts(&buf, testNow, func(_ int, rc pool.Receipt) error {
			if i >= len(rows) {
				t.Fatalf("round trip: more rows than the first read")
			}
			want := rows[i]
			if rc.ReceiptID != want.ReceiptID || !rc.ValueDate.Equal(want.ValueDate) || !rc.Amount.Equal(want.Amount) ||
				rc.Currency != want.Currency || rc.OriginatorName != want.OriginatorName ||
				rc.OriginatorAccount != want.OriginatorAccount || rc.OriginatorBank != want.OriginatorBank ||
				rc.OriginatorAddress != want.OriginatorAddress || rc.Reference != want.Reference {
				t.Fatalf("round trip row %d: %+v, want %+v", i, rc, want)
			}
			i++
			return nil
		})
		if err != nil || probs.Total > 0 || i != len(rows) {
			t.Fatalf("round trip: %d of %d rows, problems %v, err %v\n%s", i, len(rows), probs.List, err, buf.Bytes())
		}
	})
}

func FuzzAllocations(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		var rows []pool.Allocation
		probs, err := ingest.ReadAllocations(bytes.NewReader(data), func(_ int, a pool.Allocation) error {
			if a.Amount.Valid == a.Weight.Valid {
				t.Fatalf("row with amount %v and weight %v", a.Amount, a.Weight)
			}
			rows = append(rows, a)
			return nil
		})
		checkProblems(t, probs, err)
		if probs.Total > 0 {
			return
		}
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		w.Write(ingest.AllocationColumns)
		for _, a := range rows {
			amount, weight := "", ""
			if a.Amount.Valid {
				amount = a.Amount.Decimal.String()
			}
			if a.Weight.Valid {
				weight = a.Weight.Decimal.String()
			}
			w.Write([]string{a.ReceiptID, a.AccountID, amount, weight, a.ClientRef, a.Description, a.BankReference})
		}
		w.Flush()
		i := 0
		probs, err = ingest.ReadAllocations(&buf, func(_ int, a pool.Allocation) error {
			if i >= len(rows) {
				t.Fatalf("round trip: more rows than the first read")
			}
			want := rows[i]
			if a.ReceiptID != want.ReceiptID || a.BankReference != want.BankReference || a.AccountID != want.AccountID || a.ClientRef != want.ClientRef ||
				a.Description != want.Description || !nullEqual(a.Amount, want.Amount) || !nullEqual(a.Weight, want.Weight) {
				t.Fatalf("round trip row %d: %+v, want %+v", i, a, want)
			}
			i++
			return nil
		})
		if err != nil || probs.Total > 0 || i != len(rows) {
			t.Fatalf("round trip: %d of %d rows, problems %v, err %v\n%s", i, len(rows), probs.List, err, buf.Bytes())
		}
	})
}

func FuzzRewards(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		var rows []pool.Reward
		probs, err := ingest.ReadRewards(bytes.NewReader(data), func(_ int, w pool.Reward) error {
			// What a JNLS may carry, whatever the file held.
			if w.Qty.Sign() <= 0 || w.Qty.Exponent() < -9 || w.Symbol == "" || strings.ContainsAny(w.Symbol, "/ ") ||
				w.Symbol != strings.ToUpper(w.Symbol) || w.AccountID != strings.ToLower(w.AccountID) || w.RewardID == "" || w.Reason == "" {
				t.Fatalf("accepted reward %+v", w)
			}
			rows = append(rows, w)
			return nil
		})
		checkProblems(t, probs, err)
		lines := bytes.Count(data, []byte("\n")) + 1
		for _, p := range probs.List {
			if p.Line > lines {
				t.Fatalf("problem on line %d of a file of %d lines: %+v", p.Line, lines, p)
			}
		}
		if probs.Total > 0 {
			return
		}
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		w.Write(ingest.RewardColumns)
		for _, x := range rows {
			w.Write([]string{x.RewardID, x.AccountID, x.Symbol, x.Qty.String(), x.Reason, x.Description})
		}
		w.Flush()
		i := 0
		probs, err = ingest.ReadRewards(&buf, func(_ int, x pool.Reward) error {
			if i >= len(rows) {
				t.Fatalf("round trip: more rows than the first read")
			}
			want := rows[i]
			if x.RewardID != want.RewardID || x.AccountID != want.AccountID || x.Symbol != want.Symbol || !x.Qty.Equal(want.Qty) ||
				x.Reason != want.Reason || x.Description != want.Description {
				t.Fatalf("round trip row %d: %+v, want %+v", i, x, want)
			}
			i++
			return nil
		})
		if err != nil || probs.Total > 0 || i != len(rows) {
			t.Fatalf("round trip: %d of %d rows, problems %v, err %v\n%s", i, len(rows), probs.List, err, buf.Bytes())
		}
	})
}

func checkProblems(t *testing.T, probs ingest.Problems, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("reading from memory failed: %v", err)
	}
	if probs.Total < len(probs.List) || len(probs.List) > ingest.MaxProblems {
		t.Fatalf("problems: total %d, listed %d", probs.Total, len(probs.List))
	}
	for _, p := range probs.List {
		if p.Line < 0 || p.Column < 0 || p.Problem == "" {
			t.Fatalf("malformed problem %+v", p)
		}
	}
}

func nullEqual(a, b decimal.NullDecimal) bool {
	return a.Valid == b.Valid && a.Decimal.Equal(b.Decimal)
}

package ingest_test

import (
	"bytes"
	"encoding/csv"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/batch/ingest"
	"github.com/cashpool/cashpool/pool"
)

// The seed corpus is testdata/fuzz/Fuzz*/: the good and bad files of testdata.

func FuzzReceipts(f *testing.F) {
	read := func(r io.Reader, row func(int, pool.Receipt) error) (ingest.Problems, error) {
		return ingest.ReadReceipts(r, testNow, row)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rows := readValid(t, data, read, nil)
		roundTrip(t, rows, read, ingest.ReceiptColumns, func(rc pool.Receipt) []string {
			return []string{rc.ReceiptID, rc.ValueDate.Format(time.DateOnly), rc.Amount.String(), rc.Currency,
				rc.OriginatorName, rc.OriginatorAccount, rc.OriginatorBank, rc.OriginatorAddress, rc.Reference}
		}, func(rc, want pool.Receipt) bool {
			return rc.ReceiptID == want.ReceiptID && rc.ValueDate.Equal(want.ValueDate) && rc.Amount.Equal(want.Amount) &&
				rc.Currency == want.Currency && rc.OriginatorName == want.OriginatorName &&
				rc.OriginatorAccount == want.OriginatorAccount && rc.OriginatorBank == want.OriginatorBank &&
				rc.OriginatorAddress == want.OriginatorAddress && rc.Reference == want.Reference
		})
	})
}

func FuzzAllocations(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		rows := readValid(t, data, ingest.ReadAllocations, func(a pool.Allocation) {
			if a.Amount.Valid == a.Weight.Valid {
				t.Fatalf("row with amount %v and weight %v", a.Amount, a.Weight)
			}
		})
		roundTrip(t, rows, ingest.ReadAllocations, ingest.AllocationColumns, func(a pool.Allocation) []string {
			amount, weight := "", ""
			if a.Amount.Valid {
				amount = a.Amount.Decimal.String()
			}
			if a.Weight.Valid {
				weight = a.Weight.Decimal.String()
			}
			return []string{a.ReceiptID, a.AccountID, amount, weight, a.ClientRef, a.Description, a.BankReference}
		}, func(a, want pool.Allocation) bool {
			return a.ReceiptID == want.ReceiptID && a.BankReference == want.BankReference && a.AccountID == want.AccountID &&
				a.ClientRef == want.ClientRef && a.Description == want.Description && nullEqual(a.Amount, want.Amount) &&
				nullEqual(a.Weight, want.Weight)
		})
	})
}

func FuzzRewards(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		rows := readValid(t, data, ingest.ReadRewards, func(w pool.Reward) {
			// What a JNLS may carry, whatever the file held.
			if w.Qty.Sign() <= 0 || w.Qty.Exponent() < -9 || w.Symbol == "" || strings.ContainsAny(w.Symbol, "/ ") ||
				w.Symbol != strings.ToUpper(w.Symbol) || w.AccountID != strings.ToLower(w.AccountID) || w.RewardID == "" || w.Reason == "" {
				t.Fatalf("accepted reward %+v", w)
			}
		})
		roundTrip(t, rows, ingest.ReadRewards, ingest.RewardColumns, func(w pool.Reward) []string {
			return []string{w.RewardID, w.AccountID, w.Symbol, w.Qty.String(), w.Reason, w.Description}
		}, func(w, want pool.Reward) bool {
			return w.RewardID == want.RewardID && w.AccountID == want.AccountID && w.Symbol == want.Symbol &&
				w.Qty.Equal(want.Qty) && w.Reason == want.Reason && w.Description == want.Description
		})
	})
}

// reader is one kind's Read function.
type reader[T any] func(io.Reader, func(int, T) error) (ingest.Problems, error)

// readValid reads data with read, checks every problem is well formed and names a line of data,
// and returns the rows of a file without problems (nil otherwise). check, when set, sees every
// row the reader accepted.
func readValid[T any](t *testing.T, data []byte, read reader[T], check func(T)) []T {
	t.Helper()
	var rows []T
	probs, err := read(bytes.NewReader(data), func(_ int, x T) error {
		if check != nil {
			check(x)
		}
		rows = append(rows, x)
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
		return nil
	}
	return rows
}

// roundTrip writes rows back as a CSV file with columns and reads them again: every row must come
// back as it was, without a problem.
func roundTrip[T any](t *testing.T, rows []T, read reader[T], columns []string, record func(T) []string, equal func(T, T) bool) {
	t.Helper()
	if len(rows) == 0 {
		return // a file with problems: nothing to write back
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write(columns)
	for _, x := range rows {
		w.Write(record(x))
	}
	w.Flush()
	i := 0
	probs, err := read(&buf, func(_ int, x T) error {
		if i >= len(rows) {
			t.Fatalf("round trip: more rows than the first read")
		}
		if !equal(x, rows[i]) {
			t.Fatalf("round trip row %d: %+v, want %+v", i, x, rows[i])
		}
		i++
		return nil
	})
	if err != nil || probs.Total > 0 || i != len(rows) {
		t.Fatalf("round trip: %d of %d rows, problems %v, err %v\n%s", i, len(rows), probs.List, err, buf.Bytes())
	}
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

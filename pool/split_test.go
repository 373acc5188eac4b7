package pool_test

import (
	"testing"

	"github.com/shopspring/decimal"
	"pgregory.net/rapid"

	"github.com/cashpool/cashpool/pool"
)

func genCents(t *rapid.T, label string, max int64) decimal.Decimal {
	return decimal.New(rapid.Int64Range(0, max).Draw(t, label), -2)
}

func genWeights(t *rapid.T) []decimal.Decimal {
	n := rapid.IntRange(1, 40).Draw(t, "n")
	ws := make([]decimal.Decimal, n)
	for i := range ws {
		// weights with up to 10 decimals, from tiny to large
		ws[i] = decimal.New(rapid.Int64Range(1, 1_000_000_000_000).Draw(t, "w"), -int32(rapid.IntRange(0, 10).Draw(t, "scale")))
	}
	return ws
}

func TestSplitProperties(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		total := genCents(t, "total", 100_000_000_000_00)
		ws := genWeights(t)
		parts, err := pool.Split(total, ws)
		if err != nil {
			t.Fatal(err)
		}
		if len(parts) != len(ws) {
			t.Fatalf("got %d parts for %d weights", len(parts), len(ws))
		}
		sum := decimal.Zero
		wsum := decimal.Zero
		for _, w := range ws {
			wsum = wsum.Add(w)
		}
		for i, p := range parts {
			if p.Sign() < 0 {
				t.Fatalf("part %d negative: %s", i, p)
			}
			if !p.Equal(p.Truncate(2)) {
				t.Fatalf("part %d not whole cents: %s", i, p)
			}
			sum = sum.Add(p)
			// |part - exact| < 1 cent, checked exactly: |part*W - total*w| < 0.01*W
			diff := p.Mul(wsum).Sub(total.Mul(ws[i])).Abs()
			if diff.GreaterThanOrEqual(wsum.Shift(-2)) {
				t.Fatalf("part %d = %s is a cent or more from its exact share", i, p)
			}
		}
		if !sum.Equal(total) {
			t.Fatalf("parts sum to %s, want %s", sum, total)
		}
		again, _ := pool.Split(total, ws)
		for i := range parts {
			if !again[i].Equal(parts[i]) {
				t.Fatalf("same input, different output at %d: %s vs %s", i, parts[i], again[i])
			}
		}
	})
}

func TestSplitTiesGoToLowerIndex(t *testing.T) {
	t.Parallel()
	one := decimal.NewFromInt(1)
	parts, err := pool.Split(decimal.RequireFromString("100.00"), []decimal.Decimal{one, one, one})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"33.34", "33.33", "33.33"}
	for i, w := range want {
		if !parts[i].Equal(decimal.RequireFromString(w)) {
			t.Fatalf("part %d = %s, want %s", i, parts[i], w)
		}
	}
}

func TestSplitRefusesBadInput(t *testing.T) {
	t.Parallel()
	one := decimal.NewFromInt(1)
	cases := map[string]struct {
		total   string
		weights []decimal.Decimal
	}{
		"no weights":      {"1.00", nil},
		"zero weight":     {"1.00", []decimal.Decimal{one, decimal.Zero}},
		"negative total":  {"-1.00", []decimal.Decimal{one}},
		"third decimal":   {"1.001", []decimal.Decimal{one}},
		"negative weight": {"1.00", []decimal.Decimal{one.Neg()}},
	}
	for name, c := range cases {
		if _, err := pool.Split(decimal.RequireFromString(c.total), c.weights); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func BenchmarkSplit1M(b *testing.B) {
	ws := make([]decimal.Decimal, 1_000_000)
	for i := range ws {
		ws[i] = decimal.NewFromInt(int64(i%97 + 1))
	}
	total := decimal.RequireFromString("123456789.01")
	b.ResetTimer()
	for b.Loop() {
		if _, err := pool.Split(total, ws); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(ws))*float64(b.N)/b.Elapsed().Seconds(), "shares/s")
}

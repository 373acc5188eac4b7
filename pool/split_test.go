package pool_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"pgregory.net/rapid"

	"github.com/cashpool/cashpool/pool"
)

func genCents(t *rapid.T, label string, max int64) decimal.Decimal {
	return decimal.New(rapid.Int64Range(0, max).Draw(t, label), -2)
}

func genWeights(t *rapid.T) []pool.Share {
	n := rapid.IntRange(1, 40).Draw(t, "n")
	ws := make([]pool.Share, n)
	for i := range ws {
		// weights with up to 10 decimals, from tiny to large
		ws[i] = pool.Share{Ref: fmt.Sprintf("r%03d", i),
			Weight: decimal.New(rapid.Int64Range(1, 1_000_000_000_000).Draw(t, "w"), -int32(rapid.IntRange(0, 10).Draw(t, "scale")))}
	}
	return ws
}

// shares builds shares from "ref:weight" pairs.
func shares(pairs ...string) []pool.Share {
	out := make([]pool.Share, len(pairs))
	for i, p := range pairs {
		ref, w, _ := strings.Cut(p, ":")
		out[i] = pool.Share{Ref: ref, Weight: decimal.RequireFromString(w)}
	}
	return out
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
			wsum = wsum.Add(w.Weight)
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
			diff := p.Mul(wsum).Sub(total.Mul(ws[i].Weight)).Abs()
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

// The tie-break is written out by hand for both arithmetic paths: the same table runs once with
// small weights (64-bit path) and once with the weights scaled so that their sum exceeds 2^64
// (big-integer path). Refs are compared byte by byte: "A" < "B2" < "a" < "a1" < "b" < "b1" < "c",
// which is not the order of an en-US collation (a, A, a1, b, b1, B2, c).
func TestSplitTieBreakBothPaths(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		total  string
		shares []pool.Share
		want   []string
	}{
		// 0.02 in thirds: 0 each, remainders equal; the two cents go to B2 and a1, not to the first two given.
		{"thirds of two cents", "0.02", shares("b1:1", "a1:1", "B2:1"), []string{"0.00", "0.01", "0.01"}},
		// 10.00 over 1:1:1:3: a gets 5.00 exactly; b, A, c get 1.66 with equal remainders; two cents left go to A then b.
		{"partial tie", "10.00", shares("b:1", "A:1", "c:1", "a:3"), []string{"1.67", "1.67", "1.66", "5.00"}},
		// 100.00 in thirds: the one leftover cent goes to the bytewise lowest ref, wherever it stands.
		{"upper case first", "100.00", shares("a:1", "b:1", "A:1"), []string{"33.33", "33.33", "33.34"}},
		// equal refs (never in plan: client_ref is unique per receipt) fall back to the lower index.
		{"same ref", "0.01", shares("x:1", "x:1"), []string{"0.01", "0.00"}},
	}
	huge := decimal.New(1, 19) // 10^19 times every weight: any two of them sum past 2^64
	maxU64 := decimal.RequireFromString("18446744073709551615")
	for _, c := range cases {
		for _, path := range []string{"64-bit", "big"} {
			ss := make([]pool.Share, len(c.shares))
			sum := decimal.Zero
			for i, s := range c.shares {
				ss[i] = s
				if path == "big" {
					ss[i].Weight = s.Weight.Mul(huge)
				}
				sum = sum.Add(ss[i].Weight)
			}
			if (path == "big") != sum.GreaterThan(maxU64) {
				t.Fatalf("%s/%s: weights sum to %s, not on the intended path", c.name, path, sum)
			}
			parts, err := pool.Split(decimal.RequireFromString(c.total), ss)
			if err != nil {
				t.Fatalf("%s/%s: %v", c.name, path, err)
			}
			for i, w := range c.want {
				if !parts[i].Equal(decimal.RequireFromString(w)) {
					t.Errorf("%s/%s: part %d (%s) = %s, want %s", c.name, path, i, ss[i].Ref, parts[i], w)
				}
			}
		}
	}
}

// Among shares of equal weight, the bytewise lower client_ref never gets less, and the parts do not
// depend on the order the shares are given in; on both arithmetic paths.
func TestSplitTieBreakProperty(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 12).Draw(t, "n")
		refs := rapid.SliceOfNDistinct(rapid.StringMatching(`[aAbB1\-_. zZé]{1,4}`), n, n, rapid.ID[string]).Draw(t, "refs")
		scale := decimal.New(1, 0)
		if rapid.Bool().Draw(t, "big") {
			scale = decimal.New(1, 19)
		}
		ss := make([]pool.Share, n)
		for i := range ss {
			// few distinct weights, so ties are common
			ss[i] = pool.Share{Ref: refs[i], Weight: decimal.NewFromInt(rapid.Int64Range(1, 3).Draw(t, "w")).Mul(scale)}
		}
		total := genCents(t, "total", 10_000)
		parts, err := pool.Split(total, ss)
		if err != nil {
			t.Fatal(err)
		}
		for i := range ss {
			for j := range ss {
				if ss[i].Weight.Equal(ss[j].Weight) && bytes.Compare([]byte(ss[i].Ref), []byte(ss[j].Ref)) < 0 && parts[i].LessThan(parts[j]) {
					t.Fatalf("equal weights: %q got %s, %q got %s", ss[i].Ref, parts[i], ss[j].Ref, parts[j])
				}
			}
		}
		perm := rapid.Permutation(ss).Draw(t, "perm")
		again, err := pool.Split(total, perm)
		if err != nil {
			t.Fatal(err)
		}
		byRef := map[string]decimal.Decimal{}
		for i, s := range ss {
			byRef[s.Ref] = parts[i]
		}
		for i, s := range perm {
			if !again[i].Equal(byRef[s.Ref]) {
				t.Fatalf("%q got %s, and %s when the shares came in another order", s.Ref, byRef[s.Ref], again[i])
			}
		}
	})
}

func TestSplitRefusesBadInput(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		total   string
		weights []pool.Share
	}{
		"no weights":      {"1.00", nil},
		"zero weight":     {"1.00", shares("a:1", "b:0")},
		"negative total":  {"-1.00", shares("a:1")},
		"third decimal":   {"1.001", shares("a:1")},
		"negative weight": {"1.00", shares("a:-1")},
	}
	for name, c := range cases {
		if _, err := pool.Split(decimal.RequireFromString(c.total), c.weights); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func BenchmarkSplit1M(b *testing.B) {
	ws := make([]pool.Share, 1_000_000)
	for i := range ws {
		ws[i] = pool.Share{Ref: fmt.Sprintf("ref%07d", i), Weight: decimal.NewFromInt(int64(i%97 + 1))}
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

package pool

import (
	"errors"
	"math/big"
	"math/bits"
	"sort"

	"github.com/shopspring/decimal"
)

// Share is one party to a split: its weight, and the reference (a client_ref) that decides ties.
type Share struct {
	Ref    string
	Weight decimal.Decimal
}

// Split divides total (at most two decimal places) into len(shares) parts to the cent, in
// proportion to the weights, with the largest-remainder method: every part first gets its exact
// share rounded down to the cent, then the cents left over go one each to the parts with the
// largest remainders. Ties go to the lower Ref compared byte by byte (never by a locale's
// collation, so the same file pays the same cents on every database), then to the lower index.
// out[i] is the part of shares[i]. The parts always sum to total exactly and each differs from its
// exact share by less than one cent.
func Split(total decimal.Decimal, shares []Share) ([]decimal.Decimal, error) {
	if len(shares) == 0 {
		return nil, errors.New("split: no weights")
	}
	if total.Sign() < 0 {
		return nil, errors.New("split: negative total")
	}
	if !total.Equal(total.Truncate(2)) {
		return nil, errors.New("split: total has more than two decimal places")
	}
	cents := total.Shift(2).BigInt()
	// Weights become integers at a common scale, so every share is an exact integer division:
	// part = cents*w / W, remainder = cents*w mod W, no rationals, no rounding.
	scale := int32(0)
	for _, s := range shares {
		if s.Weight.Sign() <= 0 {
			return nil, errors.New("split: weights must be positive")
		}
		scale = max(scale, -s.Weight.Exponent())
	}
	ints := make([]*big.Int, len(shares))
	sum := new(big.Int)
	for i, s := range shares {
		ints[i] = s.Weight.Shift(scale).BigInt()
		sum.Add(sum, ints[i])
	}
	if cents.IsInt64() && sum.IsUint64() {
		return split64(cents.Uint64(), shares, ints, sum.Uint64()), nil
	}

	type part struct {
		cents *big.Int
		rem   *big.Int // cents*w mod W: the leftover fraction of a cent, times W
	}
	parts := make([]part, len(shares))
	given := new(big.Int)
	prod := new(big.Int)
	for i, w := range ints {
		prod.Mul(cents, w)
		q, r := new(big.Int), new(big.Int)
		q.QuoRem(prod, sum, r) // both non-negative, so QuoRem floors
		parts[i] = part{cents: q, rem: r}
		given.Add(given, q)
	}
	left := new(big.Int).Sub(cents, given).Int64() // < len(shares) by construction
	if left > 0 {
		order := make([]int, len(parts))
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(a, b int) bool {
			if c := parts[order[a]].rem.Cmp(parts[order[b]].rem); c != 0 {
				return c > 0
			}
			return shares[order[a]].Ref < shares[order[b]].Ref
		})
		for k := int64(0); k < left; k++ {
			p := &parts[order[k]]
			p.cents.Add(p.cents, big.NewInt(1))
		}
	}
	out := make([]decimal.Decimal, len(parts))
	for i, p := range parts {
		out[i] = decimal.NewFromBigInt(p.cents, -2)
	}
	return out, nil
}

// split64 is Split when the cents and the scaled weights fit in 64 bits, as they do for any real
// night: the same arithmetic with 128-bit products instead of big integers.
func split64(cents uint64, shares []Share, weights []*big.Int, sum uint64) []decimal.Decimal {
	parts := make([]uint64, len(weights))
	rems := make([]uint64, len(weights))
	var given uint64
	for i, w := range weights {
		hi, lo := bits.Mul64(cents, w.Uint64())
		parts[i], rems[i] = bits.Div64(hi, lo, sum) // hi < sum because the quotient is at most cents
		given += parts[i]
	}
	if left := cents - given; left > 0 {
		order := make([]int, len(parts))
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(a, b int) bool {
			if ra, rb := rems[order[a]], rems[order[b]]; ra != rb {
				return ra > rb
			}
			return shares[order[a]].Ref < shares[order[b]].Ref
		})
		for _, i := range order[:left] {
			parts[i]++
		}
	}
	out := make([]decimal.Decimal, len(parts))
	for i, p := range parts {
		out[i] = decimal.New(int64(p), -2)
	}
	return out
}

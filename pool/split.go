package pool

import (
	"errors"
	"math/big"
	"sort"

	"github.com/shopspring/decimal"
)

// Split divides total (at most two decimal places) into len(weights) parts to the cent, in
// proportion to weights, with the largest-remainder method: every part first gets its exact share
// rounded down to the cent, then the cents left over go one each to the parts with the largest
// remainders. Ties go to the lower index, so callers fix the tie order by the order they pass
// weights in (plan passes them sorted by client_ref). The parts always sum to total exactly and
// each differs from its exact share by less than one cent.
func Split(total decimal.Decimal, weights []decimal.Decimal) ([]decimal.Decimal, error) {
	if len(weights) == 0 {
		return nil, errors.New("split: no weights")
	}
	if total.Sign() < 0 {
		return nil, errors.New("split: negative total")
	}
	if !total.Equal(total.Truncate(2)) {
		return nil, errors.New("split: total has more than two decimal places")
	}
	cents := total.Shift(2).BigInt()
	sum := new(big.Rat)
	rats := make([]*big.Rat, len(weights))
	for i, w := range weights {
		if w.Sign() <= 0 {
			return nil, errors.New("split: weights must be positive")
		}
		rats[i] = w.Rat()
		sum.Add(sum, rats[i])
	}

	type part struct {
		i     int
		cents *big.Int
		rem   *big.Rat // fractional cent left over, in [0, 1)
	}
	parts := make([]part, len(weights))
	given := new(big.Int)
	for i, w := range rats {
		exact := new(big.Rat).Mul(new(big.Rat).SetInt(cents), w)
		exact.Quo(exact, sum)
		floor := new(big.Int).Quo(exact.Num(), exact.Denom()) // exact >= 0, so Quo floors
		rem := new(big.Rat).Sub(exact, new(big.Rat).SetInt(floor))
		parts[i] = part{i: i, cents: floor, rem: rem}
		given.Add(given, floor)
	}
	left := new(big.Int).Sub(cents, given).Int64() // < len(weights) by construction
	order := make([]int, len(parts))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		return parts[order[a]].rem.Cmp(parts[order[b]].rem) > 0
	})
	for k := int64(0); k < left; k++ {
		p := &parts[order[k]]
		p.cents.Add(p.cents, big.NewInt(1))
	}
	out := make([]decimal.Decimal, len(parts))
	for i, p := range parts {
		out[i] = decimal.NewFromBigInt(p.cents, -2)
	}
	return out, nil
}

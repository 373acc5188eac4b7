package pool

import (
	"errors"
	"strings"

	"github.com/shopspring/decimal"
)

// MaxAmount is the largest amount one row may carry, in dollars. Anything above it is a typo or an
// export gone wrong, never a real wire the firm expects; it also keeps NUMERIC(20,2) far from overflow.
const MaxAmount = 1_000_000_000

// MaxWeight bounds a weight so it fits NUMERIC(30,10) with room for the split arithmetic.
const MaxWeight = 1_000_000_000_000

const (
	amountPlaces = 2
	weightPlaces = 10
	// maxNumberLen stops absurd inputs before any arithmetic: MaxWeight with ten places fits.
	maxNumberLen = 32
)

// Errors about the text of an amount or a weight. Each message is the whole problem, written for
// the person who fixes the file; the value itself travels beside it.
var (
	ErrNumberEmpty     = errors.New("is empty")
	ErrNumberSign      = errors.New("must not carry a sign: amounts and weights are positive, write 100.00")
	ErrNumberExponent  = errors.New("must not use an exponent: write the plain number, like 1000.00")
	ErrNumberThousands = errors.New("must not contain thousands separators: write 1000.00, not 1,000.00")
	ErrNumberCurrency  = errors.New("must not contain a currency symbol or code: write 100.00")
	ErrNumberSpace     = errors.New("must not contain spaces")
	ErrNumberSyntax    = errors.New("is not a plain decimal number (digits, optionally a point and decimals, like 100.50)")
	ErrNumberTooLong   = errors.New("is too long to be a plausible number")

	ErrAmountScale    = errors.New("has more than two decimal places")
	ErrAmountZero     = errors.New("must be greater than zero")
	ErrAmountTooLarge = errors.New("is larger than the per-row limit of 1000000000.00")

	ErrWeightScale    = errors.New("has more than ten decimal places")
	ErrWeightZero     = errors.New("must be greater than zero")
	ErrWeightTooLarge = errors.New("is larger than the limit of 1000000000000")
)

var (
	maxAmount = decimal.NewFromInt(MaxAmount)
	maxWeight = decimal.NewFromInt(MaxWeight)
)

// ParseAmount reads a money amount: digits, optionally a point and one or two decimals. It refuses
// everything decimal.NewFromString would quietly accept (exponents, signs, ".5") and everything a
// spreadsheet adds (thousands separators, currency symbols, spaces), zero, and amounts above MaxAmount.
func ParseAmount(s string) (decimal.Decimal, error) {
	return parseNumber(s, numberRules{amountPlaces, maxAmount, ErrAmountScale, ErrAmountZero, ErrAmountTooLarge})
}

// ParseWeight reads a weight with the same strictness as ParseAmount, up to ten decimal places.
func ParseWeight(s string) (decimal.Decimal, error) {
	return parseNumber(s, numberRules{weightPlaces, maxWeight, ErrWeightScale, ErrWeightZero, ErrWeightTooLarge})
}

// numberRules are what one kind of number allows beyond the shared syntax, and the errors naming
// each breach.
type numberRules struct {
	places                    int
	max                       decimal.Decimal
	errScale, errZero, errMax error
}

// parseNumber checks the text of a positive number before it is parsed, then its value.
func parseNumber(s string, r numberRules) (decimal.Decimal, error) {
	places, err := checkNumber(s)
	if err != nil {
		return decimal.Decimal{}, err
	}
	if places > r.places {
		return decimal.Decimal{}, r.errScale
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Decimal{}, ErrNumberSyntax
	}
	if d.Sign() == 0 {
		return decimal.Decimal{}, r.errZero
	}
	if d.GreaterThan(r.max) {
		return decimal.Decimal{}, r.errMax
	}
	return d, nil
}

// checkNumber accepts exactly `digits[.digits]` and returns the number of decimal places. When the
// text is wrong it names the most likely cause, so the answer tells the operator what to change.
func checkNumber(s string) (places int, err error) {
	if s == "" {
		return 0, ErrNumberEmpty
	}
	intDigits, point := 0, -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if point < 0 {
				intDigits++
			} else {
				places++
			}
		case c == '.' && point < 0:
			point = i
		default:
			return 0, classifyNumber(s)
		}
	}
	if intDigits == 0 || (point >= 0 && places == 0) {
		return 0, ErrNumberSyntax
	}
	if len(s) > maxNumberLen {
		return 0, ErrNumberTooLong
	}
	return places, nil
}

func classifyNumber(s string) error {
	letters := 0
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c >= 'a' && c <= 'z' {
			letters++
		}
	}
	switch {
	case letters > 1 || strings.ContainsAny(s, "$€£¥"):
		return ErrNumberCurrency
	case strings.ContainsAny(s, "eE"):
		return ErrNumberExponent
	case strings.ContainsAny(s, "+-\u2212"):
		return ErrNumberSign
	case strings.ContainsAny(s, " \t\u00a0\u202f"):
		return ErrNumberSpace
	case strings.ContainsAny(s, ",'_"):
		return ErrNumberThousands
	}
	return ErrNumberSyntax
}

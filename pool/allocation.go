package pool

import (
	"errors"
	"strings"

	"github.com/shopspring/decimal"
)

// Allocation is one instruction: AccountID gets Amount, or a Weight-proportional share, of the
// receipt named by ReceiptID or, instead, by the bank's reference BankReference (exactly one of the
// two is set). ClientRef is the client's own reference and is unique per receipt.
type Allocation struct {
	ReceiptID     string
	BankReference string
	AccountID     string // canonical lowercase UUID
	Amount        decimal.NullDecimal
	Weight        decimal.NullDecimal
	ClientRef     string
	Description   string
}

// Errors about allocations.
var (
	ErrAccountIDSpace  = errors.New("has spaces; an account id is a UUID and is never trimmed, so remove them")
	ErrAccountID       = errors.New("is not an account id: want a UUID such as 0d9f6e2c-3b1a-4c5d-8e7f-123456789abc")
	ErrAccountIDNil    = errors.New("is the nil UUID, which is no account")
	ErrAmountOrWeight  = errors.New("one of amount or weight is required")
	ErrAmountAndWeight = errors.New("both amount and weight are given: give exactly one")
)

// ParseAccountID reads an Alpaca account id, a UUID in its 8-4-4-4-12 form, and returns it in
// canonical lower case. Upper-case hex is the same UUID and is accepted; anything else (braces,
// missing hyphens, spaces) is refused rather than repaired, because a repaired id might fund the
// wrong account.
func ParseAccountID(s string) (string, error) {
	if s == "" {
		return "", ErrRequired
	}
	if strings.ContainsAny(s, " \t\u00a0") {
		return "", ErrAccountIDSpace
	}
	if len(s) != 36 {
		return "", ErrAccountID
	}
	var b [36]byte
	zero := true
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return "", ErrAccountID
			}
			b[i] = c
			continue
		}
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
		case c >= 'A' && c <= 'F':
			c += 'a' - 'A'
		default:
			return "", ErrAccountID
		}
		if c != '0' {
			zero = false
		}
		b[i] = c
	}
	if zero {
		return "", ErrAccountIDNil
	}
	if string(b[:]) == s {
		return s, nil // no allocation on the common, already canonical path
	}
	return string(b[:]), nil
}

// CheckAmountOrWeight enforces that exactly one of amount and weight is given.
func CheckAmountOrWeight(amount, weight decimal.NullDecimal) error {
	switch {
	case amount.Valid && weight.Valid:
		return ErrAmountAndWeight
	case !amount.Valid && !weight.Valid:
		return ErrAmountOrWeight
	}
	return nil
}

package pool

import (
	"errors"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// Receipt is one incoming wire into the firm account as the bank reported it.
type Receipt struct {
	ReceiptID         string
	ValueDate         time.Time // a civil date, midnight UTC
	Amount            decimal.Decimal
	Currency          string
	OriginatorName    string
	OriginatorAccount string
	OriginatorBank    string
	OriginatorAddress string
	Reference         string
}

// Length limits, in bytes. Originator fields travel to Alpaca as transmitter_* fields, which take
// at most 255 characters.
const (
	MaxRefLen         = 128
	MaxOriginatorLen  = 255
	MaxReferenceLen   = 255
	MaxDescriptionLen = 1024
)

// Currency is the only currency cashpool funds accounts in.
const Currency = "USD"

// Errors about identifiers and free text.
var (
	ErrRequired     = errors.New("is required")
	ErrRefSpace     = errors.New("has leading or trailing spaces; identifiers are matched exactly, so remove them")
	ErrRefChars     = errors.New("contains a line break or control character")
	ErrRefTooLong   = errors.New("is longer than 128 bytes")
	ErrTextTooLong  = errors.New("is too long")
	ErrTextControl  = errors.New("contains a control character (only tab and line breaks are allowed in text)")
	ErrTextEncoding = errors.New("is not valid UTF-8: save the file as UTF-8")
)

// Errors about receipts' dates and currency.
var (
	ErrDateSyntax   = errors.New("is not a date written YYYY-MM-DD")
	ErrDateTooEarly = errors.New("is before 2000-01-01")
	ErrDateFuture   = errors.New("is more than 31 days in the future")
	ErrCurrency     = errors.New("is not USD: cashpool funds USD accounts only; such wires must be handled by hand")
	ErrCurrencyCase = errors.New("must be written USD (upper case)")
)

var earliestValueDate = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// maxFutureDays is how far ahead a value date may lie: a bank may announce a wire a few weeks ahead,
// anything further is a typo of the year.
const maxFutureDays = 31

// ParseRef checks an identifier such as a receipt id or a client reference: required, at most
// MaxRefLen bytes, no surrounding spaces (they would make two references that look the same
// differ), no control characters.
func ParseRef(s string) (string, error) {
	if s == "" {
		return "", ErrRequired
	}
	if !utf8.ValidString(s) {
		return "", ErrTextEncoding
	}
	if len(s) > MaxRefLen {
		return "", ErrRefTooLong
	}
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	if unicode.IsSpace(first) || unicode.IsSpace(last) {
		return "", ErrRefSpace
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "", ErrRefChars
		}
	}
	return s, nil
}

// CheckText checks free text: valid UTF-8, at most max bytes, and no control characters other than
// tab and line breaks (PostgreSQL cannot store NUL, and the rest are noise from broken exports).
// When required is set the text must not be blank.
func CheckText(s string, max int, required bool) error {
	if !utf8.ValidString(s) {
		return ErrTextEncoding
	}
	if len(s) > max {
		return ErrTextTooLong
	}
	blank := true
	for _, r := range s {
		if r == '\t' || r == '\n' || r == '\r' {
			continue
		}
		if unicode.IsControl(r) {
			return ErrTextControl
		}
		if !unicode.IsSpace(r) {
			blank = false
		}
	}
	if required && blank {
		return ErrRequired
	}
	return nil
}

// ParseValueDate reads a YYYY-MM-DD value date and refuses implausible ones: before 2000-01-01 or
// more than 31 days after now's calendar date.
func ParseValueDate(s string, now time.Time) (time.Time, error) {
	if len(s) != len("2006-01-02") {
		return time.Time{}, ErrDateSyntax
	}
	d, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}, ErrDateSyntax
	}
	if d.Before(earliestValueDate) {
		return time.Time{}, ErrDateTooEarly
	}
	y, m, day := now.Date()
	if d.After(time.Date(y, m, day+maxFutureDays, 0, 0, 0, 0, time.UTC)) {
		return time.Time{}, ErrDateFuture
	}
	return d, nil
}

// ParseCurrency accepts USD only.
func ParseCurrency(s string) (string, error) {
	switch {
	case s == Currency:
		return s, nil
	case s == "":
		return "", ErrRequired
	case strings.EqualFold(s, Currency):
		return "", ErrCurrencyCase
	}
	return "", ErrCurrency
}

package bai2

import (
	"fmt"
	"strconv"
	"time"

	"github.com/shopspring/decimal"
)

// maxAmountDigits bounds an amount's digits so that every amount fits NUMERIC(20,2) after the
// implied decimals; no statement carries more.
const maxAmountDigits = 18

// minorUnits is ISO 4217's number of decimals per currency. The BAI2 manual's own table is stale
// (it gives EUR none), so ISO's is used; a currency not listed refuses the file.
var minorUnits = map[string]int32{
	"USD": 2, "CAD": 2, "EUR": 2, "GBP": 2, "CHF": 2, "AUD": 2, "NZD": 2, "HKD": 2, "SGD": 2, "CNY": 2,
	"MXN": 2, "BRL": 2, "SEK": 2, "NOK": 2, "DKK": 2, "ZAR": 2, "INR": 2, "ILS": 2, "PLN": 2,
	"JPY": 0, "KRW": 0, "CLP": 0, "ISK": 0,
	"BHD": 3, "JOD": 3, "KWD": 3, "OMR": 3, "TND": 3,
}

// amount reads validated digit text (an optional sign only when signed) as an integer number of
// minor units; decimals are applied by the caller from the currency.
func amount(s string, signed bool) (decimal.Decimal, error) {
	digits := s
	if signed && len(s) > 0 && (s[0] == '+' || s[0] == '-') {
		digits = s[1:]
	}
	if digits == "" {
		return decimal.Decimal{}, fmt.Errorf("amount %q has no digits", s)
	}
	if len(digits) > maxAmountDigits {
		return decimal.Decimal{}, fmt.Errorf("amount %q has more than %d digits", s, maxAmountDigits)
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			if !signed && (s[0] == '+' || s[0] == '-') {
				return decimal.Decimal{}, fmt.Errorf("amount %q must be unsigned", s)
			}
			return decimal.Decimal{}, fmt.Errorf("amount %q is not digits (BAI2 amounts carry no decimal point)", s)
		}
	}
	return decimal.RequireFromString(s), nil // validated above: sign and digits only
}

// date reads YYMMDD (years 2000–2099) or, as Bank of America's "BAI2a" writes, YYYYMMDD.
func date(s string) (time.Time, error) {
	var y, m, d int
	var err error
	switch len(s) {
	case 6:
		y, err = digitsInt(s[0:2])
		y += 2000
	case 8:
		y, err = digitsInt(s[0:4])
	default:
		return time.Time{}, fmt.Errorf("date %q is not YYMMDD", s)
	}
	if err == nil {
		m, err = digitsInt(s[len(s)-4 : len(s)-2])
	}
	if err == nil {
		d, err = digitsInt(s[len(s)-2:])
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("date %q is not YYMMDD", s)
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Year() != y || int(t.Month()) != m || t.Day() != d {
		return time.Time{}, fmt.Errorf("date %q does not exist", s)
	}
	return t, nil
}

// clock checks HHMM: 0000–2400, and 9999 meaning end of day.
func clock(s string) error {
	if s == "9999" {
		return nil
	}
	if len(s) == 4 {
		h, err1 := digitsInt(s[:2])
		m, err2 := digitsInt(s[2:])
		if err1 == nil && err2 == nil && m < 60 && (h < 24 || h == 24 && m == 0) {
			return nil
		}
	}
	return fmt.Errorf("time %q is not HHMM (0000–2400 or 9999)", s)
}

func digitsInt(s string) (int, error) {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, strconv.ErrSyntax
		}
	}
	return strconv.Atoi(s)
}

// typeCode checks a three-digit type code and returns its number.
func typeCode(s string) (int, error) {
	if len(s) != 3 {
		return 0, fmt.Errorf("type code %q is not three digits", s)
	}
	n, err := digitsInt(s)
	if err != nil {
		return 0, fmt.Errorf("type code %q is not three digits", s)
	}
	return n, nil
}

package camt

import (
	"fmt"
	"strings"

	"github.com/shopspring/decimal"
)

// minorUnits is ISO 4217's number of decimal places for the currencies a US firm's account can
// plausibly be reported in. An amount with more places than its currency has is refused: it is not
// money the bank can have moved.
var minorUnits = map[string]int{
	"USD": 2, "EUR": 2, "GBP": 2, "CAD": 2, "CHF": 2, "AUD": 2, "NZD": 2, "MXN": 2, "HKD": 2, "SGD": 2,
	"SEK": 2, "NOK": 2, "DKK": 2, "CNY": 2, "INR": 2, "BRL": 2, "ZAR": 2, "PLN": 2, "ILS": 2,
	"JPY": 0, "KRW": 0, "BHD": 3, "KWD": 3, "JOD": 3, "OMR": 3, "TND": 3,
}

// The XSD's ActiveOrHistoricCurrencyAndAmount: at most 18 digits, 5 of them decimals.
const (
	maxDigits         = 18
	maxFractionDigits = 5
)

// parseAmount reads the text of an ISO 20022 amount in the given currency: plain digits with an
// optional point and decimals, no sign, no exponent, no separators, and no more decimal places than
// the currency has. The message is the whole problem, written for whoever asks the bank.
func parseAmount(text, ccy string) (decimal.Decimal, string) {
	places, ok := minorUnits[ccy]
	switch {
	case ccy == "":
		return decimal.Decimal{}, "amount has no Ccy attribute"
	case !ok:
		return decimal.Decimal{}, fmt.Sprintf("currency %q is not an ISO 4217 currency cashpool knows", ccy)
	}
	d, msg := parseNumber(text, places)
	if msg != "" && strings.HasPrefix(msg, "has ") {
		msg = fmt.Sprintf("amount %s; %s has %d", msg, ccy, places)
	}
	return d, msg
}

// parseNumber is parseAmount's check for a figure with at most places decimals (the summary's sums
// carry no currency: they get the XSD's five).
func parseNumber(text string, places int) (decimal.Decimal, string) {
	s := strings.TrimSpace(text)
	switch {
	case s == "":
		return decimal.Decimal{}, "amount is empty"
	case strings.ContainsAny(s, "eE"):
		return decimal.Decimal{}, "amount must not use an exponent"
	case strings.Contains(s, ","):
		return decimal.Decimal{}, "amount must not contain a comma: ISO 20022 amounts use a point for decimals and no thousands separators"
	case strings.ContainsAny(s, "+-"):
		return decimal.Decimal{}, "amount must not carry a sign: the direction is CdtDbtInd"
	}
	whole, frac, dot := strings.Cut(s, ".")
	if whole == "" || (dot && frac == "") || !digits(whole) || !digits(frac) {
		return decimal.Decimal{}, "amount is not a plain decimal number (digits, optionally a point and decimals)"
	}
	if len(whole)+len(frac) > maxDigits || len(frac) > maxFractionDigits {
		return decimal.Decimal{}, "amount has more digits than ISO 20022 allows (18 in all, 5 after the point)"
	}
	if len(frac) > places {
		return decimal.Decimal{}, fmt.Sprintf("has %d decimal places", len(frac))
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Decimal{}, "amount is not a plain decimal number (digits, optionally a point and decimals)"
	}
	return d, ""
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

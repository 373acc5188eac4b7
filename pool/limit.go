package pool

import "github.com/shopspring/decimal"

// ParseLimit reads a configured money limit: "0" means no limit, anything else is an amount.
func ParseLimit(s string) (decimal.Decimal, error) {
	if s == "0" || s == "0.00" {
		return decimal.Zero, nil
	}
	return ParseAmount(s)
}

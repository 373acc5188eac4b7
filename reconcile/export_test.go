package reconcile

import "github.com/shopspring/decimal"

// Tally and Balance expose the pure totals arithmetic to the property test.
func Tally(t *Totals, amount decimal.Decimal, status string) { tally(t, amount, 1, status) }

func Balance(t *Totals) { balance(t) }

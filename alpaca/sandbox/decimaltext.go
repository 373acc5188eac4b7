package sandbox

import (
	"encoding/json"
	"fmt"
)

// decimalText is a decimal request field as its JSON text. Alpaca documents amount as
// "string/numeric" and alpaca-py sends amount and qty as floats, so 10.5 and "10.5" are the same
// amount. A number keeps the exact text it was written with and is validated like a string
// (parseMoney, parseQty); it never passes through float64.
type decimalText string

func (d *decimalText) UnmarshalJSON(b []byte) error {
	// b is one JSON value, already checked by the decoder; null never gets here (the field is a
	// pointer and stays nil).
	switch {
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*d = decimalText(s)
	case b[0] == '-' || '0' <= b[0] && b[0] <= '9':
		*d = decimalText(b)
	default:
		return fmt.Errorf("amount and qty must be a JSON string or number, got %.20s", b)
	}
	return nil
}

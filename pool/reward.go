package pool

import (
	"errors"
	"strings"

	"github.com/shopspring/decimal"
)

// Reward is one securities reward: AccountID gets Qty shares of Symbol from the firm's rewards
// account, sent as a JNLS journal. RewardID is the firm's own id of the reward, unique across all
// files, so a reward delivered twice is refused rather than given twice.
type Reward struct {
	RewardID    string
	AccountID   string // canonical lowercase UUID
	Symbol      string
	Qty         decimal.Decimal
	Reason      string // why it is given: sign_up, referral, ...
	Description string
}

const (
	// qtyPlaces is Alpaca's precision for a JNLS quantity: "9 or fewer decimal places".
	qtyPlaces = 9
	// MaxQty bounds one reward, in shares: a reward is a few shares at most, so more is a typo or
	// an export gone wrong, never an intended gift; it also keeps NUMERIC(30,9) far from overflow.
	MaxQty = 1_000_000
	// MaxSymbolLen is longer than any listed US equity symbol with its class suffix (BRK.B).
	MaxSymbolLen = 12
	// MaxRewardDescriptionLen leaves room, within Alpaca's limit on a journal's description, for
	// the key token every journal carries after its text (see Describe), so none is cut.
	MaxRewardDescriptionLen = MaxDescription - tokenLen - 1
)

var maxQty = decimal.NewFromInt(MaxQty)

// Errors about rewards' quantities and symbols.
var (
	ErrQtyScale    = errors.New("has more than nine decimal places, the most Alpaca accepts for a share quantity")
	ErrQtyZero     = errors.New("must be greater than zero")
	ErrQtyTooLarge = errors.New("is larger than the per-reward limit of 1000000 shares")

	ErrSymbolCrypto  = errors.New("is a crypto pair: Alpaca journals equities only (JNLS of crypto is not supported)")
	ErrSymbolCase    = errors.New("must be written in upper case, like AAPL")
	ErrSymbolSpace   = errors.New("has spaces; a symbol is matched exactly, so remove them")
	ErrSymbolTooLong = errors.New("is longer than 12 characters: no equity symbol is")
	ErrSymbol        = errors.New("is not an equity symbol: upper-case letters and digits, a class after a point, like AAPL or BRK.B")
)

// ParseQty reads a share quantity with the strictness of ParseAmount (plain digits, optionally a
// point and decimals; no sign, exponent, leading point or grouping), up to nine decimal places.
func ParseQty(s string) (decimal.Decimal, error) {
	return parseNumber(s, numberRules{qtyPlaces, maxQty, ErrQtyScale, ErrQtyZero, ErrQtyTooLarge})
}

// ParseSymbol checks an equity symbol as Alpaca writes it: upper-case letters and digits starting
// with a letter, and classes after single points (BRK.B). Nothing is repaired: a lower-case or
// padded symbol is refused, since a repaired symbol might give a different share.
func ParseSymbol(s string) (string, error) {
	switch {
	case s == "":
		return "", ErrRequired
	case strings.Contains(s, "/"):
		return "", ErrSymbolCrypto
	case strings.ContainsAny(s, " \t\u00a0"):
		return "", ErrSymbolSpace
	case len(s) > MaxSymbolLen:
		return "", ErrSymbolTooLong
	}
	upper := strings.ToUpper(s)
	for i := 0; i < len(upper); i++ {
		c := upper[i]
		switch {
		case c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' && i > 0:
		case c == '.' && i > 0 && i < len(upper)-1 && upper[i-1] != '.':
		default:
			return "", ErrSymbol
		}
	}
	if upper != s {
		return "", ErrSymbolCase
	}
	return s, nil
}

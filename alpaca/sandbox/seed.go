package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"

	"github.com/shopspring/decimal"
)

// Account statuses the simulator knows by name. Any other string is kept and treated as not ACTIVE.
const (
	AccountActive   = "ACTIVE"
	AccountInactive = "INACTIVE"
	AccountClosed   = "ACCOUNT_CLOSED"
)

// Seed is the simulator's starting state. Its JSON form is described in doc.go.
type Seed struct {
	SweepAccount string          `json:"sweep_account"`
	SweepCash    decimal.Decimal `json:"sweep_cash"`
	JournalLimit decimal.Decimal `json:"journal_limit"` // zero means no per-journal limit
	DailyLimit   decimal.Decimal `json:"daily_limit"`   // zero means no daily limit
	Accounts     []Account       `json:"accounts"`

	// Prices fixes the price a JNLS journal reports per symbol; symbols not listed get
	// 100.00. The price is informational only: a JNLS moves shares, not cash.
	Prices map[string]decimal.Decimal `json:"prices,omitempty"`

	// Positions are the shares each firm account holds at the start, by account id and symbol.
	// A firm account or symbol not listed holds none.
	Positions map[string]map[string]decimal.Decimal `json:"positions,omitempty"`

	// Assets add to or replace (by symbol) the simulator's default assets (DefaultAssets).
	Assets []Asset `json:"assets,omitempty"`
}

// defaultPrice is the price of a JNLS symbol that Seed.Prices does not list. Unexported so that
// no client can change what another simulator in the same process reports.
var defaultPrice = decimal.RequireFromString("100.00")

// Account is one brokerage account the simulator knows. Firm accounts (the sweep account and the
// like) may send journals; customer accounts may only receive them.
type Account struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Firm   bool   `json:"firm"`
}

// moneyPattern is the only amount text accepted: decimal.NewFromString alone would also take 1e3,
// +1.5 and .5, which Alpaca's decimal strings never are.
var moneyPattern = regexp.MustCompile(`^(0|[1-9][0-9]{0,17})(\.[0-9]{1,2})?$`)

// parseMoney parses a non-negative amount with at most two decimal places.
func parseMoney(s string) (decimal.Decimal, error) {
	if !moneyPattern.MatchString(s) {
		return decimal.Decimal{}, fmt.Errorf("invalid amount %q: want a plain decimal with at most 2 places", s)
	}
	return decimal.NewFromString(s)
}

// qtyPattern is the only quantity (and price) text accepted: a plain decimal with at most 9
// places, as Alpaca documents for JNLS qty; 1e3, +1.5 and .5 are refused as for amounts.
var qtyPattern = regexp.MustCompile(`^(0|[1-9][0-9]{0,17})(\.[0-9]{1,9})?$`)

// parseQty parses a positive quantity or price with at most nine decimal places.
func parseQty(name, s string) (decimal.Decimal, error) {
	if !qtyPattern.MatchString(s) {
		return decimal.Decimal{}, fmt.Errorf("invalid %s %q: want a plain decimal with at most 9 places", name, s)
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("invalid %s %q: %w", name, s, err)
	}
	if !d.IsPositive() {
		return decimal.Decimal{}, fmt.Errorf("%s must be positive, got %q", name, s)
	}
	return d, nil
}

// symbolPattern is an equity ticker such as AAPL or BRK.B. Crypto pairs (BTC/USD) are refused:
// Alpaca does not support crypto JNLS.
var symbolPattern = regexp.MustCompile(`^[A-Z][A-Z0-9.]{0,9}$`)

// seedFile is the on-disk form: amounts are strings so they pass through moneyPattern.
type seedFile struct {
	SweepAccount string                       `json:"sweep_account"`
	SweepCash    string                       `json:"sweep_cash"`
	JournalLimit string                       `json:"journal_limit"`
	DailyLimit   string                       `json:"daily_limit"`
	Accounts     []Account                    `json:"accounts"`
	Prices       map[string]string            `json:"prices"`
	Positions    map[string]map[string]string `json:"positions"`
	Assets       []Asset                      `json:"assets"`
}

// LoadSeed reads and checks a seed file.
func LoadSeed(path string) (Seed, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Seed{}, fmt.Errorf("load seed: %w", err)
	}
	s, err := ParseSeed(b)
	if err != nil {
		return Seed{}, fmt.Errorf("load seed %s: %w", path, err)
	}
	return s, nil
}

// ParseSeed decodes and checks the JSON form of a Seed. Unknown fields are errors, so a typo in a
// limit's name does not silently mean "no limit".
func ParseSeed(b []byte) (Seed, error) {
	var f seedFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return Seed{}, fmt.Errorf("decode: %w", err)
	}
	s := Seed{SweepAccount: f.SweepAccount, Accounts: f.Accounts, Assets: f.Assets}
	for _, m := range []struct {
		name string
		text string
		dst  *decimal.Decimal
	}{
		{"sweep_cash", f.SweepCash, &s.SweepCash},
		{"journal_limit", f.JournalLimit, &s.JournalLimit},
		{"daily_limit", f.DailyLimit, &s.DailyLimit},
	} {
		if m.text == "" {
			continue
		}
		d, err := parseMoney(m.text)
		if err != nil {
			return Seed{}, fmt.Errorf("%s: %w", m.name, err)
		}
		*m.dst = d
	}
	for sym, text := range f.Prices {
		if !symbolPattern.MatchString(sym) {
			return Seed{}, fmt.Errorf("prices: invalid symbol %q", sym)
		}
		p, err := parseQty("price", text)
		if err != nil {
			return Seed{}, fmt.Errorf("prices[%s]: %w", sym, err)
		}
		if s.Prices == nil {
			s.Prices = make(map[string]decimal.Decimal, len(f.Prices))
		}
		s.Prices[sym] = p
	}
	for account, held := range f.Positions {
		for sym, text := range held {
			q, err := parseHolding(text)
			if err != nil {
				return Seed{}, fmt.Errorf("positions[%s][%s]: %w", account, sym, err)
			}
			if s.Positions == nil {
				s.Positions = make(map[string]map[string]decimal.Decimal, len(f.Positions))
			}
			if s.Positions[account] == nil {
				s.Positions[account] = make(map[string]decimal.Decimal, len(held))
			}
			s.Positions[account][sym] = q
		}
	}
	if err := s.validate(); err != nil {
		return Seed{}, err
	}
	return s, nil
}

func (s Seed) validate() error {
	if s.SweepAccount == "" {
		return errors.New("sweep_account is required")
	}
	seen := make(map[string]bool, len(s.Accounts))
	for i, a := range s.Accounts {
		if a.ID == "" {
			return fmt.Errorf("accounts[%d]: id is required", i)
		}
		if a.Status == "" {
			return fmt.Errorf("accounts[%d] (%s): status is required", i, a.ID)
		}
		if seen[a.ID] {
			return fmt.Errorf("accounts[%d]: duplicate id %s", i, a.ID)
		}
		seen[a.ID] = true
		if a.ID == s.SweepAccount && !a.Firm {
			return fmt.Errorf("sweep account %s must have firm: true", a.ID)
		}
	}
	if s.SweepCash.IsNegative() || s.JournalLimit.IsNegative() || s.DailyLimit.IsNegative() {
		return errors.New("amounts must not be negative")
	}
	for sym, p := range s.Prices {
		if !p.IsPositive() {
			return fmt.Errorf("prices[%s] must be positive", sym)
		}
	}
	for account, held := range s.Positions {
		firm := account == s.SweepAccount
		for _, a := range s.Accounts {
			if a.ID == account {
				firm = a.Firm
			}
		}
		if !firm {
			return fmt.Errorf("positions: %s is not a firm account of the seed", account)
		}
		for sym, q := range held {
			if !symbolPattern.MatchString(sym) {
				return fmt.Errorf("positions[%s]: invalid symbol %q", account, sym)
			}
			if q.IsNegative() || !q.Equal(q.Truncate(9)) {
				return fmt.Errorf("positions[%s][%s]: want a non-negative quantity with at most 9 places", account, sym)
			}
		}
	}
	seenAsset := make(map[string]bool, len(s.Assets))
	for i, a := range s.Assets {
		if !symbolPattern.MatchString(a.Symbol) {
			return fmt.Errorf("assets[%d]: invalid symbol %q", i, a.Symbol)
		}
		if a.Status != AssetActive && a.Status != AssetInactive {
			return fmt.Errorf("assets[%d] (%s): status must be %s or %s, got %q", i, a.Symbol, AssetActive, AssetInactive, a.Status)
		}
		if seenAsset[a.Symbol] {
			return fmt.Errorf("assets[%d]: duplicate symbol %s", i, a.Symbol)
		}
		seenAsset[a.Symbol] = true
	}
	return nil
}

// parseHolding parses a seeded position: a plain decimal with at most nine places, zero allowed.
func parseHolding(s string) (decimal.Decimal, error) {
	if !qtyPattern.MatchString(s) {
		return decimal.Decimal{}, fmt.Errorf("invalid qty %q: want a plain decimal with at most 9 places", s)
	}
	return decimal.NewFromString(s)
}

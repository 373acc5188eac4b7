package sandbox

import (
	"crypto/sha1"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/cashpool/cashpool/alpaca"
	"github.com/shopspring/decimal"
)

// Asset statuses, as Alpaca's Asset object spells them.
const (
	AssetActive   = "active"
	AssetInactive = "inactive"
)

// Asset is one security the simulator knows. A JNLS of a symbol that is not an asset, or of an
// asset that is not active or not tradable, is refused; so is a fractional qty of an asset that
// is not fractionable. In a seed file tradable and fractionable default to false.
type Asset struct {
	Symbol       string `json:"symbol"`
	Name         string `json:"name,omitempty"`
	Exchange     string `json:"exchange,omitempty"`
	Status       string `json:"status"` // active or inactive
	Tradable     bool   `json:"tradable"`
	Fractionable bool   `json:"fractionable"`
}

// DefaultAssets are the assets every simulator knows unless its seed replaces them: active,
// tradable US equities and ETFs, all fractionable but BRK.A.
func DefaultAssets() []Asset {
	out := make([]Asset, 0, 12)
	for _, a := range []struct{ symbol, name, exchange string }{
		{"AAPL", "Apple Inc. Common Stock", "NASDAQ"},
		{"AMZN", "Amazon.com, Inc. Common Stock", "NASDAQ"},
		{"BRK.B", "Berkshire Hathaway Inc. Class B Common Stock", "NYSE"},
		{"GOOGL", "Alphabet Inc. Class A Common Stock", "NASDAQ"},
		{"META", "Meta Platforms, Inc. Class A Common Stock", "NASDAQ"},
		{"MSFT", "Microsoft Corporation Common Stock", "NASDAQ"},
		{"NVDA", "NVIDIA Corporation Common Stock", "NASDAQ"},
		{"QQQ", "Invesco QQQ Trust, Series 1", "NASDAQ"},
		{"SPY", "SPDR S&P 500 ETF Trust", "ARCA"},
		{"TSLA", "Tesla, Inc. Common Stock", "NASDAQ"},
		{"VTI", "Vanguard Total Stock Market ETF", "ARCA"},
	} {
		out = append(out, Asset{Symbol: a.symbol, Name: a.name, Exchange: a.exchange, Status: AssetActive, Tradable: true, Fractionable: true})
	}
	return append(out, Asset{Symbol: "BRK.A", Name: "Berkshire Hathaway Inc. Class A Common Stock", Exchange: "NYSE",
		Status: AssetActive, Tradable: true})
}

// assetID is a stable asset id derived from the symbol (a name-based UUID), so that
// GET /v1/assets/{id} answers the same id on every run.
func assetID(symbol string) string {
	sum := sha1.Sum([]byte("cashpool sandbox asset " + symbol))
	var id [16]byte
	copy(id[:], sum[:16])
	id[6] = id[6]&0x0f | 0x50 // version 5
	id[8] = id[8]&0x3f | 0x80 // RFC 4122 variant
	return idText(id)
}

// assetJSON is Alpaca's Asset object, with only the fields the simulator models.
type assetJSON struct {
	ID           string `json:"id"`
	Class        string `json:"class"`
	Exchange     string `json:"exchange,omitempty"`
	Symbol       string `json:"symbol"`
	Name         string `json:"name,omitempty"`
	Status       string `json:"status"`
	Tradable     bool   `json:"tradable"`
	Fractionable bool   `json:"fractionable"`
}

// handleGetAsset is GET /v1/assets/{symbol_or_asset_id}.
func (s *Server) handleGetAsset(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("symbol_or_asset_id")
	s.mu.Lock()
	a, ok := s.assets[key]
	if !ok {
		a, ok = s.assetsByID[key]
	}
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, codeNotFound, "asset not found for "+key)
		return
	}
	writeJSON(w, http.StatusOK, assetJSON{
		ID: assetID(a.Symbol), Class: "us_equity", Exchange: a.Exchange, Symbol: a.Symbol, Name: a.Name,
		Status: a.Status, Tradable: a.Tradable, Fractionable: a.Fractionable,
	})
}

// holding is one account's position in one symbol. held is what open JNLS have committed and not
// delivered yet: a firm account can send only qty - held.
type holding struct {
	qty, held decimal.Decimal
}

// Position is an account's holding of one symbol: Qty is booked (moved when a JNLS executes or is
// reversed), Available is Qty less the shares of its JNLS not executed yet.
type Position struct {
	Symbol    string          `json:"symbol"`
	Qty       decimal.Decimal `json:"qty"`
	Available decimal.Decimal `json:"qty_available"`
}

// holdingOf returns account's holding of symbol, creating it. Callers hold s.mu.
func (s *Server) holdingOf(account, symbol string) *holding {
	byAccount := s.positions[account]
	if byAccount == nil {
		byAccount = make(map[string]*holding)
		s.positions[account] = byAccount
	}
	h := byAccount[symbol]
	if h == nil {
		h = &holding{}
		byAccount[symbol] = h
	}
	return h
}

// Positions returns an account's positions by symbol, brought up to the simulated now; account ""
// means the sweep account. Symbols it never held are absent; one it holds none of any more is
// listed with zero.
func (s *Server) Positions(account string) []Position {
	s.lockAndTick()
	defer s.mu.Unlock()
	return s.positionsOf(account)
}

func (s *Server) positionsOf(account string) []Position {
	if account == "" {
		account = s.opts.Seed.SweepAccount
	}
	out := make([]Position, 0, len(s.positions[account]))
	for sym, h := range s.positions[account] {
		out = append(out, Position{Symbol: sym, Qty: h.qty, Available: h.qty.Sub(h.held)})
	}
	slices.SortFunc(out, func(a, b Position) int { return strings.Compare(a.Symbol, b.Symbol) })
	return out
}

// handlePositions is GET /sandbox/v1/positions?account=ID (default: the sweep account).
func (s *Server) handlePositions(w http.ResponseWriter, r *http.Request) {
	s.lockAndTick()
	account := r.URL.Query().Get("account")
	if _, ok := s.accounts[account]; account != "" && !ok {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("account %s not found", account))
		return
	}
	out := s.positionsOf(account)
	s.mu.Unlock()
	type wire struct {
		Symbol    string `json:"symbol"`
		Qty       string `json:"qty"`
		Available string `json:"qty_available"`
	}
	body := make([]wire, len(out))
	for i, p := range out {
		body[i] = wire{p.Symbol, p.Qty.String(), p.Available.String()}
	}
	writeJSON(w, http.StatusOK, body)
}

// checkAsset refuses a JNLS of a symbol the simulator does not know, of an asset that is not
// active or not tradable, and of a fractional qty of an asset that is not fractionable. Alpaca
// documents no answer for these; the simulator gives its generic 422. Callers hold s.mu.
func (s *Server) checkAsset(symbol string, qty decimal.Decimal) *apiError {
	refuse := func(format string, a ...any) *apiError {
		return &apiError{http.StatusUnprocessableEntity, codeUnprocessable, fmt.Sprintf(format, a...)}
	}
	a, ok := s.assets[symbol]
	switch {
	case !ok:
		return refuse("asset not found for %s", symbol)
	case a.Status != AssetActive:
		return refuse("asset %s is not active (%s)", symbol, a.Status)
	case !a.Tradable:
		return refuse("asset %s is not tradable", symbol)
	case !a.Fractionable && !qty.IsInteger():
		return refuse("asset %s is not fractionable: qty %s must be a whole number of shares", symbol, qty)
	}
	return nil
}

// checkShares refuses a JNLS for more shares than the firm account has available, with the
// answer Alpaca documents for POST /v1/journals (403, "Insufficient Assets" for a JNLS). Shares
// committed to JNLS not executed yet are not available. Callers hold s.mu.
func (s *Server) checkShares(from, symbol string, qty decimal.Decimal) *apiError {
	available := decimal.Zero
	if h := s.positions[from][symbol]; h != nil {
		available = h.qty.Sub(h.held)
	}
	if available.LessThan(qty) {
		return &apiError{http.StatusForbidden, codeForbidden,
			fmt.Sprintf("insufficient assets for %s, available: %s, required: %s", symbol, available, qty)}
	}
	return nil
}

// bookShares moves a JNLS's shares as its status changes: committed from the firm account's
// available shares while open (queued, sent_to_clearing, pending), moved from the firm account
// to the customer while executed, and given back when rejected, canceled or reversed.
// Callers hold s.mu.
func (s *Server) bookShares(j *journal, from, to string) {
	if !j.jnls {
		return
	}
	x := j.rare
	src := s.holdingOf(j.from, x.symbol)
	if openStatus(from) {
		src.held = src.held.Sub(x.qty)
	}
	if openStatus(to) {
		src.held = src.held.Add(x.qty)
	}
	if alpaca.Funded(from) != alpaca.Funded(to) {
		moved := x.qty
		if !alpaca.Funded(to) {
			moved = moved.Neg() // taken back
		}
		src.qty = src.qty.Sub(moved)
		dst := s.holdingOf(j.to, x.symbol)
		dst.qty = dst.qty.Add(moved)
	}
}

// openStatus reports whether a journal in status s is still on its way.
func openStatus(s string) bool {
	return s == alpaca.StatusQueued || s == alpaca.StatusSentToClearing || s == alpaca.StatusPending
}

package sandbox

import (
	"fmt"
	"hash/fnv"
	"net/http"
	"regexp"
)

// uuidPattern is the account id the Broker API's path parameter takes (format uuid).
var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// accountWireJSON is the Broker API's account object, as far as the simulator models an account:
// id, account_number, status, crypto_status, currency and last_equity.
type accountWireJSON struct {
	ID            string `json:"id"`
	AccountNumber string `json:"account_number"`
	Status        string `json:"status"`
	CryptoStatus  string `json:"crypto_status"`
	Currency      string `json:"currency"`
	LastEquity    string `json:"last_equity"`
}

// handleGetAccount is GET /v1/accounts/{account_id}: 400 for an id that is not a UUID, 404 for an
// account the simulator does not know, otherwise the account with its status as set (seed or
// admin API). Crypto trading is never enabled here, so crypto_status is INACTIVE whatever the
// status: a client must read status, not crypto_status.
func (s *Server) handleGetAccount(w http.ResponseWriter, r *http.Request) {
	s.withAccount(w, r, func(a *Account, cash, _ string) any {
		return accountWireJSON{ID: a.ID, AccountNumber: accountNumber(a.ID), Status: a.Status,
			CryptoStatus: AccountInactive, Currency: "USD", LastEquity: cash}
	})
}

// withAccount answers a lookup of the path's account_id: 400 for an id that is not a UUID, 404
// for an account the simulator does not know, otherwise answer's object for the account, its
// available cash and its booked cash (a firm account's; a customer's cash is not modelled and
// shows 0).
func (s *Server) withAccount(w http.ResponseWriter, r *http.Request, answer func(a *Account, cash, booked string) any) {
	id := r.PathValue("account_id")
	if !uuidPattern.MatchString(id) {
		writeError(w, http.StatusBadRequest, codeMalformed, fmt.Sprintf("account_id %q is not a valid UUID", id))
		return
	}
	s.lockAndTick()
	defer s.mu.Unlock()
	a, ok := s.accounts[id]
	if !ok {
		writeError(w, http.StatusNotFound, codeNotFound, "account not found")
		return
	}
	cash, booked := "0", "0"
	if a.Firm {
		cash, booked = s.cash[a.ID].StringFixed(2), s.book.booked[a.ID].StringFixed(2)
	}
	writeJSON(w, http.StatusOK, answer(a, cash, booked))
}

// tradingAccountWireJSON is the Broker API's trading account, as far as the simulator models it:
// the account's cash, as decimal strings like Alpaca's.
type tradingAccountWireJSON struct {
	ID               string `json:"id"`
	AccountNumber    string `json:"account_number"`
	Status           string `json:"status"`
	Currency         string `json:"currency"`
	Cash             string `json:"cash"`
	CashWithdrawable string `json:"cash_withdrawable"`
	CashTransferable string `json:"cash_transferable"`
}

// handleGetTradingAccount is GET /v1/trading/accounts/{account_id}/account: 400 for an id that is
// not a UUID, 404 for an unknown account. A firm account's cash is its booked cash (moved by
// executed journals); cash_transferable and cash_withdrawable are what is left once the journals
// not yet executed are held. A customer account's cash is not modelled and shows 0.
func (s *Server) handleGetTradingAccount(w http.ResponseWriter, r *http.Request) {
	s.withAccount(w, r, func(a *Account, cash, booked string) any {
		return tradingAccountWireJSON{ID: a.ID, AccountNumber: accountNumber(a.ID), Status: a.Status,
			Currency: "USD", Cash: booked, CashWithdrawable: cash, CashTransferable: cash}
	})
}

// accountNumber is a stable 10-digit account number derived from the id: Alpaca shows one to end
// users beside every id; the simulator has no other source for it.
func accountNumber(id string) string {
	h := fnv.New32a()
	h.Write([]byte(id))
	return fmt.Sprintf("9%09d", h.Sum32()%1_000_000_000)
}

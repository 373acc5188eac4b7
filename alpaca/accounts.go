package alpaca

import (
	"context"
	"net/http"
	"net/url"

	"github.com/shopspring/decimal"
)

// Account statuses of the Broker API that cashpool acts on. Alpaca documents more (SUBMITTED,
// APPROVED, DISABLED, ...); every status but ACTIVE stops a run before it sends anything.
const (
	AccountActive = "ACTIVE"
)

// Account is the part of the Broker API's account object cashpool reads.
type Account struct {
	ID            string `json:"id"`
	AccountNumber string `json:"account_number"`
	// Status is the equities (and cash) status; CryptoStatus is another thing and never decides.
	Status       string              `json:"status"`
	CryptoStatus string              `json:"crypto_status,omitempty"`
	Currency     string              `json:"currency"`
	LastEquity   decimal.NullDecimal `json:"last_equity"`
}

// GetAccount calls GET /v1/accounts/{account_id}: one cheap call that proves the credentials
// work (401 otherwise) and shows whether the account exists (404) and its status.
func (c *Client) GetAccount(ctx context.Context, id string) (*Account, error) {
	var a Account
	if err := c.do(ctx, http.MethodGet, "/v1/accounts/"+url.PathEscape(id), nil, nil, "", decodeAll(&a, MaxAnswerBytes)); err != nil {
		return nil, err
	}
	return &a, nil
}

// TradingAccount is the part of the Broker API's trading account
// (GET /v1/trading/accounts/{account_id}/account) cashpool reads: the cash of an account.
type TradingAccount struct {
	ID            string              `json:"id"`
	AccountNumber string              `json:"account_number"`
	Status        string              `json:"status"`
	Currency      string              `json:"currency"`
	Cash          decimal.NullDecimal `json:"cash"`
	// CashTransferable is what a JNLC may take from the account ("cash available for transfer");
	// Cash may be higher (unsettled) and is never what a journal can spend.
	CashTransferable decimal.NullDecimal `json:"cash_transferable"`
	CashWithdrawable decimal.NullDecimal `json:"cash_withdrawable"`
}

// GetTradingAccount calls GET /v1/trading/accounts/{account_id}/account: the account's cash as
// the trading side sees it.
func (c *Client) GetTradingAccount(ctx context.Context, id string) (*TradingAccount, error) {
	var a TradingAccount
	path := "/v1/trading/accounts/" + url.PathEscape(id) + "/account"
	if err := c.do(ctx, http.MethodGet, path, nil, nil, "", decodeAll(&a, MaxAnswerBytes)); err != nil {
		return nil, err
	}
	return &a, nil
}

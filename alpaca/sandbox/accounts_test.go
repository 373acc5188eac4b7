package sandbox_test

import (
	"testing"

	"github.com/cashpool/cashpool/alpaca/sandbox"
)

func TestGetAccount(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	type account struct {
		ID            string `json:"id"`
		AccountNumber string `json:"account_number"`
		Status        string `json:"status"`
		CryptoStatus  string `json:"crypto_status"`
		Currency      string `json:"currency"`
		LastEquity    string `json:"last_equity"`
	}
	for _, c := range []struct{ id, status, equity string }{
		{sweep, "ACTIVE", "100000.00"},
		{cust1, "ACTIVE", "0"},
		{inactive, "INACTIVE", "0"},
		{closed, "ACCOUNT_CLOSED", "0"},
	} {
		got := decodeJSON[account](t, b.must(t, 200, "GET", "/v1/accounts/"+c.id, nil).body)
		if got.ID != c.id || got.Status != c.status || got.Currency != "USD" || got.LastEquity != c.equity || len(got.AccountNumber) != 10 {
			t.Errorf("account %s: %+v, want status %s, last_equity %s", c.id, got, c.status, c.equity)
		}
		if got.CryptoStatus != "INACTIVE" {
			t.Errorf("account %s: crypto_status %q", c.id, got.CryptoStatus)
		}
	}
	wantError(t, b.must(t, 404, "GET", "/v1/accounts/"+unknown, nil), 40410000, "not found")
	wantError(t, b.must(t, 400, "GET", "/v1/accounts/not-a-uuid", nil), 40010000, "UUID")

	// A status set through the admin API is what the next GET shows.
	b.sim.SetAccount(sandbox.Account{ID: sweep, Status: "INACTIVE", Firm: true})
	if got := decodeJSON[account](t, b.must(t, 200, "GET", "/v1/accounts/"+sweep, nil).body); got.Status != "INACTIVE" {
		t.Errorf("sweep account after SetAccount: %+v", got)
	}

	// Wrong credentials: 401 before anything else, as on every /v1 path.
	req, _ := newRequest(b, "GET", "/v1/accounts/"+sweep)
	req.SetBasicAuth(keyID, "wrong")
	resp, err := b.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r := readResponse(t, resp)
	if r.status != 401 {
		t.Fatalf("wrong secret: %v, want 401", r)
	}
	wantError(t, r, 40110000, "not authorized")
}

// The trading account shows the firm account's ledger cash as decimal strings: what the seed or
// the admin API set, less what a journal took.
func TestGetTradingAccount(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	type tradingAccount struct {
		ID               string `json:"id"`
		Status           string `json:"status"`
		Currency         string `json:"currency"`
		Cash             string `json:"cash"`
		CashWithdrawable string `json:"cash_withdrawable"`
		CashTransferable string `json:"cash_transferable"`
	}
	path := "/v1/trading/accounts/" + sweep + "/account"
	got := decodeJSON[tradingAccount](t, b.must(t, 200, "GET", path, nil).body)
	if got.ID != sweep || got.Status != "ACTIVE" || got.Currency != "USD" || got.CashTransferable != "100000.00" ||
		got.Cash != "100000.00" || got.CashWithdrawable != "100000.00" {
		t.Fatalf("sweep trading account %+v, want 100000.00 cash", got)
	}
	if err := b.sim.SetCash(sweep, dec("1234.56")); err != nil {
		t.Fatal(err)
	}
	b.must(t, 200, "POST", "/v1/journals", `{"entry_type":"JNLC","from_account":"`+sweep+`","to_account":"`+cust1+`","amount":"34.56"}`)
	if got := decodeJSON[tradingAccount](t, b.must(t, 200, "GET", path, nil).body); got.CashTransferable != "1200.00" {
		t.Fatalf("after a 34.56 journal from 1234.56: %+v, want cash_transferable 1200.00", got)
	}
	if got := decodeJSON[tradingAccount](t, b.must(t, 200, "GET", "/v1/trading/accounts/"+cust1+"/account", nil).body); got.CashTransferable != "0" {
		t.Fatalf("customer trading account %+v, want cash_transferable 0 (not modelled)", got)
	}
	wantError(t, b.must(t, 404, "GET", "/v1/trading/accounts/"+unknown+"/account", nil), 40410000, "not found")
	wantError(t, b.must(t, 400, "GET", "/v1/trading/accounts/not-a-uuid/account", nil), 40010000, "UUID")
}

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

package sandbox_test

import (
	"maps"
	"net/http"
	"testing"

	"github.com/cashpool/cashpool/alpaca/sandbox"
)

// TestCallsCounted: GET /sandbox/v1/calls counts every call the Alpaca API was asked by route,
// those answered with an injected fault, a 401 or a 429 included, and never the admin API's own.
func TestCallsCounted(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *sandbox.Options) { o.RateLimit = 5 }) // per simulated minute, which stands still
	calls := func() map[string]int64 {
		t.Helper()
		return decodeJSON[map[string]int64](t, b.must(t, 200, "GET", "/sandbox/v1/calls", nil).body)
	}
	if got := calls(); len(got) != 0 {
		t.Fatalf("calls before any: %v", got)
	}

	created := answered(t, b.batch(t, 200, batchOf(entry{ToAccount: cust1, Amount: "1.00"}), "k1"))
	b.journal(t, created[0].ID)
	b.journal(t, created[0].ID)
	b.must(t, 200, "POST", "/sandbox/v1/faults", map[string]any{"seed": 1, "error_rate": 1})
	b.batch(t, 500, batchOf(entry{ToAccount: cust1, Amount: "2.00"}), "k2")
	b.must(t, 200, "POST", "/sandbox/v1/faults", map[string]any{})
	b.must(t, 200, "GET", "/v1/accounts/"+cust2, nil)

	req, err := http.NewRequest("GET", b.srv.URL+"/v1/journals/"+created[0].ID, nil) // no credentials
	if err != nil {
		t.Fatal(err)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a call without credentials: HTTP %d, want 401", resp.StatusCode)
	}

	// The five calls of the minute are spent: the next two are refused.
	b.must(t, 429, "GET", "/v1/journals", nil)
	b.must(t, 429, "GET", "/v1/no/such/route", nil)
	b.must(t, 200, "GET", "/sandbox/v1/ledger", nil)

	want := map[string]int64{
		"POST /v1/journals/batch":       2,
		"GET /v1/journals/{id}":         3,
		"GET /v1/accounts/{account_id}": 1,
		"GET /v1/journals":              1,
		"no route":                      1,
	}
	if got := calls(); !maps.Equal(got, want) {
		t.Fatalf("calls = %v, want %v", got, want)
	}
	if got := b.sim.Calls(); !maps.Equal(got, want) {
		t.Fatalf("Calls() = %v, want %v", got, want)
	}
}

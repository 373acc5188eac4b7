package sandbox_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/cashpool/cashpool/alpaca/sandbox"
	"github.com/shopspring/decimal"
)

// jnlsJournal decodes the securities fields of a journal answer.
type jnlsJournal struct {
	ID         string  `json:"id"`
	EntryType  string  `json:"entry_type"`
	Status     string  `json:"status"`
	Symbol     *string `json:"symbol"`
	Qty        *string `json:"qty"`
	Price      *string `json:"price"`
	NetAmount  *string `json:"net_amount"`
	SettleDate *string `json:"settle_date"`
}

func jnls(from, to, symbol, qty string) map[string]string {
	return map[string]string{"entry_type": "JNLS", "from_account": from, "to_account": to, "symbol": symbol, "qty": qty}
}

func TestJNLSHappyPath(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *sandbox.Options) {
		o.StepEvery = 5 * time.Second
		o.Seed.Prices = map[string]decimal.Decimal{"AAPL": dec("128.23")}
	})
	body := jnls(sweep, cust1, "AAPL", "0.123456789")
	body["description"] = "shares"
	r := b.must(t, 200, "POST", "/v1/journals", body, "Idempotency-Key", keyA) // validated against Journal (JNLS)
	j := decodeJSON[jnlsJournal](t, r.body)
	if j.EntryType != "JNLS" || j.Status != "queued" || *j.Symbol != "AAPL" || *j.Qty != "0.123456789" ||
		*j.Price != "128.23" || j.NetAmount != nil || !bytes.Contains(r.body, []byte(`"net_amount":null`)) {
		t.Fatalf("JNLS answer %s", r.body)
	}
	// A JNLS moves shares, never cash.
	if c := b.sweepCash(t); !c.Equal(dec("100000.00")) {
		t.Fatalf("JNLS moved cash: sweep %s", c)
	}

	// Idempotency as for JNLC: the same request replays the bytes, another body is 422.
	again := b.must(t, 200, "POST", "/v1/journals", body, "Idempotency-Key", keyA)
	if !bytes.Equal(r.body, again.body) || len(b.sim.Ledger()) != 1 {
		t.Fatalf("JNLS replay created a journal or changed the answer: %s", again.body)
	}
	wantError(t, b.must(t, 422, "POST", "/v1/journals", jnls(sweep, cust1, "AAPL", "2"), "Idempotency-Key", keyA),
		42210000, "idempotency key")

	// An unlisted symbol gets the default price.
	other := decodeJSON[jnlsJournal](t, b.must(t, 200, "POST", "/v1/journals", jnls(sweep, cust2, "BRK.B", "3")).body)
	if *other.Price != "100.00" || *other.Qty != "3" {
		t.Fatalf("default price: %+v", other)
	}

	// v1 flow on the clock: queued -> sent_to_clearing -> executed.
	for _, want := range []string{"sent_to_clearing", "executed"} {
		b.sim.Advance(5 * time.Second)
		got := decodeJSON[jnlsJournal](t, b.must(t, 200, "GET", "/v1/journals/"+j.ID, nil).body)
		if got.Status != want {
			t.Fatalf("JNLS is %s, want %s", got.Status, want)
		}
	}
	got := decodeJSON[jnlsJournal](t, b.must(t, 200, "GET", "/v1/journals/"+j.ID, nil).body)
	if got.SettleDate == nil || *got.SettleDate != "2026-03-02" {
		t.Fatalf("executed JNLS settle_date %v", got.SettleDate)
	}
	var trail []string
	for _, e := range b.sim.Events() {
		if e.JournalID == j.ID {
			if e.EntryType != "JNLS" || e.IdempotencyKey != keyA || e.IdempotencyKeyType != "single" || e.Description != "shares" {
				t.Fatalf("JNLS event %+v", e)
			}
			trail = append(trail, e.StatusFrom+">"+e.StatusTo)
		}
	}
	if s := strings.Join(trail, " "); s != ">queued queued>sent_to_clearing sent_to_clearing>executed" {
		t.Fatalf("JNLS events %s", s)
	}
	// The event stream carries JNLS events in the published shape.
	s := b.openStream(t, "/v2/events/journals/status?since_id=00000000000000000000000000&id="+j.ID)
	if e := s.event(t, b.schema.eventV2); e.JournalID != j.ID || e.StatusTo != "queued" {
		t.Fatalf("streamed JNLS event %+v", e)
	}

	// Listing by entry_type, and the ledger records the securities fields.
	list := decodeJSON[[]jnlsJournal](t, b.must(t, 200, "GET", "/v1/journals?entry_type=JNLS", nil).body)
	if len(list) != 2 || list[0].ID != j.ID {
		t.Fatalf("JNLS list %+v", list)
	}
	b.must(t, 200, "POST", "/v1/journals", map[string]string{"entry_type": "JNLC", "from_account": sweep, "to_account": cust1, "amount": "1.00"})
	if n := len(decodeJSON[[]jnlsJournal](t, b.must(t, 200, "GET", "/v1/journals?entry_type=JNLS", nil).body)); n != 2 {
		t.Fatalf("entry_type=JNLS listed %d journals", n)
	}
	l := b.sim.Ledger()[0]
	if l.EntryType != "JNLS" || l.Symbol != "AAPL" || !l.Qty.Equal(dec("0.123456789")) || !l.Price.Equal(dec("128.23")) || !l.Amount.IsZero() {
		t.Fatalf("ledger entry %+v", l)
	}

	// Operations: a securities journal has no amount to correct, but can be reversed.
	b.must(t, 422, "POST", "/sandbox/v1/journals/"+j.ID+"/correct", map[string]string{"amount": "1.00"})
	if r := decodeJSON[jnlsJournal](t, b.must(t, 200, "POST", "/sandbox/v1/journals/"+j.ID+"/reverse", nil).body); r.Status != "canceled" {
		t.Fatalf("reversed JNLS %+v", r)
	}
	if c := b.sweepCash(t); !c.Equal(dec("99999.00")) {
		t.Fatalf("sweep %s, want 99999.00 (only the JNLC moved cash)", c)
	}
}

func TestJNLSRefusals(t *testing.T) {
	t.Parallel()
	const inactiveFirm = "f0000000-0000-4000-8000-000000000003"
	b := setup(t, func(o *sandbox.Options) {
		o.Seed.Accounts = append(o.Seed.Accounts, sandbox.Account{ID: inactiveFirm, Status: "INACTIVE", Firm: true})
	})
	with := func(m map[string]string, kv ...string) map[string]string {
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	without := func(m map[string]string, k string) map[string]string { delete(m, k); return m }
	jnlc := func(kv ...string) map[string]string {
		return with(map[string]string{"entry_type": "JNLC", "from_account": sweep, "to_account": cust1, "amount": "1.00"}, kv...)
	}
	cases := []struct {
		name       string
		body       map[string]string
		status     int
		code       int
		msg        string
		idempotent bool
	}{
		// Direction: only an ACTIVE firm account to an ACTIVE customer account.
		{"customer to customer", jnls(cust1, cust2, "AAPL", "1"), 403, 40310000, "not a firm account", false},
		{"customer back to firm", jnls(cust1, sweep, "AAPL", "1"), 403, 40310000, "not a firm account", false},
		{"firm to firm", jnls(sweep, firm2, "AAPL", "1"), 403, 40310000, "is a firm account", false},
		{"to an inactive customer", jnls(sweep, inactive, "AAPL", "1"), 403, 40310000, "not ACTIVE (INACTIVE)", false},
		{"to a closed customer", jnls(sweep, closed, "AAPL", "1"), 403, 40310000, "not ACTIVE (ACCOUNT_CLOSED)", false},
		{"from an inactive firm", jnls(inactiveFirm, cust1, "AAPL", "1"), 403, 40310000, "not ACTIVE", false},
		{"unknown to_account", jnls(sweep, unknown, "AAPL", "1"), 404, 40410000, "not found", false},
		{"unknown from_account", jnls(unknown, cust1, "AAPL", "1"), 404, 40410000, "not found", false},
		{"no to_account", without(jnls(sweep, cust1, "AAPL", "1"), "to_account"), 400, 40010000, "to_account is required", false},
		// Mixed fields.
		{"amount on a JNLS", with(jnls(sweep, cust1, "AAPL", "1"), "amount", "1.00"), 400, 40010000, "amount is not allowed", true},
		{"symbol on a JNLC", jnlc("symbol", "AAPL"), 400, 40010000, "symbol and qty are not allowed", true},
		{"qty on a JNLC", jnlc("qty", "1"), 400, 40010000, "symbol and qty are not allowed", true},
		// JNLS fields.
		{"no symbol", without(jnls(sweep, cust1, "", "1"), "symbol"), 400, 40010000, "symbol is required", false},
		{"no qty", without(jnls(sweep, cust1, "AAPL", ""), "qty"), 400, 40010000, "qty is required", false},
		{"crypto symbol", jnls(sweep, cust1, "BTC/USD", "1"), 400, 40010000, "crypto", false},
		{"lower-case symbol", jnls(sweep, cust1, "aapl", "1"), 400, 40010000, "not an equity symbol", false},
		{"zero qty", jnls(sweep, cust1, "AAPL", "0"), 400, 40010000, "positive", false},
		{"negative qty", jnls(sweep, cust1, "AAPL", "-1"), 400, 40010000, "invalid qty", false},
		{"exponent qty", jnls(sweep, cust1, "AAPL", "1e3"), 400, 40010000, "invalid qty", false},
		{"bare fraction qty", jnls(sweep, cust1, "AAPL", ".5"), 400, 40010000, "invalid qty", false},
		{"ten places", jnls(sweep, cust1, "AAPL", "0.1234567891"), 400, 40010000, "at most 9 places", false},
		{"non-USD", with(jnls(sweep, cust1, "AAPL", "1"), "currency", "EUR"), 400, 40010000, "USD only", false},
		{"travel rule on a JNLS", with(jnls(sweep, cust1, "AAPL", "1"), "transmitter_name", "ACME"), 400, 40010000, "JNLC only", false},
	}
	// The group is not parallel itself, so t.Run returns only once every parallel case has and
	// the checks below see them all.
	t.Run("refusals", func(t *testing.T) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				var r response
				if c.idempotent {
					// A refusal is not remembered: the key stays free for the corrected request.
					r = b.must(t, c.status, "POST", "/v1/journals", c.body, "Idempotency-Key", "refused-"+c.name)
				} else {
					r = b.must(t, c.status, "POST", "/v1/journals", c.body)
				}
				wantError(t, r, c.code, c.msg)
			})
		}
	})
	// Batches stay JNLC only, and their entries take no symbol or qty.
	b.batch(t, 400, batchBody{EntryType: "JNLS", FromAccount: sweep, Entries: []entry{{ToAccount: cust1, Amount: "1.00"}}}, "")
	wantError(t, b.must(t, 400, "POST", "/v1/journals/batch", map[string]any{"entry_type": "JNLC", "from_account": sweep,
		"entries": []map[string]string{{"to_account": cust1, "symbol": "AAPL", "qty": "1"}}}), 40010000, "amount is required")
	if n := len(b.sim.Ledger()); n != 0 {
		t.Fatalf("refused requests created %d journals", n)
	}
	// The refused key was not used up.
	b.must(t, 200, "POST", "/v1/journals", jnls(sweep, cust1, "AAPL", "1"), "Idempotency-Key", "refused-amount on a JNLS")
}

func TestParseSeedPrices(t *testing.T) {
	t.Parallel()
	s, err := sandbox.ParseSeed([]byte(`{"sweep_account":"` + sweep + `","prices":{"AAPL":"128.23","BRK.B":"0.000000001"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if !s.Prices["AAPL"].Equal(dec("128.23")) || !s.Prices["BRK.B"].Equal(dec("0.000000001")) {
		t.Fatalf("prices %v", s.Prices)
	}
	for _, bad := range []string{`{"AAPL":"0"}`, `{"AAPL":"1e2"}`, `{"btc/usd":"1.00"}`, `{"AAPL":12}`} {
		if _, err := sandbox.ParseSeed([]byte(`{"sweep_account":"` + sweep + `","prices":` + bad + `}`)); err == nil {
			t.Fatalf("seed accepted prices %s", bad)
		}
	}
}

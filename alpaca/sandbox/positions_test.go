package sandbox_test

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cashpool/cashpool/alpaca/sandbox"
	"github.com/shopspring/decimal"
)

// position is one row of GET /sandbox/v1/positions.
type position struct {
	Symbol    string `json:"symbol"`
	Qty       string `json:"qty"`
	Available string `json:"qty_available"`
}

// positions reads an account's positions from the admin API and checks that Positions agrees.
func (b *bundle) positions(t *testing.T, account string) []position {
	t.Helper()
	got := decodeJSON[[]position](t, b.must(t, 200, "GET", "/sandbox/v1/positions?account="+account, nil).body)
	var viaGo []position
	for _, p := range b.sim.Positions(account) {
		viaGo = append(viaGo, position{p.Symbol, p.Qty.String(), p.Available.String()})
	}
	if !slices.Equal(got, viaGo) && (len(got) > 0 || len(viaGo) > 0) {
		t.Fatalf("admin API positions %v, Positions() %v", got, viaGo)
	}
	return got
}

func (b *bundle) wantPositions(t *testing.T, account string, want ...position) {
	t.Helper()
	if got := b.positions(t, account); !slices.Equal(got, want) && (len(got) > 0 || len(want) > 0) {
		t.Fatalf("positions of %s: got %v, want %v", account, got, want)
	}
}

func TestJNLSPositions(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *sandbox.Options) {
		o.StepEvery = 5 * time.Second
		o.Seed.Positions = map[string]map[string]decimal.Decimal{
			sweep: {"AAPL": dec("10"), "TSLA": dec("0")},
			firm2: {"AAPL": dec("3")},
		}
	})
	create := func(want int, symbol, qty string, kv ...string) response {
		t.Helper()
		body := jnls(sweep, cust1, symbol, qty)
		var headers []string
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i] == "Idempotency-Key" {
				headers = append(headers, kv[i], kv[i+1])
			} else {
				body[kv[i]] = kv[i+1]
			}
		}
		return b.must(t, want, "POST", "/v1/journals", body, headers...)
	}
	b.wantPositions(t, sweep, position{"AAPL", "10", "10"}, position{"TSLA", "0", "0"})

	// A queued JNLS commits its shares: they are no longer available to the next one.
	first := decodeJSON[jnlsJournal](t, create(200, "AAPL", "4", "Idempotency-Key", keyA).body)
	b.wantPositions(t, sweep, position{"AAPL", "10", "6"}, position{"TSLA", "0", "0"})
	// Its replay creates nothing and commits nothing more.
	create(200, "AAPL", "4", "Idempotency-Key", keyA)
	b.wantPositions(t, sweep, position{"AAPL", "10", "6"}, position{"TSLA", "0", "0"})

	// More than available is 403 and creates nothing, whatever the firm holds booked.
	wantError(t, create(403, "AAPL", "6.000000001"), 40310000, "insufficient assets for AAPL, available: 6, required: 6.000000001")
	wantError(t, create(403, "TSLA", "1"), 40310000, "insufficient assets for TSLA, available: 0, required: 1")
	wantError(t, create(403, "MSFT", "1"), 40310000, "insufficient assets for MSFT, available: 0, required: 1")
	// Another firm account's shares are its own.
	wantError(t, create(403, "AAPL", "7"), 40310000, "available: 6")
	b.must(t, 200, "POST", "/v1/journals", jnls(firm2, cust2, "AAPL", "3"))
	if n := len(b.sim.Ledger()); n != 2 {
		t.Fatalf("ledger holds %d journals, want 2 (refusals create nothing)", n)
	}

	// Exactly what is available goes; a rejection gives it back.
	second := decodeJSON[jnlsJournal](t, create(200, "AAPL", "6").body)
	b.wantPositions(t, sweep, position{"AAPL", "10", "0"}, position{"TSLA", "0", "0"})
	create(403, "AAPL", "0.5")
	b.must(t, 200, "POST", "/sandbox/v1/journals/"+second.ID+"/reject", nil)
	b.wantPositions(t, sweep, position{"AAPL", "10", "6"}, position{"TSLA", "0", "0"})

	// Executed: the shares move to the customer.
	b.sim.Advance(10 * time.Second)
	if j := b.journal(t, first.ID); j.Status != "executed" {
		t.Fatalf("first JNLS is %s, want executed", j.Status)
	}
	b.wantPositions(t, sweep, position{"AAPL", "6", "6"}, position{"TSLA", "0", "0"})
	b.wantPositions(t, cust1, position{"AAPL", "4", "4"})
	b.wantPositions(t, firm2, position{"AAPL", "0", "0"})
	b.wantPositions(t, cust2, position{"AAPL", "3", "3"})

	// Reversed after execution: they come back.
	b.must(t, 200, "POST", "/sandbox/v1/journals/"+first.ID+"/reverse", nil)
	b.wantPositions(t, sweep, position{"AAPL", "10", "10"}, position{"TSLA", "0", "0"})
	b.wantPositions(t, cust1, position{"AAPL", "0", "0"})

	// A pending JNLS (Alpaca's sandbox fixture) keeps its shares committed until it is deleted.
	held := decodeJSON[jnlsJournal](t, create(200, "AAPL", "10", "description", "/fixtures/status=pending/fixtures/").body)
	b.sim.EndOfDay()
	if j := b.journal(t, held.ID); j.Status != "pending" {
		t.Fatalf("fixture JNLS is %s, want pending", j.Status)
	}
	wantError(t, create(403, "AAPL", "1"), 40310000, "available: 0")
	b.must(t, 204, "DELETE", "/v1/journals/"+held.ID, nil)
	b.wantPositions(t, sweep, position{"AAPL", "10", "10"}, position{"TSLA", "0", "0"})

	// A JNLS rejected at EOD by its fixture gives its shares back too.
	rejected := decodeJSON[jnlsJournal](t, create(200, "AAPL", "2.5", "description", "/fixtures/status=rejected/fixtures/").body)
	b.wantPositions(t, sweep, position{"AAPL", "10", "7.5"}, position{"TSLA", "0", "0"})
	b.sim.EndOfDay()
	if j := b.journal(t, rejected.ID); j.Status != "rejected" {
		t.Fatalf("fixture JNLS is %s, want rejected", j.Status)
	}
	b.wantPositions(t, sweep, position{"AAPL", "10", "10"}, position{"TSLA", "0", "0"})
	b.must(t, 404, "GET", "/sandbox/v1/positions?account="+unknown, nil)
}

func TestJNLSAssets(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *sandbox.Options) {
		o.Seed.Assets = []sandbox.Asset{
			{Symbol: "OLDCO", Name: "Old Company Inc.", Exchange: "OTC", Status: "inactive"},
			{Symbol: "HALTD", Status: "active", Fractionable: true},
			{Symbol: "AAPL", Status: "active", Tradable: true}, // replaces the default: not fractionable here
		}
		o.Seed.Positions = map[string]map[string]decimal.Decimal{
			sweep: {"OLDCO": dec("5"), "HALTD": dec("5"), "AAPL": dec("5"), "BRK.A": dec("5"), "ZZZZ": dec("5")},
		}
	})
	cases := []struct {
		name, symbol, qty string
		status, code      int
		msg               string
	}{
		{"unknown symbol", "ZZZZ", "1", 422, 42210000, "asset not found for ZZZZ"},
		{"unknown symbol checked before shares", "NOPE", "1", 422, 42210000, "asset not found for NOPE"},
		{"inactive asset", "OLDCO", "1", 422, 42210000, "asset OLDCO is not active (inactive)"},
		{"untradable asset", "HALTD", "1", 422, 42210000, "asset HALTD is not tradable"},
		{"fraction of a non-fractionable default", "BRK.A", "0.5", 422, 42210000, "asset BRK.A is not fractionable"},
		{"fraction of a replaced default", "AAPL", "1.25", 422, 42210000, "asset AAPL is not fractionable"},
		{"whole shares of a non-fractionable asset", "BRK.A", "2", 200, 0, ""},
		{"whole shares written with places", "AAPL", "1.000", 200, 0, ""},
		{"a fraction of a fractionable default with none held", "BRK.B", "0.5", 403, 40310000, "insufficient assets"},
	}
	t.Run("refusals", func(t *testing.T) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				r := b.must(t, c.status, "POST", "/v1/journals", jnls(sweep, cust1, c.symbol, c.qty))
				if c.status != 200 {
					wantError(t, r, c.code, c.msg)
				}
			})
		}
	})
	if n := len(b.sim.Ledger()); n != 2 {
		t.Fatalf("ledger holds %d journals, want the 2 accepted", n)
	}

	// GET /v1/assets/{symbol_or_asset_id}: the modelled fields, by symbol and by id alike.
	type asset struct {
		ID, Class, Exchange, Symbol, Name, Status string
		Tradable, Fractionable                    bool
	}
	msft := decodeJSON[asset](t, b.must(t, 200, "GET", "/v1/assets/MSFT", nil).body)
	if msft.Class != "us_equity" || msft.Exchange != "NASDAQ" || msft.Symbol != "MSFT" || msft.Name != "Microsoft Corporation Common Stock" ||
		msft.Status != "active" || !msft.Tradable || !msft.Fractionable || len(msft.ID) != 36 {
		t.Fatalf("MSFT asset %+v", msft)
	}
	if byID := decodeJSON[asset](t, b.must(t, 200, "GET", "/v1/assets/"+msft.ID, nil).body); byID != msft {
		t.Fatalf("MSFT by id %+v, by symbol %+v", byID, msft)
	}
	old := decodeJSON[asset](t, b.must(t, 200, "GET", "/v1/assets/OLDCO", nil).body)
	if old.Status != "inactive" || old.Tradable || old.Fractionable || old.Exchange != "OTC" || old.ID == msft.ID {
		t.Fatalf("OLDCO asset %+v", old)
	}
	wantError(t, b.must(t, 404, "GET", "/v1/assets/ZZZZ", nil), 40410000, "asset not found for ZZZZ")
	// The id is stable across simulators: it is derived from the symbol.
	other := setup(t, nil)
	if again := decodeJSON[asset](t, other.must(t, 200, "GET", "/v1/assets/MSFT", nil).body); again.ID != msft.ID {
		t.Fatalf("MSFT id %s in one simulator, %s in another", msft.ID, again.ID)
	}
}

// TestJNLSStreamAndList: a JNLS's status changes reach the v2 stream as JNLC ones do, with the
// same keys, and list and get answers carry symbol, qty and price.
func TestJNLSStreamAndList(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *sandbox.Options) {
		o.StepEvery = 5 * time.Second
		o.Seed.Prices = map[string]decimal.Decimal{"AAPL": dec("228.52")}
	})
	s := b.openStream(t, "/v2/events/journals/status?since_id=00000000000000000000000000")
	shares := decodeJSON[jnlsJournal](t, b.must(t, 200, "POST", "/v1/journals", jnls(sweep, cust1, "AAPL", "1.5"), "Idempotency-Key", keyA).body)
	cash := decodeJSON[wireJournal](t, b.must(t, 200, "POST", "/v1/journals",
		map[string]string{"entry_type": "JNLC", "from_account": sweep, "to_account": cust1, "amount": "1.00"}, "Idempotency-Key", "0198f7a2-0000-7000-8000-00000000000b").body)
	b.sim.Advance(10 * time.Second)

	trails := map[string][]string{}
	keys := map[string][]string{}
	for range 6 {
		var data string
		for data == "" {
			l := s.next(t)
			if l == "" {
				t.Fatal("stream ended early")
			}
			if d, ok := strings.CutPrefix(l, "data: "); ok {
				data = d
			}
		}
		var e map[string]any
		if err := json.Unmarshal([]byte(data), &e); err != nil {
			t.Fatal(err)
		}
		if err := b.schema.eventV2.Validate(e); err != nil {
			t.Fatalf("event breaks the published schema: %v\n%s", err, data)
		}
		kind := e["entry_type"].(string)
		id := e["journal_id"].(string)
		if (kind == "JNLS") != (id == shares.ID) || e["idempotency_key_type"] != "single" {
			t.Fatalf("event %s", data)
		}
		trails[kind] = append(trails[kind], e["status_from"].(string)+">"+e["status_to"].(string))
		keys[kind] = slices.Sorted(maps.Keys(e))
	}
	const want = ">queued queued>sent_to_clearing sent_to_clearing>executed"
	if got := strings.Join(trails["JNLS"], " "); got != want {
		t.Fatalf("JNLS events %s, want %s", got, want)
	}
	if got := strings.Join(trails["JNLC"], " "); got != want {
		t.Fatalf("JNLC events %s, want %s", got, want)
	}
	if !slices.Equal(keys["JNLS"], keys["JNLC"]) {
		t.Fatalf("JNLS event keys %v, JNLC event keys %v", keys["JNLS"], keys["JNLC"])
	}

	for _, path := range []string{"/v1/journals?status=executed&entry_type=JNLS", "/v1/journals/" + shares.ID} {
		body := b.must(t, 200, "GET", path, nil).body
		var got jnlsJournal
		if strings.Contains(path, "?") {
			list := decodeJSON[[]jnlsJournal](t, body)
			if len(list) != 1 {
				t.Fatalf("%s: %s", path, body)
			}
			got = list[0]
		} else {
			got = decodeJSON[jnlsJournal](t, body)
		}
		if got.ID != shares.ID || got.EntryType != "JNLS" || got.Status != "executed" || *got.Symbol != "AAPL" ||
			*got.Qty != "1.5" || *got.Price != "228.52" || got.NetAmount != nil || got.SettleDate == nil {
			t.Fatalf("%s: %s", path, body)
		}
	}
	if list := decodeJSON[[]wireJournal](t, b.must(t, 200, "GET", "/v1/journals?status=executed&entry_type=JNLC", nil).body); len(list) != 1 || list[0].ID != cash.ID {
		t.Fatalf("JNLC list %+v", list)
	}
}

func TestParseSeedPositionsAndAssets(t *testing.T) {
	t.Parallel()
	const head = `{"sweep_account":"` + sweep + `","accounts":[{"id":"` + sweep + `","status":"ACTIVE","firm":true},` +
		`{"id":"` + cust1 + `","status":"ACTIVE"}]`
	s, err := sandbox.ParseSeed([]byte(head + `,"positions":{"` + sweep + `":{"AAPL":"10","BRK.B":"0.000000001","TSLA":"0"}},` +
		`"assets":[{"symbol":"OLDCO","status":"inactive"},{"symbol":"AAPL","status":"active","tradable":true}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if p := s.Positions[sweep]; len(p) != 3 || !p["AAPL"].Equal(dec("10")) || !p["BRK.B"].Equal(dec("0.000000001")) || !p["TSLA"].IsZero() {
		t.Fatalf("positions %v", s.Positions)
	}
	if len(s.Assets) != 2 || s.Assets[0] != (sandbox.Asset{Symbol: "OLDCO", Status: "inactive"}) ||
		s.Assets[1] != (sandbox.Asset{Symbol: "AAPL", Status: "active", Tradable: true}) {
		t.Fatalf("assets %+v", s.Assets)
	}
	for _, bad := range []string{
		`,"positions":{"` + cust1 + `":{"AAPL":"1"}}`,   // a customer
		`,"positions":{"` + unknown + `":{"AAPL":"1"}}`, // not in the seed
		`,"positions":{"` + sweep + `":{"AAPL":"-1"}}`,
		`,"positions":{"` + sweep + `":{"AAPL":"1e2"}}`,
		`,"positions":{"` + sweep + `":{"AAPL":"0.0000000001"}}`,
		`,"positions":{"` + sweep + `":{"btc/usd":"1"}}`,
		`,"assets":[{"symbol":"OLDCO","status":"halted"}]`,
		`,"assets":[{"symbol":"oldco","status":"active"}]`,
		`,"assets":[{"symbol":"OLDCO","status":"active"},{"symbol":"OLDCO","status":"inactive"}]`,
		`,"assets":[{"symbol":"OLDCO","status":"active","marginable":true}]`,
	} {
		if _, err := sandbox.ParseSeed([]byte(head + bad + `}`)); err == nil {
			t.Fatalf("seed accepted %s", bad)
		}
	}
	// The sample night's seed: what the demo's rewards are planned against.
	demo, err := sandbox.LoadSeed("../../fixtures/accounts.json")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]decimal.Decimal{"AAPL": dec("10"), "MSFT": dec("5"), "TSLA": dec("0"), "OLDCO": dec("3")}
	if got := demo.Positions[demo.SweepAccount]; !maps.EqualFunc(got, want, decimal.Decimal.Equal) {
		t.Fatalf("demo positions %v", got)
	}
}

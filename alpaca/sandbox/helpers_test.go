package sandbox_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cashpool/cashpool/alpaca/sandbox"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/shopspring/decimal"
)

const (
	sweep    = "8f8c8cee-2591-4f83-be12-82c659b5e748"
	firm2    = "f0000000-0000-4000-8000-000000000002"
	cust1    = "c0000000-0000-4000-8000-000000000001"
	cust2    = "c0000000-0000-4000-8000-000000000002"
	cust3    = "c0000000-0000-4000-8000-000000000003"
	inactive = "c0000000-0000-4000-8000-000000000099"
	closed   = "c0000000-0000-4000-8000-000000000098"
	unknown  = "c0000000-0000-4000-8000-00000000dead"
	keyID    = "test-key"
	secret   = "test-secret"
	specPath = "../testdata/journals-openapi-2026-04.json" // Alpaca's published schemas; see ../testdata/README.md
)

// base is a fixed instant: the simulator's clock only moves when a test advances it.
var base = time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func testSeed() sandbox.Seed {
	return sandbox.Seed{
		SweepAccount: sweep,
		SweepCash:    dec("100000.00"),
		JournalLimit: dec("10000.00"),
		DailyLimit:   dec("50000.00"),
		Accounts: []sandbox.Account{
			{ID: sweep, Status: "ACTIVE", Firm: true},
			{ID: firm2, Status: "ACTIVE", Firm: true},
			{ID: cust1, Status: "ACTIVE"},
			{ID: cust2, Status: "ACTIVE"},
			{ID: cust3, Status: "ACTIVE"},
			{ID: inactive, Status: "INACTIVE"},
			{ID: closed, Status: "ACCOUNT_CLOSED"},
		},
		Positions: map[string]map[string]decimal.Decimal{sweep: {"AAPL": dec("100"), "BRK.B": dec("10")}},
	}
}

// bundle is what a test needs to talk to one simulator.
type bundle struct {
	sim    *sandbox.Server
	srv    *httptest.Server
	client *http.Client
	schema *schemas
}

// setup starts a simulator over real HTTP. mod adjusts the options.
func setup(t *testing.T, mod func(*sandbox.Options)) *bundle {
	t.Helper()
	o := sandbox.Options{
		Seed: testSeed(), Now: func() time.Time { return base }, KeyID: keyID, Secret: secret,
		HeartbeatEvery: time.Hour, PollEvery: 10 * time.Millisecond,
	}
	if mod != nil {
		mod(&o)
	}
	sim := sandbox.New(o)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	// No keep-alive: an injected lost response must reach the test as an error, not be retried
	// by the transport on a fresh connection (it retries requests carrying an Idempotency-Key).
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	return &bundle{sim: sim, srv: srv, client: client, schema: loadSchemas(t)}
}

// response is one answer, its body already read.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) String() string { return fmt.Sprintf("HTTP %d %s", r.status, r.body) }

// call sends a request with the test credentials; headers are name, value pairs.
func (b *bundle) call(t *testing.T, method, path string, body any, headers ...string) (response, error) {
	t.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(v)
	case []byte:
		rd = bytes.NewReader(v)
	default:
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, b.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(keyID, secret)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	return response{status: resp.StatusCode, header: resp.Header, body: raw}, nil
}

// must is call for requests that must get an answer with status want (0: any status). The body is checked
// against the published schema for what the path answers.
func (b *bundle) must(t *testing.T, want int, method, path string, body any, headers ...string) response {
	t.Helper()
	r, err := b.call(t, method, path, body, headers...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if want != 0 && r.status != want {
		t.Fatalf("%s %s: got %v, want HTTP %d", method, path, r, want)
	}
	b.schema.check(t, method, path, r)
	return r
}

func (b *bundle) batch(t *testing.T, want int, req any, key string) response {
	t.Helper()
	if key == "" {
		return b.must(t, want, "POST", "/v1/journals/batch", req)
	}
	return b.must(t, want, "POST", "/v1/journals/batch", req, "Idempotency-Key", key)
}

// answered decodes a batch answer back into request order: the simulator answers in reverse.
func answered(t *testing.T, r response) []wireJournal {
	t.Helper()
	got := decodeJSON[[]wireJournal](t, r.body)
	slices.Reverse(got)
	return got
}

// wireJournal decodes the fields tests look at; the raw shape is checked by the schemas.
type wireJournal struct {
	ID           string  `json:"id"`
	Status       string  `json:"status"`
	FromAccount  string  `json:"from_account"`
	ToAccount    string  `json:"to_account"`
	NetAmount    *string `json:"net_amount"`
	Description  string  `json:"description"`
	SettleDate   *string `json:"settle_date"`
	ErrorMessage *string `json:"error_message"`
}

func decodeJSON[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

type apiErr struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func wantError(t *testing.T, r response, code int, msgPart string) {
	t.Helper()
	e := decodeJSON[apiErr](t, r.body)
	if e.Code != code || !strings.Contains(e.Message, msgPart) {
		t.Fatalf("got error %d %q, want code %d with %q", e.Code, e.Message, code, msgPart)
	}
}

type entry struct {
	ToAccount   string `json:"to_account"`
	Amount      string `json:"amount"`
	Description string `json:"description,omitempty"`
}

type batchBody struct {
	EntryType   string  `json:"entry_type"`
	FromAccount string  `json:"from_account"`
	Entries     []entry `json:"entries"`
}

func batchOf(entries ...entry) batchBody {
	return batchBody{EntryType: "JNLC", FromAccount: sweep, Entries: entries}
}

func (b *bundle) journal(t *testing.T, id string) wireJournal {
	t.Helper()
	return decodeJSON[wireJournal](t, b.must(t, 200, "GET", "/v1/journals/"+id, nil).body)
}

func (b *bundle) sweepCash(t *testing.T) decimal.Decimal {
	t.Helper()
	return b.sim.Cash("")
}

// schemas are the published response schemas, compiled once for all tests.
type schemas struct {
	journal, batchJournal, apiError, eventV2, eventV1 *jsonschema.Schema
	account, tradingAccount, asset                    *jsonschema.Schema
}

// assetSchema is the Broker API's Asset object (GET /v1/assets/{symbol_or_asset_id}), written by
// hand from Alpaca's Broker API reference; no other field is allowed, so the simulator cannot
// invent one.
const assetSchema = `{
  "type": "object",
  "required": ["id", "symbol"],
  "additionalProperties": false,
  "properties": {
    "id": {"type": "string", "format": "uuid"},
    "class": {"enum": ["us_equity", "crypto"]},
    "exchange": {"enum": ["AMEX", "ARCA", "BATS", "NYSE", "NASDAQ", "NYSEARCA", "OTC"]},
    "symbol": {"type": "string"},
    "name": {"type": "string"},
    "status": {"enum": ["active", "inactive"]},
    "tradable": {"type": "boolean"},
    "marginable": {"type": "boolean"},
    "shortable": {"type": "boolean"},
    "easy_to_borrow": {"type": "boolean"},
    "fractionable": {"type": "boolean"}
  }
}`

// accountSchema is the Broker API's Account object (GET /v1/accounts/{account_id}), written by hand
// from Alpaca's Broker API reference: the journal specification does not cover accounts.
const accountSchema = `{
  "type": "object",
  "required": ["id", "account_number", "status", "currency"],
  "properties": {
    "id": {"type": "string", "format": "uuid"},
    "account_number": {"type": "string"},
    "status": {"type": "string"},
    "crypto_status": {"type": "string"},
    "currency": {"type": "string"},
    "last_equity": {"type": "string", "format": "decimal"}
  }
}`

// tradingAccountSchema is the part of the Broker API's trading account
// (GET /v1/trading/accounts/{account_id}/account) the simulator serves, written by hand from
// Alpaca's Broker API reference like accountSchema: amounts are decimal strings.
const tradingAccountSchema = `{
  "type": "object",
  "required": ["id", "account_number", "status", "currency", "cash", "cash_withdrawable", "cash_transferable"],
  "properties": {
    "id": {"type": "string", "format": "uuid"},
    "account_number": {"type": "string"},
    "status": {"type": "string"},
    "currency": {"type": "string"},
    "cash": {"type": "string", "format": "decimal"},
    "cash_withdrawable": {"type": "string", "format": "decimal"},
    "cash_transferable": {"type": "string", "format": "decimal"}
  }
}`

var loadSchemaOnce = sync.OnceValues(func() (*schemas, error) {
	f, err := os.Open(specPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		return nil, err
	}
	const url = "https://alpaca.invalid/journals-openapi.json"
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	c.RegisterFormat(&jsonschema.Format{Name: "ulid", Validate: matchFormat(`^[0-7][0-9A-HJKMNP-TV-Z]{25}$`)})
	c.RegisterFormat(&jsonschema.Format{Name: "decimal", Validate: matchFormat(`^-?[0-9]+(\.[0-9]+)?$`)})
	if err := c.AddResource(url, doc); err != nil {
		return nil, err
	}
	s := &schemas{}
	account, err := jsonschema.UnmarshalJSON(strings.NewReader(accountSchema))
	if err != nil {
		return nil, err
	}
	const accountURL = "https://alpaca.invalid/account.json"
	if err := c.AddResource(accountURL, account); err != nil {
		return nil, err
	}
	if s.account, err = c.Compile(accountURL); err != nil {
		return nil, fmt.Errorf("compile account: %w", err)
	}
	trading, err := jsonschema.UnmarshalJSON(strings.NewReader(tradingAccountSchema))
	if err != nil {
		return nil, err
	}
	const tradingURL = "https://alpaca.invalid/trading-account.json"
	if err := c.AddResource(tradingURL, trading); err != nil {
		return nil, err
	}
	if s.tradingAccount, err = c.Compile(tradingURL); err != nil {
		return nil, fmt.Errorf("compile trading account: %w", err)
	}
	asset, err := jsonschema.UnmarshalJSON(strings.NewReader(assetSchema))
	if err != nil {
		return nil, err
	}
	const assetURL = "https://alpaca.invalid/asset.json"
	if err := c.AddResource(assetURL, asset); err != nil {
		return nil, err
	}
	if s.asset, err = c.Compile(assetURL); err != nil {
		return nil, fmt.Errorf("compile asset: %w", err)
	}
	for name, dst := range map[string]**jsonschema.Schema{
		"Journal": &s.journal, "BatchJournalResponseJNLC": &s.batchJournal, "Error": &s.apiError,
		"JournalStatusEventV2": &s.eventV2, "JournalStatusEvent": &s.eventV1,
	} {
		if *dst, err = c.Compile(url + "#/components/schemas/" + name); err != nil {
			return nil, fmt.Errorf("compile %s: %w", name, err)
		}
	}
	return s, nil
})

func matchFormat(pattern string) func(any) error {
	re := regexp.MustCompile(pattern)
	return func(v any) error {
		if s, ok := v.(string); ok && !re.MatchString(s) {
			return fmt.Errorf("%q does not match %s", s, pattern)
		}
		return nil
	}
}

func loadSchemas(t *testing.T) *schemas {
	t.Helper()
	s, err := loadSchemaOnce()
	if err != nil {
		// Never a skip: every answer is checked against Alpaca's schemas or the test fails.
		t.Fatalf("load the published schemas: %v", err)
	}
	return s
}

// check validates a JSON answer: errors against Error, journals against Journal, batch answers
// element by element against BatchJournalResponseJNLC.
func (s *schemas) check(t *testing.T, method, path string, r response) {
	t.Helper()
	if len(r.body) == 0 || strings.HasPrefix(path, "/sandbox/") || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		return
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(r.body))
	if err != nil {
		t.Fatalf("%s %s: answer is not JSON: %v: %s", method, path, err, r.body)
	}
	validate := func(sch *jsonschema.Schema, v any) {
		t.Helper()
		if err := sch.Validate(v); err != nil {
			t.Fatalf("%s %s: answer breaks the published schema: %v\n%s", method, path, err, r.body)
		}
	}
	p, _, _ := strings.Cut(path, "?")
	switch {
	case r.status >= 300:
		validate(s.apiError, inst)
	case method == "POST" && p == "/v1/journals/batch":
		for _, item := range inst.([]any) {
			validate(s.batchJournal, item)
		}
	case method == "GET" && p == "/v1/journals" || p == "/v1/journals/reverse_batch":
		for _, item := range inst.([]any) {
			validate(s.journal, item)
		}
	case strings.HasPrefix(p, "/v1/journals"):
		validate(s.journal, inst)
	case method == "GET" && strings.HasPrefix(p, "/v1/accounts/"):
		validate(s.account, inst)
	case method == "GET" && strings.HasPrefix(p, "/v1/trading/accounts/"):
		validate(s.tradingAccount, inst)
	case method == "GET" && strings.HasPrefix(p, "/v1/assets/"):
		validate(s.asset, inst)
	default:
		t.Fatalf("no schema known for %s %s", method, path)
	}
}

func newRequest(b *bundle, method, path string) (*http.Request, error) {
	return http.NewRequest(method, b.srv.URL+path, nil)
}

func readResponse(t *testing.T, resp *http.Response) response {
	t.Helper()
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: raw}
}

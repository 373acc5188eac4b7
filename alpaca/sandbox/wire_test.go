package sandbox_test

import (
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cashpool/cashpool/alpaca/sandbox"
)

// wireIDs finds the ids a simulator draws at random: journal UUIDs (version 4, unlike the seed's
// accounts and keys here) and event ULIDs.
var (
	wireUUID = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}`)
	wireULID = regexp.MustCompile(`\b[0-7][0-9A-HJKMNP-TV-Z]{25}\b`)
)

// normalizeWire names each random id by its first appearance (J1, J2... and U1, U2...), so that
// the bytes around them can be compared with a text written out by hand. Seeded accounts and keys
// are left as they are.
func normalizeWire(text string, keep ...string) string {
	kept := map[string]bool{}
	for _, k := range keep {
		kept[k] = true
	}
	names := map[string]string{}
	name := func(prefix string) func(string) string {
		return func(id string) string {
			if kept[id] {
				return id
			}
			if n, ok := names[id]; ok {
				return n
			}
			n := fmt.Sprintf("%s%d", prefix, len(names)+1)
			names[id] = n
			return n
		}
	}
	text = wireUUID.ReplaceAllStringFunc(text, name("J"))
	clear(names)
	return wireULID.ReplaceAllStringFunc(text, name("U"))
}

// TestWireBytes pins the exact bytes of the answers and streams a client reads, on a fixed clock:
// a batch answer (reverse order, a refused entry, escapes, Travel Rule fields, a numeric amount)
// and its replay, a single JNLC and JNLS, an amount beyond int64 cents, admin approve and correct,
// a GET, a list, both event streams (with and without stream faults), the ledger (corrections
// included) and the event dump. The expected text was written from the
// simulator's output before its encoders were hand-written, so it stands apart from them.
func TestWireBytes(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *sandbox.Options) { o.StepEvery = time.Second })
	var out strings.Builder
	show := func(what string, r response) {
		fmt.Fprintf(&out, "== %s: %d %s\n%s\n", what, r.status, r.header.Get("Content-Type"), r.body)
	}

	batch := `{"entry_type":"JNLC","from_account":"` + sweep + `","description":"batch desc","entries":[` +
		`{"to_account":"` + cust1 + `","amount":"12.34","description":"Pay <W1> & \"co\" \\ é ☃ \u2028 tab\t end",` +
		`"transmitter_name":"Originator W1","transmitter_account_number":"ACC0000000001",` +
		`"transmitter_address":"1 Main St, New York, NY 10001, US","transmitter_financial_institution":"First Bank NA",` +
		`"transmitter_timestamp":"2026-03-02T00:00:00Z"},` +
		`{"to_account":"` + cust2 + `","amount":"10000.01"},` +
		`{"to_account":"` + cust3 + `","amount":"0.5","description":"cp:half","currency":"USD"},` +
		`{"to_account":"` + cust1 + `","amount":"95000","description":"too much"},` +
		`{"to_account":"` + cust2 + `","amount":7,"description":"/fixtures/status=rejected/fixtures/"}]}`
	first := b.must(t, 200, "POST", "/v1/journals/batch", batch, "Idempotency-Key", keyA)
	show("batch", first)
	replay := b.must(t, 200, "POST", "/v1/journals/batch", batch, "Idempotency-Key", keyA)
	if string(replay.body) != string(first.body) {
		t.Fatalf("replay answered\n%s\nwant the first answer\n%s", replay.body, first.body)
	}
	show("single JNLC", b.must(t, 200, "POST", "/v1/journals",
		`{"entry_type":"JNLC","from_account":"`+sweep+`","to_account":"`+cust2+`","amount":"1.00","description":"one",`+
			`"transmitter_name":"Solo"}`, "Idempotency-Key", "single-key"))
	show("single JNLS", b.must(t, 200, "POST", "/v1/journals",
		`{"entry_type":"JNLS","from_account":"`+sweep+`","to_account":"`+cust1+`","symbol":"AAPL","qty":"1.5","description":"shares"}`))
	b.sim.Advance(time.Second)
	b.sim.Advance(1500 * time.Millisecond)
	show("reverse batch", b.must(t, 200, "POST", "/v1/journals/reverse_batch",
		`{"entry_type":"JNLC","to_account":"`+sweep+`","description":"back","entries":[{"from_account":"`+cust3+`","amount":"2.50"}]}`))

	// An amount beyond int64 cents (pending: over the journal limit), approved; a correction.
	if err := b.sim.SetCash("", dec("200000000000000000.00")); err != nil {
		t.Fatal(err)
	}
	big := b.must(t, 200, "POST", "/v1/journals",
		`{"entry_type":"JNLC","from_account":"`+sweep+`","to_account":"`+cust3+`","amount":"100000000000000000.10"}`)
	show("big", big)
	ledger := b.sim.Ledger()
	show("approve", b.must(t, 200, "POST", "/sandbox/v1/journals/"+ledger[len(ledger)-1].ID+"/approve", nil))
	show("correct", b.must(t, 200, "POST", "/sandbox/v1/journals/"+ledger[0].ID+"/correct", `{"amount":"11.00"}`))
	show("get", b.must(t, 200, "GET", "/v1/journals/"+ledger[0].ID, nil))
	show("list", b.must(t, 200, "GET", "/v1/journals?after=2026-03-02&before=2026-03-02", nil))

	events := b.sim.Events()
	last := events[len(events)-1].ID
	readAll := func(path string) response {
		req, err := newRequest(b, "GET", path)
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth(keyID, secret)
		resp, err := b.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return response{status: resp.StatusCode, header: resp.Header, body: body}
	}
	show("stream v2", readAll("/v2/events/journals/status?since_id=00000000000000000000000000&until_id="+last))
	show("stream v1", readAll(fmt.Sprintf("/v1/events/journals/status?since_id=0&until_id=%d", len(events))))
	b.sim.SetFaults(sandbox.Faults{Seed: 7, StreamDuplicateRate: 0.3, StreamReorderRate: 0.3})
	show("stream v2 with faults", readAll("/v2/events/journals/status?since_id=00000000000000000000000000&until_id="+last))
	b.sim.SetFaults(sandbox.Faults{})
	show("ledger", readAll("/sandbox/v1/ledger"))
	show("events", readAll("/sandbox/v1/events"))

	got := normalizeWire(out.String(), keyA, sweep, cust1, cust2, cust3)
	if got != wantWire {
		t.Fatalf("wire bytes changed; got\n%s", got)
	}
}

const wantWire = `== batch: 200 application/json
[{"id":"J1","entry_type":"JNLC","from_account":"8f8c8cee-2591-4f83-be12-82c659b5e748","to_account":"c0000000-0000-4000-8000-000000000002","symbol":null,"qty":null,"price":null,"status":"queued","settle_date":null,"system_date":null,"net_amount":"7.00","description":"/fixtures/status=rejected/fixtures/","currency":"USD","created_at":"2026-03-02T14:00:00Z"},{"id":"J2","entry_type":"JNLC","from_account":"8f8c8cee-2591-4f83-be12-82c659b5e748","to_account":"c0000000-0000-4000-8000-000000000001","symbol":null,"qty":null,"price":null,"status":"refused","settle_date":null,"system_date":null,"net_amount":"95000.00","description":"too much","currency":"USD","created_at":"2026-03-02T14:00:00Z","error_message":"insufficient balance, available: 89987.15, required: 95000.00"},{"id":"J3","entry_type":"JNLC","from_account":"8f8c8cee-2591-4f83-be12-82c659b5e748","to_account":"c0000000-0000-4000-8000-000000000003","symbol":null,"qty":null,"price":null,"status":"queued","settle_date":null,"system_date":null,"net_amount":"0.50","description":"cp:half","currency":"USD","created_at":"2026-03-02T14:00:00Z"},{"id":"J4","entry_type":"JNLC","from_account":"8f8c8cee-2591-4f83-be12-82c659b5e748","to_account":"c0000000-0000-4000-8000-000000000002","symbol":null,"qty":null,"price":null,"status":"pending","settle_date":null,"system_date":null,"net_amount":"10000.01","description":"batch desc","currency":"USD","created_at":"2026-03-02T14:00:00Z"},{"id":"J5","entry_type":"JNLC","from_account":"8f8c8cee-2591-4f83-be12-82c659b5e748","to_account":"c0000000-0000-4000-8000-000000000001","symbol":null,"qty":null,"price":null,"status":"queued","settle_date":null,"system_date":null,"net_amount":"12.34","description":"Pay \u003cW1\u003e \u0026 \"co\" \\ é ☃ \u2028 tab\t end","currency":"USD","created_at":"2026-03-02T14:00:00Z","transmitter_name":"Originator W1","transmitter_account_number":"ACC0000000001","transmitter_address":"1 Main St, New York, NY 10001, US","transmitter_financial_institution":"First Bank NA","transmitter_timestamp":"2026-03-02T00:00:00Z"}]
== single JNLC: 200 application/json
{"id":"J6","entry_type":"JNLC","from_account":"8f8c8cee-2591-4f83-be12-82c659b5e748","to_account":"c0000000-0000-4000-8000-000000000002","symbol":null,"qty":null,"price":null,"status":"queued","settle_date":null,"system_date":null,"net_amount":"1.00","description":"one","currency":"USD","created_at":"2026-03-02T14:00:00Z","transmitter_name":"Solo"}
== single JNLS: 200 application/json
{"id":"J7","entry_type":"JNLS","from_account":"8f8c8cee-2591-4f83-be12-82c659b5e748","to_account":"c0000000-0000-4000-8000-000000000001","symbol":"AAPL","qty":"1.5","price":"100.00","status":"queued","settle_date":null,"system_date":null,"net_amount":null,"description":"shares","currency":"USD","created_at":"2026-03-02T14:00:00Z"}
== reverse batch: 200 application/json
[{"id":"J8","entry_type":"JNLC","from_account":"c0000000-0000-4000-8000-000000000003","to_account":"8f8c8cee-2591-4f83-be12-82c659b5e748","symbol":null,"qty":null,"price":null,"status":"queued","settle_date":null,"system_date":null,"net_amount":"2.50","description":"back","currency":"USD","created_at":"2026-03-02T14:00:02.5Z"}]
== big: 200 application/json
{"id":"J9","entry_type":"JNLC","from_account":"8f8c8cee-2591-4f83-be12-82c659b5e748","to_account":"c0000000-0000-4000-8000-000000000003","symbol":null,"qty":null,"price":null,"status":"pending","settle_date":null,"system_date":null,"net_amount":"100000000000000000.10","description":"","currency":"USD","created_at":"2026-03-02T14:00:02.5Z"}
== approve: 200 application/json
{"id":"J9","entry_type":"JNLC","from_account":"8f8c8cee-2591-4f83-be12-82c659b5e748","to_account":"c0000000-0000-4000-8000-000000000003","symbol":null,"qty":null,"price":null,"status":"executed","settle_date":"2026-03-02","system_date":"2026-03-02","net_amount":"100000000000000000.10","description":"","currency":"USD","created_at":"2026-03-02T14:00:02.5Z"}
== correct: 200 application/json
{"original":{"id":"J5","entry_type":"JNLC","from_account":"8f8c8cee-2591-4f83-be12-82c659b5e748","to_account":"c0000000-0000-4000-8000-000000000001","symbol":null,"qty":null,"price":null,"status":"correct","settle_date":"2026-03-02","system_date":"2026-03-02","net_amount":"12.34","description":"Pay \u003cW1\u003e \u0026 \"co\" \\ é ☃ \u2028 tab\t end","currency":"USD","created_at":"2026-03-02T14:00:00Z","transmitter_name":"Originator W1","transmitter_account_number":"ACC0000000001","transmitter_address":"1 Main St, New York, NY 10001, US","transmitter_financial_institution":"First Bank NA","transmitter_timestamp":"2026-03-02T00:00:00Z"},"correction":{"id":"J10","entry_type":"JNLC","from_account":"8f8c8cee-2591-4f83-be12-82c659b5e748","to_account":"c0000000-0000-4000-8000-000000000001","symbol":null,"qty":null,"price":null,"status":"executed","settle_date":"2026-03-02","system_date":"2026-03-02","net_amount":"11.00","description":"Pay \u003cW1\u003e \u0026 \"co\" \\ é ☃ \u2028 tab\t end","currency":"USD","created_at":"2026-03-02T14:00:02.5Z","transmitter_name":"Originator W1","transmitter_account_number":"ACC0000000001","transmitter_address":"1 Main St, New York, NY 10001, US","transmitter_financial_institution":"First Bank NA","transmitter_timestamp":"2026-03-02T00:00:00Z"}}
== get: 200 application/json
{"id":"J5","entry_type":"JNLC","from_account":"8f8c8cee-2591-4f83-be12-82c659b5e748","to_account":"c0000000-0000-4000-8000-000000000001","symbol":null,"qty":null,"price":null,"status":"correct","settle_date":"2026-03-02","system_date":"2026-03-02","net_amount":"12.34","description":"Pay \u003cW1\u003e \u0026 \"co\" \\ é ☃ \u2028 tab\t end","currency":"USD","created_at":"2026-03-02T14:00:00Z","transmitter_name":"Originator W1","transmitter_account_number":"ACC0000000001","transmitter_address":"1 Main St, New York, NY 10001, US","transmitter_financial_institution":"First Bank NA","transmitter_timestamp":"2026-03-02T00:00:00Z"}
== list: 200 application/json
[{"id":"J5","entry_type":"JNLC","from_account":"8f8c8cee-2591-4f83-be12-82c659b5e748","to_account":"c0000000-0000-4000-8000-000000000001","symbol":null,"qty":null,"price":null,"status":"correct","settle_date":"2026-03-02","system_date":"2026-03-02","net_amount":"12.34","description":"Pay \u003cW1\u003e \u0026 \"co\" \\ é ☃ \u2028 tab\t end","currency":"USD","created_at":"2026-03-02T14:00:00Z","transmitter_name":"Originator W1","transmitter_account_number":"ACC0000000001","transmitter_address":"1 Main St, New York, NY 10001, US","transmitter_financial_institution":"First Bank NA","transmitter_timestamp":"2026-03-02T00:00:00Z"}
,{"id":"J4","entry_type":"JNLC","from_account":"8f8c8cee-2591-4f83-be12-82c659b5e748","to_account":"c0000000-0000-4000-8000-000000000002","symbol":null,"qty":null,"price":null,"status":"pending","settle_date":null,"system_date":null,"net_amount":"10000.01","description":"batch desc","currency":"USD","created_at":"2026-03-02T14:00:00Z"}
,{"id":"J3","entry_type":"JNLC","from_account":"8f8c8cee-2591-4f83-be12-82c659b5e748","to_account":"c0000000-0000-4000-8000-000000000003","symbol":null,"qty":null,"price":null,"status":"executed","settle_date":"2026-03-02","system_date":"2026-03-02","net_amount":"0.50","description":"cp:half","currency":"USD","created_at":"2026-03-02T14:00:00Z"}
,{"id":"J2","entry_type":"JNLC","from_account":"8f8c8cee-2591-4f83-be12-82c659b5e748","to_account":"c0000000-0000-4000-8000-000000000001","symbol":null,"qty":null,"price":null,"status":"refused","settle_date":null,"system_date":null,"net_amount":"95000.00","description":"too much","currency":"USD","created_at":"2026-03-02T14:00:00Z"}
,{"id":"J1","entry_type":"JNLC","from_account":"8f8c8cee-2591-4f83-be12-82c659b5e748","to_account":"c0000000-0000-4000-8000-000000000002","symbol":null,"qty":null,"price":null,"status":"queued","settle_date":null,"system_date":null,"net_amount":"7.00","description":"/fixtures/status=rejected/fixtures/","currency":"USD","created_at":"2026-03-02T14:00:00Z"}
,{"id":"J6","entry_type":"JNLC","from_account":"8f8c8cee-2591-4f83-be12-82c659b5e748","to_account":"c0000000-0000-4000-8000-000000000002","symbol":null,"qty":null,"price":null,"status":"executed","settle_date":"2026-03-02","system_date":"2026-03-02","net_amount":"1.00","description":"one","currency":"USD","created_at":"2026-03-02T14:00:00Z","transmitter_name":"Solo"}
,{"id":"J7","entry_type":"JNLS","from_account":"8f8c8cee-2591-4f83-be12-82c659b5e748","to_account":"c0000000-0000-4000-8000-000000000001","symbol":"AAPL","qty":"1.5","price":"100.00","status":"executed","settle_date":"2026-03-02","system_date":"2026-03-02","net_amount":null,"description":"shares","currency":"USD","created_at":"2026-03-02T14:00:00Z"}
,{"id":"J8","entry_type":"JNLC","from_account":"c0000000-0000-4000-8000-000000000003","to_account":"8f8c8cee-2591-4f83-be12-82c659b5e748","symbol":null,"qty":null,"price":null,"status":"queued","settle_date":null,"system_date":null,"net_amount":"2.50","description":"back","currency":"USD","created_at":"2026-03-02T14:00:02.5Z"}
,{"id":"J9","entry_type":"JNLC","from_account":"8f8c8cee-2591-4f83-be12-82c659b5e748","to_account":"c0000000-0000-4000-8000-000000000003","symbol":null,"qty":null,"price":null,"status":"executed","settle_date":"2026-03-02","system_date":"2026-03-02","net_amount":"100000000000000000.10","description":"","currency":"USD","created_at":"2026-03-02T14:00:02.5Z"}
,{"id":"J10","entry_type":"JNLC","from_account":"8f8c8cee-2591-4f83-be12-82c659b5e748","to_account":"c0000000-0000-4000-8000-000000000001","symbol":null,"qty":null,"price":null,"status":"executed","settle_date":"2026-03-02","system_date":"2026-03-02","net_amount":"11.00","description":"Pay \u003cW1\u003e \u0026 \"co\" \\ é ☃ \u2028 tab\t end","currency":"USD","created_at":"2026-03-02T14:00:02.5Z","transmitter_name":"Originator W1","transmitter_account_number":"ACC0000000001","transmitter_address":"1 Main St, New York, NY 10001, US","transmitter_financial_institution":"First Bank NA","transmitter_timestamp":"2026-03-02T00:00:00Z"}
]
== stream v2: 200 text/event-stream
:heartbeat

data: {"event_id":"U1","at":"2026-03-02T14:00:00Z","journal_id":"J5","entry_type":"JNLC","status_from":"","status_to":"queued","description":"Pay \u003cW1\u003e \u0026 \"co\" \\ é ☃ \u2028 tab\t end","idempotency_key":"0198f7a2-0000-7000-8000-00000000000a","idempotency_key_type":"batch"}

data: {"event_id":"U2","at":"2026-03-02T14:00:00Z","journal_id":"J4","entry_type":"JNLC","status_from":"","status_to":"pending","description":"batch desc","idempotency_key":"0198f7a2-0000-7000-8000-00000000000a","idempotency_key_type":"batch"}

data: {"event_id":"U3","at":"2026-03-02T14:00:00Z","journal_id":"J3","entry_type":"JNLC","status_from":"","status_to":"queued","description":"cp:half","idempotency_key":"0198f7a2-0000-7000-8000-00000000000a","idempotency_key_type":"batch"}

data: {"event_id":"U4","at":"2026-03-02T14:00:00Z","journal_id":"J2","entry_type":"JNLC","status_from":"","status_to":"refused","description":"too much","idempotency_key":"0198f7a2-0000-7000-8000-00000000000a","idempotency_key_type":"batch","batch_error_message":"insufficient balance, available: 89987.15, required: 95000.00"}

data: {"event_id":"U5","at":"2026-03-02T14:00:00Z","journal_id":"J1","entry_type":"JNLC","status_from":"","status_to":"queued","description":"/fixtures/status=rejected/fixtures/","idempotency_key":"0198f7a2-0000-7000-8000-00000000000a","idempotency_key_type":"batch"}

data: {"event_id":"U6","at":"2026-03-02T14:00:00Z","journal_id":"J6","entry_type":"JNLC","status_from":"","status_to":"queued","description":"one","idempotency_key":"single-key","idempotency_key_type":"single"}

data: {"event_id":"U7","at":"2026-03-02T14:00:00Z","journal_id":"J7","entry_type":"JNLS","status_from":"","status_to":"queued","description":"shares"}

data: {"event_id":"U8","at":"2026-03-02T14:00:01Z","journal_id":"J5","entry_type":"JNLC","status_from":"queued","status_to":"sent_to_clearing","description":"Pay \u003cW1\u003e \u0026 \"co\" \\ é ☃ \u2028 tab\t end","idempotency_key":"0198f7a2-0000-7000-8000-00000000000a","idempotency_key_type":"batch"}

data: {"event_id":"U9","at":"2026-03-02T14:00:01Z","journal_id":"J7","entry_type":"JNLS","status_from":"queued","status_to":"sent_to_clearing","description":"shares"}

data: {"event_id":"U10","at":"2026-03-02T14:00:01Z","journal_id":"J3","entry_type":"JNLC","status_from":"queued","status_to":"sent_to_clearing","description":"cp:half","idempotency_key":"0198f7a2-0000-7000-8000-00000000000a","idempotency_key_type":"batch"}

data: {"event_id":"U11","at":"2026-03-02T14:00:01Z","journal_id":"J6","entry_type":"JNLC","status_from":"queued","status_to":"sent_to_clearing","description":"one","idempotency_key":"single-key","idempotency_key_type":"single"}

data: {"event_id":"U12","at":"2026-03-02T14:00:02Z","journal_id":"J3","entry_type":"JNLC","status_from":"sent_to_clearing","status_to":"executed","description":"cp:half","idempotency_key":"0198f7a2-0000-7000-8000-00000000000a","idempotency_key_type":"batch"}

data: {"event_id":"U13","at":"2026-03-02T14:00:02Z","journal_id":"J6","entry_type":"JNLC","status_from":"sent_to_clearing","status_to":"executed","description":"one","idempotency_key":"single-key","idempotency_key_type":"single"}

data: {"event_id":"U14","at":"2026-03-02T14:00:02Z","journal_id":"J7","entry_type":"JNLS","status_from":"sent_to_clearing","status_to":"executed","description":"shares"}

data: {"event_id":"U15","at":"2026-03-02T14:00:02Z","journal_id":"J5","entry_type":"JNLC","status_from":"sent_to_clearing","status_to":"executed","description":"Pay \u003cW1\u003e \u0026 \"co\" \\ é ☃ \u2028 tab\t end","idempotency_key":"0198f7a2-0000-7000-8000-00000000000a","idempotency_key_type":"batch"}

data: {"event_id":"U16","at":"2026-03-02T14:00:02.5Z","journal_id":"J8","entry_type":"JNLC","status_from":"","status_to":"queued","description":"back"}

data: {"event_id":"U17","at":"2026-03-02T14:00:02.5Z","journal_id":"J9","entry_type":"JNLC","status_from":"","status_to":"pending","description":""}

data: {"event_id":"U18","at":"2026-03-02T14:00:02.5Z","journal_id":"J9","entry_type":"JNLC","status_from":"pending","status_to":"executed","description":""}

data: {"event_id":"U19","at":"2026-03-02T14:00:02.5Z","journal_id":"J5","entry_type":"JNLC","status_from":"executed","status_to":"correct","description":"Pay \u003cW1\u003e \u0026 \"co\" \\ é ☃ \u2028 tab\t end","idempotency_key":"0198f7a2-0000-7000-8000-00000000000a","idempotency_key_type":"batch"}

data: {"event_id":"U20","at":"2026-03-02T14:00:02.5Z","journal_id":"J10","entry_type":"JNLC","status_from":"","status_to":"executed","description":"Pay \u003cW1\u003e \u0026 \"co\" \\ é ☃ \u2028 tab\t end"}


== stream v1: 200 text/event-stream
:heartbeat

data: {"at":"2026-03-02T14:00:00Z","entry_type":"JNLC","event_id":1,"event_ulid":"U1","journal_id":"J5","status_from":"","status_to":"queued"}

data: {"at":"2026-03-02T14:00:00Z","entry_type":"JNLC","event_id":2,"event_ulid":"U2","journal_id":"J4","status_from":"","status_to":"pending"}

data: {"at":"2026-03-02T14:00:00Z","entry_type":"JNLC","event_id":3,"event_ulid":"U3","journal_id":"J3","status_from":"","status_to":"queued"}

data: {"at":"2026-03-02T14:00:00Z","entry_type":"JNLC","event_id":4,"event_ulid":"U4","journal_id":"J2","status_from":"","status_to":"refused"}

data: {"at":"2026-03-02T14:00:00Z","entry_type":"JNLC","event_id":5,"event_ulid":"U5","journal_id":"J1","status_from":"","status_to":"queued"}

data: {"at":"2026-03-02T14:00:00Z","entry_type":"JNLC","event_id":6,"event_ulid":"U6","journal_id":"J6","status_from":"","status_to":"queued"}

data: {"at":"2026-03-02T14:00:00Z","entry_type":"JNLS","event_id":7,"event_ulid":"U7","journal_id":"J7","status_from":"","status_to":"queued"}

data: {"at":"2026-03-02T14:00:01Z","entry_type":"JNLC","event_id":8,"event_ulid":"U8","journal_id":"J5","status_from":"queued","status_to":"sent_to_clearing"}

data: {"at":"2026-03-02T14:00:01Z","entry_type":"JNLS","event_id":9,"event_ulid":"U9","journal_id":"J7","status_from":"queued","status_to":"sent_to_clearing"}

data: {"at":"2026-03-02T14:00:01Z","entry_type":"JNLC","event_id":10,"event_ulid":"U10","journal_id":"J3","status_from":"queued","status_to":"sent_to_clearing"}

data: {"at":"2026-03-02T14:00:01Z","entry_type":"JNLC","event_id":11,"event_ulid":"U11","journal_id":"J6","status_from":"queued","status_to":"sent_to_clearing"}

data: {"at":"2026-03-02T14:00:02Z","entry_type":"JNLC","event_id":12,"event_ulid":"U12","journal_id":"J3","status_from":"sent_to_clearing","status_to":"executed"}

data: {"at":"2026-03-02T14:00:02Z","entry_type":"JNLC","event_id":13,"event_ulid":"U13","journal_id":"J6","status_from":"sent_to_clearing","status_to":"executed"}

data: {"at":"2026-03-02T14:00:02Z","entry_type":"JNLS","event_id":14,"event_ulid":"U14","journal_id":"J7","status_from":"sent_to_clearing","status_to":"executed"}

data: {"at":"2026-03-02T14:00:02Z","entry_type":"JNLC","event_id":15,"event_ulid":"U15","journal_id":"J5","status_from":"sent_to_clearing","status_to":"executed"}

data: {"at":"2026-03-02T14:00:02.5Z","entry_type":"JNLC","event_id":16,"event_ulid":"U16","journal_id":"J8","status_from":"","status_to":"queued"}

data: {"at":"2026-03-02T14:00:02.5Z","entry_type":"JNLC","event_id":17,"event_ulid":"U17","journal_id":"J9","status_from":"","status_to":"pending"}

data: {"at":"2026-03-02T14:00:02.5Z","entry_type":"JNLC","event_id":18,"event_ulid":"U18","journal_id":"J9","status_from":"pending","status_to":"executed"}

data: {"at":"2026-03-02T14:00:02.5Z","entry_type":"JNLC","event_id":19,"event_ulid":"U19","journal_id":"J5","status_from":"executed","status_to":"correct"}

data: {"at":"2026-03-02T14:00:02.5Z","entry_type":"JNLC","event_id":20,"event_ulid":"U20","journal_id":"J10","status_from":"","status_to":"executed"}


== stream v2 with faults: 200 text/event-stream
:heartbeat

data: {"event_id":"U2","at":"2026-03-02T14:00:00Z","journal_id":"J4","entry_type":"JNLC","status_from":"","status_to":"pending","description":"batch desc","idempotency_key":"0198f7a2-0000-7000-8000-00000000000a","idempotency_key_type":"batch"}

data: {"event_id":"U2","at":"2026-03-02T14:00:00Z","journal_id":"J4","entry_type":"JNLC","status_from":"","status_to":"pending","description":"batch desc","idempotency_key":"0198f7a2-0000-7000-8000-00000000000a","idempotency_key_type":"batch"}

data: {"event_id":"U1","at":"2026-03-02T14:00:00Z","journal_id":"J5","entry_type":"JNLC","status_from":"","status_to":"queued","description":"Pay \u003cW1\u003e \u0026 \"co\" \\ é ☃ \u2028 tab\t end","idempotency_key":"0198f7a2-0000-7000-8000-00000000000a","idempotency_key_type":"batch"}

data: {"event_id":"U3","at":"2026-03-02T14:00:00Z","journal_id":"J3","entry_type":"JNLC","status_from":"","status_to":"queued","description":"cp:half","idempotency_key":"0198f7a2-0000-7000-8000-00000000000a","idempotency_key_type":"batch"}

data: {"event_id":"U4","at":"2026-03-02T14:00:00Z","journal_id":"J2","entry_type":"JNLC","status_from":"","status_to":"refused","description":"too much","idempotency_key":"0198f7a2-0000-7000-8000-00000000000a","idempotency_key_type":"batch","batch_error_message":"insufficient balance, available: 89987.15, required: 95000.00"}

data: {"event_id":"U5","at":"2026-03-02T14:00:00Z","journal_id":"J1","entry_type":"JNLC","status_from":"","status_to":"queued","description":"/fixtures/status=rejected/fixtures/","idempotency_key":"0198f7a2-0000-7000-8000-00000000000a","idempotency_key_type":"batch"}

data: {"event_id":"U6","at":"2026-03-02T14:00:00Z","journal_id":"J6","entry_type":"JNLC","status_from":"","status_to":"queued","description":"one","idempotency_key":"single-key","idempotency_key_type":"single"}

data: {"event_id":"U7","at":"2026-03-02T14:00:00Z","journal_id":"J7","entry_type":"JNLS","status_from":"","status_to":"queued","description":"shares"}

data: {"event_id":"U8","at":"2026-03-02T14:00:01Z","journal_id":"J5","entry_type":"JNLC","status_from":"queued","status_to":"sent_to_clearing","description":"Pay \u003cW1\u003e \u0026 \"co\" \\ é ☃ \u2028 tab\t end","idempotency_key":"0198f7a2-0000-7000-8000-00000000000a","idempotency_key_type":"batch"}

data: {"event_id":"U9","at":"2026-03-02T14:00:01Z","journal_id":"J7","entry_type":"JNLS","status_from":"queued","status_to":"sent_to_clearing","description":"shares"}

data: {"event_id":"U11","at":"2026-03-02T14:00:01Z","journal_id":"J6","entry_type":"JNLC","status_from":"queued","status_to":"sent_to_clearing","description":"one","idempotency_key":"single-key","idempotency_key_type":"single"}

data: {"event_id":"U10","at":"2026-03-02T14:00:01Z","journal_id":"J3","entry_type":"JNLC","status_from":"queued","status_to":"sent_to_clearing","description":"cp:half","idempotency_key":"0198f7a2-0000-7000-8000-00000000000a","idempotency_key_type":"batch"}

data: {"event_id":"U13","at":"2026-03-02T14:00:02Z","journal_id":"J6","entry_type":"JNLC","status_from":"sent_to_clearing","status_to":"executed","description":"one","idempotency_key":"single-key","idempotency_key_type":"single"}

data: {"event_id":"U14","at":"2026-03-02T14:00:02Z","journal_id":"J7","entry_type":"JNLS","status_from":"sent_to_clearing","status_to":"executed","description":"shares"}

data: {"event_id":"U12","at":"2026-03-02T14:00:02Z","journal_id":"J3","entry_type":"JNLC","status_from":"sent_to_clearing","status_to":"executed","description":"cp:half","idempotency_key":"0198f7a2-0000-7000-8000-00000000000a","idempotency_key_type":"batch"}

data: {"event_id":"U15","at":"2026-03-02T14:00:02Z","journal_id":"J5","entry_type":"JNLC","status_from":"sent_to_clearing","status_to":"executed","description":"Pay \u003cW1\u003e \u0026 \"co\" \\ é ☃ \u2028 tab\t end","idempotency_key":"0198f7a2-0000-7000-8000-00000000000a","idempotency_key_type":"batch"}

data: {"event_id":"U17","at":"2026-03-02T14:00:02.5Z","journal_id":"J9","entry_type":"JNLC","status_from":"","status_to":"pending","description":""}

data: {"event_id":"U18","at":"2026-03-02T14:00:02.5Z","journal_id":"J9","entry_type":"JNLC","status_from":"pending","status_to":"executed","description":""}

data: {"event_id":"U18","at":"2026-03-02T14:00:02.5Z","journal_id":"J9","entry_type":"JNLC","status_from":"pending","status_to":"executed","description":""}

data: {"event_id":"U19","at":"2026-03-02T14:00:02.5Z","journal_id":"J5","entry_type":"JNLC","status_from":"executed","status_to":"correct","description":"Pay \u003cW1\u003e \u0026 \"co\" \\ é ☃ \u2028 tab\t end","idempotency_key":"0198f7a2-0000-7000-8000-00000000000a","idempotency_key_type":"batch"}

data: {"event_id":"U16","at":"2026-03-02T14:00:02.5Z","journal_id":"J8","entry_type":"JNLC","status_from":"","status_to":"queued","description":"back"}

data: {"event_id":"U16","at":"2026-03-02T14:00:02.5Z","journal_id":"J8","entry_type":"JNLC","status_from":"","status_to":"queued","description":"back"}

data: {"event_id":"U20","at":"2026-03-02T14:00:02.5Z","journal_id":"J10","entry_type":"JNLC","status_from":"","status_to":"executed","description":"Pay \u003cW1\u003e \u0026 \"co\" \\ é ☃ \u2028 tab\t end"}


== ledger: 200 application/json
[{"id":"J5","entry_type":"JNLC","from_account":"8f8c8cee-2591-4f83-be12-82c659b5e748","to_account":"c0000000-0000-4000-8000-000000000001","amount":"12.34","status":"correct","description":"Pay \u003cW1\u003e \u0026 \"co\" \\ é ☃ \u2028 tab\t end","idempotency_key":"0198f7a2-0000-7000-8000-00000000000a","idempotency_key_type":"batch","created_at":"2026-03-02T14:00:00Z","corrected_by":"J10"}
,{"id":"J4","entry_type":"JNLC","from_account":"8f8c8cee-2591-4f83-be12-82c659b5e748","to_account":"c0000000-0000-4000-8000-000000000002","amount":"10000.01","status":"pending","description":"batch desc","idempotency_key":"0198f7a2-0000-7000-8000-00000000000a","idempotency_key_type":"batch","created_at":"2026-03-02T14:00:00Z"}
,{"id":"J3","entry_type":"JNLC","from_account":"8f8c8cee-2591-4f83-be12-82c659b5e748","to_account":"c0000000-0000-4000-8000-000000000003","amount":"0.5","status":"executed","description":"cp:half","idempotency_key":"0198f7a2-0000-7000-8000-00000000000a","idempotency_key_type":"batch","created_at":"2026-03-02T14:00:00Z"}
,{"id":"J2","entry_type":"JNLC","from_account":"8f8c8cee-2591-4f83-be12-82c659b5e748","to_account":"c0000000-0000-4000-8000-000000000001","amount":"95000","status":"refused","description":"too much","idempotency_key":"0198f7a2-0000-7000-8000-00000000000a","idempotency_key_type":"batch","error_message":"insufficient balance, available: 89987.15, required: 95000.00","created_at":"2026-03-02T14:00:00Z"}
,{"id":"J1","entry_type":"JNLC","from_account":"8f8c8cee-2591-4f83-be12-82c659b5e748","to_account":"c0000000-0000-4000-8000-000000000002","amount":"7","status":"queued","description":"/fixtures/status=rejected/fixtures/","idempotency_key":"0198f7a2-0000-7000-8000-00000000000a","idempotency_key_type":"batch","created_at":"2026-03-02T14:00:00Z"}
,{"id":"J6","entry_type":"JNLC","from_account":"8f8c8cee-2591-4f83-be12-82c659b5e748","to_account":"c0000000-0000-4000-8000-000000000002","amount":"1","status":"executed","description":"one","idempotency_key":"single-key","idempotency_key_type":"single","created_at":"2026-03-02T14:00:00Z"}
,{"id":"J7","entry_type":"JNLS","from_account":"8f8c8cee-2591-4f83-be12-82c659b5e748","to_account":"c0000000-0000-4000-8000-000000000001","amount":"0","symbol":"AAPL","qty":"1.5","price":"100","status":"executed","description":"shares","created_at":"2026-03-02T14:00:00Z"}
,{"id":"J8","entry_type":"JNLC","from_account":"c0000000-0000-4000-8000-000000000003","to_account":"8f8c8cee-2591-4f83-be12-82c659b5e748","amount":"2.5","status":"queued","description":"back","created_at":"2026-03-02T14:00:02.5Z"}
,{"id":"J9","entry_type":"JNLC","from_account":"8f8c8cee-2591-4f83-be12-82c659b5e748","to_account":"c0000000-0000-4000-8000-000000000003","amount":"100000000000000000.1","status":"executed","description":"","created_at":"2026-03-02T14:00:02.5Z"}
,{"id":"J10","entry_type":"JNLC","from_account":"8f8c8cee-2591-4f83-be12-82c659b5e748","to_account":"c0000000-0000-4000-8000-000000000001","amount":"11","status":"executed","description":"Pay \u003cW1\u003e \u0026 \"co\" \\ é ☃ \u2028 tab\t end","created_at":"2026-03-02T14:00:02.5Z","corrects":"J5"}
]
== events: 200 application/json
[{"event_id":"U1","at":"2026-03-02T14:00:00Z","journal_id":"J5","entry_type":"JNLC","status_from":"","status_to":"queued","description":"Pay \u003cW1\u003e \u0026 \"co\" \\ é ☃ \u2028 tab\t end","idempotency_key":"0198f7a2-0000-7000-8000-00000000000a","idempotency_key_type":"batch"}
,{"event_id":"U2","at":"2026-03-02T14:00:00Z","journal_id":"J4","entry_type":"JNLC","status_from":"","status_to":"pending","description":"batch desc","idempotency_key":"0198f7a2-0000-7000-8000-00000000000a","idempotency_key_type":"batch"}
,{"event_id":"U3","at":"2026-03-02T14:00:00Z","journal_id":"J3","entry_type":"JNLC","status_from":"","status_to":"queued","description":"cp:half","idempotency_key":"0198f7a2-0000-7000-8000-00000000000a","idempotency_key_type":"batch"}
,{"event_id":"U4","at":"2026-03-02T14:00:00Z","journal_id":"J2","entry_type":"JNLC","status_from":"","status_to":"refused","description":"too much","idempotency_key":"0198f7a2-0000-7000-8000-00000000000a","idempotency_key_type":"batch","batch_error_message":"insufficient balance, available: 89987.15, required: 95000.00"}
,{"event_id":"U5","at":"2026-03-02T14:00:00Z","journal_id":"J1","entry_type":"JNLC","status_from":"","status_to":"queued","description":"/fixtures/status=rejected/fixtures/","idempotency_key":"0198f7a2-0000-7000-8000-00000000000a","idempotency_key_type":"batch"}
,{"event_id":"U6","at":"2026-03-02T14:00:00Z","journal_id":"J6","entry_type":"JNLC","status_from":"","status_to":"queued","description":"one","idempotency_key":"single-key","idempotency_key_type":"single"}
,{"event_id":"U7","at":"2026-03-02T14:00:00Z","journal_id":"J7","entry_type":"JNLS","status_from":"","status_to":"queued","description":"shares"}
,{"event_id":"U8","at":"2026-03-02T14:00:01Z","journal_id":"J5","entry_type":"JNLC","status_from":"queued","status_to":"sent_to_clearing","description":"Pay \u003cW1\u003e \u0026 \"co\" \\ é ☃ \u2028 tab\t end","idempotency_key":"0198f7a2-0000-7000-8000-00000000000a","idempotency_key_type":"batch"}
,{"event_id":"U9","at":"2026-03-02T14:00:01Z","journal_id":"J7","entry_type":"JNLS","status_from":"queued","status_to":"sent_to_clearing","description":"shares"}
,{"event_id":"U10","at":"2026-03-02T14:00:01Z","journal_id":"J3","entry_type":"JNLC","status_from":"queued","status_to":"sent_to_clearing","description":"cp:half","idempotency_key":"0198f7a2-0000-7000-8000-00000000000a","idempotency_key_type":"batch"}
,{"event_id":"U11","at":"2026-03-02T14:00:01Z","journal_id":"J6","entry_type":"JNLC","status_from":"queued","status_to":"sent_to_clearing","description":"one","idempotency_key":"single-key","idempotency_key_type":"single"}
,{"event_id":"U12","at":"2026-03-02T14:00:02Z","journal_id":"J3","entry_type":"JNLC","status_from":"sent_to_clearing","status_to":"executed","description":"cp:half","idempotency_key":"0198f7a2-0000-7000-8000-00000000000a","idempotency_key_type":"batch"}
,{"event_id":"U13","at":"2026-03-02T14:00:02Z","journal_id":"J6","entry_type":"JNLC","status_from":"sent_to_clearing","status_to":"executed","description":"one","idempotency_key":"single-key","idempotency_key_type":"single"}
,{"event_id":"U14","at":"2026-03-02T14:00:02Z","journal_id":"J7","entry_type":"JNLS","status_from":"sent_to_clearing","status_to":"executed","description":"shares"}
,{"event_id":"U15","at":"2026-03-02T14:00:02Z","journal_id":"J5","entry_type":"JNLC","status_from":"sent_to_clearing","status_to":"executed","description":"Pay \u003cW1\u003e \u0026 \"co\" \\ é ☃ \u2028 tab\t end","idempotency_key":"0198f7a2-0000-7000-8000-00000000000a","idempotency_key_type":"batch"}
,{"event_id":"U16","at":"2026-03-02T14:00:02.5Z","journal_id":"J8","entry_type":"JNLC","status_from":"","status_to":"queued","description":"back"}
,{"event_id":"U17","at":"2026-03-02T14:00:02.5Z","journal_id":"J9","entry_type":"JNLC","status_from":"","status_to":"pending","description":""}
,{"event_id":"U18","at":"2026-03-02T14:00:02.5Z","journal_id":"J9","entry_type":"JNLC","status_from":"pending","status_to":"executed","description":""}
,{"event_id":"U19","at":"2026-03-02T14:00:02.5Z","journal_id":"J5","entry_type":"JNLC","status_from":"executed","status_to":"correct","description":"Pay \u003cW1\u003e \u0026 \"co\" \\ é ☃ \u2028 tab\t end","idempotency_key":"0198f7a2-0000-7000-8000-00000000000a","idempotency_key_type":"batch"}
,{"event_id":"U20","at":"2026-03-02T14:00:02.5Z","journal_id":"J10","entry_type":"JNLC","status_from":"","status_to":"executed","description":"Pay \u003cW1\u003e \u0026 \"co\" \\ é ☃ \u2028 tab\t end"}
]
`

package sandbox_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cashpool/cashpool/alpaca/sandbox"
)

func TestAuthRequired(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	for _, path := range []string{"/v1/journals", "/v2/events/journals/status?since_id=00000000000000000000000000", "/sandbox/v1/ledger"} {
		for _, creds := range [][2]string{{"", ""}, {keyID, "wrong"}, {"wrong", secret}} {
			req, _ := newRequest(b, "GET", path)
			if creds[0] != "" {
				req.SetBasicAuth(creds[0], creds[1])
			}
			resp, err := b.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			r := readResponse(t, resp)
			if r.status != 401 {
				t.Fatalf("GET %s with %q: got %v, want 401", path, creds[0], r)
			}
			wantError(t, r, 40110000, "not authorized")
			b.schema.check(t, "GET", "/v1/journals", r)
			if r.header.Get("X-RateLimit-Limit") == "" {
				t.Fatalf("401 without X-RateLimit-Limit")
			}
		}
	}
}

func TestBatchHappyPath(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	r := b.batch(t, 200, batchOf(
		entry{ToAccount: cust1, Amount: "100.00", Description: "first"},
		entry{ToAccount: cust2, Amount: "25.5"},
		entry{ToAccount: cust1, Amount: "7"},
	), "key-happy")
	if bytes.Contains(r.body, []byte("error_message")) {
		t.Fatalf("successful entries must omit error_message: %s", r.body)
	}
	got := answered(t, r)
	want := []struct{ to, amount, desc string }{{cust1, "100.00", "first"}, {cust2, "25.50", ""}, {cust1, "7.00", ""}}
	if len(got) != len(want) {
		t.Fatalf("got %d journals, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.ToAccount != w.to || g.FromAccount != sweep || *g.NetAmount != w.amount || g.Description != w.desc ||
			g.Status != "queued" || g.SettleDate != nil || g.ID == "" {
			t.Fatalf("entry %d: got %+v, want to=%s amount=%s queued", i, g, w.to, w.amount)
		}
	}
	if c := b.sweepCash(t); !c.Equal(dec("99867.50")) {
		t.Fatalf("sweep cash %s, want 99867.50 after debiting 132.50", c)
	}
	ledger := b.sim.Ledger()
	if len(ledger) != 3 || ledger[0].ID != got[0].ID || ledger[0].IdempotencyKey != "key-happy" || ledger[0].IdempotencyKeyType != "batch" {
		t.Fatalf("ledger %+v does not match the answer", ledger)
	}
}

// Alpaca does not promise that a batch answer keeps the request's order; the simulator answers in
// reverse so that a client matching by position fails. Each answered journal is still its entry's.
func TestBatchAnswerIsNotInRequestOrder(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	r := b.batch(t, 200, batchOf(
		entry{ToAccount: cust1, Amount: "1.00", Description: "a"},
		entry{ToAccount: cust2, Amount: "2.00", Description: "b"},
		entry{ToAccount: cust3, Amount: "3.00", Description: "c"},
	), "key-order")
	got := decodeJSON[[]wireJournal](t, r.body)
	var order []string
	for _, j := range got {
		order = append(order, j.Description)
	}
	if strings.Join(order, "") != "cba" {
		t.Fatalf("answer order %v, want c b a", order)
	}
	byID := map[string]sandbox.LedgerEntry{}
	for _, l := range b.sim.Ledger() {
		byID[l.ID] = l
	}
	for _, j := range got {
		l := byID[j.ID]
		if l.Description != j.Description || l.ToAccount != j.ToAccount || l.Amount.StringFixed(2) != *j.NetAmount {
			t.Fatalf("answered %+v, ledger %+v", j, l)
		}
	}
}

func TestIdempotentReplayReturnsSameBytes(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	body := batchOf(entry{ToAccount: cust1, Amount: "10.00"}, entry{ToAccount: cust2, Amount: "20.00"})
	first := b.batch(t, 200, body, "key-replay")
	b.sim.Advance(10 * time.Second) // statuses move on; the replay must still be the original answer
	again := b.batch(t, 200, body, "key-replay")
	if !bytes.Equal(first.body, again.body) {
		t.Fatalf("replay differs:\n%s\n%s", first.body, again.body)
	}
	if n := len(b.sim.Ledger()); n != 2 {
		t.Fatalf("replay created journals: ledger has %d, want 2", n)
	}
	if c := b.sweepCash(t); !c.Equal(dec("99970.00")) {
		t.Fatalf("replay moved cash: %s", c)
	}
}

func TestIdempotencyKeyReusedWithDifferentBody(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.batch(t, 200, batchOf(entry{ToAccount: cust1, Amount: "10.00"}), "key-conflict")
	r := b.batch(t, 422, batchOf(entry{ToAccount: cust1, Amount: "10.01"}), "key-conflict")
	if string(r.body) != `{"code":42210000,"message":"idempotency key reused with a different request body"}` {
		t.Fatalf("conflict body %s", r.body)
	}
	// The same key on the single-journal endpoint is a different request too.
	b.must(t, 422, "POST", "/v1/journals", map[string]string{
		"entry_type": "JNLC", "from_account": sweep, "to_account": cust1, "amount": "10.00",
	}, "Idempotency-Key", "key-conflict")
	if n := len(b.sim.Ledger()); n != 1 {
		t.Fatalf("ledger has %d journals, want 1", n)
	}
}

func TestIdempotencyKeyWindowAndLength(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *sandbox.Options) { o.IdempotencyTTL = time.Hour })
	body := batchOf(entry{ToAccount: cust1, Amount: "10.00"})
	b.batch(t, 200, body, "key-window")
	b.sim.Advance(59 * time.Minute)
	b.batch(t, 200, body, "key-window")
	if n := len(b.sim.Ledger()); n != 1 {
		t.Fatalf("inside the window: %d journals, want 1", n)
	}
	b.sim.Advance(time.Minute)
	b.batch(t, 200, body, "key-window")
	if n := len(b.sim.Ledger()); n != 2 {
		t.Fatalf("after the window the key is new again: %d journals, want 2", n)
	}
	r := b.batch(t, 400, body, strings.Repeat("k", 129))
	wantError(t, r, 40010000, "Idempotency-Key")
	b.batch(t, 200, body, strings.Repeat("k", 128))
}

func TestWholeBatchCancel(t *testing.T) {
	t.Parallel()
	good := entry{ToAccount: cust1, Amount: "10.00"}
	cases := []struct {
		name   string
		body   any
		status int
		code   int
		msg    string
	}{
		{"unknown to_account", batchOf(good, entry{ToAccount: unknown, Amount: "1.00"}), 404, 40410000, "account " + unknown + " not found"},
		{"inactive to_account", batchOf(good, entry{ToAccount: inactive, Amount: "1.00"}), 422, 42210000, "account " + inactive + " is not ACTIVE (INACTIVE)"},
		{"closed to_account", batchOf(good, entry{ToAccount: closed, Amount: "1.00"}), 422, 42210000, "account " + closed + " is not ACTIVE (ACCOUNT_CLOSED)"},
		{"firm to_account", batchOf(good, entry{ToAccount: firm2, Amount: "1.00"}), 403, 40310000, firm2},
		{"customer from_account", batchBody{EntryType: "JNLC", FromAccount: cust2, Entries: []entry{good}}, 403, 40310000, cust2},
		{"unknown from_account", batchBody{EntryType: "JNLC", FromAccount: unknown, Entries: []entry{good}}, 404, 40410000, unknown},
		{"JNLS", batchBody{EntryType: "JNLS", FromAccount: sweep, Entries: []entry{good}}, 400, 40010000, "JNLC"},
		{"no entries", batchOf(), 400, 40010000, "at least one"},
		{"exponent", batchOf(good, entry{ToAccount: cust2, Amount: "1e3"}), 400, 40010000, "entries[1]"},
		{"plus sign", batchOf(entry{ToAccount: cust2, Amount: "+1.50"}), 400, 40010000, "amount"},
		{"leading dot", batchOf(entry{ToAccount: cust2, Amount: ".5"}), 400, 40010000, "amount"},
		{"three places", batchOf(entry{ToAccount: cust2, Amount: "1.005"}), 400, 40010000, "amount"},
		{"negative", batchOf(entry{ToAccount: cust2, Amount: "-1.00"}), 400, 40010000, "amount"},
		{"zero", batchOf(entry{ToAccount: cust2, Amount: "0.00"}), 400, 40010000, "positive"},
		{"missing amount", batchOf(entry{ToAccount: cust2}), 400, 40010000, "amount is required"},
		{"numeric exponent", `{"entry_type":"JNLC","from_account":"` + sweep + `","entries":[{"to_account":"` + cust1 + `","amount":5e2}]}`, 400, 40010000, "amount"},
		{"numeric three places", `{"entry_type":"JNLC","from_account":"` + sweep + `","entries":[{"to_account":"` + cust1 + `","amount":0.30000000000000004}]}`, 400, 40010000, "amount"},
		{"boolean amount", `{"entry_type":"JNLC","from_account":"` + sweep + `","entries":[{"to_account":"` + cust1 + `","amount":true}]}`, 400, 40010000, "string or number"},
		{"not JSON", `{"entry_type":`, 400, 40010000, "invalid request body"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil)
			before := b.sweepCash(t)
			r := b.batch(t, c.status, c.body, "key-cancel")
			wantError(t, r, c.code, c.msg)
			if n := len(b.sim.Ledger()); n != 0 {
				t.Fatalf("a canceled batch created %d journals", n)
			}
			if c := b.sweepCash(t); !c.Equal(before) {
				t.Fatalf("a canceled batch moved cash: %s -> %s", before, c)
			}
			if n := len(b.sim.Events()); n != 0 {
				t.Fatalf("a canceled batch recorded %d events", n)
			}
			// Nothing happened, so the key is still free for the corrected batch.
			b.batch(t, 200, batchOf(good), "key-cancel")
		})
	}
}

func TestRefusedWhenSweepCashShort(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.must(t, 200, "POST", "/sandbox/v1/cash", map[string]string{"amount": "150.00"})
	r := b.batch(t, 200, batchOf(
		entry{ToAccount: cust1, Amount: "100.00"},
		entry{ToAccount: cust2, Amount: "100.00"},
		entry{ToAccount: cust3, Amount: "50.00"},
	), "key-refused")
	got := answered(t, r)
	if got[0].Status != "queued" || got[0].ErrorMessage != nil {
		t.Fatalf("first entry %+v, want queued without error_message", got[0])
	}
	if got[1].Status != "refused" || got[1].ErrorMessage == nil ||
		*got[1].ErrorMessage != "insufficient balance, available: 50.00, required: 100.00" || got[1].ID == "" {
		t.Fatalf("second entry %+v, want refused with the shortfall", got[1])
	}
	if got[2].Status != "queued" {
		t.Fatalf("third entry %+v, want queued: the refusal moved no money", got[2])
	}
	if c := b.sweepCash(t); !c.IsZero() {
		t.Fatalf("sweep cash %s, want 0", c)
	}
	b.sim.Advance(time.Minute)
	if j := b.journal(t, got[1].ID); j.Status != "refused" {
		t.Fatalf("refused journal became %s", j.Status)
	}
	if l := b.sim.Ledger(); l[1].Status != "refused" || l[1].ErrorMessage == "" {
		t.Fatalf("ledger %+v", l[1])
	}
}

func TestOverLimitIsPendingUntilBOD(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *sandbox.Options) { o.Seed.DailyLimit = dec("10200.00") })
	r := b.batch(t, 200, batchOf(
		entry{ToAccount: cust1, Amount: "10000.01"}, // above the per-journal limit
		entry{ToAccount: cust2, Amount: "10000.00"}, // at the limit: fine
		entry{ToAccount: cust3, Amount: "200.00"},   // exactly fills the day
		entry{ToAccount: cust3, Amount: "0.01"},     // one cent over the day
	), "key-limits")
	got := answered(t, r)
	for i, want := range []string{"pending", "queued", "queued", "pending"} {
		if got[i].Status != want {
			t.Fatalf("entry %d is %s, want %s", i, got[i].Status, want)
		}
	}
	if c := b.sweepCash(t); !c.Equal(dec("79799.98")) {
		t.Fatalf("pending journals must hold their cash: sweep %s", c)
	}
	b.sim.Advance(time.Hour)
	b.sim.EndOfDay()
	if j := b.journal(t, got[0].ID); j.Status != "pending" {
		t.Fatalf("over-limit journal after EOD: %s, want pending until BOD", j.Status)
	}
	b.must(t, 204, "POST", "/sandbox/v1/bod", nil)
	for i := range got {
		if j := b.journal(t, got[i].ID); j.Status != "executed" || j.SettleDate == nil {
			t.Fatalf("entry %d after BOD: %+v, want executed with a settle date", i, j)
		}
	}
	// After EOD the daily total starts again.
	r = b.batch(t, 200, batchOf(entry{ToAccount: cust1, Amount: "10000.00"}), "key-next-day")
	if j := answered(t, r)[0]; j.Status != "queued" {
		t.Fatalf("next day's journal is %s, want queued", j.Status)
	}
}

func TestFixturesResolveAtEOD(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	r := b.batch(t, 200, batchOf(
		entry{ToAccount: cust1, Amount: "10.00", Description: "test /fixtures/status=rejected/fixtures/"},
		entry{ToAccount: cust2, Amount: "20.00", Description: "/fixtures/status=pending/fixtures/ hold"},
		entry{ToAccount: cust3, Amount: "30.00", Description: "plain"},
		entry{ToAccount: cust3, Amount: "20000.00", Description: "/fixtures/status=pending/fixtures/"},
	), "key-fixtures")
	ids := answered(t, r)
	b.sim.Advance(time.Minute)
	for i, want := range []string{"queued", "queued", "executed", "pending"} {
		if j := b.journal(t, ids[i].ID); j.Status != want {
			t.Fatalf("before EOD entry %d is %s, want %s", i, j.Status, want)
		}
	}
	b.must(t, 204, "POST", "/sandbox/v1/eod", nil)
	b.sim.BeginningOfDay()
	b.sim.Advance(48 * time.Hour)
	b.sim.EndOfDay()
	for i, want := range []string{"rejected", "pending", "executed", "pending"} {
		if j := b.journal(t, ids[i].ID); j.Status != want {
			t.Fatalf("after EOD entry %d is %s, want %s", i, j.Status, want)
		}
	}
	// The rejected journal's cash came back; the others still hold theirs.
	if c := b.sweepCash(t); !c.Equal(dec("79950.00")) {
		t.Fatalf("sweep cash %s, want 79950.00", c)
	}
}

func TestStatusProgressesOnTheSimulatedClock(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *sandbox.Options) { o.StepEvery = 5 * time.Second })
	id := answered(t, b.batch(t, 200, batchOf(entry{ToAccount: cust1, Amount: "1.00"}), "k"))[0].ID
	steps := []struct {
		advance time.Duration
		want    string
	}{{4 * time.Second, "queued"}, {time.Second, "sent_to_clearing"}, {4 * time.Second, "sent_to_clearing"}, {time.Second, "executed"}, {time.Hour, "executed"}}
	for _, s := range steps {
		b.must(t, 200, "POST", "/sandbox/v1/clock/advance", map[string]string{"duration": s.advance.String()})
		if j := b.journal(t, id); j.Status != s.want {
			t.Fatalf("after +%s: %s, want %s", s.advance, j.Status, s.want)
		}
	}
	j := b.journal(t, id)
	if j.SettleDate == nil || *j.SettleDate != "2026-03-02" {
		t.Fatalf("settle_date %v, want 2026-03-02", j.SettleDate)
	}
	var trail []string
	for _, e := range b.sim.Events() {
		trail = append(trail, e.StatusFrom+">"+e.StatusTo)
		if e.IdempotencyKey != "k" || e.IdempotencyKeyType != "batch" {
			t.Fatalf("event %+v lost the idempotency key", e)
		}
	}
	if got := strings.Join(trail, " "); got != ">queued queued>sent_to_clearing sent_to_clearing>executed" {
		t.Fatalf("events %s", got)
	}
	events := b.sim.Events()
	if !events[1].At.Equal(base.Add(5*time.Second)) || !events[2].At.Equal(base.Add(10*time.Second)) {
		t.Fatalf("events are stamped when they fell due: %v, %v", events[1].At, events[2].At)
	}
}

func TestSingleJournal(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	body := map[string]string{"entry_type": "JNLC", "from_account": sweep, "to_account": cust1, "amount": "12.34",
		"description": "one", "transmitter_name": "ACME Corp", "transmitter_timestamp": "2026-03-02T09:00:00Z"}
	r := b.must(t, 200, "POST", "/v1/journals", body, "Idempotency-Key", "single-1")
	j := decodeJSON[wireJournal](t, r.body)
	if j.Status != "queued" || *j.NetAmount != "12.34" || bytes.Contains(r.body, []byte("error_message")) ||
		!bytes.Contains(r.body, []byte(`"transmitter_name":"ACME Corp"`)) {
		t.Fatalf("single journal %s", r.body)
	}
	again := b.must(t, 200, "POST", "/v1/journals", body, "Idempotency-Key", "single-1")
	if !bytes.Equal(r.body, again.body) || len(b.sim.Ledger()) != 1 || b.sim.Ledger()[0].IdempotencyKeyType != "single" {
		t.Fatalf("single replay created a journal or changed the answer")
	}
	wantError(t, b.must(t, 400, "POST", "/v1/journals", map[string]string{"entry_type": "JNLX", "from_account": sweep,
		"to_account": cust1, "amount": "1.00"}), 40010000, "JNLC or JNLS")
	wantError(t, b.must(t, 403, "POST", "/v1/journals", map[string]string{"entry_type": "JNLC", "from_account": sweep,
		"to_account": cust1, "amount": "100000.00"}), 40310000, "insufficient balance, available: 99987.66, required: 100000.00")
	wantError(t, b.must(t, 422, "POST", "/v1/journals", map[string]string{"entry_type": "JNLC", "from_account": sweep,
		"to_account": inactive, "amount": "1.00"}), 42210000, inactive)
	wantError(t, b.must(t, 403, "POST", "/v1/journals", map[string]string{"entry_type": "JNLC", "from_account": cust1,
		"to_account": cust2, "amount": "1.00"}), 40310000, "firm")
	wantError(t, b.must(t, 400, "POST", "/v1/journals", map[string]string{"entry_type": "JNLC", "from_account": sweep,
		"to_account": cust1, "amount": "1.00", "transmitter_timestamp": "yesterday"}), 40010000, "RFC 3339")
	if n := len(b.sim.Ledger()); n != 1 {
		t.Fatalf("refused single requests created journals: %d", n)
	}
}

func TestReverseBatch(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	body := map[string]any{"entry_type": "JNLC", "to_account": sweep, "entries": []map[string]string{
		{"from_account": cust1, "amount": "10.00"}, {"from_account": closed, "amount": "5.00", "description": "closing"},
	}}
	r := b.must(t, 200, "POST", "/v1/journals/reverse_batch", body)
	got := decodeJSON[[]wireJournal](t, r.body)
	if len(got) != 2 || got[0].FromAccount != cust1 || got[0].ToAccount != sweep || got[1].Description != "closing" {
		t.Fatalf("reverse batch %s", r.body)
	}
	b.sim.Advance(time.Minute)
	if c := b.sweepCash(t); !c.Equal(dec("100015.00")) {
		t.Fatalf("executed reverse journals credit the firm account: %s", c)
	}
	bad := map[string]any{"entry_type": "JNLC", "to_account": sweep, "entries": []map[string]string{
		{"from_account": cust1, "amount": "1.00"}, {"from_account": inactive, "amount": "1.00"}}}
	wantError(t, b.must(t, 422, "POST", "/v1/journals/reverse_batch", bad), 42210000, inactive)
	wantError(t, b.must(t, 403, "POST", "/v1/journals/reverse_batch", map[string]any{"entry_type": "JNLC", "to_account": cust2,
		"entries": []map[string]string{{"from_account": cust1, "amount": "1.00"}}}), 40310000, cust2)
	if n := len(b.sim.Ledger()); n != 2 {
		t.Fatalf("canceled reverse batches created journals: %d", n)
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *sandbox.Options) { o.RateLimit = 3 })
	reset := fmt.Sprint(base.Truncate(time.Minute).Add(time.Minute).Unix())
	for i, want := range []string{"2", "1", "0"} {
		r := b.must(t, 200, "GET", "/v1/journals", nil)
		if r.header.Get("X-RateLimit-Limit") != "3" || r.header.Get("X-RateLimit-Remaining") != want || r.header.Get("X-RateLimit-Reset") != reset {
			t.Fatalf("call %d headers %v", i, r.header)
		}
	}
	r := b.must(t, 429, "GET", "/v1/journals", nil)
	if r.header.Get("X-RateLimit-Remaining") != "0" || r.header.Get("X-RateLimit-Reset") != reset {
		t.Fatalf("429 headers %v", r.header)
	}
	// A limited batch creates nothing.
	b.batch(t, 429, batchOf(entry{ToAccount: cust1, Amount: "1.00"}), "k")
	// The admin API is never limited, but still reports the window.
	r = b.must(t, 200, "GET", "/sandbox/v1/ledger", nil)
	if r.header.Get("X-RateLimit-Remaining") != "0" || string(r.body) != "[]" {
		t.Fatalf("admin answer %v %v", r, r.header)
	}
	b.sim.Advance(time.Minute)
	r = b.must(t, 200, "GET", "/v1/journals", nil)
	if r.header.Get("X-RateLimit-Remaining") != "2" {
		t.Fatalf("new window headers %v", r.header)
	}

	u := setup(t, nil)
	r = u.must(t, 200, "GET", "/v1/journals", nil)
	if r.header.Get("X-RateLimit-Limit") == "" || r.header.Get("X-RateLimit-Remaining") == "0" || r.header.Get("X-RateLimit-Reset") == "" {
		t.Fatalf("unlimited server headers %v", r.header)
	}
}

func TestLoadSeedFixture(t *testing.T) {
	t.Parallel()
	s, err := sandbox.LoadSeed("../../fixtures/accounts.json")
	if err != nil {
		t.Fatal(err)
	}
	if s.SweepAccount != sweep || !s.SweepCash.Equal(dec("1000000")) || !s.JournalLimit.Equal(dec("10000")) ||
		!s.DailyLimit.Equal(dec("1000000")) || len(s.Accounts) != 42 {
		t.Fatalf("seed %+v", s)
	}
	if a := s.Accounts[len(s.Accounts)-1]; a.ID != inactive || a.Status != "INACTIVE" || a.Firm {
		t.Fatalf("last account %+v", a)
	}
	// The demo seed works as a simulator: customers 01..40 receive, 99 cancels the batch.
	b := setup(t, func(o *sandbox.Options) { o.Seed = s })
	b.batch(t, 200, batchOf(entry{ToAccount: cust1, Amount: "1.00"}, entry{ToAccount: "c0000000-0000-4000-8000-000000000030", Amount: "1.00"}), "")
	wantError(t, b.batch(t, 422, batchOf(entry{ToAccount: inactive, Amount: "1.00"}), ""), 42210000, inactive+" is not ACTIVE (INACTIVE)")
	for _, bad := range []string{
		`{"sweep_account":"x","sweep_cash":"1e3","accounts":[]}`,
		`{"sweep_account":"x","sweep_cash":"10","limit":"5","accounts":[]}`,
		`{"sweep_account":"x","accounts":[{"id":"x","status":"ACTIVE","firm":false}]}`,
		`{"sweep_account":"x","accounts":[{"id":"a","status":"ACTIVE"},{"id":"a","status":"ACTIVE"}]}`,
		`{"accounts":[]}`,
	} {
		if _, err := sandbox.ParseSeed([]byte(bad)); err == nil {
			t.Fatalf("seed %s accepted", bad)
		}
	}
}

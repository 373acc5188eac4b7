package sandbox_test

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cashpool/cashpool/alpaca/sandbox"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

func jnlc(to, amount string) map[string]string {
	return map[string]string{"entry_type": "JNLC", "from_account": sweep, "to_account": to, "amount": amount}
}

// trail is a journal's events as "from>to" pairs.
func trail(events []sandbox.Event, id string) string {
	var out []string
	for _, e := range events {
		if e.JournalID == id {
			out = append(out, e.StatusFrom+">"+e.StatusTo)
		}
	}
	return strings.Join(out, " ")
}

func TestJNLCv2Flow(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *sandbox.Options) { o.JNLCv2 = true; o.StepEvery = 5 * time.Second })

	// Under the limits: executed in the create answer, activity_created one step later.
	r := b.must(t, 200, "POST", "/v1/journals", jnlc(cust1, "12.34"), "Idempotency-Key", keyA)
	v2 := decodeJSON[wireJournal](t, r.body)
	if v2.Status != "executed" || v2.SettleDate == nil || *v2.SettleDate != "2026-03-02" {
		t.Fatalf("v2 create answer %s", r.body)
	}
	if c := b.sweepCash(t); !c.Equal(dec("99987.66")) {
		t.Fatalf("sweep %s after a v2 journal", c)
	}
	// Over the per-journal limit: v1, pending.
	over := decodeJSON[wireJournal](t, b.must(t, 200, "POST", "/v1/journals", jnlc(cust2, "10000.01")).body)
	// Batch entries: v1 even with the option on.
	batched := answered(t, b.batch(t, 200, batchOf(entry{ToAccount: cust3, Amount: "1.00"}), ""))[0]
	// A fixture journal keeps the v1 flow so that EndOfDay can resolve it.
	fixture := map[string]string{"entry_type": "JNLC", "from_account": sweep, "to_account": cust3, "amount": "2.00",
		"description": "/fixtures/status=rejected/fixtures/"}
	fix := decodeJSON[wireJournal](t, b.must(t, 200, "POST", "/v1/journals", fixture).body)
	if over.Status != "pending" || batched.Status != "queued" || fix.Status != "queued" {
		t.Fatalf("over-limit %s, batch entry %s, fixture %s: want pending, queued, queued", over.Status, batched.Status, fix.Status)
	}

	b.sim.Advance(4 * time.Second)
	if j := b.journal(t, v2.ID); j.Status != "executed" {
		t.Fatalf("v2 journal before its step: %s", j.Status)
	}
	b.sim.Advance(time.Second)
	b.sim.Advance(time.Hour)
	for id, want := range map[string]string{v2.ID: "activity_created", over.ID: "pending", batched.ID: "executed", fix.ID: "queued"} {
		if j := b.journal(t, id); j.Status != want { // GET answers are schema-checked, activity_created included
			t.Fatalf("journal %s is %s, want %s", id, j.Status, want)
		}
	}
	// The over-limit journal is executed at BOD and never reaches activity_created.
	b.sim.BeginningOfDay()
	b.sim.Advance(time.Hour)
	if j := b.journal(t, over.ID); j.Status != "executed" {
		t.Fatalf("over-limit journal after BOD: %s", j.Status)
	}

	events := b.sim.Events()
	for id, want := range map[string]string{
		v2.ID:      ">executed executed>activity_created",
		over.ID:    ">pending pending>executed",
		batched.ID: ">queued queued>sent_to_clearing sent_to_clearing>executed",
	} {
		if got := trail(events, id); got != want {
			t.Fatalf("events of %s: %s, want %s", id, got, want)
		}
	}
	for _, e := range events {
		if e.JournalID == v2.ID && e.StatusTo == "activity_created" && !e.At.Equal(base.Add(5*time.Second)) {
			t.Fatalf("activity_created stamped %s, want one step after creation", e.At)
		}
	}
	// Both v2 events in the published event shape.
	s := b.openStream(t, "/v2/events/journals/status?since_id=00000000000000000000000000&id="+v2.ID)
	for _, want := range []string{"executed", "activity_created"} {
		if e := s.event(t, b.schema.eventV2); e.StatusTo != want || e.IdempotencyKeyType != "single" {
			t.Fatalf("streamed v2 event %+v, want status_to %s", e, want)
		}
	}
	// A replay gets the first answer (executed), whatever the journal has become since.
	if again := b.must(t, 200, "POST", "/v1/journals", jnlc(cust1, "12.34"), "Idempotency-Key", keyA); !bytes.Equal(again.body, r.body) {
		t.Fatalf("v2 replay %s", again.body)
	}
	// activity_created journals can still be reversed or corrected.
	b.must(t, 200, "POST", "/sandbox/v1/journals/"+v2.ID+"/reverse", nil)
}

func TestJNLCv2AdminToggle(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	if r := b.must(t, 200, "GET", "/sandbox/v1/jnlc_version", nil); string(r.body) != `{"version":1}` {
		t.Fatalf("jnlc_version %s", r.body)
	}
	if j := decodeJSON[wireJournal](t, b.must(t, 200, "POST", "/v1/journals", jnlc(cust1, "1.00")).body); j.Status != "queued" {
		t.Fatalf("v1 single journal %s", j.Status)
	}
	if r := b.must(t, 200, "POST", "/sandbox/v1/jnlc_version", `{"version":2}`); string(r.body) != `{"version":2}` {
		t.Fatalf("set jnlc_version %s", r.body)
	}
	if !b.sim.JNLCv2() {
		t.Fatal("JNLCv2() false after switching to 2")
	}
	if j := decodeJSON[wireJournal](t, b.must(t, 200, "POST", "/v1/journals", jnlc(cust1, "1.00")).body); j.Status != "executed" {
		t.Fatalf("v2 single journal %s", j.Status)
	}
	b.must(t, 400, "POST", "/sandbox/v1/jnlc_version", `{"version":3}`)
	b.sim.SetJNLCv2(false)
	if r := b.must(t, 200, "GET", "/sandbox/v1/jnlc_version", nil); string(r.body) != `{"version":1}` {
		t.Fatalf("jnlc_version after SetJNLCv2(false): %s", r.body)
	}
}

func TestLimitsAdmin(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	get := func() string { return string(b.must(t, 200, "GET", "/sandbox/v1/limits", nil).body) }
	if got := get(); got != `{"journal_limit":"10000.00","daily_limit":"50000.00"}` {
		t.Fatalf("seeded limits %s", got)
	}
	// One limit at a time: the other keeps its value.
	if r := b.must(t, 200, "POST", "/sandbox/v1/limits", `{"journal_limit":"100.00"}`); string(r.body) != `{"journal_limit":"100.00","daily_limit":"50000.00"}` {
		t.Fatalf("set journal_limit %s", r.body)
	}
	got := answered(t, b.batch(t, 200, batchOf(entry{ToAccount: cust1, Amount: "100.00"}, entry{ToAccount: cust2, Amount: "100.01"}), ""))
	if got[0].Status != "queued" || got[1].Status != "pending" {
		t.Fatalf("with a 100.00 journal limit: %s, %s", got[0].Status, got[1].Status)
	}
	// Bad values change nothing, not even the valid half of the request.
	for _, bad := range []string{`{"journal_limit":"1e3"}`, `{"daily_limit":"-5"}`, `{"journal_limit":"5.00","daily_limit":"x"}`,
		`{"journal_limit":5}`, `{}`, `not json`} {
		b.must(t, 400, "POST", "/sandbox/v1/limits", bad)
	}
	if got := get(); got != `{"journal_limit":"100.00","daily_limit":"50000.00"}` {
		t.Fatalf("limits after bad requests %s", got)
	}
	// "0" removes a limit.
	b.must(t, 200, "POST", "/sandbox/v1/limits", `{"journal_limit":"0","daily_limit":"0"}`)
	if j := decodeJSON[wireJournal](t, b.must(t, 200, "POST", "/v1/journals", jnlc(cust1, "60000.00")).body); j.Status != "queued" {
		t.Fatalf("without limits a large journal is %s", j.Status)
	}

	// The Go API: the daily total already booked (60100.00) counts against a new daily limit.
	b.sim.SetLimits(dec("50.00"), dec("60150.00"))
	if j, d := b.sim.Limits(); !j.Equal(dec("50")) || !d.Equal(dec("60150")) {
		t.Fatalf("Limits() %s %s", j, d)
	}
	got = answered(t, b.batch(t, 200, batchOf(
		entry{ToAccount: cust1, Amount: "50.00"}, entry{ToAccount: cust2, Amount: "50.01"}, entry{ToAccount: cust3, Amount: "0.01"}), ""))
	if got[0].Status != "queued" || got[1].Status != "pending" || got[2].Status != "pending" {
		t.Fatalf("with limits 50/60150: %s %s %s, want queued pending pending", got[0].Status, got[1].Status, got[2].Status)
	}
	b.sim.SetLimits(dec("-1"), dec("0"))
	if got := get(); got != `{"journal_limit":"0.00","daily_limit":"0.00"}` {
		t.Fatalf("a negative limit counts as none: %s", got)
	}
}

// rawEvent checks a data line against sch and returns its event_id.
func rawEvent(t *testing.T, sch *jsonschema.Schema, line string) string {
	t.Helper()
	data, ok := strings.CutPrefix(line, "data: ")
	if !ok {
		t.Fatalf("unexpected stream line %q", line)
	}
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Fatalf("event breaks the published schema: %v\n%s", err, data)
	}
	return decodeJSON[struct {
		EventID string `json:"event_id"`
	}](t, []byte(data)).EventID
}

func TestStreamSlowReader(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.batch(t, 200, batchOf(entry{ToAccount: cust1, Amount: "1.00"}, entry{ToAccount: cust2, Amount: "1.00"},
		entry{ToAccount: cust3, Amount: "1.00"}, entry{ToAccount: cust1, Amount: "2.00"}), "")
	b.sim.Advance(time.Second)
	b.sim.Advance(time.Second)
	all := b.sim.Events() // 4 journals x 3 events
	if len(all) != 12 {
		t.Fatalf("%d events, want 12", len(all))
	}

	// The seed is fixed, so where the fault strikes is too: this one lets a few events through first.
	b.sim.SetFaults(sandbox.Faults{Seed: 4, StreamSlowReaderRate: 0.3})
	s := b.openStream(t, "/v2/events/journals/status?since_id=00000000000000000000000000")
	var got []string
	dropped := 0
	for dropped == 0 {
		l := s.next(t)
		switch {
		case l == "":
			t.Fatalf("stream ended without the slow-reader comment after %d events", len(got))
		case l == ":heartbeat":
		case strings.HasPrefix(l, ":"):
			n, ok := strings.CutPrefix(l, ": you are reading too slowly, dropped ")
			n, ok2 := strings.CutSuffix(n, " messages")
			var err error
			if dropped, err = strconv.Atoi(n); !ok || !ok2 || err != nil || dropped < 1 || dropped > 5 {
				t.Fatalf("comment %q, want \": you are reading too slowly, dropped N messages\" with N in 1..5", l)
			}
		default:
			got = append(got, rawEvent(t, b.schema.eventV2, l))
		}
	}
	if len(got) == 0 || len(got)+dropped > len(all) {
		t.Fatalf("%d events then %d dropped: the seed should strike mid-history", len(got), dropped)
	}
	if l := s.next(t); l != "" {
		t.Fatalf("the connection stayed open after the slow-reader comment: %q", l)
	}
	for i, id := range got {
		if id != all[i].ID {
			t.Fatalf("event %d before the fault: %s, want %s", i, id, all[i].ID)
		}
	}

	// The skipped events stay in the log: resuming from the last received id delivers them.
	b.sim.SetFaults(sandbox.Faults{})
	resume := b.openStream(t, "/v2/events/journals/status?since_id="+got[len(got)-1])
	for i := len(got); i < len(all); i++ {
		if e := resume.event(t, b.schema.eventV2); e.ID != all[i].ID {
			t.Fatalf("resumed event %d: %s, want %s", i, e.ID, all[i].ID)
		}
	}

	// At rate 1 the comment comes before the first event, on the legacy stream too, and the
	// count never exceeds the events there were to send.
	b.sim.SetFaults(sandbox.Faults{Seed: 1, StreamSlowReaderRate: 1})
	legacy := b.openStream(t, "/v1/events/journals/status?since_id="+strconv.Itoa(len(all)-1))
	if l := legacy.next(t); l != ":heartbeat" {
		t.Fatalf("first line %q", l)
	}
	if l := legacy.next(t); l != ": you are reading too slowly, dropped 1 messages" {
		t.Fatalf("legacy stream with one event left: %q", l)
	}
	if l := legacy.next(t); l != "" {
		t.Fatalf("legacy stream went on: %q", l)
	}
}

package sandbox_test

import (
	"testing"
	"time"

	"github.com/cashpool/cashpool/alpaca/sandbox"
)

// alpaca-py sends amount (and JNLS qty) as a JSON number; Alpaca documents amount as
// "string/numeric". Every endpoint that takes one books the number's exact text.
func TestNumericAmounts(t *testing.T) {
	t.Parallel()
	for _, v2 := range []bool{false, true} {
		b := setup(t, func(o *sandbox.Options) { o.JNLCv2 = v2 })
		r := b.batch(t, 200, `{"entry_type":"JNLC","from_account":"`+sweep+`","entries":[`+
			`{"to_account":"`+cust1+`","amount":5},{"to_account":"`+cust2+`","amount":25.5},{"to_account":"`+cust3+`","amount":"7.25"}]}`, "key-numeric")
		got := answered(t, r)
		if len(got) != 3 || *got[0].NetAmount != "5.00" || *got[1].NetAmount != "25.50" || *got[2].NetAmount != "7.25" {
			t.Fatalf("v2 %v: batch answer %s", v2, r.body)
		}
		single := decodeJSON[wireJournal](t, b.must(t, 200, "POST", "/v1/journals",
			`{"entry_type":"JNLC","from_account":"`+sweep+`","to_account":"`+cust1+`","amount":10.25}`).body)
		if *single.NetAmount != "10.25" {
			t.Fatalf("v2 %v: single journal %+v", v2, single)
		}
		reverse := decodeJSON[[]wireJournal](t, b.must(t, 200, "POST", "/v1/journals/reverse_batch",
			`{"entry_type":"JNLC","to_account":"`+sweep+`","entries":[{"from_account":"`+cust2+`","amount":1.5}]}`).body)
		if len(reverse) != 1 || *reverse[0].NetAmount != "1.50" {
			t.Fatalf("v2 %v: reverse batch %+v", v2, reverse)
		}
		b.must(t, 200, "POST", "/v1/journals", `{"entry_type":"JNLS","from_account":"`+sweep+`","to_account":"`+cust1+`","symbol":"AAPL","qty":0.5}`)
		b.sim.Advance(time.Minute)
		// The firm account paid 5 + 25.50 + 7.25 + 10.25 and got 1.50 back.
		if c := b.sweepCash(t); !c.Equal(dec("99953.50")) {
			t.Fatalf("v2 %v: sweep cash %s, want 99953.50", v2, c)
		}
		if n := len(b.sim.Ledger()); n != 6 {
			t.Fatalf("v2 %v: %d journals in the ledger, want 6", v2, n)
		}
	}
}

// GET /v1/journals answers a status that is not a journal status with 400, as Alpaca documents
// ("One of the parameters is invalid."), rather than an empty list that reads as "nothing there".
func TestListRefusesAnInvalidStatus(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.batch(t, 200, batchOf(entry{ToAccount: cust1, Amount: "1.00"}), "key-status")
	for _, bad := range []string{"bogus", "EXECUTED", "executed%20", "queued,pending"} {
		wantError(t, b.must(t, 400, "GET", "/v1/journals?status="+bad, nil), 40010000, "status")
	}
	for _, good := range []string{"queued", "sent_to_clearing", "pending", "executed", "activity_created",
		"rejected", "refused", "canceled", "deleted", "correct"} {
		list := decodeJSON[[]wireJournal](t, b.must(t, 200, "GET", "/v1/journals?status="+good, nil).body)
		if want := map[bool]int{true: 1, false: 0}[good == "queued"]; len(list) != want {
			t.Fatalf("status=%s: %d journals, want %d", good, len(list), want)
		}
	}
}

package sandbox_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cashpool/cashpool/alpaca/sandbox"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

func TestSchemasRejectBadShapes(t *testing.T) {
	t.Parallel()
	s := loadSchemas(t)
	for _, c := range []struct {
		sch  *jsonschema.Schema
		body string
	}{
		{s.apiError, `{"code":"40010000","message":"x"}`},
		{s.journal, `{"id":"56f106e5-25a4-4eee-96fa-25bb05dc86bc","entry_type":"JNLC","from_account":"56f106e5-25a4-4eee-96fa-25bb05dc86bc","to_account":"56f106e5-25a4-4eee-96fa-25bb05dc86bc","symbol":null,"qty":null,"price":null,"status":"queued","settle_date":null,"system_date":null,"description":"","currency":"USD"}`},
		{s.batchJournal, `{"id":"56f106e5-25a4-4eee-96fa-25bb05dc86bc","entry_type":"JNLC","from_account":"56f106e5-25a4-4eee-96fa-25bb05dc86bc","to_account":"56f106e5-25a4-4eee-96fa-25bb05dc86bc","symbol":null,"qty":null,"price":null,"status":"queued","settle_date":null,"system_date":null,"net_amount":"1.00","description":"","currency":"USD","error_message":""}`},
	} {
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(c.body)))
		if err != nil {
			t.Fatal(err)
		}
		if c.sch.Validate(inst) == nil {
			t.Fatalf("schema accepted %s", c.body)
		}
	}
}

func TestListFilters(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *sandbox.Options) { o.Seed.JournalLimit = dec("100.00") })
	day1 := answered(t, b.batch(t, 200, batchOf(
		entry{ToAccount: cust1, Amount: "1.00"}, entry{ToAccount: cust2, Amount: "500.00"}), "d1"))
	b.sim.Advance(24 * time.Hour) // day1 journals execute or stay pending
	day2 := answered(t, b.batch(t, 200, batchOf(
		entry{ToAccount: cust1, Amount: "2.00"}, entry{ToAccount: cust3, Amount: "3.00"}), "d2"))

	ids := func(path string) string {
		t.Helper()
		var out []string
		for _, j := range decodeJSON[[]wireJournal](t, b.must(t, 200, "GET", path, nil).body) {
			out = append(out, j.ID)
		}
		return fmt.Sprint(out)
	}
	all := fmt.Sprint([]string{day1[0].ID, day1[1].ID, day2[0].ID, day2[1].ID})
	for _, c := range []struct{ query, want string }{
		{"", all},
		{"?after=2026-03-03", fmt.Sprint([]string{day2[0].ID, day2[1].ID})},
		{"?before=2026-03-02", fmt.Sprint([]string{day1[0].ID, day1[1].ID})},
		{"?after=2026-03-02&before=2026-03-02", fmt.Sprint([]string{day1[0].ID, day1[1].ID})},
		{"?after=2026-03-04", "[]"},
		{"?to_account=" + cust1, fmt.Sprint([]string{day1[0].ID, day2[0].ID})},
		{"?from_account=" + sweep + "&status=pending", fmt.Sprint([]string{day1[1].ID})},
		{"?status=executed", fmt.Sprint([]string{day1[0].ID})},
		{"?status=queued&to_account=" + cust3, fmt.Sprint([]string{day2[1].ID})},
		{"?entry_type=JNLS", "[]"},
		{"?entry_type=JNLC&limit=3", fmt.Sprint([]string{day1[0].ID, day1[1].ID, day2[0].ID})},
	} {
		if got := ids("/v1/journals" + c.query); got != c.want {
			t.Fatalf("list %s: got %s, want %s", c.query, got, c.want)
		}
	}
	for _, q := range []string{"?after=03/03/2026", "?before=2026-3-3", "?limit=0", "?limit=x", "?entry_type=CASH"} {
		wantError(t, b.must(t, 400, "GET", "/v1/journals"+q, nil), 40010000, "")
	}
}

func TestListTooManyResults(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *sandbox.Options) { o.MaxListResults = 3 })
	b.batch(t, 200, batchOf(entry{ToAccount: cust1, Amount: "1.00"}, entry{ToAccount: cust1, Amount: "1.00"},
		entry{ToAccount: cust1, Amount: "1.00"}, entry{ToAccount: cust2, Amount: "1.00"}), "k")
	r := b.must(t, 422, "GET", "/v1/journals", nil)
	wantError(t, r, 42210000, "Result set exceeds 3 records.")
	b.must(t, 422, "GET", "/v1/journals?limit=1", nil) // the bound is on the filtered set, not the page
	if n := len(decodeJSON[[]wireJournal](t, b.must(t, 200, "GET", "/v1/journals?to_account="+cust1, nil).body)); n != 3 {
		t.Fatalf("narrowed list has %d journals, want 3", n)
	}
	d := setup(t, nil)
	if r := d.must(t, 200, "GET", "/v1/journals", nil); string(r.body) != "[]" {
		t.Fatalf("an empty list must be [], got %s", r.body)
	}
}

func TestGetAndDelete(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	got := answered(t, b.batch(t, 200, batchOf(
		entry{ToAccount: cust1, Amount: "1.00"}, entry{ToAccount: cust2, Amount: "20000.00"}), "k"))
	queued, pending := got[0].ID, got[1].ID

	wantError(t, b.must(t, 404, "GET", "/v1/journals/"+unknown, nil), 40410000, "not found")
	wantError(t, b.must(t, 404, "DELETE", "/v1/journals/"+unknown, nil), 40410000, "not found")
	wantError(t, b.must(t, 422, "DELETE", "/v1/journals/"+queued, nil), 42210000, "not in the pending status")
	if j := b.journal(t, queued); j.ID != queued || *j.NetAmount != "1.00" || j.ErrorMessage != nil {
		t.Fatalf("get %+v", j)
	}
	before := b.sweepCash(t)
	r := b.must(t, 204, "DELETE", "/v1/journals/"+pending, nil)
	if len(r.body) != 0 {
		t.Fatalf("204 with a body: %s", r.body)
	}
	if j := b.journal(t, pending); j.Status != "canceled" {
		t.Fatalf("deleted journal is %s, want canceled", j.Status)
	}
	if c := b.sweepCash(t); !c.Equal(before.Add(dec("20000.00"))) {
		t.Fatalf("cancel did not return the cash: %s -> %s", before, c)
	}
	b.must(t, 422, "DELETE", "/v1/journals/"+pending, nil)
	b.sim.BeginningOfDay()
	if j := b.journal(t, pending); j.Status != "canceled" {
		t.Fatalf("BOD revived a canceled journal: %s", j.Status)
	}
}

func TestAdminAPI(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	// Accounts: activate one, add one, and the batch sees the change.
	b.batch(t, 422, batchOf(entry{ToAccount: inactive, Amount: "1.00"}), "")
	b.must(t, 200, "POST", "/sandbox/v1/accounts", map[string]string{"id": inactive, "status": "ACTIVE"})
	newAcct := "c0000000-0000-4000-8000-000000000077"
	b.must(t, 200, "POST", "/sandbox/v1/accounts", map[string]any{"id": newAcct, "status": "ACTIVE"})
	b.batch(t, 200, batchOf(entry{ToAccount: inactive, Amount: "1.00"}, entry{ToAccount: newAcct, Amount: "1.00"}), "")
	b.must(t, 400, "POST", "/sandbox/v1/accounts", map[string]string{"id": newAcct})
	accounts := string(b.must(t, 200, "GET", "/sandbox/v1/accounts", nil).body)
	for _, want := range []string{`{"id":"` + newAcct + `","status":"ACTIVE","firm":false}`,
		`{"id":"` + sweep + `","status":"ACTIVE","firm":true,"cash":"99998.00"}`} {
		if !strings.Contains(accounts, want) {
			t.Fatalf("accounts %s lack %s", accounts, want)
		}
	}
	if r := b.must(t, 200, "GET", "/sandbox/v1/cash", nil); string(r.body) != `{"account":"`+sweep+`","amount":"99998.00"}` {
		t.Fatalf("cash %s", r.body)
	}

	// Cash and clock.
	r := b.must(t, 200, "POST", "/sandbox/v1/cash", map[string]string{"amount": "5000.00"})
	if string(r.body) != `{"account":"`+sweep+`","amount":"5000.00"}` {
		t.Fatalf("cash answer %s", r.body)
	}
	b.must(t, 400, "POST", "/sandbox/v1/cash", map[string]string{"amount": "1e3"})
	b.must(t, 404, "POST", "/sandbox/v1/cash", map[string]string{"account": cust1, "amount": "1.00"})
	r = b.must(t, 200, "POST", "/sandbox/v1/clock/advance", map[string]string{"duration": "90s"})
	if string(r.body) != `{"now":"2026-03-02T14:01:30Z"}` {
		t.Fatalf("clock answer %s", r.body)
	}
	b.must(t, 400, "POST", "/sandbox/v1/clock/advance", map[string]string{"duration": "-1s"})

	// Operations actions.
	got := answered(t, b.batch(t, 200, batchOf(
		entry{ToAccount: cust1, Amount: "1000.00"}, entry{ToAccount: cust2, Amount: "20000.00"},
		entry{ToAccount: cust3, Amount: "30000.00"}, entry{ToAccount: cust3, Amount: "4.00"}), ""))
	if got[1].Status != "refused" || got[2].Status != "refused" {
		t.Fatalf("with 5000 cash the big entries are refused: %+v", got)
	}
	b.must(t, 200, "POST", "/sandbox/v1/cash", map[string]string{"amount": "100000.00"})
	got = answered(t, b.batch(t, 200, batchOf(
		entry{ToAccount: cust2, Amount: "20000.00"}, entry{ToAccount: cust3, Amount: "30000.00"}), ""))
	b.must(t, 200, "POST", "/sandbox/v1/journals/"+got[0].ID+"/approve", nil)
	b.must(t, 200, "POST", "/sandbox/v1/journals/"+got[1].ID+"/reject", nil)
	b.must(t, 422, "POST", "/sandbox/v1/journals/"+got[1].ID+"/approve", nil)
	b.must(t, 404, "POST", "/sandbox/v1/journals/"+unknown+"/approve", nil)
	b.must(t, 404, "POST", "/sandbox/v1/journals/"+got[0].ID+"/explode", nil)
	if b.journal(t, got[0].ID).Status != "executed" || b.journal(t, got[1].ID).Status != "rejected" {
		t.Fatalf("approve/reject did not stick")
	}
	if c := b.sweepCash(t); !c.Equal(dec("80000.00")) {
		t.Fatalf("after approve and reject sweep cash %s, want 80000.00", c)
	}

	r = b.must(t, 200, "POST", "/sandbox/v1/journals/"+got[0].ID+"/correct", map[string]string{"amount": "19000.00"})
	corr := decodeJSON[struct{ Original, Correction wireJournal }](t, r.body)
	if corr.Original.Status != "correct" || corr.Correction.Status != "executed" || *corr.Correction.NetAmount != "19000.00" ||
		corr.Correction.ID == got[0].ID || corr.Correction.ToAccount != cust2 {
		t.Fatalf("correction %s", r.body)
	}
	if c := b.sweepCash(t); !c.Equal(dec("81000.00")) {
		t.Fatalf("after correction sweep cash %s, want 81000.00", c)
	}
	b.must(t, 422, "POST", "/sandbox/v1/journals/"+got[0].ID+"/correct", map[string]string{"amount": "1.00"})
	b.must(t, 400, "POST", "/sandbox/v1/journals/"+corr.Correction.ID+"/correct", map[string]string{"amount": "0"})
	r = b.must(t, 200, "POST", "/sandbox/v1/journals/"+corr.Correction.ID+"/reverse", nil)
	if j := decodeJSON[wireJournal](t, r.body); j.Status != "canceled" {
		t.Fatalf("reversal %s", r.body)
	}
	if c := b.sweepCash(t); !c.Equal(dec("100000.00")) {
		t.Fatalf("after reversal sweep cash %s, want 100000.00", c)
	}

	// The ledger over HTTP is Ledger().
	ledger := decodeJSON[[]sandbox.LedgerEntry](t, b.must(t, 200, "GET", "/sandbox/v1/ledger", nil).body)
	direct := b.sim.Ledger()
	if len(ledger) != len(direct) || len(ledger) != 9 {
		t.Fatalf("ledger has %d entries over HTTP, %d direct, want 9", len(ledger), len(direct))
	}
	last := ledger[len(ledger)-1]
	if last.Corrects != got[0].ID || last.Status != "canceled" || !last.Amount.Equal(dec("19000")) || ledger[6].CorrectedBy != last.ID {
		t.Fatalf("ledger does not link the correction: %+v / %+v", ledger[6], last)
	}
	b.must(t, 404, "GET", "/sandbox/v1/nothing", nil)
}

func TestFaultSettingsOverHTTP(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	in := `{"seed":7,"latency":"5ms","jitter":"1ms","reset_rate":0,"error_rate":0.25,"lose_response_rate":0.5,"lost_as_502":true,"stream_drop_rate":0,"stream_duplicate_rate":0.1,"stream_reorder_rate":0,"stream_slow_reader_rate":0.2,"stream_bare_rate":0.3}`
	r := b.must(t, 200, "POST", "/sandbox/v1/faults", in)
	if string(r.body) != in {
		t.Fatalf("faults round trip:\n%s\n%s", r.body, in)
	}
	if f := b.sim.Faults(); f.Seed != 7 || f.Latency != 5*time.Millisecond || f.ErrorRate != 0.25 || !f.LostAs502 || f.StreamSlowReaderRate != 0.2 || f.StreamBareRate != 0.3 {
		t.Fatalf("faults %+v", f)
	}
	if got := b.must(t, 200, "GET", "/sandbox/v1/faults", nil); string(got.body) != in {
		t.Fatalf("GET faults %s", got.body)
	}
	b.must(t, 400, "POST", "/sandbox/v1/faults", `{"error_rate":2}`)
	b.must(t, 400, "POST", "/sandbox/v1/faults", `{"stream_bare_rate":-0.1}`)
	b.must(t, 400, "POST", "/sandbox/v1/faults", `{"stream_slow_reader_rate":-0.1}`)
	b.must(t, 400, "POST", "/sandbox/v1/faults", `{"latency":"soon"}`)
}

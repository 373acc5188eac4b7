package sandbox_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"github.com/cashpool/cashpool/alpaca/sandbox"
)

// BenchmarkNightMemory books a night of 1,000,000 journals (1,000 batches of 1,000 under their
// Idempotency-Keys, to 10,000 customer accounts, with cashpool's kind of description and Travel
// Rule fields) through the
// batch handler, lets every journal execute, and reports the heap the simulator then holds:
// heap-MB and heap-B/journal. Run it with -benchtime=1x.
func BenchmarkNightMemory(b *testing.B) {
	for b.Loop() {
		held := nightHeap(b, 1_000)
		b.ReportMetric(float64(held)/(1<<20), "heap-MB")
		b.ReportMetric(float64(held)/1_000_000, "heap-B/journal")
	}
}

// A night's journals take a few hundred bytes each, events, idempotency keys and Travel Rule fields
// included (they took nearly 2 KB: whole answers kept per key, ids, amounts and event fields as
// separate strings; then 753 bytes: every journal its own copy of its receipt's Travel Rule fields;
// then 462: status, settle date, entry type and key type as strings; then 402: a map from id to
// journal).
// Not parallel: the heap is measured while no other test runs.
func TestNightMemoryPerJournal(t *testing.T) {
	const batches = 50
	perJournal := float64(nightHeap(t, batches)) / (batches * 1_000)
	t.Logf("%.0f bytes per journal", perJournal)
	if perJournal > 400 {
		t.Fatalf("the simulator holds %.0f bytes per journal, want at most 400", perJournal)
	}
}

// nightHeap books batches of 1,000 journals and returns the heap the simulator holds once they
// all executed.
func nightHeap(tb testing.TB, batches int) uint64 {
	tb.Helper()
	const perBatch, accounts = 1_000, 10_000
	seed, ids := nightSeed(accounts)
	runtime.GC()
	before := heapBytes()
	sim := sandbox.New(sandbox.Options{Seed: seed, Now: func() time.Time { return base }})
	for batch := range batches {
		req := httptest.NewRequest(http.MethodPost, "/v1/journals/batch", strings.NewReader(nightBatchBody(sweep, ids, batch, perBatch)))
		req.Header.Set("Idempotency-Key", fmt.Sprintf("0b5c8a5e-8f0a-4c1e-9a63-%012d", batch))
		rec := httptest.NewRecorder()
		sim.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			tb.Fatalf("batch %d: HTTP %d %.300s", batch, rec.Code, rec.Body.String())
		}
	}
	sim.Advance(time.Hour) // queued, sent_to_clearing, executed: three events each
	runtime.GC()
	held := heapBytes() - before
	runtime.KeepAlive(sim)
	return held
}

func heapBytes() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// The admin ledger and event log, written an element at a time (the events in slices taken under
// the lock), say what Ledger and Events say.
func TestAdminDumpsMatchAccessors(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *sandbox.Options) { o.Seed.DailyLimit = dec("0") })
	for range 2 {
		var entries []entry
		for i := range 600 {
			entries = append(entries, entry{ToAccount: cust1, Amount: fmt.Sprintf("1.%02d", i%100)})
		}
		b.batch(t, 200, batchOf(entries...), "")
	}
	b.sim.Advance(time.Hour)
	same := func(path string, want any) {
		t.Helper()
		got := decodeJSON[[]json.RawMessage](t, b.must(t, 200, "GET", path, nil).body)
		raw, err := json.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		wantItems := decodeJSON[[]json.RawMessage](t, raw)
		if len(got) != len(wantItems) {
			t.Fatalf("%s: %d elements, want %d", path, len(got), len(wantItems))
		}
		for i := range got {
			var g bytes.Buffer
			if err := json.Compact(&g, got[i]); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(g.Bytes(), wantItems[i]) {
				t.Fatalf("%s[%d]: %s, want %s", path, i, g.Bytes(), wantItems[i])
			}
		}
	}
	events := b.sim.Events()
	if len(events) != 3600 {
		t.Fatalf("%d events, want 3600", len(events))
	}
	same("/sandbox/v1/events", events)
	same("/sandbox/v1/ledger", b.sim.Ledger())
}

// Journal ids are read back to the journal's position instead of looked up in an index: every
// id is a distinct version-4 UUID that finds its own journal, and an id this simulator never
// handed out, another simulator's included, finds none.
func TestJournalIDs(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *sandbox.Options) { o.Seed.DailyLimit = dec("0") })
	other := setup(t, nil)
	var entries []entry
	for range 1500 {
		entries = append(entries, entry{ToAccount: cust1, Amount: "1.00"})
	}
	b.batch(t, 200, batchOf(entries...), "")
	other.batch(t, 200, batchOf(entries[:10]...), "")
	v4 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for _, e := range b.sim.Ledger() {
		if !v4.MatchString(e.ID) || seen[e.ID] {
			t.Fatalf("journal id %s: not a fresh version-4 UUID", e.ID)
		}
		seen[e.ID] = true
	}
	ledger := b.sim.Ledger()
	for _, i := range []int{0, 1, 777, 1499} {
		if got := b.journal(t, ledger[i].ID); got.ID != ledger[i].ID {
			t.Fatalf("GET %s answered %s", ledger[i].ID, got.ID)
		}
	}
	for _, e := range other.sim.Ledger() {
		if seen[e.ID] {
			t.Fatalf("two simulators handed out %s", e.ID)
		}
		b.must(t, 404, "GET", "/v1/journals/"+e.ID, nil)
	}
	// One bit changed anywhere outside the version and variant: no journal.
	id := ledger[5].ID
	for _, pos := range []int{0, 9, 16, 21, 35} {
		c := []byte(id)
		c[pos] = "01"[(c[pos]-'0'+1)%2]
		if c[pos] == id[pos] {
			c[pos] = '2'
		}
		b.must(t, 404, "GET", "/v1/journals/"+string(c), nil)
	}
}

// nightBatchBody is batch number batch of a night as cashpool sends it: perBatch entries to the
// accounts ids in turn, each with its key token and the Travel Rule fields of its receipt (ten
// journals to a receipt).
func nightBatchBody(sweep string, ids []string, batch, perBatch int) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, `{"entry_type":"JNLC","from_account":%q,"entries":[`, sweep)
	for i := range perBatch {
		if i > 0 {
			sb.WriteByte(',')
		}
		n := batch*perBatch + i
		fmt.Fprintf(&sb, `{"to_account":%q,"amount":"%d.%02d","description":"Payroll funding W%09d cp:%08x-1b2c-7d3e-8f40-%012x",`+
			`"transmitter_name":"Originator W%09d","transmitter_account_number":"ACC%010d",`+
			`"transmitter_address":"1 Main St, New York, NY 10001, US","transmitter_financial_institution":"First Bank NA",`+
			`"transmitter_timestamp":"2026-03-02T00:00:00Z"}`,
			ids[n%len(ids)], 1+n%5000, n%100, n/10, batch, n, n/10, n/10)
	}
	sb.WriteString("]}")
	return sb.String()
}

// nightSeed is a seed for a night: cash without limits in the sweep account and accounts ACTIVE
// customer accounts, whose ids it returns.
func nightSeed(accounts int) (sandbox.Seed, []string) {
	seed := testSeed()
	seed.SweepCash, seed.JournalLimit, seed.DailyLimit = dec("100000000000.00"), dec("0"), dec("0")
	ids := make([]string, accounts)
	for i := range ids {
		ids[i] = fmt.Sprintf("c1000000-0000-4000-8000-%012d", i)
		seed.Accounts = append(seed.Accounts, sandbox.Account{ID: ids[i], Status: "ACTIVE"})
	}
	return seed, ids
}

package sandbox_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cashpool/cashpool/alpaca/sandbox"
)

// BenchmarkCallAmongJournals measures one GET while 10 or 100,000 journals are in flight: the due
// heap keeps a call's cost independent of how many journals wait.
func BenchmarkCallAmongJournals(b *testing.B) {
	for _, batches := range []int{0, 10} {
		b.Run(fmt.Sprintf("journals=%d", max(batches*10_000, 10)), func(b *testing.B) { benchCall(b, batches) })
	}
}

func benchCall(b *testing.B, batches int) {
	seed := testSeed()
	seed.SweepCash, seed.DailyLimit = dec("100000000.00"), dec("0")
	sim := sandbox.New(sandbox.Options{Seed: seed, Now: func() time.Time { return base }, StepEvery: time.Hour})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/v1/journals/batch", "application/json", strings.NewReader(
		`{"entry_type":"JNLC","from_account":"`+sweep+`","entries":[`+strings.Repeat(`{"to_account":"`+cust1+`","amount":"1.00"},`, 9)+
			`{"to_account":"`+cust1+`","amount":"1.00"}]}`))
	if err != nil || resp.StatusCode != 200 {
		b.Fatalf("batch: %v %v", resp, err)
	}
	resp.Body.Close()
	for batch := range batches {
		var sb strings.Builder
		fmt.Fprintf(&sb, `{"entry_type":"JNLC","from_account":%q,"entries":[`, sweep)
		for i := range 10_000 {
			if i > 0 {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, `{"to_account":%q,"amount":"1.00"}`, cust1)
		}
		sb.WriteString("]}")
		resp, err := http.Post(srv.URL+"/v1/journals/batch", "application/json", strings.NewReader(sb.String()))
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("batch %d: %v %v", batch, resp, err)
		}
		resp.Body.Close()
	}
	id := sim.Ledger()[0].ID
	b.ResetTimer()
	for b.Loop() {
		resp, err := http.Get(srv.URL + "/v1/journals/" + id)
		if err != nil || resp.StatusCode != 200 {
			b.Fatal(err)
		}
		resp.Body.Close()
	}
}

// BenchmarkNightCalls is the simulator's share of a night, 10,000 journals of it: batches of 500
// cashpool-like entries under Idempotency-Keys, the clock moving them to executed, and one event
// stream reading every event from the start. It reports the simulator's time per journal.
func BenchmarkNightCalls(b *testing.B) {
	const batches, perBatch, accounts = 20, 500, 2_000
	seed, ids := nightSeed(accounts)
	bodies := make([]string, batches)
	for batch := range bodies {
		bodies[batch] = nightBatchBody(sweep, ids, batch, perBatch)
	}
	for b.Loop() {
		sim := sandbox.New(sandbox.Options{Seed: seed, Now: func() time.Time { return base }})
		for batch, body := range bodies {
			req := httptest.NewRequest(http.MethodPost, "/v1/journals/batch", strings.NewReader(body))
			req.Header.Set("Idempotency-Key", fmt.Sprintf("0b5c8a5e-8f0a-4c1e-9a63-%012d", batch))
			rec := httptest.NewRecorder()
			sim.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("batch %d: HTTP %d %.300s", batch, rec.Code, rec.Body.String())
			}
		}
		sim.Advance(24 * time.Hour) // queued, sent_to_clearing, executed; and the stream's day is over
		var events eventCounter
		sim.ServeHTTP(&events, httptest.NewRequest(http.MethodGet, "/v2/events/journals/status?since=2026-03-02&until=2026-03-02", nil))
		if events.n != 3*batches*perBatch {
			b.Fatalf("stream sent %d events, want %d", events.n, 3*batches*perBatch)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batches*perBatch), "ns/journal")
}

// eventCounter is a streaming ResponseWriter that keeps only the number of events written.
type eventCounter struct {
	header http.Header
	tail   []byte // the end of the previous write, where an event's start may have begun
	n      int
}

func (c *eventCounter) Header() http.Header {
	if c.header == nil {
		c.header = http.Header{}
	}
	return c.header
}

func (c *eventCounter) WriteHeader(int) {}
func (c *eventCounter) Flush()          {}

func (c *eventCounter) Write(p []byte) (int, error) {
	const mark = "\ndata: "
	joined := append(c.tail, p...)
	c.n += bytes.Count(joined, []byte(mark)) - bytes.Count(c.tail, []byte(mark))
	c.tail = append(c.tail[:0], joined[max(0, len(joined)-len(mark)+1):]...)
	return len(p), nil
}

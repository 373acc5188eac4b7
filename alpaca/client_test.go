package alpaca_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/alpaca"
	"github.com/cashpool/cashpool/alpaca/sandbox"
)

const sweep = "8f8c8cee-2591-4f83-be12-82c659b5e748"

func customer(n string) string { return "c0000000-0000-4000-8000-0000000000" + n }

type simClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *simClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *simClock) Sleep(_ context.Context, d time.Duration) error {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
	return nil
}

func newSim(t *testing.T, o sandbox.Options) (*sandbox.Server, *alpaca.Client, *simClock) {
	t.Helper()
	clk := &simClock{t: time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC)}
	o.Now, o.KeyID, o.Secret = clk.Now, "key", "secret"
	o.Seed = sandbox.Seed{SweepAccount: sweep, SweepCash: decimal.RequireFromString("100000.00"),
		JournalLimit: decimal.RequireFromString("1000.00"),
		Accounts:     []sandbox.Account{{ID: customer("01"), Status: "ACTIVE"}, {ID: customer("02"), Status: "ACTIVE"}}}
	sim := sandbox.New(o)
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	c := alpaca.NewClient(alpaca.Options{BaseURL: ts.URL, KeyID: "key", Secret: "secret", Now: clk.Now, Sleep: clk.Sleep})
	return sim, c, clk
}

func batchBody(t *testing.T, entries ...alpaca.BatchEntry) []byte {
	t.Helper()
	b, err := json.Marshal(alpaca.BatchRequest{EntryType: "JNLC", FromAccount: sweep, Entries: entries})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestClientJournalEndpoints(t *testing.T) {
	t.Parallel()
	sim, c, clk := newSim(t, sandbox.Options{})
	ctx := context.Background()
	got, err := c.CreateBatch(ctx, "0b5c8a5e-8f0a-4c1e-9a63-3f4f6a1b2c01", batchBody(t,
		alpaca.BatchEntry{ToAccount: customer("01"), Amount: "10.00", Description: "a"},
		alpaca.BatchEntry{ToAccount: customer("02"), Amount: "2000.00", Description: "over the limit"}))
	if err != nil {
		t.Fatal(err)
	}
	// Alpaca does not keep the request's order in its answer: put it back by description.
	slices.SortFunc(got, func(a, b alpaca.BatchJournal) int { return strings.Compare(a.Description, b.Description) })
	if len(got) != 2 || got[0].Status != alpaca.StatusQueued || got[1].Status != alpaca.StatusPending || got[0].ErrorMessage != "" {
		t.Fatalf("batch answer %+v", got)
	}
	if !got[0].NetAmount.Decimal.Equal(decimal.RequireFromString("10")) {
		t.Fatalf("net_amount %v", got[0].NetAmount)
	}
	clk.Sleep(ctx, 3*time.Second)
	j, err := c.GetJournal(ctx, got[0].ID)
	if err != nil || j.Status != alpaca.StatusExecuted {
		t.Fatalf("get: %+v %v", j, err)
	}
	list, err := listAll(ctx, c, alpaca.ListFilter{FromAccount: sweep, Status: alpaca.StatusPending})
	if err != nil || len(list) != 1 || list[0].ID != got[1].ID {
		t.Fatalf("list pending: %+v %v", list, err)
	}
	if err := c.DeleteJournal(ctx, got[1].ID); err != nil {
		t.Fatal(err)
	}
	var apiErr *alpaca.APIError
	if err := c.DeleteJournal(ctx, got[0].ID); !errors.As(err, &apiErr) || apiErr.HTTPStatus != 422 {
		t.Fatalf("delete of an executed journal: %v", err)
	}
	if _, err := c.GetJournal(ctx, "00000000-0000-4000-8000-000000000000"); !errors.As(err, &apiErr) || apiErr.HTTPStatus != 404 {
		t.Fatalf("get unknown: %v", err)
	}
	single, err := c.CreateJournal(ctx, "0b5c8a5e-8f0a-4c1e-9a63-3f4f6a1b2c02", alpaca.CreateJournalRequest{
		EntryType: "JNLC", FromAccount: sweep, ToAccount: customer("02"), Amount: "5.00"})
	if err != nil || single.ID == "" {
		t.Fatalf("single journal: %+v %v", single, err)
	}
	if _, err := c.CreateBatch(ctx, "", batchBody(t)); err == nil {
		t.Fatal("a batch without an Idempotency-Key was sent")
	}
	if n := len(sim.Ledger()); n != 3 {
		t.Fatalf("%d journals in the ledger, want 3", n)
	}
}

// Answers lost after the journals were created are retried with the same key and body; the
// simulator replays its first answer and nothing is created twice.
func TestClientRetriesLostAnswersWithTheSameKey(t *testing.T) {
	t.Parallel()
	sim, c, _ := newSim(t, sandbox.Options{Faults: sandbox.Faults{Seed: 7, LoseResponseRate: 0.5, ErrorRate: 0.2}})
	ctx := context.Background()
	for i := range 10 {
		key := "0b5c8a5e-8f0a-4c1e-9a63-3f4f6a1b2d" + string(rune('a'+i)) + "0"
		if _, err := c.CreateBatch(ctx, key, batchBody(t, alpaca.BatchEntry{ToAccount: customer("01"), Amount: "1.00", Description: key})); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
	if n := len(sim.Ledger()); n != 10 {
		t.Fatalf("%d journals for 10 batches", n)
	}
	if c.Calls() <= 10 {
		t.Fatalf("%d calls: the faults never fired, the test proves nothing", c.Calls())
	}
}

func TestClientWaitsForTheRateLimitReset(t *testing.T) {
	t.Parallel()
	_, c, clk := newSim(t, sandbox.Options{RateLimit: 3})
	ctx := context.Background()
	start := clk.Now()
	for range 7 {
		if _, err := listAll(ctx, c, alpaca.ListFilter{}); err != nil {
			t.Fatal(err)
		}
	}
	// Seven calls at three a minute need two resets: the client slept on the simulated clock.
	if waited := clk.Now().Sub(start); waited < time.Minute {
		t.Fatalf("waited %s for 7 calls at 3/minute", waited)
	}
}

// statusCounter is a RoundTripper that counts the broker's answers by status.
type statusCounter struct {
	mu       sync.Mutex
	byStatus map[int]int
}

func (sc *statusCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil {
		sc.mu.Lock()
		sc.byStatus[resp.StatusCode]++
		sc.mu.Unlock()
	}
	return resp, err
}

// Eight callers at once, eight times the simulator's per-minute limit in all: the client spends the
// budget the X-RateLimit-* headers announce ahead of time and never provokes a 429.
func TestClientPacesCallsToTheRateLimit(t *testing.T) {
	t.Parallel()
	const limit, callers, each = 10, 8, 10
	sim, _, clk := newSim(t, sandbox.Options{RateLimit: limit})
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	counter := &statusCounter{byStatus: map[int]int{}}
	c := alpaca.NewClient(alpaca.Options{BaseURL: ts.URL, KeyID: "key", Secret: "secret", Now: clk.Now, Sleep: clk.Sleep,
		HTTPClient: &http.Client{Transport: counter}})
	var wg sync.WaitGroup
	errs := make(chan error, callers*each)
	for range callers {
		wg.Go(func() {
			for range each {
				if _, err := listAll(context.Background(), c, alpaca.ListFilter{}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := counter.byStatus[http.StatusTooManyRequests]; got != 0 {
		t.Errorf("%d calls answered 429 of %d: the client did not pace itself to the announced budget", got, c.Calls())
	}
	if got := counter.byStatus[http.StatusOK]; got != callers*each {
		t.Errorf("%d calls answered 200, want %d", got, callers*each)
	}
}

func TestClientNeverRetriesReverseBatch(t *testing.T) {
	t.Parallel()
	var calls int
	var mu sync.Mutex
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		http.Error(w, `{"code":50010000,"message":"internal"}`, http.StatusInternalServerError)
	}))
	defer ts.Close()
	c := alpaca.NewClient(alpaca.Options{BaseURL: ts.URL, KeyID: "k", Secret: "s", Sleep: func(context.Context, time.Duration) error { return nil }})
	if _, err := c.ReverseBatch(context.Background(), alpaca.ReverseBatchRequest{EntryType: "JNLC", ToAccount: sweep,
		Entries: []alpaca.ReverseBatchEntry{{FromAccount: customer("01"), Amount: "1.00"}}}); err == nil {
		t.Fatal("want the 500")
	}
	if calls != 1 {
		t.Fatalf("reverse_batch sent %d times; it has no Idempotency-Key and must never be retried", calls)
	}
	if _, err := listAll(context.Background(), c, alpaca.ListFilter{}); err == nil {
		t.Fatal("want the 500")
	}
	if calls != 1+6 {
		t.Fatalf("GET tried %d times, want 6 (1 + 5 retries)", calls-1)
	}
}

// Alpaca's journal shapes changed over the years: both must decode.
func TestClientDecodesOldAndNewWireShapes(t *testing.T) {
	t.Parallel()
	old := `[{"id":"56f106e5-25a4-4eee-96fa-25bb05dc86bc","entry_type":"JNLC","from_account":"` + sweep + `","to_account":"` + customer("01") + `",
		"symbol":"","qty":null,"price":"0","status":"queued","settle_date":null,"system_date":null,"net_amount":"115.5",
		"description":"x","currency":"USD","error_message":""}]`
	newer := `[{"id":"c79bcd51-4bea-4d1d-9b3c-f37f5035b8f7","entry_type":"JNLC","from_account":"` + sweep + `","to_account":"` + customer("02") + `",
		"symbol":null,"qty":null,"price":null,"status":"activity_created","settle_date":"2026-11-20","system_date":"2026-11-20",
		"net_amount":"250","description":"","currency":"USD","transmitter_info":{"originator_full_name":"A"}}]`
	for name, body := range map[string]string{"old": old, "new": newer} {
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(body)) }))
		c := alpaca.NewClient(alpaca.Options{BaseURL: ts.URL, KeyID: "k", Secret: "s"})
		got, err := c.CreateBatch(context.Background(), "0b5c8a5e-8f0a-4c1e-9a63-3f4f6a1b2c09", []byte(`{}`))
		ts.Close()
		if err != nil || len(got) != 1 {
			t.Fatalf("%s: %v", name, err)
		}
		if got[0].ErrorMessage != "" || got[0].NetAmount.Decimal.IsZero() || got[0].Status == "" {
			t.Fatalf("%s decoded as %+v", name, got[0])
		}
	}
}

// A redirect is never followed, whatever the method and whoever built the http.Client: a 307 or
// 308 would send the same money-moving body, with its Basic auth, to wherever Location points.
func TestClientRefusesRedirects(t *testing.T) {
	t.Parallel()
	var elsewhere atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		w.Write([]byte(`[]`))
	}))
	defer target.Close()
	location := strings.Replace(target.URL, "http://", "http://user:location-password@", 1) + "/v1/journals/batch"
	for _, status := range []int{301, 302, 303, 307, 308} {
		var calls atomic.Int64
		broker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			w.Header().Set("Location", location)
			w.WriteHeader(status)
		}))
		own := &http.Client{} // follows redirects by default
		for name, hc := range map[string]*http.Client{"default client": nil, "caller's client": own} {
			c := alpaca.NewClient(alpaca.Options{BaseURL: broker.URL, KeyID: "k", Secret: "topsecret", HTTPClient: hc,
				Sleep: func(context.Context, time.Duration) error { return nil }})
			ctx := context.Background()
			_, postErr := c.CreateBatch(ctx, "0b5c8a5e-8f0a-4c1e-9a63-3f4f6a1b2c10", batchBody(t,
				alpaca.BatchEntry{ToAccount: customer("01"), Amount: "1.00"}))
			_, getErr := listAll(ctx, c, alpaca.ListFilter{})
			streamErr := c.StreamJournalEvents(ctx, alpaca.StreamOptions{}, func(alpaca.JournalEvent) error { return nil })
			for op, err := range map[string]error{"POST": postErr, "GET": getErr, "stream": streamErr} {
				var apiErr *alpaca.APIError
				if !errors.Is(err, alpaca.ErrRedirect) || errors.As(err, &apiErr) {
					t.Errorf("%d, %s, %s: err %v, want ErrRedirect and no APIError", status, name, op, err)
					continue
				}
				if msg := err.Error(); strings.Contains(msg, "topsecret") || strings.Contains(msg, "location-password") ||
					!strings.Contains(msg, "redirect") {
					t.Errorf("%d, %s, %s: error %q", status, name, op, msg)
				}
			}
			if n := calls.Swap(0); n != 3 {
				t.Errorf("%d, %s: %d calls for 3 requests: a redirect must never be retried", status, name, n)
			}
		}
		if own.CheckRedirect != nil {
			t.Errorf("the caller's http.Client was changed")
		}
		broker.Close()
	}
	if n := elsewhere.Load(); n != 0 {
		t.Fatalf("the redirect target was called %d times", n)
	}
}

// The answer limits stop a server that never stops sending; a legitimate answer of the largest
// list Alpaca gives (100,000 journals) fits.
func TestClientCapsAnswers(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"id":"`))
		chunk := bytes.Repeat([]byte("x"), 1<<20)
		for i := 0; i <= alpaca.MaxAnswerBytes>>20; i++ {
			if _, err := w.Write(chunk); err != nil {
				return // the client hung up, as it should
			}
		}
		w.Write([]byte(`"}`))
	}))
	defer ts.Close()
	c := alpaca.NewClient(alpaca.Options{BaseURL: ts.URL, KeyID: "k", Secret: "s", Sleep: func(context.Context, time.Duration) error { return nil }})
	_, err := c.GetJournal(context.Background(), "56f106e5-25a4-4eee-96fa-25bb05dc86bc")
	if !errors.Is(err, alpaca.ErrAnswerTooLarge) {
		t.Fatalf("err %v, want ErrAnswerTooLarge", err)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d calls: an answer too large is the same on every try and must not be retried", n)
	}

	// The largest journal: a 1,024-byte description and every Travel Rule field at 255 characters.
	long := func(n int) string { return strings.Repeat("x", n) }
	biggest, err := json.Marshal(map[string]any{
		"id": customer("01"), "entry_type": "JNLC", "from_account": sweep, "to_account": customer("02"),
		"symbol": nil, "qty": nil, "price": nil, "status": "sent_to_clearing",
		"settle_date": "2026-11-20", "system_date": "2026-11-20", "net_amount": "123456789012345678.99",
		"description": long(1024), "currency": "USD", "created_at": "2026-11-20T15:00:00.123456789Z",
		"transmitter_name": long(255), "transmitter_account_number": long(255), "transmitter_address": long(255),
		"transmitter_financial_institution": long(255), "transmitter_timestamp": "2026-11-20T15:00:00.123456789Z",
	})
	if err != nil {
		t.Fatal(err)
	}
	if list := 100_000 * (len(biggest) + 1); list > alpaca.MaxListAnswerBytes {
		t.Fatalf("100,000 journals of %d bytes take %d bytes, over MaxListAnswerBytes", len(biggest), list)
	}
	if answer := 20_000 * (len(biggest) + len(`,"error_message":""`) + 200 + 1); answer > alpaca.MaxAnswerBytes {
		t.Fatalf("a batch answer of 20,000 journals takes %d bytes, over MaxAnswerBytes", answer)
	}
}

// syncBuffer is a log written by the client while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// logLines decodes a JSON log, one record a line.
func logLines(t *testing.T, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(log) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, rec)
	}
	return out
}

// Every retry is logged with its attempt, the endpoint's template, the answer and the wait; the
// credentials and the URL never are.
func TestClientLogsEveryRetry(t *testing.T) {
	t.Parallel()
	clk := &simClock{t: time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC)}
	sim := sandbox.New(sandbox.Options{Now: clk.Now, KeyID: "key", Secret: "secret-do-not-log",
		Seed:   sandbox.Seed{SweepAccount: sweep, SweepCash: decimal.RequireFromString("1.00")},
		Faults: sandbox.Faults{Seed: 1, ErrorRate: 1}})
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	var log syncBuffer
	c := alpaca.NewClient(alpaca.Options{BaseURL: ts.URL, KeyID: "key", Secret: "secret-do-not-log", Retries: 2,
		Now: clk.Now, Sleep: clk.Sleep, Logger: slog.New(slog.NewJSONHandler(&log, nil))})
	if _, err := c.GetJournal(context.Background(), "0c0b5c1e-6a8f-4c4e-9a57-2f1f6d1f7a11"); err == nil {
		t.Fatal("every answer is a 500, yet the call succeeded")
	}
	recs := logLines(t, log.String())
	if len(recs) != 2 {
		t.Fatalf("3 attempts, want 2 retries logged, got %d:\n%s", len(recs), log.String())
	}
	for i, rec := range recs {
		want := map[string]any{"level": "WARN", "method": "GET", "route": "/v1/journals/{id}", "attempt": float64(i + 1), "of": float64(3), "status": float64(500)}
		for k, v := range want {
			if rec[k] != v {
				t.Errorf("retry %d: %s = %v, want %v", i+1, k, rec[k], v)
			}
		}
		if rec["err"] == nil || rec["wait"] == nil || rec["wait"] == float64(0) {
			t.Errorf("retry %d without its error or wait: %v", i+1, rec)
		}
	}
	for _, secret := range []string{"secret-do-not-log", ts.URL, "0c0b5c1e"} {
		if strings.Contains(log.String(), secret) {
			t.Errorf("the log holds %q:\n%s", secret, log.String())
		}
	}
}

// A spent rate-limit budget's wait for the reset is logged at info.
func TestClientLogsRateLimitWaits(t *testing.T) {
	t.Parallel()
	clk := &simClock{t: time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC)}
	sim := sandbox.New(sandbox.Options{Now: clk.Now, KeyID: "key", Secret: "secret", RateLimit: 3,
		Seed: sandbox.Seed{SweepAccount: sweep, SweepCash: decimal.RequireFromString("1.00")}})
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	var log syncBuffer
	c := alpaca.NewClient(alpaca.Options{BaseURL: ts.URL, KeyID: "key", Secret: "secret",
		Now: clk.Now, Sleep: clk.Sleep, Logger: slog.New(slog.NewJSONHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	for range 4 {
		if _, err := listAll(context.Background(), c, alpaca.ListFilter{}); err != nil {
			t.Fatal(err)
		}
	}
	waits := 0
	for _, rec := range logLines(t, log.String()) {
		if rec["level"] == "INFO" && rec["route"] == "/v1/journals" && rec["wait"] != float64(0) {
			waits++
		}
	}
	if waits == 0 {
		t.Fatalf("four calls at three a minute waited for a reset, but no wait was logged:\n%s", log.String())
	}
}

// With one call left in the window, the next waits for the reset, not forever: a limiter with no
// rate left reports an infinite delay.
func TestClientPacingWaitsEndByTheReset(t *testing.T) {
	t.Parallel()
	clk := &simClock{t: time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC)}
	sim := sandbox.New(sandbox.Options{Now: clk.Now, KeyID: "key", Secret: "secret", RateLimit: 3,
		Seed: sandbox.Seed{SweepAccount: sweep, SweepCash: decimal.RequireFromString("1.00")}})
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	var mu sync.Mutex
	var waits []time.Duration
	c := alpaca.NewClient(alpaca.Options{BaseURL: ts.URL, KeyID: "key", Secret: "secret", Now: clk.Now, Sleep: clk.Sleep,
		OnRateLimitWait: func(d time.Duration) { mu.Lock(); waits = append(waits, d); mu.Unlock() }})
	for range 7 {
		if _, err := listAll(context.Background(), c, alpaca.ListFilter{}); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, w := range waits {
		if w > time.Minute {
			t.Errorf("waited %s within a one-minute window (waits %v)", w, waits)
		}
	}
}

// listAll collects a list answer.
func listAll(ctx context.Context, c *alpaca.Client, f alpaca.ListFilter) ([]alpaca.Journal, error) {
	var out []alpaca.Journal
	err := c.EachJournal(ctx, f, func(j alpaca.Journal) error { out = append(out, j); return nil })
	return out, err
}

package sandbox_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cashpool/cashpool/alpaca/sandbox"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// keyA is a UUID: the v2 event schema declares idempotency_key as format uuid.
const keyA = "0198f7a2-0000-7000-8000-00000000000a"

// stream is an open event stream read line by line.
type stream struct {
	lines  chan string
	done   chan struct{}
	cancel context.CancelFunc
}

func (b *bundle) openStream(t *testing.T, path string) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, "GET", b.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(keyID, secret)
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream %s: HTTP %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := &stream{lines: make(chan string, 256), done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(s.done)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if sc.Text() != "" {
				s.lines <- sc.Text()
			}
		}
	}()
	return s
}

// next returns the next non-empty line, or "" once the server has ended the stream.
func (s *stream) next(t *testing.T) string {
	t.Helper()
	select {
	case l := <-s.lines:
		return l
	case <-s.done:
		select {
		case l := <-s.lines:
			return l
		default:
			return ""
		}
	case <-time.After(5 * time.Second): // a safety net against a hung stream, not a wait for work
		t.Fatal("stream stalled")
		return ""
	}
}

// event reads lines up to the next data line, skipping comments, and checks it against sch.
func (s *stream) event(t *testing.T, sch *jsonschema.Schema) sandbox.Event {
	t.Helper()
	for {
		l := s.next(t)
		if l == "" {
			t.Fatal("stream ended, want an event")
		}
		if strings.HasPrefix(l, ":") {
			continue
		}
		data, ok := strings.CutPrefix(l, "data: ")
		if !ok {
			t.Fatalf("unexpected stream line %q", l)
		}
		inst, err := jsonschema.UnmarshalJSON(strings.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(inst); err != nil {
			t.Fatalf("event breaks the published schema: %v\n%s", err, data)
		}
		// v2 carries the ULID as event_id; v1 as event_ulid, with an integer event_id.
		var e struct {
			EventID            json.RawMessage `json:"event_id"`
			EventULID          string          `json:"event_ulid"`
			At                 time.Time       `json:"at"`
			JournalID          string          `json:"journal_id"`
			StatusFrom         string          `json:"status_from"`
			StatusTo           string          `json:"status_to"`
			Description        string          `json:"description"`
			IdempotencyKey     string          `json:"idempotency_key"`
			IdempotencyKeyType string          `json:"idempotency_key_type"`
			BatchErrorMessage  string          `json:"batch_error_message"`
		}
		if err := json.Unmarshal([]byte(data), &e); err != nil {
			t.Fatal(err)
		}
		id := e.EventULID
		if id == "" {
			_ = json.Unmarshal(e.EventID, &id)
		}
		return sandbox.Event{ID: id, At: e.At, JournalID: e.JournalID, StatusFrom: e.StatusFrom, StatusTo: e.StatusTo,
			Description: e.Description, IdempotencyKey: e.IdempotencyKey, IdempotencyKeyType: e.IdempotencyKeyType,
			BatchErrorMessage: e.BatchErrorMessage}
	}
}

func TestEventStreamV2(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.batch(t, 200, batchOf(entry{ToAccount: cust1, Amount: "1.00", Description: "d1"}), keyA)
	b.sim.Advance(time.Second)
	history := b.sim.Events()
	if len(history) != 2 {
		t.Fatalf("history %+v", history)
	}

	// No cursor: no history, only what happens from now on.
	live := b.openStream(t, "/v2/events/journals/status")
	if l := live.next(t); l != ":heartbeat" {
		t.Fatalf("first line %q, want the opening heartbeat", l)
	}
	// since_id: everything after the cursor.
	cursor := b.openStream(t, "/v2/events/journals/status?since_id="+history[0].ID)
	if e := cursor.event(t, b.schema.eventV2); e.ID != history[1].ID || e.StatusFrom != "queued" || e.StatusTo != "sent_to_clearing" {
		t.Fatalf("after the cursor: %+v", e)
	}

	b.sim.Advance(time.Second) // sent_to_clearing -> executed, seen by both streams
	for _, s := range []*stream{live, cursor} {
		e := s.event(t, b.schema.eventV2)
		if e.StatusFrom != "sent_to_clearing" || e.StatusTo != "executed" || e.IdempotencyKey != keyA ||
			e.IdempotencyKeyType != "batch" || e.Description != "d1" || e.ID <= history[1].ID {
			t.Fatalf("live event %+v", e)
		}
	}
	// A refused batch entry carries its reason as batch_error_message.
	b.sim.SetCash("", dec("0.50"))
	b.batch(t, 200, batchOf(entry{ToAccount: cust2, Amount: "1.00"}), "0198f7a2-0000-7000-8000-00000000000b")
	if e := live.event(t, b.schema.eventV2); e.StatusFrom != "" || e.StatusTo != "refused" || !strings.Contains(e.BatchErrorMessage, "insufficient balance") {
		t.Fatalf("refused event %+v", e)
	}

	// until_id ends the stream once the bound is reached.
	all := b.sim.Events()
	bounded := b.openStream(t, "/v2/events/journals/status?since_id=00000000000000000000000000&until_id="+all[2].ID)
	for i := range 3 {
		if e := bounded.event(t, b.schema.eventV2); e.ID != all[i].ID {
			t.Fatalf("bounded event %d: %s, want %s", i, e.ID, all[i].ID)
		}
	}
	if l := bounded.next(t); l != "" {
		t.Fatalf("stream went on past until_id: %q", l)
	}
	// since/until by time: the whole first day, then the stream ends because the day is over.
	b.sim.Advance(24 * time.Hour)
	day := b.openStream(t, "/v2/events/journals/status?since=2026-03-02&until=2026-03-02")
	for i := range all {
		if e := day.event(t, b.schema.eventV2); e.ID != all[i].ID {
			t.Fatalf("day event %d: %s, want %s", i, e.ID, all[i].ID)
		}
	}
	if l := day.next(t); l != "" {
		t.Fatalf("stream went on past until: %q", l)
	}
	for _, bad := range []string{"?since_id=x", "?until_id=" + all[0].ID, "?since=2026-03-02&since_id=" + all[0].ID,
		"?since=2026-03-02&until=2026-03-03&until_id=" + all[0].ID, "?since=yesterday"} {
		b.must(t, 400, "GET", "/v2/events/journals/status"+bad, nil)
	}
}

func TestEventStreamV1AndHeartbeat(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *sandbox.Options) { o.HeartbeatEvery = 5 * time.Millisecond })
	b.batch(t, 200, batchOf(entry{ToAccount: cust1, Amount: "1.00"}, entry{ToAccount: cust2, Amount: "2.00"}), "")
	s := b.openStream(t, "/v1/events/journals/status?since_id=1")
	e := s.event(t, b.schema.eventV1)
	if e.StatusTo != "queued" || e.IdempotencyKey != "" {
		t.Fatalf("v1 event %+v", e)
	}
	heartbeats := 0
	for heartbeats < 2 {
		if l := s.next(t); l == ":heartbeat" {
			heartbeats++
		} else {
			t.Fatalf("idle stream sent %q", l)
		}
	}
	events := b.sim.Events()
	u := b.openStream(t, "/v1/events/journals/status?since_ulid="+events[0].ID+"&until_ulid="+events[1].ID)
	if e := u.event(t, b.schema.eventV1); e.JournalID != events[1].JournalID {
		t.Fatalf("ulid cursor event %+v", e)
	}
	b.must(t, 400, "GET", "/v1/events/journals/status?since_id=1&since_ulid="+events[0].ID, nil)
}

func TestEventStreamFaults(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *sandbox.Options) { o.Faults = sandbox.Faults{Seed: 3, StreamDuplicateRate: 1} })
	b.batch(t, 200, batchOf(entry{ToAccount: cust1, Amount: "1.00"}), "")
	s := b.openStream(t, "/v2/events/journals/status?since_id=00000000000000000000000000")
	first, second := s.event(t, b.schema.eventV2), s.event(t, b.schema.eventV2)
	if first.ID != second.ID {
		t.Fatalf("duplicate fault sent %s then %s", first.ID, second.ID)
	}

	d := setup(t, func(o *sandbox.Options) { o.Faults = sandbox.Faults{Seed: 3, StreamDropRate: 1} })
	d.batch(t, 200, batchOf(entry{ToAccount: cust1, Amount: "1.00"}, entry{ToAccount: cust2, Amount: "1.00"}), "")
	s = d.openStream(t, "/v2/events/journals/status?since_id=00000000000000000000000000")
	s.event(t, d.schema.eventV2)
	if l := s.next(t); l != "" {
		t.Fatalf("drop fault: the stream went on with %q", l)
	}

	r := setup(t, func(o *sandbox.Options) { o.Faults = sandbox.Faults{Seed: 3, StreamReorderRate: 1} })
	r.batch(t, 200, batchOf(entry{ToAccount: cust1, Amount: "1.00"}, entry{ToAccount: cust2, Amount: "1.00"}), "")
	want := r.sim.Events()
	s = r.openStream(t, "/v2/events/journals/status?since_id=00000000000000000000000000")
	if e := s.event(t, r.schema.eventV2); e.ID != want[1].ID {
		t.Fatalf("reorder fault: first event %s, want the second one %s", e.ID, want[1].ID)
	}

	// Bare: the event still meets the published schema, without the fields it marks optional.
	bare := setup(t, func(o *sandbox.Options) { o.Faults = sandbox.Faults{Seed: 3, StreamBareRate: 1} })
	bare.batch(t, 200, batchOf(entry{ToAccount: cust1, Amount: "1.00", Description: "fund cp:00000000-0000-4000-8000-000000000001"}), "")
	s = bare.openStream(t, "/v2/events/journals/status?since_id=00000000000000000000000000")
	if e := s.event(t, bare.schema.eventV2); e.JournalID != bare.sim.Events()[0].JournalID || e.Description != "" || e.IdempotencyKey != "" || e.IdempotencyKeyType != "" {
		t.Fatalf("bare fault: event %+v", e)
	}
	s = bare.openStream(t, "/v2/events/journals/status?since_id=00000000000000000000000000")
	for l := s.next(t); ; l = s.next(t) {
		if data, ok := strings.CutPrefix(l, "data: "); ok {
			if strings.Contains(data, `"description"`) || strings.Contains(data, `"idempotency_key`) || !strings.Contains(data, `"status_to"`) {
				t.Fatalf("bare fault: event sent as %s", data)
			}
			break
		}
	}
}

func TestTooManyStreams(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *sandbox.Options) { o.MaxStreams = 1 })
	s := b.openStream(t, "/v2/events/journals/status")
	s.next(t)
	r := b.must(t, 429, "GET", "/v2/events/journals/status", nil)
	if !bytes.Contains(r.body, []byte("Too many requests")) {
		t.Fatalf("body %s", r.body)
	}
}

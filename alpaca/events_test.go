package alpaca_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cashpool/cashpool/alpaca"
)

// streamServer answers the v2 stream with body, after checking Basic auth and the cursor.
func streamServer(t *testing.T, wantQuery string, body func(w http.ResponseWriter)) *alpaca.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, secret, ok := r.BasicAuth(); !ok || id != "k" || secret != "s" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"code":40110000,"message":"request is not authorized"}`)
			return
		}
		if r.URL.Path != "/v2/events/journals/status" || r.URL.RawQuery != wantQuery {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"code":40010000,"message":"unexpected %s?%s"}`, r.URL.Path, r.URL.RawQuery)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		body(w)
	}))
	t.Cleanup(srv.Close)
	return alpaca.NewClient(alpaca.Options{BaseURL: srv.URL, KeyID: "k", Secret: "s"})
}

func TestStreamParsesEventsAndHeartbeats(t *testing.T) {
	t.Parallel()
	c := streamServer(t, "since_id=01F535Y1FVY8WZHE763HCNS8SZ", func(w http.ResponseWriter) {
		fmt.Fprint(w, ":heartbeat\n\n")
		fmt.Fprint(w, `data: {"at":"2021-05-07T10:28:23.163857Z","entry_type":"JNLC","event_id":"01F535Y1FVY8WZHE763HCNS8T0",`+
			`"journal_id":"2f144d2a-91e6-46ff-8e37-959a701cc58d","status_from":"queued","status_to":"executed","idempotency_key":"72bdf18f-0000-4000-8000-000000000000","idempotency_key_type":"batch"}`+"\r\n\r\n")
		// One event split over two data lines is joined with a newline, which JSON accepts.
		fmt.Fprint(w, "data: {\"at\":\"2021-05-07T10:28:24Z\",\"entry_type\":\"JNLC\",\"event_id\":\"01F535Y1FVY8WZHE763HCNS8T1\",\ndata: \"journal_id\":\"2f144d2a-91e6-46ff-8e37-959a701cc58d\",\"status_from\":\"executed\",\"status_to\":\"some_new_status\"}\n\n")
	})
	var got []alpaca.JournalEvent
	err := c.StreamJournalEvents(context.Background(), alpaca.StreamOptions{SinceID: "01F535Y1FVY8WZHE763HCNS8SZ"},
		func(e alpaca.JournalEvent) error { got = append(got, e); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].StatusTo != "executed" || got[0].IdempotencyKeyType != "batch" ||
		got[1].StatusTo != "some_new_status" || got[1].EventID != "01F535Y1FVY8WZHE763HCNS8T1" ||
		!got[0].At.Equal(time.Date(2021, 5, 7, 10, 28, 23, 163857000, time.UTC)) {
		t.Errorf("events %+v", got)
	}
	if c.Calls() != 1 {
		t.Errorf("calls %d", c.Calls())
	}
}

func TestStreamReportsDroppedMessages(t *testing.T) {
	t.Parallel()
	c := streamServer(t, "since=2026-03-02T14%3A00%3A00Z", func(w http.ResponseWriter) {
		fmt.Fprint(w, `data: {"at":"2026-03-02T14:00:01Z","entry_type":"JNLC","event_id":"01F535Y1FVY8WZHE763HCNS8T0","journal_id":"2f144d2a-91e6-46ff-8e37-959a701cc58d","status_from":"","status_to":"queued"}`+"\n\n")
		fmt.Fprint(w, ": you are reading too slowly, dropped 7 messages\n\n")
		fmt.Fprint(w, `data: {"never":"read"}`+"\n\n")
	})
	n := 0
	err := c.StreamJournalEvents(context.Background(), alpaca.StreamOptions{Since: time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)},
		func(alpaca.JournalEvent) error { n++; return nil })
	var dropped *alpaca.DroppedError
	if !errors.As(err, &dropped) || dropped.N != 7 || n != 1 {
		t.Errorf("err %v, events %d", err, n)
	}
}

func TestStreamIdleTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	c := streamServer(t, "", func(w http.ResponseWriter) {
		fmt.Fprint(w, ":heartbeat\n\n")
		w.(http.Flusher).Flush()
		<-release // then silence, not even a heartbeat
	})
	t.Cleanup(func() { close(release) }) // runs before the server's Close, which waits for this handler
	err := c.StreamJournalEvents(context.Background(), alpaca.StreamOptions{IdleTimeout: 100 * time.Millisecond},
		func(alpaca.JournalEvent) error { return nil })
	if !errors.Is(err, alpaca.ErrStreamIdle) {
		t.Errorf("err %v, want ErrStreamIdle", err)
	}
}

func TestStreamNon200IsAPIError(t *testing.T) {
	t.Parallel()
	c := streamServer(t, "never", func(http.ResponseWriter) {})
	err := c.StreamJournalEvents(context.Background(), alpaca.StreamOptions{}, func(alpaca.JournalEvent) error { return nil })
	var apiErr *alpaca.APIError
	if !errors.As(err, &apiErr) || apiErr.HTTPStatus != 400 {
		t.Errorf("err %v", err)
	}
}

// A stream line, or an event's data over several lines, longer than MaxStreamLineBytes ends the
// stream with ErrAnswerTooLarge; a line of exactly the limit is read.
func TestStreamCapsLines(t *testing.T) {
	t.Parallel()
	event := func(size int) string {
		e := `data: {"at":"2026-03-02T14:00:01Z","entry_type":"JNLC","event_id":"01F535Y1FVY8WZHE763HCNS8T0",` +
			`"journal_id":"2f144d2a-91e6-46ff-8e37-959a701cc58d","status_from":"","status_to":"queued","description":""}`
		return e[:len(e)-2] + strings.Repeat("x", size-len(e)) + `"}`
	}
	for name, tc := range map[string]struct {
		body    string
		events  int
		tooLong bool
	}{
		"a line of the limit":      {event(alpaca.MaxStreamLineBytes) + "\r\n\r\n", 1, false},
		"a line over the limit":    {event(alpaca.MaxStreamLineBytes+1) + "\n\n", 0, true},
		"a comment over the limit": {":" + strings.Repeat(" ", alpaca.MaxStreamLineBytes) + "\n\n", 0, true},
		"an endless line":          {"data: " + strings.Repeat("x", 4*alpaca.MaxStreamLineBytes), 0, true},
		"an event over many lines": {strings.Repeat("data: "+strings.Repeat(" ", 1000)+"\n", alpaca.MaxStreamLineBytes/1000+1) + "\n", 0, true},
	} {
		c := streamServer(t, "", func(w http.ResponseWriter) { fmt.Fprint(w, tc.body) })
		n := 0
		err := c.StreamJournalEvents(context.Background(), alpaca.StreamOptions{}, func(alpaca.JournalEvent) error { n++; return nil })
		if tc.tooLong != errors.Is(err, alpaca.ErrAnswerTooLarge) || n != tc.events || (!tc.tooLong && err != nil) {
			t.Errorf("%s: err %v after %d events", name, err, n)
		}
	}
}

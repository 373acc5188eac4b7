package alpaca

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// JournalEvent is one journal status change from an event stream. EventID is the ULID cursor of
// the v2 stream (event_ulid on v1). StatusFrom is "" on a journal's first event. Statuses are kept
// raw: a status Alpaca adds later arrives as it is.
type JournalEvent struct {
	EventID            string    `json:"event_id"`
	JournalID          string    `json:"journal_id"`
	EntryType          string    `json:"entry_type"`
	StatusFrom         string    `json:"status_from"`
	StatusTo           string    `json:"status_to"`
	Description        string    `json:"description,omitempty"`
	IdempotencyKey     string    `json:"idempotency_key,omitempty"`
	IdempotencyKeyType string    `json:"idempotency_key_type,omitempty"`
	BatchErrorMessage  string    `json:"batch_error_message,omitempty"`
	At                 time.Time `json:"at"`
	// LegacyID is the v1 stream's integer event_id (deprecated by Alpaca); 0 on v2.
	LegacyID int64 `json:"-"`
}

// StreamOptions pick the range and the stream of StreamJournalEvents.
type StreamOptions struct {
	// SinceID is the ULID of the last event already applied: the stream starts after it. It wins
	// over Since. With neither, Alpaca sends only events from now on (no history).
	SinceID string
	Since   time.Time
	// UntilID or Until (inclusive) end the stream; Alpaca then closes it with 200.
	UntilID string
	Until   time.Time
	// JournalID filters one journal (the id parameter).
	JournalID string
	// IdleTimeout ends the stream with ErrStreamIdle when not a byte, not even a heartbeat, came
	// for this long: a silently dead connection otherwise hangs forever. Default 60s.
	IdleTimeout time.Duration
	// V1 reads the legacy /v1 stream (since_ulid/until_ulid) instead of /v2.
	V1 bool
}

// ErrStreamIdle means the stream was closed because nothing arrived for StreamOptions.IdleTimeout.
var ErrStreamIdle = errors.New("alpaca: event stream idle")

// ErrStreamServer means Alpaca reported an internal error on the stream (": internal server error").
var ErrStreamServer = errors.New("alpaca: event stream reported an internal server error")

// DroppedError means Alpaca dropped events on this connection because the client read too slowly
// (": you are reading too slowly, dropped N messages"). Events after the last one handed to the
// callback may be missing: reconnect from the last applied cursor and heal.
type DroppedError struct{ N int }

func (e *DroppedError) Error() string {
	return fmt.Sprintf("alpaca: event stream dropped %d messages (client read too slowly)", e.N)
}

// MaxStreamLineBytes bounds one line of the event stream, and the data of one event when it spans
// several lines. The largest event Alpaca documents, with a 1,024-byte description, takes about
// 1.5 KB (7 KB were every description character escaped); a longer line ends the stream with an
// error wrapping ErrAnswerTooLarge instead of growing without end.
const MaxStreamLineBytes = 64 << 10

var droppedPattern = regexp.MustCompile(`reading too slowly.*dropped (\d+)`)

// StreamJournalEvents opens GET /v2/events/journals/status (or the v1 stream) and calls fn for
// every event, in the order the stream sends them, until ctx ends, fn fails, the server ends the
// stream or the connection fails. It returns nil only when the server closed the stream normally
// (an until bound was reached, or the server hung up); any other end is an error:
// *DroppedError, ErrStreamIdle, ErrStreamServer, *APIError (non-200), a transport error, or
// fn's error unchanged. It never reconnects: resuming from the last applied cursor is the
// caller's job, since only the caller knows what it has applied.
func (c *Client) StreamJournalEvents(ctx context.Context, o StreamOptions, fn func(JournalEvent) error) error {
	path, q := "/v2/events/journals/status", url.Values{}
	sinceKey, untilKey := "since_id", "until_id"
	if o.V1 {
		path, sinceKey, untilKey = "/v1/events/journals/status", "since_ulid", "until_ulid"
	}
	switch {
	case o.SinceID != "":
		q.Set(sinceKey, o.SinceID)
	case !o.Since.IsZero():
		q.Set("since", o.Since.UTC().Format(time.RFC3339Nano))
	}
	switch {
	case o.UntilID != "":
		q.Set(untilKey, o.UntilID)
	case !o.Until.IsZero():
		q.Set("until", o.Until.UTC().Format(time.RFC3339Nano))
	}
	if o.JournalID != "" {
		q.Set("id", o.JournalID)
	}
	return c.openStream(ctx, path, q, o.IdleTimeout, func(body io.Reader) error { return readEvents(body, o.V1, fn) })
}

// openStream opens the event stream at path with query q and hands its body to read until the
// stream ends. idle (default 60s) is how long not a byte may arrive before ErrStreamIdle; a
// non-200 answer is an *APIError, a redirect ErrRedirect. There is no overall timeout: a stream
// is open for hours.
func (c *Client) openStream(ctx context.Context, path string, q url.Values, idle time.Duration, read func(io.Reader) error) error {
	if idle <= 0 {
		idle = 60 * time.Second
	}
	if err := c.waitTurn(ctx, path); err != nil {
		return err
	}

	// The idle timer cancels the request instead of an overall timeout.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := c.newRequest(ctx, http.MethodGet, path, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	timer := time.AfterFunc(idle, func() { cancel(ErrStreamIdle) })
	defer timer.Stop()

	c.calls.Add(1)
	resp, err := c.http.Do(req)
	if err != nil {
		c.pace.lost()
		if errors.Is(context.Cause(ctx), ErrStreamIdle) {
			return ErrStreamIdle
		}
		return fmt.Errorf("alpaca: GET %s: %w", path, unwrapURL(err))
	}
	defer resp.Body.Close()
	c.pace.answered(resp.Header, c.now())
	if err := redirectError(http.MethodGet, path, resp); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBytes))
		return decodeAPIError(resp.StatusCode, data)
	}

	err = read(&idleReader{r: resp.Body, timer: timer, idle: idle})
	if cause := context.Cause(ctx); errors.Is(cause, ErrStreamIdle) {
		return ErrStreamIdle
	}
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// idleReader pushes the idle deadline back on every byte read.
type idleReader struct {
	r     io.Reader
	timer *time.Timer
	idle  time.Duration
	mu    sync.Mutex
}

func (r *idleReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.mu.Lock()
		r.timer.Reset(r.idle)
		r.mu.Unlock()
	}
	return n, err
}

// eventV1 is the legacy stream's JournalStatusEvent: event_id is an integer there.
type eventV1 struct {
	At         time.Time `json:"at"`
	EntryType  string    `json:"entry_type"`
	EventID    int64     `json:"event_id"`
	EventULID  string    `json:"event_ulid"`
	JournalID  string    `json:"journal_id"`
	StatusFrom string    `json:"status_from"`
	StatusTo   string    `json:"status_to"`
}

// readEvents decodes the journal events of a stream, v1's shape or v2's.
func readEvents(r io.Reader, v1 bool, fn func(JournalEvent) error) error {
	return readSSE(r, func(data []byte) error {
		var e JournalEvent
		if v1 {
			var o eventV1
			if err := json.Unmarshal(data, &o); err != nil {
				return fmt.Errorf("alpaca: undecodable stream event: %w", err)
			}
			e = JournalEvent{EventID: o.EventULID, JournalID: o.JournalID, EntryType: o.EntryType,
				StatusFrom: o.StatusFrom, StatusTo: o.StatusTo, At: o.At, LegacyID: o.EventID}
		} else if !quickEvent(data, &e) {
			var slow JournalEvent // apart from e, which then stays off the heap
			if err := json.Unmarshal(data, &slow); err != nil {
				return fmt.Errorf("alpaca: undecodable stream event: %w", err)
			}
			e = slow
		}
		if e.EventID == "" || e.JournalID == "" {
			return fmt.Errorf("alpaca: stream event without event or journal id: %.200s", data)
		}
		return fn(e)
	})
}

// readSSE parses text/event-stream and hands fn the data of each event: data lines accumulate
// (joined by "\n") until a blank line dispatches them; comment lines are heartbeats unless they
// report lost data or a server error; other fields (event, id, retry) carry nothing Alpaca uses.
func readSSE(r io.Reader, fn func(data []byte) error) error {
	sc := bufio.NewScanner(r)
	// The +2 leaves room for the line's own "\r\n", which the limit does not count. Starting at
	// 64 KB, a read takes a hundred events at once instead of ten.
	sc.Buffer(make([]byte, 0, 64<<10), MaxStreamLineBytes+2)
	var data []byte
	dispatch := func() error {
		if len(data) == 0 {
			return nil
		}
		defer func() { data = data[:0] }()
		return fn(data)
	}
	tooLong := fmt.Errorf("%w: an event stream line or event over %d bytes", ErrAnswerTooLarge, MaxStreamLineBytes)
	for sc.Scan() {
		line := sc.Bytes() // without its "\n" or "\r\n"
		if len(line) > MaxStreamLineBytes {
			return tooLong
		}
		switch {
		case len(line) == 0:
			if err := dispatch(); err != nil {
				return err
			}
		case line[0] == ':':
			text := strings.TrimSpace(string(line[1:]))
			if m := droppedPattern.FindStringSubmatch(text); m != nil {
				n, _ := strconv.Atoi(m[1])
				return &DroppedError{N: n}
			}
			if strings.Contains(text, "internal server error") {
				return ErrStreamServer
			}
		case bytes.HasPrefix(line, []byte("data:")):
			v := bytes.TrimPrefix(line[5:], []byte(" "))
			if len(data) > 0 {
				data = append(data, '\n')
			}
			if len(data)+len(v) > MaxStreamLineBytes {
				return tooLong
			}
			data = append(data, v...)
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return tooLong
		}
		return err
	}
	// An event the server finished without its blank line is still whole JSON or garbage;
	// dispatch tells which.
	return dispatch()
}

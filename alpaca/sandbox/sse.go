package sandbox

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// streamQuery is a parsed event-stream request. The start is an index into Server.events; the
// end conditions are optional.
type streamQuery struct {
	live      bool // no since cursor: only events from now on
	sinceULID string
	sinceSeq  int64
	since     time.Time
	untilULID string
	untilSeq  int64
	until     time.Time // inclusive
	hasUntil  bool
	journalID string
}

// parseStreamV2 reads the query of GET /v2/events/journals/status.
func parseStreamV2(q url.Values) (streamQuery, error) {
	sq := streamQuery{journalID: q.Get("id")}
	sinceID, untilID, since, until := q.Get("since_id"), q.Get("until_id"), q.Get("since"), q.Get("until")
	switch {
	case sinceID != "" && since != "":
		return sq, fmt.Errorf("since and since_id cannot be used together")
	case until != "" && untilID != "":
		return sq, fmt.Errorf("until and until_id cannot be used together")
	case untilID != "" && sinceID == "":
		return sq, fmt.Errorf("until_id needs since_id")
	case until != "" && since == "":
		return sq, fmt.Errorf("until needs since")
	}
	var err error
	if sq.sinceULID, err = parseULIDParam("since_id", sinceID); err != nil {
		return sq, err
	}
	if sq.untilULID, err = parseULIDParam("until_id", untilID); err != nil {
		return sq, err
	}
	if err := sq.parseTimes(since, until); err != nil {
		return sq, err
	}
	sq.live = sinceID == "" && since == ""
	return sq, nil
}

// parseStreamV1 reads the query of the legacy GET /v1/events/journals/status: integer cursors
// (since_id), ULID cursors (since_ulid) or dates.
func parseStreamV1(q url.Values) (streamQuery, error) {
	sq := streamQuery{journalID: q.Get("id")}
	sinceID, untilID := q.Get("since_id"), q.Get("until_id")
	sinceULID, untilULID := q.Get("since_ulid"), q.Get("until_ulid")
	since, until := q.Get("since"), q.Get("until")
	n := 0
	for _, v := range []string{sinceID, sinceULID, since} {
		if v != "" {
			n++
		}
	}
	switch {
	case n > 1:
		return sq, fmt.Errorf("since, since_id and since_ulid are mutually exclusive")
	case untilID != "" && sinceID == "":
		return sq, fmt.Errorf("until_id needs since_id")
	case untilULID != "" && sinceULID == "":
		return sq, fmt.Errorf("until_ulid needs since_ulid")
	case until != "" && since == "":
		return sq, fmt.Errorf("until needs since")
	}
	var err error
	for _, p := range []struct {
		name, text string
		dst        *int64
	}{{"since_id", sinceID, &sq.sinceSeq}, {"until_id", untilID, &sq.untilSeq}} {
		if p.text == "" {
			continue
		}
		if *p.dst, err = strconv.ParseInt(p.text, 10, 64); err != nil || *p.dst < 0 {
			return sq, fmt.Errorf("%s must be a non-negative integer, got %q", p.name, p.text)
		}
	}
	if sq.sinceULID, err = parseULIDParam("since_ulid", sinceULID); err != nil {
		return sq, err
	}
	if sq.untilULID, err = parseULIDParam("until_ulid", untilULID); err != nil {
		return sq, err
	}
	if err := sq.parseTimes(since, until); err != nil {
		return sq, err
	}
	sq.live = n == 0
	return sq, nil
}

func parseULIDParam(name, v string) (string, error) {
	if v == "" {
		return "", nil
	}
	v = strings.ToUpper(v)
	if len(v) != 26 || strings.Trim(v, crockford) != "" || v[0] > '7' {
		return "", fmt.Errorf("%s must be a ULID, got %q", name, v)
	}
	return v, nil
}

// parseTimes accepts RFC 3339 or a date; an until date means the end of that day (UTC).
func (sq *streamQuery) parseTimes(since, until string) error {
	parse := func(name, v string, endOfDay bool) (time.Time, error) {
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			return t, nil
		}
		t, err := time.Parse(time.DateOnly, v)
		if err != nil {
			return t, fmt.Errorf("%s must be RFC 3339 or YYYY-MM-DD, got %q", name, v)
		}
		if endOfDay {
			t = t.Add(24*time.Hour - time.Nanosecond)
		}
		return t, nil
	}
	var err error
	if since != "" {
		if sq.since, err = parse("since", since, false); err != nil {
			return err
		}
	}
	if until != "" {
		if sq.until, err = parse("until", until, true); err != nil {
			return err
		}
		sq.hasUntil = true
	}
	return nil
}

// start returns the index of the first event the stream sends. Callers hold s.mu.
func (s *Server) start(sq streamQuery) int {
	switch {
	case sq.live:
		return s.events.len()
	case sq.sinceULID != "":
		// ULIDs increase with the index, so the cursor is found by bisection.
		lo, hi := 0, s.events.len()
		for lo < hi {
			mid := (lo + hi) / 2
			if encodeULID(s.events.at(mid).ulid) <= sq.sinceULID {
				lo = mid + 1
			} else {
				hi = mid
			}
		}
		return lo
	case !sq.since.IsZero():
		since := sq.since.UnixNano()
		for i := range s.events.len() {
			if s.events.at(i).at >= since {
				return i
			}
		}
		return s.events.len()
	default:
		return int(min(sq.sinceSeq, int64(s.events.len())))
	}
}

// past reports whether e lies beyond the stream's end.
func (sq streamQuery) past(e Event) bool {
	switch {
	case sq.untilULID != "":
		return e.ID > sq.untilULID
	case sq.untilSeq > 0:
		return e.Seq > sq.untilSeq
	case sq.hasUntil:
		return e.At.After(sq.until)
	}
	return false
}

// finished reports whether no event still to come can fall before the stream's end, given the
// last recorded event and the simulated now. Callers hold s.mu.
func (sq streamQuery) finished(last *Event, now time.Time) bool {
	switch {
	case sq.untilULID != "":
		return last != nil && last.ID >= sq.untilULID
	case sq.untilSeq > 0:
		return last != nil && last.Seq >= sq.untilSeq
	case sq.hasUntil:
		return now.After(sq.until)
	}
	return false
}

// sendable counts the events of pending, up to limit, that this stream would send: before its
// end and for its journal filter.
func (sq streamQuery) sendable(pending []Event, limit int) int {
	n := 0
	for _, e := range pending {
		if n == limit || sq.past(e) {
			break
		}
		if sq.journalID == "" || e.JournalID == sq.journalID {
			n++
		}
	}
	return n
}

func (s *Server) handleEventsV2(w http.ResponseWriter, r *http.Request) {
	sq, err := parseStreamV2(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, codeMalformed, err.Error())
		return
	}
	s.stream(w, r, sq, appendEventV2)
}

func (s *Server) handleEventsV1(w http.ResponseWriter, r *http.Request) {
	sq, err := parseStreamV1(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, codeMalformed, err.Error())
		return
	}
	s.stream(w, r, sq, appendEventV1)
}

// streamSlice is how many recorded events a stream takes under the lock at a time; sseWrite is
// how many bytes of whole messages it gathers before writing them.
const (
	streamSlice = 1024
	sseWrite    = 64 << 10
)

// stream serves an event stream: history from the cursor, then live events as they are recorded,
// with heartbeat comments, until the client leaves or the until bound is reached.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, sq streamQuery, shape func(b []byte, e *Event) []byte) {
	rc := http.NewResponseController(w)
	s.mu.Lock()
	if s.streams >= s.opts.MaxStreams {
		s.mu.Unlock()
		writeError(w, http.StatusTooManyRequests, codeTooManyRequests, "Too many requests: too many event stream connections")
		return
	}
	s.streams++
	s.tick()
	next := s.start(sq)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.streams--
		s.mu.Unlock()
	}()

	f := s.Faults()
	s.mu.Lock()
	rnd := rand.New(rand.NewPCG(f.Seed, uint64(s.events.len())))
	s.mu.Unlock()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	// A first comment tells the client the stream is open before any event exists.
	if _, err := fmt.Fprint(w, ":heartbeat\n\n"); err != nil {
		return
	}
	_ = rc.Flush()

	heartbeat := time.NewTicker(s.opts.HeartbeatEvery)
	defer heartbeat.Stop()
	poll := time.NewTicker(s.opts.PollEvery)
	defer poll.Stop()
	var (
		pending []Event // the slice of events at hand, reused
		data    []byte  // the messages not written yet, "data: ...\n\n" each, reused
	)
	// Messages are written a few at a time, whole: a write per event cost the simulator a
	// system call per 4 KB of a night's stream (three million events at 1M journals).
	flush := func() bool {
		if len(data) == 0 {
			return true
		}
		_, err := w.Write(data)
		data = data[:0]
		return err == nil
	}
	for {
		// Events are taken a slice at a time, so a stream that starts far back (a million-journal
		// night has three million events) never holds them all at once.
		s.mu.Lock()
		now := s.tick()
		end := min(s.events.len(), next+streamSlice)
		pending = pending[:0]
		for i := next; i < end; i++ {
			pending = append(pending, s.event(i))
		}
		next = end
		caughtUp := next == s.events.len()
		var last *Event
		if caughtUp && len(pending) > 0 {
			last = &pending[len(pending)-1]
		} else if caughtUp && next > 0 {
			e := s.event(next - 1)
			last = &e
		}
		done := caughtUp && sq.finished(last, now)
		changed := s.news()
		s.mu.Unlock()

		for i := 0; i < len(pending); i++ {
			// Injected stream faults: a later event first, an event twice, or the connection gone.
			if i+1 < len(pending) && rnd.Float64() < f.StreamReorderRate {
				pending[i], pending[i+1] = pending[i+1], pending[i]
			}
			e := &pending[i]
			if sq.past(*e) {
				if flush() {
					_ = rc.Flush()
				}
				return
			}
			if sq.journalID != "" && e.JournalID != sq.journalID {
				continue
			}
			if f.StreamSlowReaderRate > 0 && rnd.Float64() < f.StreamSlowReaderRate {
				n := min(1+rnd.IntN(5), sq.sendable(pending[i:], 5))
				if !flush() {
					return
				}
				_, _ = fmt.Fprintf(w, ": you are reading too slowly, dropped %d messages\n\n", n)
				_ = rc.Flush()
				// Alpaca closes the connection on a reader that fell behind; the skipped events
				// stay recorded for the client's resume.
				if conn, ok := hijack(w); ok {
					_ = conn.Close()
				}
				return
			}
			if f.StreamBareRate > 0 && rnd.Float64() < f.StreamBareRate {
				e.bare = true
			}
			copies := 1
			if rnd.Float64() < f.StreamDuplicateRate {
				copies = 2
			}
			start := len(data)
			data = append(shape(append(data, "data: "...), e), "\n\n"...)
			if copies == 2 {
				data = append(data, data[start:]...)
			}
			if rnd.Float64() < f.StreamDropRate {
				if flush() {
					_ = rc.Flush()
				}
				return
			}
			if len(data) >= sseWrite && !flush() {
				return
			}
		}
		if !flush() {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
		if done {
			return
		}
		if !caughtUp {
			continue
		}
		if !waitForNews(r, w, changed, poll, heartbeat) {
			return
		}
	}
}

// waitForNews holds a stream that has caught up until something may have changed (news, the poll
// tick) or a heartbeat is due; false once the client has gone.
func waitForNews(r *http.Request, w io.Writer, changed <-chan struct{}, poll, heartbeat *time.Ticker) bool {
	select {
	case <-r.Context().Done():
		return false
	case <-changed:
	case <-poll.C:
	case <-heartbeat.C:
		if _, err := fmt.Fprint(w, ":heartbeat\n\n"); err != nil {
			return false
		}
	}
	return true
}

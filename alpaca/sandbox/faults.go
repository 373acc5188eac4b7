package sandbox

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"time"
)

// Faults are the failures injected into /v1 and /v2 calls (never /sandbox/v1). Each call draws
// from a generator seeded with Seed, so the same sequence of calls meets the same faults.
// Rates are probabilities in [0, 1], checked in this order: reset, error, lost response.
type Faults struct {
	Seed    uint64
	Latency time.Duration // added to every call
	Jitter  time.Duration // plus a uniform random [0, Jitter)

	// ResetRate: the connection is reset (TCP RST) before the request is processed.
	ResetRate float64
	// ErrorRate: a 500 answer before the request is processed; nothing happens.
	ErrorRate float64
	// LoseResponseRate: the request is processed in full (journals created, the answer stored
	// under its Idempotency-Key), then the answer is lost: the connection is closed without a
	// response, or with LostAs502 a 502 is sent instead. Event streams are exempt.
	LoseResponseRate float64
	LostAs502        bool

	// Event-stream faults, drawn per event sent: the stream ends right after the event
	// (StreamDropRate), the event is sent twice (StreamDuplicateRate), or it swaps places with the
	// next one (StreamReorderRate).
	StreamDropRate      float64
	StreamDuplicateRate float64
	StreamReorderRate   float64

	// StreamSlowReaderRate: what Alpaca does to a client that falls behind. Per event about to be
	// sent, the stream skips it and the next ones, N in all (1..5, capped at the events at hand),
	// sends the comment ": you are reading too slowly, dropped N messages" instead and closes the
	// connection. The events stay in the log, so a client resuming from its cursor gets them.
	// Drawn only when non-zero, so turning it on leaves the other stream faults' sequence alone.
	StreamSlowReaderRate float64

	// StreamBareRate: per event sent, a v2 stream's event goes without the fields Alpaca's schema
	// marks optional (description, idempotency_key, idempotency_key_type, batch_error_message); a
	// v1 stream's is sent as ever. Drawn only when non-zero, as StreamSlowReaderRate.
	StreamBareRate float64
}

// faultsJSON is the admin API's form: durations as Go duration strings ("250ms").
type faultsJSON struct {
	Seed             uint64  `json:"seed"`
	Latency          string  `json:"latency"`
	Jitter           string  `json:"jitter"`
	ResetRate        float64 `json:"reset_rate"`
	ErrorRate        float64 `json:"error_rate"`
	LoseResponseRate float64 `json:"lose_response_rate"`
	LostAs502        bool    `json:"lost_as_502"`

	StreamDropRate      float64 `json:"stream_drop_rate"`
	StreamDuplicateRate float64 `json:"stream_duplicate_rate"`
	StreamReorderRate   float64 `json:"stream_reorder_rate"`

	StreamSlowReaderRate float64 `json:"stream_slow_reader_rate"`
	StreamBareRate       float64 `json:"stream_bare_rate"`
}

// MarshalJSON writes durations as Go duration strings.
func (f Faults) MarshalJSON() ([]byte, error) {
	return json.Marshal(faultsJSON{
		Seed: f.Seed, Latency: f.Latency.String(), Jitter: f.Jitter.String(), ResetRate: f.ResetRate,
		ErrorRate: f.ErrorRate, LoseResponseRate: f.LoseResponseRate, LostAs502: f.LostAs502,
		StreamDropRate: f.StreamDropRate, StreamDuplicateRate: f.StreamDuplicateRate, StreamReorderRate: f.StreamReorderRate,
		StreamSlowReaderRate: f.StreamSlowReaderRate, StreamBareRate: f.StreamBareRate,
	})
}

// UnmarshalJSON reads the form MarshalJSON writes; absent durations are zero.
func (f *Faults) UnmarshalJSON(b []byte) error {
	var in faultsJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	out := Faults{Seed: in.Seed, ResetRate: in.ResetRate, ErrorRate: in.ErrorRate,
		LoseResponseRate: in.LoseResponseRate, LostAs502: in.LostAs502, StreamDropRate: in.StreamDropRate,
		StreamDuplicateRate: in.StreamDuplicateRate, StreamReorderRate: in.StreamReorderRate,
		StreamSlowReaderRate: in.StreamSlowReaderRate, StreamBareRate: in.StreamBareRate}
	for _, d := range []struct {
		name, text string
		dst        *time.Duration
	}{{"latency", in.Latency, &out.Latency}, {"jitter", in.Jitter, &out.Jitter}} {
		if d.text == "" {
			continue
		}
		v, err := time.ParseDuration(d.text)
		if err != nil || v < 0 {
			return fmt.Errorf("%s: want a non-negative duration like 250ms, got %q", d.name, d.text)
		}
		*d.dst = v
	}
	for name, p := range map[string]float64{
		"reset_rate": out.ResetRate, "error_rate": out.ErrorRate, "lose_response_rate": out.LoseResponseRate,
		"stream_drop_rate": out.StreamDropRate, "stream_duplicate_rate": out.StreamDuplicateRate,
		"stream_reorder_rate": out.StreamReorderRate, "stream_slow_reader_rate": out.StreamSlowReaderRate,
		"stream_bare_rate": out.StreamBareRate,
	} {
		if p < 0 || p > 1 {
			return fmt.Errorf("%s must be within [0, 1], got %v", name, p)
		}
	}
	*f = out
	return nil
}

// SetFaults replaces the fault settings and restarts their random sequence from f.Seed.
func (s *Server) SetFaults(f Faults) { s.setFaults(f) }

func (s *Server) setFaults(f Faults) {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.faults = f
	s.faultRand = rand.New(rand.NewPCG(f.Seed, 0x9e3779b97f4a7c15))
}

// Faults returns the current fault settings.
func (s *Server) Faults() Faults {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	return s.faults
}

func (s *Server) handleSetFaults(w http.ResponseWriter, r *http.Request) {
	var f Faults
	if !decodeAdmin(w, r, &f) {
		return
	}
	s.SetFaults(f)
	writeJSON(w, http.StatusOK, s.Faults())
}

// faultDraw is what one call meets.
type faultDraw struct {
	delay             time.Duration
	reset, fail, lose bool
	lostAs502         bool
}

// draw takes the same four numbers for every call, so one call's faults never shift the next's.
func (s *Server) draw() faultDraw {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	f, rnd := s.faults, s.faultRand
	jitter, reset, fail, lose := rnd.Float64(), rnd.Float64(), rnd.Float64(), rnd.Float64()
	d := faultDraw{delay: f.Latency, lostAs502: f.LostAs502}
	if f.Jitter > 0 {
		d.delay += time.Duration(jitter * float64(f.Jitter))
	}
	d.reset = reset < f.ResetRate
	d.fail = !d.reset && fail < f.ErrorRate
	d.lose = !d.reset && !d.fail && lose < f.LoseResponseRate
	return d
}

// withFaults serves r through h with this call's faults applied.
func (s *Server) withFaults(w http.ResponseWriter, r *http.Request, h http.Handler) {
	d := s.draw()
	if d.delay > 0 {
		t := time.NewTimer(d.delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	switch {
	case d.reset:
		resetConnection(w)
	case d.fail:
		writeError(w, http.StatusInternalServerError, codeInternal, "internal server error (injected fault)")
	case d.lose && !strings.Contains(r.URL.Path, "/events/"):
		h.ServeHTTP(discardWriter{header: http.Header{}}, r)
		if d.lostAs502 {
			writeError(w, http.StatusBadGateway, 50210000, "bad gateway (injected fault: the request was processed)")
			return
		}
		closeConnection(w)
	default:
		h.ServeHTTP(w, r)
	}
}

// resetConnection drops the connection with a TCP RST, as a crashed peer or middlebox would.
func resetConnection(w http.ResponseWriter) {
	conn, ok := hijack(w)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // close sends RST instead of FIN
	}
	_ = conn.Close()
}

// closeConnection ends the connection without a response.
func closeConnection(w http.ResponseWriter) {
	conn, ok := hijack(w)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

func hijack(w http.ResponseWriter) (net.Conn, bool) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, false
	}
	return conn, true
}

// discardWriter swallows the answer of a call whose response is to be lost.
type discardWriter struct{ header http.Header }

func (d discardWriter) Header() http.Header         { return d.header }
func (d discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d discardWriter) WriteHeader(int)             {}

package sandbox

import (
	"crypto/sha256"
	"net/http"
	"sync"
	"time"
)

// maxIdempotencyKey is Alpaca's documented maxLength of the Idempotency-Key header.
const maxIdempotencyKey = 128

// idemEntry is the remembered answer to the first request that used a key: the journals it
// created, shaped again as they were created when the key is replayed, rather than the answer's
// bytes (a million-journal night's answers would take half a gigabyte).
type idemEntry struct {
	key         string
	fingerprint [32]byte // of method, path and body: the same key on another endpoint is a different request
	made        created
	expires     time.Time
}

// created is what a request created and how its answer shows it.
type created struct {
	journals []*journal
	batch    bool // a batch answer: an array with error_message, in reverse request order
}

// answers keeps the buffers answers are written into: a night writes two thousand batch answers
// of half a megabyte each, and a buffer is free again once its answer is written.
var answers = sync.Pool{New: func() any { return new([]byte) }}

// writeBody answers 200 with the body as it was when the journals were created: the same bytes
// every time.
func (c created) writeBody(w http.ResponseWriter) {
	buf := answers.Get().(*[]byte)
	*buf = c.appendBody((*buf)[:0])
	writeRaw(w, http.StatusOK, *buf)
	answers.Put(buf)
}

func (c created) appendBody(b []byte) []byte {
	if !c.batch {
		return c.journals[0].asCreated().appendJSON(b)
	}
	// Entries are booked in request order, but Alpaca does not promise the answer keeps it: the
	// simulator answers in reverse, so a client that matches by position fails here.
	b = append(b, '[')
	for i := len(c.journals) - 1; i >= 0; i-- {
		if i < len(c.journals)-1 {
			b = append(b, ',')
		}
		o := c.journals[i].asCreated()
		o.withError = true
		b = o.appendJSON(b)
	}
	return append(b, ']')
}

func fingerprint(r *http.Request, body []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte(r.Method + " " + r.URL.Path + "\n"))
	h.Write(body)
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// idempotent runs create under the request's Idempotency-Key: a repeat of the same request gets
// the first answer again without running create; the same key with another body gets 422. Only
// answers that created journals are remembered: a request refused whole changed nothing, so its
// key stays free for the corrected request. Callers hold s.mu.
func (s *Server) idempotent(w http.ResponseWriter, r *http.Request, body []byte, now time.Time,
	create func(key string) (created, *apiError)) {
	key := r.Header.Get("Idempotency-Key")
	if len(key) > maxIdempotencyKey {
		writeError(w, http.StatusBadRequest, codeMalformed, "Idempotency-Key is longer than 128 characters")
		return
	}
	fp := fingerprint(r, body)
	if e, ok := s.idem[key]; key != "" && ok && now.Before(e.expires) {
		if e.fingerprint != fp {
			writeError(w, http.StatusUnprocessableEntity, codeUnprocessable,
				"idempotency key reused with a different request body")
			return
		}
		e.made.writeBody(w)
		return
	}
	made, aerr := create(key)
	if aerr != nil {
		writeRaw(w, aerr.status, aerr.body())
		return
	}
	if key != "" {
		e := &idemEntry{key: key, fingerprint: fp, made: made, expires: now.Add(s.opts.IdempotencyTTL)}
		s.idem[key] = e
		s.idemOrder = append(s.idemOrder, e)
	}
	made.writeBody(w)
}

// pruneIdempotency forgets keys whose window has passed. Entries are appended with a non-decreasing
// simulated time and a fixed TTL, so the expired ones are at the front.
func (s *Server) pruneIdempotency(now time.Time) {
	n := 0
	for n < len(s.idemOrder) && !now.Before(s.idemOrder[n].expires) {
		e := s.idemOrder[n]
		if s.idem[e.key] == e {
			delete(s.idem, e.key)
		}
		s.idemOrder[n] = nil // let the entry be collected; append reallocates the array in time
		n++
	}
	s.idemOrder = s.idemOrder[n:]
}

package sandbox

import (
	"crypto/sha256"
	"net/http"
	"time"
)

// maxIdempotencyKey is Alpaca's documented maxLength of the Idempotency-Key header.
const maxIdempotencyKey = 128

// idemEntry is the remembered answer to the first request that used a key.
type idemEntry struct {
	key         string
	fingerprint [32]byte // of method, path and body: the same key on another endpoint is a different request
	status      int
	body        []byte
	expires     time.Time
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
// the first answer's status and bytes again without running create; the same key with another
// body gets 422. Only answers that created journals (2xx) are remembered: a request refused whole
// changed nothing, so its key stays free for the corrected request. Callers hold s.mu.
func (s *Server) idempotent(w http.ResponseWriter, r *http.Request, body []byte, now time.Time,
	create func(key string) (int, []byte)) {
	key := r.Header.Get("Idempotency-Key")
	if len(key) > maxIdempotencyKey {
		writeError(w, http.StatusBadRequest, codeMalformed, "Idempotency-Key is longer than 128 characters")
		return
	}
	if key == "" {
		status, out := create("")
		writeRaw(w, status, out)
		return
	}
	fp := fingerprint(r, body)
	if e, ok := s.idem[key]; ok && now.Before(e.expires) {
		if e.fingerprint != fp {
			writeError(w, http.StatusUnprocessableEntity, codeUnprocessable,
				"idempotency key reused with a different request body")
			return
		}
		writeRaw(w, e.status, e.body)
		return
	}
	status, out := create(key)
	if status >= 200 && status < 300 {
		e := &idemEntry{key: key, fingerprint: fp, status: status, body: out, expires: now.Add(s.opts.IdempotencyTTL)}
		s.idem[key] = e
		s.idemOrder = append(s.idemOrder, e)
	}
	writeRaw(w, status, out)
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
		s.idemOrder[n] = nil // let the body be collected; append reallocates the array in time
		n++
	}
	s.idemOrder = s.idemOrder[n:]
}

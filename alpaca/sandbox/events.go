package sandbox

import (
	"math/rand/v2"
	"time"
)

// Event is one journal status change, the unit of both event streams.
type Event struct {
	ID                 string    `json:"event_id"` // ULID, strictly increasing
	Seq                int64     `json:"-"`        // 1, 2, 3...: the legacy integer event_id of the v1 stream
	At                 time.Time `json:"at"`
	JournalID          string    `json:"journal_id"`
	EntryType          string    `json:"entry_type"`
	StatusFrom         string    `json:"status_from"` // "" on a journal's first event
	StatusTo           string    `json:"status_to"`
	Description        string    `json:"description"`
	IdempotencyKey     string    `json:"idempotency_key,omitempty"`
	IdempotencyKeyType string    `json:"idempotency_key_type,omitempty"` // "batch" or "single"
	BatchErrorMessage  string    `json:"batch_error_message,omitempty"`
}

// Events returns every status change recorded so far, oldest first.
func (s *Server) Events() []Event {
	s.lockAndTick()
	defer s.mu.Unlock()
	return append([]Event(nil), s.events...)
}

// appendEvent records a status change and wakes the open streams. Callers hold s.mu.
func (s *Server) appendEvent(j *journal, from, to string, at time.Time) {
	e := Event{
		ID: s.ulids.next(at), Seq: int64(len(s.events) + 1), At: at.UTC(), JournalID: j.id,
		EntryType: j.entryType, StatusFrom: from, StatusTo: to, Description: j.description,
		IdempotencyKey: j.idemKey, IdempotencyKeyType: j.idemKeyType,
	}
	if j.idemKeyType == "batch" {
		e.BatchErrorMessage = j.errorMessage
	}
	s.events = append(s.events, e)
	close(s.changed)
	s.changed = make(chan struct{})
}

// ulidSource makes ULIDs (48-bit millisecond time, 80 random bits, Crockford base32) that are
// strictly increasing even when the clock stands still or steps back: within one millisecond the
// random part is incremented, as the ULID spec's monotonic mode does.
type ulidSource struct {
	lastMS  uint64
	hi16    uint16 // top 16 of the 80 random bits
	lo64    uint64 // low 64 of the 80 random bits
	started bool
}

func (u *ulidSource) next(at time.Time) string {
	ms := uint64(max(at.UnixMilli(), 0))
	if u.started && ms <= u.lastMS {
		ms = u.lastMS
		u.lo64++
		if u.lo64 == 0 {
			u.hi16++
		}
	} else {
		u.hi16, u.lo64 = uint16(rand.Uint32()), rand.Uint64()>>1 // room to increment
		u.started = true
	}
	u.lastMS = ms
	return encodeULID(ms, u.hi16, u.lo64)
}

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

func encodeULID(ms uint64, hi16 uint16, lo64 uint64) string {
	var b [16]byte
	b[0], b[1], b[2], b[3], b[4], b[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	b[6], b[7] = byte(hi16>>8), byte(hi16)
	for i := 0; i < 8; i++ {
		b[8+i] = byte(lo64 >> (56 - 8*i))
	}
	// 128 bits as 26 base32 digits, the first holding only 3 bits.
	var out [26]byte
	var acc uint64
	bits := 0
	pos := 25
	for i := 15; i >= 0; i-- {
		acc |= uint64(b[i]) << bits
		bits += 8
		for bits >= 5 {
			out[pos] = crockford[acc&31]
			acc >>= 5
			bits -= 5
			pos--
		}
	}
	out[0] = crockford[acc&31]
	return string(out[:])
}

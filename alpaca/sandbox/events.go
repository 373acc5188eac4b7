package sandbox

import (
	"math/rand/v2"
	"time"

	"github.com/cashpool/cashpool/alpaca"
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
	// bare: the v2 stream sends the event without its optional fields (description and the
	// idempotency ones), as Alpaca's schema allows (Faults.StreamBareRate).
	bare bool
}

// event is the record of one status change: 32 bytes, three or four of them per journal. The
// rest of an Event comes from the journal, whose fields an event shows never change.
type event struct {
	ulid     [16]byte
	at       int64 // unix nanoseconds
	journal  int32 // position in Server.journals
	from, to uint8 // indexes into statusCodes
}

// statusCodes are the statuses an event records, "" for a journal's first event.
var statusCodes = append([]string{""}, alpaca.Statuses...)

func statusCode(s string) uint8 {
	for i, v := range statusCodes {
		if v == s {
			return uint8(i)
		}
	}
	panic("sandbox: status " + s + " is not one the simulator sets")
}

// event returns recorded event i (0-based) as the streams send it. Callers hold s.mu.
func (s *Server) event(i int) Event {
	e := s.events.at(i)
	j := s.journals.at(int(e.journal))
	out := Event{
		ID: encodeULID(e.ulid), Seq: int64(i + 1), At: time.Unix(0, e.at).UTC(), JournalID: idText(j.id),
		EntryType: j.entryType(), StatusFrom: statusCodes[e.from], StatusTo: statusCodes[e.to], Description: j.description,
		IdempotencyKey: j.idemKey, IdempotencyKeyType: j.idemKeyType(),
	}
	if j.idemKeyType() == "batch" {
		out.BatchErrorMessage = j.extra().errorMessage
	}
	return out
}

// Events returns every status change recorded so far, oldest first.
func (s *Server) Events() []Event {
	s.lockAndTick()
	defer s.mu.Unlock()
	out := make([]Event, s.events.len())
	for i := range out {
		out[i] = s.event(i)
	}
	return out
}

// appendEvent records a status change and wakes the open streams. Callers hold s.mu.
func (s *Server) appendEvent(j *journal, from, to string, at time.Time) {
	s.events.add(event{ulid: s.ulids.next(at), at: at.UnixNano(), journal: j.seq, from: statusCode(from), to: statusCode(to)})
	s.notify()
}

// news returns a channel closed at the next change, for a stream about to wait. Callers hold s.mu.
func (s *Server) news() <-chan struct{} {
	s.watched = true
	return s.changed
}

// notify wakes the streams waiting for news. A channel nobody took stays as it is: a night's
// three million events would otherwise make three million channels. Callers hold s.mu.
func (s *Server) notify() {
	if s.watched {
		close(s.changed)
		s.changed, s.watched = make(chan struct{}), false
	}
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

func (u *ulidSource) next(at time.Time) [16]byte {
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
	var b [16]byte
	b[0], b[1], b[2], b[3], b[4], b[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	b[6], b[7] = byte(u.hi16>>8), byte(u.hi16)
	for i := 0; i < 8; i++ {
		b[8+i] = byte(u.lo64 >> (56 - 8*i))
	}
	return b
}

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// encodeULID writes 128 bits as 26 Crockford base32 digits, the first holding only 3 bits.
func encodeULID(b [16]byte) string {
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

package sandbox

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// The answers a night sends by the million (journals in batch answers and lists, stream events)
// are written by hand, field by field, with the bytes encoding/json wrote for them: reflection
// took most of the simulator's CPU. TestWireBytes pins those bytes.

// plainJSON marks the bytes encoding/json copies into a string as they are: printable ASCII but
// the quote, the backslash and the HTML-sensitive <, > and &.
var plainJSON = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendString appends s as a JSON string exactly as encoding/json writes it; text that needs an
// escape is left to encoding/json itself.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !plainJSON[s[i]] {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	return appendPlain(b, s)
}

// appendPlain appends s as a JSON string, for what the simulator writes itself and needs no escape:
// ULIDs, UUIDs, entry types, statuses, key types.
func appendPlain(b []byte, s string) []byte {
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendTime appends t as encoding/json writes a time.Time: RFC 3339 with the nanoseconds it has.
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// journalJSON is a journal in the newest Journal wire shape: every JournalBase key present, null
// where nothing applies (symbol, qty, price for cash; net_amount for securities; the dates until
// execution). Its status and settle day are taken when the answer is made (under the lock: now,
// in a list snapshot or as created); the rest is read from fields that never change.
type journalJSON struct {
	j         *journal
	st        uint8
	settleDay int32
	// withError adds error_message, which batch answers carry for a refused entry only.
	withError bool
}

func (o journalJSON) MarshalJSON() ([]byte, error) { return o.appendJSON(nil), nil }

// appendHead writes the keys a journal and a ledger row both begin with, up to to_account.
func appendHead(b []byte, j *journal) []byte {
	b = append(b, `{"id":"`...)
	b = appendID(b, j.id)
	b = append(b, `","entry_type":"`...)
	b = append(b, j.entryType()...)
	b = append(b, `","from_account":`...)
	b = appendString(b, j.from)
	b = append(b, `,"to_account":`...)
	return appendString(b, j.to)
}

// appendJSON writes the keys in the order of the schema, then the Travel Rule fields that are set.
func (o journalJSON) appendJSON(b []byte) []byte {
	j := o.j
	x := j.extra()
	b = appendHead(b, j)
	if j.jnls {
		// The newest JNLS example: symbol, qty and price set, net_amount null.
		b = append(b, `,"symbol":`...)
		b = appendString(b, x.symbol)
		b = append(b, `,"qty":`...)
		b = appendString(b, x.qty.String())
		b = append(b, `,"price":`...)
		b = appendString(b, x.price.StringFixed(max(2, -x.price.Exponent())))
	} else {
		b = append(b, `,"symbol":null,"qty":null,"price":null`...)
	}
	b = append(b, `,"status":"`...)
	b = append(b, statusCodes[o.st]...)
	b = append(b, '"')
	if o.settleDay == 0 {
		b = append(b, `,"settle_date":null,"system_date":null`...)
	} else {
		b = append(b, `,"settle_date":"`...)
		b = appendDay(b, o.settleDay)
		b = append(b, `","system_date":"`...)
		b = appendDay(b, o.settleDay)
		b = append(b, '"')
	}
	if j.jnls {
		b = append(b, `,"net_amount":null`...)
	} else {
		b = append(b, `,"net_amount":"`...)
		b = j.appendAmount(b)
		b = append(b, '"')
	}
	b = append(b, `,"description":`...)
	b = appendString(b, j.description)
	b = append(b, `,"currency":"`+currency+`","created_at":`...)
	b = appendTime(b, j.createdAt())
	if t := j.tx; t != nil {
		b = appendOptional(b, "transmitter_name", t.Name)
		b = appendOptional(b, "transmitter_account_number", t.AccountNumber)
		b = appendOptional(b, "transmitter_address", t.Address)
		b = appendOptional(b, "transmitter_financial_institution", t.FinancialInstitution)
		b = appendOptional(b, "transmitter_timestamp", t.Timestamp)
	}
	if o.withError {
		b = appendOptional(b, "error_message", x.errorMessage)
	}
	return append(b, '}')
}

// appendOptional appends ,"key":value for an omitempty string field that is set.
func appendOptional(b []byte, key, value string) []byte {
	if value == "" {
		return b
	}
	b = append(b, `,"`...)
	b = append(b, key...)
	b = append(b, `":`...)
	return appendString(b, value)
}

// appendDay appends a settleDay (not 0) as YYYY-MM-DD.
func appendDay(b []byte, d int32) []byte {
	return time.Unix(int64(d-1)*86400, 0).UTC().AppendFormat(b, time.DateOnly)
}

// appendJSON writes r as encoding/json writes its LedgerEntry.
func (r ledgerRow) appendJSON(b []byte) []byte {
	j := r.j
	x := j.extra()
	b = appendHead(b, j)
	b = append(b, `,"amount":"`...)
	if j.jnls {
		b = append(b, '0')
	} else {
		b = j.appendAmountShort(b)
	}
	b = append(b, '"')
	b = appendOptional(b, "symbol", x.symbol)
	if !x.qty.IsZero() {
		b = append(b, `,"qty":`...)
		b = appendString(b, x.qty.String())
	}
	if !x.price.IsZero() {
		b = append(b, `,"price":`...)
		b = appendString(b, x.price.String())
	}
	b = append(b, `,"status":"`...)
	b = append(b, statusCodes[r.st]...)
	b = append(b, `","description":`...)
	b = appendString(b, j.description)
	b = appendOptional(b, "idempotency_key", j.idemKey)
	b = appendOptional(b, "idempotency_key_type", j.idemKeyType())
	b = appendOptional(b, "error_message", x.errorMessage)
	b = append(b, `,"created_at":`...)
	b = appendTime(b, j.createdAt())
	if r.corrects != nil {
		b = append(b, `,"corrects":"`...)
		b = append(appendID(b, r.corrects.id), '"')
	}
	if r.correctedBy != nil {
		b = append(b, `,"corrected_by":"`...)
		b = append(appendID(b, r.correctedBy.id), '"')
	}
	return append(b, '}')
}

// appendEventV2 appends e as the v2 stream's JSON object.
func appendEventV2(b []byte, e *Event) []byte {
	b = append(b, `{"event_id":`...)
	b = appendPlain(b, e.ID)
	b = append(b, `,"at":`...)
	b = appendTime(b, e.At)
	b = append(b, `,"journal_id":`...)
	b = appendPlain(b, e.JournalID)
	b = append(b, `,"entry_type":`...)
	b = appendPlain(b, e.EntryType)
	b = append(b, `,"status_from":`...)
	b = appendPlain(b, e.StatusFrom)
	b = append(b, `,"status_to":`...)
	b = appendPlain(b, e.StatusTo)
	if e.bare {
		return append(b, '}')
	}
	b = append(b, `,"description":`...)
	b = appendString(b, e.Description)
	b = appendOptional(b, "idempotency_key", e.IdempotencyKey)
	if e.IdempotencyKeyType != "" {
		b = append(b, `,"idempotency_key_type":`...)
		b = appendPlain(b, e.IdempotencyKeyType)
	}
	b = appendOptional(b, "batch_error_message", e.BatchErrorMessage)
	return append(b, '}')
}

// appendEventV1 appends e as the legacy stream's JournalStatusEvent.
func appendEventV1(b []byte, e *Event) []byte {
	b = append(b, `{"at":`...)
	b = appendTime(b, e.At)
	b = append(b, `,"entry_type":`...)
	b = appendPlain(b, e.EntryType)
	b = append(b, `,"event_id":`...)
	b = strconv.AppendInt(b, e.Seq, 10)
	b = append(b, `,"event_ulid":`...)
	b = appendPlain(b, e.ID)
	b = append(b, `,"journal_id":`...)
	b = appendPlain(b, e.JournalID)
	b = append(b, `,"status_from":`...)
	b = appendPlain(b, e.StatusFrom)
	b = append(b, `,"status_to":`...)
	b = appendPlain(b, e.StatusTo)
	return append(b, '}')
}

// writeArray answers 200 with a JSON array of n elements, each appended by item and followed by
// a newline (as json.Encoder wrote them), so that a long answer is never held whole.
func writeArray(w http.ResponseWriter, n int, item func(b []byte, i int) []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteByte('[')
	var b []byte
	for i := range n {
		b = b[:0]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(item(b, i), '\n')
		if _, err := bw.Write(b); err != nil {
			return // the client went away
		}
	}
	bw.WriteByte(']')
	_ = bw.Flush()
}

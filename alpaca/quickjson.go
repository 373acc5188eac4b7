package alpaca

import (
	"bytes"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// The night decodes millions of stream events and thousands of batch answers; encoding/json's
// reflection was a third of the run's CPU. quickEvent and quickBatchAnswer decode the strict subset
// those answers use (one flat object, keys spelled exactly, no key twice, scalar values of the
// field's type) and report false for anything else, which their callers then hand to
// encoding/json: a result is always what encoding/json would give, and an error always its own.
// FuzzDecodeEvent and FuzzDecodeBatchAnswer hold the two together.

// lexer reads JSON from b, starting at i.
type lexer struct {
	b []byte
	i int
}

func (l *lexer) ws() {
	for l.i < len(l.b) {
		switch l.b[l.i] {
		case ' ', '\t', '\n', '\r':
			l.i++
		default:
			return
		}
	}
}

// eat skips whitespace and consumes c if it comes next.
func (l *lexer) eat(c byte) bool {
	l.ws()
	if l.i < len(l.b) && l.b[l.i] == c {
		l.i++
		return true
	}
	return false
}

// end reports whether only whitespace is left.
func (l *lexer) end() bool {
	l.ws()
	return l.i == len(l.b)
}

// str reads a string at l.i and returns what stands between its quotes: esc if it holds escapes,
// high if bytes of 0x80 and over. It refuses what encoding/json's scanner refuses (control
// characters, unknown escapes) and an unterminated string.
func (l *lexer) str() (raw []byte, esc, high, ok bool) {
	b := l.b
	if l.i >= len(b) || b[l.i] != '"' {
		return nil, false, false, false
	}
	start := l.i + 1
	for i := start; i < len(b); i++ {
		for i < len(b) && plainByte[b[i]] {
			i++
		}
		if i == len(b) {
			break
		}
		switch c := b[i]; {
		case c == '"':
			l.i = i + 1
			return b[start:i], esc, high, true
		case c < 0x20:
			return nil, false, false, false
		case c == '\\':
			esc = true
			i++
			if i >= len(b) {
				return nil, false, false, false
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(b) || hex4(b[i+1:i+5]) < 0 {
					return nil, false, false, false
				}
				i += 4
			default:
				return nil, false, false, false
			}
		case c >= utf8.RuneSelf:
			high = true
		}
	}
	return nil, false, false, false
}

// plainByte tells the bytes a string holds as they stand: printable ASCII but the quote and the
// backslash.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// hex4 is the value of four hex digits, -1 if they are not.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// text is the string str read, unquoted as encoding/json does: a bad surrogate escape and each
// byte of invalid UTF-8 become U+FFFD.
func text(raw []byte, esc, high bool) string {
	if !esc && (!high || utf8.Valid(raw)) {
		return string(raw)
	}
	out := make([]byte, 0, len(raw))
	for r := 0; r < len(raw); {
		c := raw[r]
		switch {
		case c == '\\' && raw[r+1] == 'u':
			rr := hex4(raw[r+2 : r+6])
			r += 6
			if utf16.IsSurrogate(rr) {
				// Only a high surrogate directly followed by an escaped low one makes a rune.
				if r+6 <= len(raw) && raw[r] == '\\' && raw[r+1] == 'u' {
					if dec := utf16.DecodeRune(rr, hex4(raw[r+2:r+6])); dec != unicode.ReplacementChar {
						out = utf8.AppendRune(out, dec)
						r += 6
						continue
					}
				}
				rr = unicode.ReplacementChar
			}
			out = utf8.AppendRune(out, rr)
		case c == '\\':
			out = append(out, unescaped[raw[r+1]])
			r += 2
		case c < utf8.RuneSelf:
			out = append(out, c)
			r++
		default:
			rr, size := utf8.DecodeRune(raw[r:])
			out = utf8.AppendRune(out, rr)
			r += size
		}
	}
	return string(out)
}

var unescaped = [256]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

// scalar reads a string, number, true, false or null and returns its bytes as they stand; an
// object or array is refused.
func (l *lexer) scalar() (raw []byte, ok bool) {
	l.ws()
	start := l.i
	if start >= len(l.b) {
		return nil, false
	}
	switch c := l.b[start]; {
	case c == '"':
		_, _, _, ok = l.str()
	case c == 'n':
		ok = l.literal("null")
	case c == 't':
		ok = l.literal("true")
	case c == 'f':
		ok = l.literal("false")
	default:
		ok = l.number()
	}
	return l.b[start:l.i], ok
}

func (l *lexer) literal(word string) bool {
	if len(l.b)-l.i < len(word) || string(l.b[l.i:l.i+len(word)]) != word {
		return false
	}
	l.i += len(word)
	return true
}

// number reads a number as JSON spells it: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (l *lexer) number() bool {
	b, i := l.b, l.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i = digits(b, i)
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		if i = digits(b, i+1); b[i-1] == '.' {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		at := i
		if i = digits(b, i); i == at {
			return false
		}
	}
	l.i = i
	return true
}

func digits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}

// object reads a flat object, handing each key to field, which reads the value. A key with
// escapes or bytes over 0x7f is refused: encoding/json would unquote or fold it before matching.
func (l *lexer) object(field func(key []byte) bool) bool {
	if !l.eat('{') {
		return false
	}
	if l.eat('}') {
		return true
	}
	for {
		l.ws()
		key, esc, high, ok := l.str()
		if !ok || esc || high || !l.eat(':') || !field(key) {
			return false
		}
		if !l.eat(',') {
			return l.eat('}')
		}
	}
}

// skip reads the value of a key no field has. encoding/json matches keys regardless of case, so
// one with an upper-case letter might belong to a field after all: refused.
func (l *lexer) skip(key []byte) bool {
	for _, c := range key {
		if 'A' <= c && c <= 'Z' {
			return false
		}
	}
	_, ok := l.scalar()
	return ok
}

// fields remembers which fields an object set, to refuse a key given twice (encoding/json lets
// the last win, except that null then keeps the value before).
type fields uint32

func (f *fields) first(bit uint) bool {
	if *f&(1<<bit) != 0 {
		return false
	}
	*f |= 1 << bit
	return true
}

// repeats holds the last string of the fields a batch answer repeats (the sweep account, the
// symbol, dates, the creation time), reused instead of allocated again; known does the same for
// statuses and the like.
type repeats struct{ last [4]string }

// setString reads a string value into dst; null leaves dst as it is, as in encoding/json.
func (l *lexer) setString(dst *string) bool {
	l.ws()
	if l.literal("null") {
		return true
	}
	raw, esc, high, ok := l.str()
	if ok {
		*dst = known(raw, esc, high)
	}
	return ok
}

// setRepeated reads a string value like setString, reusing slot's string when it is the same.
func (l *lexer) setRepeated(dst *string, slot *string) bool {
	l.ws()
	if l.literal("null") {
		return true
	}
	raw, esc, high, ok := l.str()
	if !ok {
		return false
	}
	if !esc && !high && string(raw) == *slot {
		*dst = *slot
		return true
	}
	*dst = text(raw, esc, high)
	*slot = *dst
	return true
}

// setOptional reads a string or null into a *string field.
func (l *lexer) setOptional(dst **string, slot *string) bool {
	l.ws()
	if l.literal("null") {
		*dst = nil
		return true
	}
	s := new(string)
	if l.i >= len(l.b) || l.b[l.i] != '"' || !l.setRepeated(s, slot) {
		return false
	}
	*dst = s
	return true
}

// known returns the constant for a status, entry type or the like, and a new string otherwise.
func known(raw []byte, esc, high bool) string {
	if !esc && !high {
		switch string(raw) {
		case "JNLC":
			return "JNLC"
		case "JNLS":
			return "JNLS"
		case "USD":
			return "USD"
		case "batch":
			return "batch"
		case "single":
			return "single"
		case StatusQueued:
			return StatusQueued
		case StatusSentToClearing:
			return StatusSentToClearing
		case StatusPending:
			return StatusPending
		case StatusExecuted:
			return StatusExecuted
		case StatusActivityCreated:
			return StatusActivityCreated
		case StatusRejected:
			return StatusRejected
		case StatusRefused:
			return StatusRefused
		case StatusCanceled:
			return StatusCanceled
		case StatusDeleted:
			return StatusDeleted
		case StatusCorrect:
			return StatusCorrect
		}
	}
	return text(raw, esc, high)
}

// setTime and setDecimal read a scalar and hand its bytes, as they stand, to the field's own
// UnmarshalJSON, as encoding/json does. An error is left to encoding/json to report.
func (l *lexer) setTime(t *time.Time) bool {
	raw, ok := l.scalar()
	return ok && t.UnmarshalJSON(raw) == nil
}

func (l *lexer) setDecimal(d *decimal.NullDecimal) bool {
	raw, ok := l.scalar()
	return ok && d.UnmarshalJSON(raw) == nil
}

// quickEvent decodes one v2 stream event into e (zero on entry), or reports false.
func quickEvent(data []byte, e *JournalEvent) bool {
	l := lexer{b: data}
	var seen fields
	return l.object(func(key []byte) bool {
		switch string(key) {
		case "event_id":
			return seen.first(0) && l.setString(&e.EventID)
		case "journal_id":
			return seen.first(1) && l.setString(&e.JournalID)
		case "entry_type":
			return seen.first(2) && l.setString(&e.EntryType)
		case "status_from":
			return seen.first(3) && l.setString(&e.StatusFrom)
		case "status_to":
			return seen.first(4) && l.setString(&e.StatusTo)
		case "description":
			return seen.first(5) && l.setString(&e.Description)
		case "idempotency_key":
			return seen.first(6) && l.setString(&e.IdempotencyKey)
		case "idempotency_key_type":
			return seen.first(7) && l.setString(&e.IdempotencyKeyType)
		case "batch_error_message":
			return seen.first(8) && l.setString(&e.BatchErrorMessage)
		case "at":
			return seen.first(9) && l.setTime(&e.At)
		}
		return l.skip(key)
	}) && l.end()
}

// quickJournal reads one journal object into j (zero on entry), and its error_message into msg
// unless msg is nil (then error_message is a key like any unknown one).
func (l *lexer) quickJournal(j *Journal, msg *string, r *repeats) bool {
	var seen fields
	return l.object(func(key []byte) bool {
		switch string(key) {
		case "id":
			return seen.first(0) && l.setString(&j.ID)
		case "entry_type":
			return seen.first(1) && l.setString(&j.EntryType)
		case "from_account":
			return seen.first(2) && l.setRepeated(&j.FromAccount, &r.last[0])
		case "to_account":
			return seen.first(3) && l.setString(&j.ToAccount)
		case "symbol":
			return seen.first(4) && l.setOptional(&j.Symbol, &r.last[1])
		case "qty":
			return seen.first(5) && l.setDecimal(&j.Qty)
		case "price":
			return seen.first(6) && l.setDecimal(&j.Price)
		case "status":
			return seen.first(7) && l.setString(&j.Status)
		case "settle_date":
			return seen.first(8) && l.setOptional(&j.SettleDate, &r.last[2])
		case "system_date":
			return seen.first(9) && l.setOptional(&j.SystemDate, &r.last[2])
		case "net_amount":
			return seen.first(10) && l.setDecimal(&j.NetAmount)
		case "description":
			return seen.first(11) && l.setString(&j.Description)
		case "currency":
			return seen.first(12) && l.setString(&j.Currency)
		case "created_at":
			return seen.first(13) && l.setRepeated(&j.CreatedAt, &r.last[3])
		case "transmitter_name":
			return seen.first(14) && l.setString(&j.TransmitterName)
		case "transmitter_account_number":
			return seen.first(15) && l.setString(&j.TransmitterAccountNumber)
		case "transmitter_address":
			return seen.first(16) && l.setString(&j.TransmitterAddress)
		case "transmitter_financial_institution":
			return seen.first(17) && l.setString(&j.TransmitterFinancialInstitution)
		case "transmitter_timestamp":
			return seen.first(18) && l.setString(&j.TransmitterTimestamp)
		case "error_message":
			if msg != nil {
				return seen.first(19) && l.setString(msg)
			}
		}
		return l.skip(key)
	})
}

// quickBatchAnswer decodes a batch answer (a JSON array of journals, or null), or reports false.
func quickBatchAnswer(data []byte) ([]BatchJournal, bool) {
	l := lexer{b: data}
	var r repeats
	l.ws()
	if l.literal("null") {
		return nil, l.end()
	}
	if !l.eat('[') {
		return nil, false
	}
	// Sized for a compact answer at once, not grown journal by journal; never nil, as
	// encoding/json's answer to [] is not.
	out := make([]BatchJournal, 0, bytes.Count(data, []byte("},"))+1)
	if l.eat(']') {
		return out, l.end()
	}
	for {
		out = append(out, BatchJournal{})
		b := &out[len(out)-1]
		if !l.quickJournal(&b.Journal, &b.ErrorMessage, &r) {
			return nil, false
		}
		if !l.eat(',') {
			return out, l.eat(']') && l.end()
		}
	}
}

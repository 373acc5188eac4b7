package sandbox

import "unicode/utf8"

// decodeBatch reads the body of POST /v1/journals/batch. The body clients send (known keys spelt
// exactly, each once, string values without escapes) is read by hand, many times faster than
// encoding/json's reflection, into exactly what encoding/json would make of it. Anything else,
// every invalid body among it, goes through decodeBody, whose result and error text stay the
// reference (FuzzDecodeBatch holds the two together).
func decodeBatch(body []byte, req *batchRequest) *apiError {
	p := batchParser{b: body}
	if p.request(req) {
		return nil
	}
	*req = batchRequest{}
	return decodeBody(body, req)
}

// batchParser reads a batch body; its methods report false as soon as the body leaves the shape
// it reads, whether or not the body is valid JSON.
type batchParser struct {
	b []byte
	i int
}

func (p *batchParser) request(req *batchRequest) bool {
	var seen uint8
	ok := p.object(func(key []byte) bool {
		var bit uint8
		ok := false
		switch string(key) {
		case "entry_type":
			bit, ok = 1, p.into(&req.EntryType)
		case "from_account":
			bit, ok = 2, p.into(&req.FromAccount)
		case "description":
			bit, ok = 4, p.into(&req.Description)
		case "correspondent":
			bit, ok = 8, p.into(&req.Correspondent)
		case "entries":
			bit, ok = 16, p.entries(req)
		}
		// Unknown keys, duplicates and values of another type are left to encoding/json.
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	})
	p.space()
	return ok && p.i == len(p.b)
}

func (p *batchParser) entries(req *batchRequest) bool {
	if !p.next('[') {
		return false
	}
	req.Entries = make([]batchEntry, 0, 64)
	if p.next(']') {
		return true
	}
	var prev batchEntry
	for {
		req.Entries = append(req.Entries, batchEntry{})
		e := &req.Entries[len(req.Entries)-1]
		if !p.entry(e, &prev) {
			return false
		}
		prev = *e
		if p.next(']') {
			return true
		}
		if !p.next(',') {
			return false
		}
	}
}

// entry reads one entry; the strings it repeats from the entry before (accounts, Travel Rule
// fields shared by a receipt's journals) are kept once.
func (p *batchParser) entry(e, prev *batchEntry) bool {
	var seen uint16
	return p.object(func(key []byte) bool {
		var bit uint16
		ok := false
		switch string(key) {
		case "to_account":
			bit, ok = 1, p.intoRepeated(&e.ToAccount, prev.ToAccount)
		case "amount":
			bit, ok = 2, p.intoDecimal(&e.Amount)
		case "description":
			bit, ok = 4, p.into(&e.Description)
		case "currency":
			bit, ok = 8, p.intoPointer(&e.Currency)
		case "symbol":
			bit, ok = 16, p.intoPointer(&e.Symbol)
		case "qty":
			bit, ok = 32, p.intoDecimal(&e.Qty)
		case "transmitter_name":
			bit, ok = 64, p.intoRepeated(&e.Name, prev.Name)
		case "transmitter_account_number":
			bit, ok = 128, p.intoRepeated(&e.AccountNumber, prev.AccountNumber)
		case "transmitter_address":
			bit, ok = 256, p.intoRepeated(&e.Address, prev.Address)
		case "transmitter_financial_institution":
			bit, ok = 512, p.intoRepeated(&e.FinancialInstitution, prev.FinancialInstitution)
		case "transmitter_timestamp":
			bit, ok = 1024, p.intoRepeated(&e.Timestamp, prev.Timestamp)
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	})
}

// object reads {"key": value, ...}; member reads each value after its key.
func (p *batchParser) object(member func(key []byte) bool) bool {
	if !p.next('{') {
		return false
	}
	if p.next('}') {
		return true
	}
	for {
		key, ok := p.text()
		if !ok || !p.next(':') || !member(key) {
			return false
		}
		if p.next('}') {
			return true
		}
		if !p.next(',') {
			return false
		}
	}
}

// into reads a string value into dst; false when the value is not such a string.
func (p *batchParser) into(dst *string) bool {
	s, ok := p.text()
	if ok {
		*dst = string(s)
	}
	return ok
}

// intoRepeated is into for a value that often repeats prev: then prev itself is kept.
func (p *batchParser) intoRepeated(dst *string, prev string) bool {
	s, ok := p.text()
	switch {
	case !ok:
		return false
	case string(s) == prev:
		*dst = prev
	default:
		*dst = string(s)
	}
	return true
}

func (p *batchParser) intoPointer(dst **string) bool {
	var s string
	if !p.into(&s) {
		return false
	}
	*dst = &s
	return true
}

// intoDecimal reads a decimal written as a string; a number is left to encoding/json.
func (p *batchParser) intoDecimal(dst **decimalText) bool {
	var s string
	if !p.into(&s) {
		return false
	}
	d := decimalText(s)
	*dst = &d
	return true
}

// text reads a string that encoding/json would take as it is: no escape, no control byte, valid
// UTF-8 (encoding/json replaces invalid bytes). The result points into the body.
func (p *batchParser) text() ([]byte, bool) {
	if !p.next('"') {
		return nil, false
	}
	start, ascii := p.i, true
	for ; p.i < len(p.b); p.i++ {
		switch c := p.b[p.i]; {
		case c == '"':
			s := p.b[start:p.i]
			p.i++
			return s, ascii || utf8.Valid(s)
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false
}

// next consumes c after any whitespace, if c is what comes.
func (p *batchParser) next(c byte) bool {
	p.space()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *batchParser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

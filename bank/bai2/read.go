// Package bai2 reads BAI2 (Cash Management Balance Reporting, version 2) statements and returns the
// credits to the firm's bank accounts as receipt candidates, with debits and reversals apart. Every
// control total and record count is checked; any problem refuses the whole file.
package bai2

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// Options configures Read.
type Options struct {
	// Accounts are the firm's bank account numbers, leading zeros kept. A file naming any other
	// account is refused: it was delivered to the wrong customer or belongs to another firm.
	Accounts []string
}

// Kind says what an entry means for the pool.
type Kind string

const (
	KindCredit   Kind = "credit"   // new money in: a receipt candidate
	KindDebit    Kind = "debit"    // money out, reported only
	KindReversal Kind = "reversal" // undoes an earlier debit or credit: never new money
	KindOther    Kind = "other"    // non-monetary (890), zero amounts, totals, loans, custom codes outside the credit/debit ranges
)

// Entry is one 16 detail record with its 88 continuations.
type Entry struct {
	Line         int // physical line of the 16 record
	Kind         Kind
	Account      string
	Currency     string
	AsOfDate     time.Time // the group's as-of date (UTC midnight)
	ValueDate    time.Time // funds type V's date, else the as-of date; never before the as-of date
	Amount       decimal.Decimal
	TypeCode     string
	FundsType    string
	BankRef      string
	CustomerRef  string
	Text         string // 16 text and its 88 continuations joined with single spaces
	Originator   Originator
	UETR         string // lower-cased, when the text carries one
	IMAD         string // as printed (18 or 22 characters), when the text carries one
	Bank         string // the group's originator (the bank's routing number)
	GroupStatus  string // 1 update, 2 deletion, 3 correction
	AsOfModifier string // 1–4, empty when not sent
}

// Statement is what one file says about the configured accounts.
type Statement struct {
	Sender, Receiver, FileID string
	Created                  time.Time // creation date and time as written (the sender's zone), stored as UTC
	Receipts                 []Entry   // credits, in file order
	Debits                   []Entry
	Reversals                []Entry
	Other                    []Entry
	// Restated lists every account a deletion (group status 2) or correction (3) group reports:
	// what the bank said before about that account and as-of date is withdrawn, and for a
	// correction replaced by this group's entries.
	Restated []Restated
}

// Restated is one account of a group with status 2 (deletion) or 3 (correction).
type Restated struct {
	Line          int // the 02 group header's line (its field 4 is the status)
	Status        string
	Bank, Account string
	AsOfDate      time.Time
}

// seg is one physical line of a logical record: the record's own line or an 88 continuing it.
type seg struct {
	line int
	s    string // after "NN,", trailing blanks and CR removed
}

// Read reads one BAI2 file once, line by line. On any problem the Statement must not be used.
func Read(r io.Reader, opts Options) (Statement, Problems) {
	rd := &reader{opts: opts}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), MaxLineBytes)
	line := 0
	for sc.Scan() {
		line++
		rd.physical(line, strings.TrimRight(sc.Text(), " \r\t"))
	}
	if err := sc.Err(); err != nil {
		msg := "the file could not be read: " + err.Error()
		if errors.Is(err, bufio.ErrTooLong) {
			msg = fmt.Sprintf("line %d is longer than %d bytes; the file was not read", line+1, MaxLineBytes)
		}
		return Statement{}, Problems{Total: 1, List: []Problem{{Line: line + 1, Problem: msg}}}
	}
	rd.flush()
	if rd.state != stEnd {
		rd.fail(Problem{Line: line, Problem: "the file ends without its 99 file trailer: it is truncated"})
	}
	if rd.probs.Total > 0 {
		return Statement{}, rd.probs
	}
	return rd.st, rd.probs
}

type state int

const (
	stStart   state = iota // before 01
	stFile                 // after 01 or 98: 02 or 99 next
	stGroup                // after 02 or 49: 03 or 98 next
	stAccount              // after 03 or 16: 16 or 49 next
	stEnd                  // after 99: only blank lines
)

type reader struct {
	opts  Options
	st    Statement
	probs Problems
	state state

	pending []seg // the logical record being assembled
	code    string

	// group
	groupRecords, groupAccounts           int
	groupTotal                            decimal.Decimal
	bank, groupStatus, modifier, groupCcy string
	groupLine                             int
	asOf                                  time.Time
	// account
	acctRecords         int
	acctTotal           decimal.Decimal
	account, acctCcy    string
	minor               int32
	acctOK              bool // the account is one of ours and its currency is known
	seen                map[string]int
	fileRecords, groups int
	fileTotal           decimal.Decimal
}

func (rd *reader) fail(p Problem) { rd.probs.add(p) }

var knownCodes = []string{"01", "02", "03", "16", "49", "88", "98", "99"}

func (rd *reader) physical(line int, text string) {
	if rd.code == "99" {
		rd.flush() // the trailer is complete: nothing may follow it, not even an 88
	}
	if rd.state == stEnd {
		if strings.TrimSpace(text) != "" {
			rd.fail(Problem{Line: line, Problem: "text after the 99 file trailer"})
		}
		return
	}
	if text == "" {
		rd.fail(Problem{Line: line, Problem: "blank line inside the file"})
		return
	}
	code, rest, ok := strings.Cut(text, ",")
	if !ok || !slices.Contains(knownCodes, code) {
		v, _, _ := strings.Cut(text, ",")
		rd.fail(Problem{Line: line, Column: 1, Field: "record code", Value: v,
			Problem: fmt.Sprintf("unknown record code %q: a record begins with 01, 02, 03, 16, 49, 88, 98 or 99 and a comma", v)})
		return
	}
	if code == "88" {
		if rd.pending == nil {
			rd.fail(Problem{Line: line, Column: 1, Field: "record code", Value: code, Problem: "88 continuation with no record to continue"})
			return
		}
		rd.pending = append(rd.pending, seg{line, rest})
		return
	}
	rd.flush()
	rd.code, rd.pending = code, []seg{{line, rest}}
}

// flush handles the assembled logical record.
func (rd *reader) flush() {
	if rd.pending == nil {
		return
	}
	segs, code := rd.pending, rd.code
	rd.pending = nil
	line := segs[0].line
	want := map[state][]string{stStart: {"01"}, stFile: {"02", "99"}, stGroup: {"03", "98"}, stAccount: {"16", "49"}}[rd.state]
	if !slices.Contains(want, code) {
		rd.fail(Problem{Line: line, Column: 1, Field: "record code", Value: code,
			Problem: fmt.Sprintf("record %s out of place: expected %s", code, strings.Join(want, " or "))})
		return
	}
	// Trailer counts include every physical record: the header, the 88s and the trailer itself.
	switch code {
	case "01":
		rd.fileRecords = 0
	case "02":
		rd.groupRecords = 0
	case "03":
		rd.acctRecords = 0
	}
	rd.fileRecords += len(segs)
	rd.groupRecords += len(segs)
	rd.acctRecords += len(segs)
	if code == "16" {
		rd.detail(segs)
		return
	}
	c := &cursor{segs: segs, rd: rd}
	var f []field
	for {
		v, ok := c.next()
		if !ok {
			break
		}
		f = append(f, v)
	}
	switch code {
	case "01":
		rd.header(line, f)
	case "02":
		rd.groupHeader(line, f)
	case "03":
		rd.accountHeader(line, f)
	case "49":
		rd.accountTrailer(line, f)
	case "98":
		rd.groupTrailer(line, f)
	case "99":
		rd.fileTrailer(line, f)
	}
}

type field struct {
	v    string
	line int
	num  int // BAI2 field number in the logical record
}

// cursor walks a logical record's fields across its 88s: a / ends a physical record's fields and the
// next 88 starts the next field.
type cursor struct {
	segs []seg
	i    int
	pos  int
	done bool // segs[i] has been consumed up to its / or its end
	num  int
	rd   *reader
	text bool // the record is a 16: its last physical lines may end inside the text without a /
}

func (c *cursor) next() (field, bool) {
	for c.i < len(c.segs) {
		if c.done {
			c.i, c.pos, c.done = c.i+1, 0, false
			continue
		}
		sg := c.segs[c.i]
		s := sg.s[c.pos:]
		if c.num == 0 {
			c.num = 2
		}
		k := strings.IndexAny(s, ",/")
		f := field{line: sg.line, num: c.num}
		c.num++
		switch {
		case k >= 0 && s[k] == ',':
			f.v = s[:k]
			c.pos += k + 1
		case k >= 0:
			f.v = s[:k]
			c.done = true
			if after := strings.TrimSpace(s[k+1:]); after != "" {
				c.rd.fail(Problem{Line: sg.line, Column: f.num, Value: after,
					Problem: "text after the / that ends the record (one record per line)"})
			}
		default:
			f.v = s
			c.done = true
			if !c.text {
				c.rd.fail(Problem{Line: sg.line, Column: f.num, Value: s, Problem: "the record does not end with /"})
			}
		}
		return f, true
	}
	return field{}, false
}

// rest returns the unread remainder of the record as text: the rest of the current physical line
// and every later 88, joined with single spaces.
func (c *cursor) rest() string {
	var parts []string
	for ; c.i < len(c.segs); c.i, c.pos, c.done = c.i+1, 0, false {
		if c.done {
			continue
		}
		p := c.segs[c.i].s[c.pos:]
		if c.i == 0 && p == "/" { // "…,custref,/": a 16 without text
			continue
		}
		parts = append(parts, strings.TrimSpace(p))
	}
	return strings.Join(strings.Fields(strings.Join(parts, " ")), " ")
}

// get returns field n (BAI2 numbering) or an empty field placed after the last one read.
func get(f []field, n, line int) field {
	if n-2 < len(f) {
		return f[n-2]
	}
	return field{line: line, num: n}
}

// fieldCount checks that a fixed record has the layout's fields; one extra empty field ("…,/",
// used by some banks as a plain terminator) is accepted.
func (rd *reader) fieldCount(line int, f []field, code string, n int) bool {
	if len(f) == n || len(f) == n+1 && f[n].v == "" {
		return true
	}
	rd.fail(Problem{Line: line, Problem: fmt.Sprintf("record %s has %d fields, want %d", code, len(f)+1, n+1)})
	return false
}

func (rd *reader) bad(f field, name, problem string) {
	rd.fail(Problem{Line: f.line, Column: f.num, Field: name, Value: f.v, Problem: problem})
}

func (rd *reader) header(line int, f []field) {
	rd.state = stFile
	rd.groups, rd.fileTotal, rd.seen = 0, decimal.Zero, map[string]int{}
	if !rd.fieldCount(line, f, "01", 8) {
		return
	}
	rd.st.Sender, rd.st.Receiver, rd.st.FileID = f[0].v, f[1].v, f[4].v
	if v := get(f, 9, line); v.v != "2" {
		rd.bad(v, "version", fmt.Sprintf("version %q is not read: only BAI2 version 2 files are", v.v))
	}
	d, err := date(f[2].v)
	if err != nil {
		rd.bad(f[2], "creation date", err.Error())
	}
	rd.st.Created = d
	if err := clock(f[3].v); err != nil {
		rd.bad(f[3], "creation time", err.Error())
	} else if f[3].v != "9999" {
		h, _ := strconv.Atoi(f[3].v[:2])
		m, _ := strconv.Atoi(f[3].v[2:])
		rd.st.Created = rd.st.Created.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
	}
	if f[4].v == "" {
		rd.bad(f[4], "file id", "the file id is empty")
	}
}

func (rd *reader) groupHeader(line int, f []field) {
	rd.state = stGroup
	rd.groups++
	rd.groupLine = line
	rd.groupAccounts, rd.groupTotal = 0, decimal.Zero
	rd.bank, rd.groupStatus, rd.modifier, rd.groupCcy, rd.asOf = "", "", "", "USD", time.Time{}
	if !rd.fieldCount(line, f, "02", 7) {
		return
	}
	rd.bank = f[1].v
	if rd.bank == "" {
		rd.bad(f[1], "originator id", "the originator (bank) id is empty")
	}
	switch st := f[2]; st.v {
	case "1", "2", "3":
		rd.groupStatus = st.v
	case "4":
		rd.bad(st, "group status", "group status 4 is a test: a test file is never taken")
	default:
		rd.bad(st, "group status", fmt.Sprintf("group status %q is not 1 (update), 2 (deletion), 3 (correction) or 4 (test)", st.v))
	}
	d, err := date(f[3].v)
	if err != nil {
		rd.bad(f[3], "as-of date", err.Error())
	}
	rd.asOf = d
	if f[4].v != "" {
		if err := clock(f[4].v); err != nil {
			rd.bad(f[4], "as-of time", err.Error())
		}
	}
	if f[5].v != "" {
		rd.groupCcy = f[5].v
	}
	if _, ok := minorUnits[rd.groupCcy]; !ok {
		rd.bad(f[5], "currency", fmt.Sprintf("currency %q is not known", f[5].v))
	}
	switch m := f[6]; m.v {
	case "", "1", "2", "3", "4":
		rd.modifier = m.v
	default:
		rd.bad(m, "as-of modifier", fmt.Sprintf("as-of modifier %q is not 1, 2, 3 or 4", m.v))
	}
}

// extraFields returns how many fields follow a funds type (§ funds type: V 2, S 3, D 1+2n).
func (rd *reader) extraFields(ft field, next func() field) ([]field, bool) {
	switch ft.v {
	case "", "Z", "0", "1", "2":
		return nil, true
	case "V":
		d, t := next(), next()
		return []field{d, t}, true
	case "S":
		return []field{next(), next(), next()}, true
	case "D":
		n := next()
		k, err := digitsInt(n.v)
		if err != nil || n.v == "" || k > 99 {
			rd.bad(n, "distribution count", fmt.Sprintf("funds type D needs a count of distributions, not %q", n.v))
			return nil, false
		}
		out := []field{n}
		for range 2 * k {
			out = append(out, next())
		}
		return out, true
	}
	rd.bad(ft, "funds type", fmt.Sprintf("funds type %q is not Z, 0, 1, 2, V, S or D", ft.v))
	return nil, false
}

// fundsExtras checks a funds type's extra fields (signed amounts, a value date); it returns the
// value date when there is one.
func (rd *reader) fundsExtras(ft string, ex []field) (time.Time, bool) {
	ok := true
	switch ft {
	case "V":
		d, err := date(ex[0].v)
		if err != nil {
			rd.bad(ex[0], "value date", err.Error())
			return time.Time{}, false
		}
		if ex[1].v != "" {
			if err := clock(ex[1].v); err != nil {
				rd.bad(ex[1], "value time", err.Error())
				ok = false
			}
		}
		return d, ok
	case "S":
		for _, a := range ex {
			if a.v == "" {
				continue
			}
			if _, err := amount(a.v, true); err != nil {
				rd.bad(a, "availability amount", err.Error())
				ok = false
			}
		}
	case "D":
		for i := 1; i+1 < len(ex); i += 2 {
			if _, err := digitsInt(ex[i].v); err != nil || ex[i].v == "" {
				rd.bad(ex[i], "availability days", fmt.Sprintf("days %q is not a number", ex[i].v))
				ok = false
			}
			if _, err := amount(ex[i+1].v, true); err != nil {
				rd.bad(ex[i+1], "availability amount", err.Error())
				ok = false
			}
		}
	}
	return time.Time{}, ok
}

func (rd *reader) accountHeader(line int, f []field) {
	rd.state = stAccount
	rd.groupAccounts++
	rd.acctTotal, rd.acctOK = decimal.Zero, false
	acct := get(f, 2, line)
	ccy := get(f, 3, line)
	rd.account, rd.acctCcy = acct.v, rd.groupCcy
	if ccy.v != "" {
		rd.acctCcy = ccy.v
	}
	minor, known := minorUnits[rd.acctCcy]
	rd.minor = minor
	switch {
	case acct.v == "":
		rd.bad(acct, "account", "the account number is empty")
	case !slices.Contains(rd.opts.Accounts, acct.v):
		rd.bad(acct, "account", fmt.Sprintf("account %s is not a configured bank account of the firm", acct.v))
	case !known:
		rd.bad(ccy, "currency", fmt.Sprintf("currency %q is not known", ccy.v))
	default:
		rd.acctOK = true
		if rd.groupStatus == "2" || rd.groupStatus == "3" {
			rd.st.Restated = append(rd.st.Restated, Restated{Line: rd.groupLine, Status: rd.groupStatus, Bank: rd.bank,
				Account: acct.v, AsOfDate: rd.asOf})
		}
	}
	at := func(j int) field {
		if j < len(f) {
			return f[j]
		}
		return field{line: line, num: j + 2}
	}
	for i := 2; i < len(f); { // i: index in f of the next summary's type code
		tc := f[i]
		if tc.v == "" && allEmpty(f[i:]) {
			break // "03,acct,ccy,,,,/" or the trailing ",/" terminator
		}
		n, err := typeCode(tc.v)
		if err != nil {
			rd.bad(tc, "type code", err.Error())
			return
		}
		amt, cnt, ft := at(i+1), at(i+2), at(i+3)
		i += 4
		if amt.v != "" {
			a, err := amount(amt.v, n < 100) // only status (balance) amounts are signed
			if err != nil {
				rd.bad(amt, "amount", err.Error())
			} else {
				rd.acctTotal = rd.acctTotal.Add(a)
			}
		}
		if cnt.v != "" {
			if _, err := digitsInt(cnt.v); err != nil {
				rd.bad(cnt, "item count", fmt.Sprintf("item count %q is not a number", cnt.v))
			}
		}
		ex, ok := rd.extraFields(ft, func() field { i++; return at(i - 1) })
		if !ok {
			return
		}
		if _, ok := rd.fundsExtras(ft.v, ex); !ok {
			return
		}
	}
}

func allEmpty(f []field) bool {
	for _, x := range f {
		if x.v != "" {
			return false
		}
	}
	return true
}

func (rd *reader) detail(segs []seg) {
	line := segs[0].line
	c := &cursor{segs: segs, rd: rd, text: true}
	next := func() field {
		f, ok := c.next()
		if !ok {
			return field{line: line, num: c.num}
		}
		return f
	}
	tc, amt, ft := next(), next(), next()
	n, err := typeCode(tc.v)
	if err != nil {
		rd.bad(tc, "type code", err.Error())
		return
	}
	ex, ok := rd.extraFields(ft, next)
	if !ok {
		return
	}
	vd, ok := rd.fundsExtras(ft.v, ex) // before the references: a wrong funds type shifts them
	if !ok {
		return
	}
	bankRef, custRef := next(), next()
	text := c.rest()
	e := Entry{
		Line: line, Account: rd.account, Currency: rd.acctCcy, AsOfDate: rd.asOf, ValueDate: rd.asOf,
		TypeCode: tc.v, FundsType: ft.v, BankRef: bankRef.v, CustomerRef: custRef.v, Text: text,
		Bank: rd.bank, GroupStatus: rd.groupStatus, AsOfModifier: rd.modifier,
	}
	if vd.After(rd.asOf) {
		e.ValueDate = vd // a value date before the as-of date counts as the as-of date
	}
	switch {
	case amt.v == "" && n == 890:
		e.Kind = KindOther
	default:
		units, err := amount(amt.v, false)
		if err != nil {
			rd.bad(amt, "amount", err.Error())
			return
		}
		rd.acctTotal = rd.acctTotal.Add(units)
		e.Amount = units.Shift(-rd.minor)
		e.Kind = kindOf(n)
		if n < 100 {
			rd.bad(tc, "type code", fmt.Sprintf("type code %s is a status (balance) code: not a detail", tc.v))
			return
		}
		if e.Amount.IsZero() {
			e.Kind = KindOther
		}
	}
	e.Originator, e.UETR, e.IMAD = wireFields(text)
	if e.Kind != KindOther {
		key := e.Account + "\x00" + string(e.Kind) + "\x00" + e.BankRef
		if e.BankRef == "" && e.Kind == KindCredit {
			rd.bad(bankRef, "bank reference", "a credit needs the bank's reference: it is the receipt's identity")
			return
		}
		if prev, dup := rd.seen[key]; dup && e.BankRef != "" {
			rd.bad(bankRef, "bank reference", fmt.Sprintf("duplicate entry: %s with bank reference %s is already on line %d", e.Kind, e.BankRef, prev))
			return
		}
		rd.seen[key] = line
		if e.UETR != "" {
			if prev, dup := rd.seen[e.Account+"\x00uetr\x00"+e.UETR]; dup {
				rd.bad(bankRef, "bank reference", fmt.Sprintf("duplicate entry: UETR %s is already on line %d", e.UETR, prev))
				return
			}
			rd.seen[e.Account+"\x00uetr\x00"+e.UETR] = line
		}
	}
	if !rd.acctOK {
		return
	}
	switch e.Kind {
	case KindCredit:
		rd.st.Receipts = append(rd.st.Receipts, e)
	case KindDebit:
		rd.st.Debits = append(rd.st.Debits, e)
	case KindReversal:
		rd.st.Reversals = append(rd.st.Reversals, e)
	default:
		rd.st.Other = append(rd.st.Other, e)
	}
}

// kindOf classifies a detail type code by BAI2's ranges (credits 101–399 and 920–959, debits
// 401–699 and 960–999); 252 (debit reversal) and 552 (credit reversal) are reversals; summary
// totals, loans (700–799) and the rest are reported as other.
func kindOf(n int) Kind {
	switch {
	case n == 252 || n == 552:
		return KindReversal
	case n == 100 || n == 400 || n == 190 || n == 205 || n == 207:
		return KindOther
	case n > 100 && n < 400 || n >= 920 && n <= 959:
		return KindCredit
	case n > 400 && n < 700 || n >= 960:
		return KindDebit
	}
	return KindOther
}

// total checks a trailer's control total against the sum the reader made.
func (rd *reader) total(f field, name string, sum decimal.Decimal) {
	t, err := amount(f.v, true)
	if err != nil {
		rd.bad(f, name, err.Error())
		return
	}
	if rd.probs.Total == 0 && !t.Equal(sum) {
		rd.bad(f, name, fmt.Sprintf("control total %s does not match the amounts, which add up to %s", f.v, sum))
	}
}

// count checks a trailer's number against what the reader counted.
func (rd *reader) count(f field, name string, n int) {
	k, err := digitsInt(f.v)
	if err != nil || f.v == "" {
		rd.bad(f, name, fmt.Sprintf("%s %q is not a number", name, f.v))
		return
	}
	if rd.probs.Total == 0 && k != n {
		rd.bad(f, name, fmt.Sprintf("%s is %d but there are %d", name, k, n))
	}
}

func (rd *reader) accountTrailer(line int, f []field) {
	rd.state = stGroup
	if !rd.fieldCount(line, f, "49", 2) {
		return
	}
	rd.total(f[0], "account control total", rd.acctTotal)
	rd.count(f[1], "number of records", rd.acctRecords)
	rd.groupTotal = rd.groupTotal.Add(rd.acctTotal)
}

func (rd *reader) groupTrailer(line int, f []field) {
	rd.state = stFile
	if len(f) == 2 || len(f) == 3 && f[2].v == "" { // a 98 without "number of accounts", seen in the wild
		rd.total(f[0], "group control total", rd.groupTotal)
		rd.count(f[1], "number of records", rd.groupRecords)
	} else if rd.fieldCount(line, f, "98", 3) {
		rd.total(f[0], "group control total", rd.groupTotal)
		rd.count(f[1], "number of accounts", rd.groupAccounts)
		rd.count(f[2], "number of records", rd.groupRecords)
	}
	rd.fileTotal = rd.fileTotal.Add(rd.groupTotal)
}

func (rd *reader) fileTrailer(line int, f []field) {
	rd.state = stEnd
	if !rd.fieldCount(line, f, "99", 3) {
		return
	}
	rd.total(f[0], "file control total", rd.fileTotal)
	rd.count(f[1], "number of groups", rd.groups)
	rd.count(f[2], "number of records", rd.fileRecords)
}

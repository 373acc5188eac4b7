// Package camt reads ISO 20022 bank-to-customer cash reports, camt.053 (end-of-day statement) and
// camt.054 (debit/credit notification), versions .001.02 and .001.08, into receipt candidates for
// one configured account. The version comes from the root element's namespace and decides which
// paths are read, so a file of one version never loses fields silently in the other's shape.
// Amounts are read as text and checked before they become decimals; the control totals and, for a
// statement, the booked balances must add up or the whole file is refused.
package camt

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// Kind is which message a file holds.
type Kind string

const (
	KindStatement    Kind = "camt.053" // end-of-day statement, booked entries and balances
	KindNotification Kind = "camt.054" // intraday notification, pending and booked entries
)

// Versions of each message this package reads.
const (
	V02 = "001.02"
	V08 = "001.08"
)

const nsPrefix = "urn:iso:std:iso:20022:tech:xsd:"

var namespaces = map[string]struct {
	kind    Kind
	version string
}{
	nsPrefix + "camt.053.001.02": {KindStatement, V02},
	nsPrefix + "camt.053.001.08": {KindStatement, V08},
	nsPrefix + "camt.054.001.02": {KindNotification, V02},
	nsPrefix + "camt.054.001.08": {KindNotification, V08},
}

// Options says whose entries to take and how to read times.
type Options struct {
	// Account is the firm's account: an IBAN (spaces and case ignored) or the Acct/Id/Othr/Id text
	// (compared exactly: leading zeros matter). Statements of other accounts are checked, not taken.
	Account string
	// Location is the bank's time zone. A value date-time with an offset is converted to it before
	// its date is taken; one without an offset is the bank's local time already and keeps its date.
	// Nil takes every date-time's date as written.
	Location *time.Location
}

// MaxProblems is how many problems of one file are kept; the rest are only counted.
const MaxProblems = 1000

// Problem is one thing wrong with a file, in the shape of the CSV reader's problems: Field is the
// element path from the statement (or notification) down.
type Problem struct {
	Line    int // line of the element's start tag, 1-based; 0 when about the whole file
	Column  int // column of the element's start tag, 1-based
	Field   string
	Value   string
	Problem string
}

// Problems is every problem found in one file: the first MaxProblems of them, and how many in all.
type Problems struct {
	List  []Problem
	Total int
}

func (ps *Problems) add(p Problem) {
	ps.Total++
	if len(ps.List) < MaxProblems {
		ps.List = append(ps.List, p)
	}
}

// Statement is what a file holds for the configured account.
type Statement struct {
	Kind      Kind
	Version   string // V02 or V08
	MessageID string // GrpHdr/MsgId
	Account   string // as the file writes it
	Receipts  []Receipt
	Others    []Entry // debits, reversals, pending and zero entries: reported, never receipts
}

// Receipt is one booked credit (one transaction of a split batch entry) to the configured account.
type Receipt struct {
	Line        int    // line of the transaction details, or of the entry when it has none
	EntryRef    string // Ntry/AcctSvcrRef: the bank's entry reference
	NtryRef     string // Ntry/NtryRef: often a per-message counter, not a key
	TxRef       string // TxDtls/Refs/AcctSvcrRef
	Tx, Txs     int    // this is transaction Tx (1-based) of the entry's Txs
	UETR        string // lower-cased
	MsgID       string // TxDtls/Refs/MsgId (where banks put the Fedwire IMAD)
	EndToEndID  string
	ValueDate   time.Time // civil date, midnight UTC: ValDt, else BookgDt
	BookingDate time.Time // zero when absent
	Amount      decimal.Decimal
	Currency    string
	BankTxCode  string // Domn/Fmly/SubFmly like PMNT/RCDT/DMCT, else the proprietary code

	OriginatorName    string
	OriginatorAccount string
	OriginatorBank    string // "BIC …", "ABA …" and/or the bank's name
	OriginatorAddress string
	Remittance        string // Ustrd and Strd texts, whitespace collapsed
}

var imad = regexp.MustCompile(`^[0-9]{8}[A-Z0-9]{8}[0-9]{6}$`)

// MatchKey names the payment across reports, so that a credit notified in a camt.054 and booked
// again in the camt.053 is one receipt: the UETR, else a Fedwire IMAD, else the bank's reference
// (of the transaction, else of the entry and the transaction's place in it). Receipts are all
// unreversed credits, so the direction needs no place in the key.
func (r Receipt) MatchKey() string {
	switch {
	case r.UETR != "":
		return "uetr:" + r.UETR
	case imad.MatchString(r.MsgID):
		return "imad:" + r.MsgID
	case r.TxRef != "":
		return "ref:" + r.TxRef
	case r.Txs > 1:
		return fmt.Sprintf("ref:%s#%d", r.EntryRef, r.Tx)
	}
	return "ref:" + r.EntryRef
}

// IMAD is the Fedwire IMAD the bank put in TxDtls/Refs/MsgId, "" when MsgId is not one.
func (r Receipt) IMAD() string {
	if imad.MatchString(r.MsgID) {
		return r.MsgID
	}
	return ""
}

// Entry is an entry of the configured account that is not a receipt, and why.
type Entry struct {
	Line      int
	EntryRef  string
	NtryRef   string
	Amount    decimal.Decimal
	Currency  string
	Credit    bool // CdtDbtInd CRDT
	Reversal  bool // RvslInd true
	Status    string
	ValueDate time.Time
	Why       string
}

// Read reads one camt.053 or camt.054 file as a stream. A file with any problem yields no
// statement: it is refused whole.
func Read(r io.Reader, opts Options) (Statement, Problems) {
	rd := &reader{s: newScanner(r), opts: opts, refs: map[refKey]int{}}
	if err := rd.read(); err != nil {
		rd.xmlError(err)
	}
	if rd.probs.Total > 0 {
		return Statement{}, rd.probs
	}
	return rd.st, rd.probs
}

type refKey struct {
	account, ref, cdi string
	reversal          bool
}

type reader struct {
	s       *scanner
	opts    Options
	probs   Problems
	st      Statement
	version string
	refs    map[refKey]int // line of the first entry with this reference
	// statements of other accounts, reported only when none is the configured one
	elsewhere Problems
	matched   bool
}

func (rd *reader) problem(n *node, field, value, msg string) {
	p := Problem{Field: field, Value: value, Problem: msg}
	if n != nil {
		p.Line, p.Column = n.line, n.col
	}
	rd.probs.add(p)
}

func (rd *reader) xmlError(err error) {
	line, col := rd.s.d.InputPos()
	var se *xml.SyntaxError
	switch {
	case errors.As(err, &se):
		rd.probs.add(Problem{Line: se.Line, Problem: "the file is not well-formed XML (cut short or damaged): " + se.Msg})
	case errors.Is(err, errElementTooLarge):
		rd.probs.add(Problem{Line: line, Column: col, Problem: fmt.Sprintf("an element is larger than %d bytes or nested too deep", MaxElementBytes)})
	case errors.Is(err, io.EOF):
		rd.probs.add(Problem{Line: line, Problem: "the file ends before its XML is complete"})
	default:
		rd.probs.add(Problem{Line: line, Column: col, Problem: "the file cannot be read as XML: " + err.Error()})
	}
}

func (rd *reader) read() error {
	tok, line, col, err := rd.s.nextElement()
	if errors.Is(err, io.EOF) {
		rd.probs.add(Problem{Problem: "the file is empty: it holds no XML element"})
		return nil
	}
	if err != nil {
		return err
	}
	root := tok.(xml.StartElement)
	ns, ok := namespaces[root.Name.Space]
	if root.Name.Local != "Document" || !ok {
		rd.probs.add(Problem{Line: line, Column: col, Field: root.Name.Local, Value: root.Name.Space,
			Problem: "not a camt file cashpool reads: the root must be a Document in the namespace of camt.053 or camt.054, version .001.02 or .001.08"})
		return nil
	}
	rd.st.Kind, rd.st.Version, rd.version = ns.kind, ns.version, ns.version
	msgName, stmtName := "BkToCstmrStmt", "Stmt"
	if ns.kind == KindNotification {
		msgName, stmtName = "BkToCstmrDbtCdtNtfctn", "Ntfctn"
	}

	tok, line, col, err = rd.s.nextElement()
	if err != nil {
		return err
	}
	msg, ok := tok.(xml.StartElement)
	if !ok || msg.Name.Local != msgName {
		rd.probs.add(Problem{Line: line, Column: col, Field: "Document", Problem: fmt.Sprintf("the Document of a %s must hold %s", ns.kind, msgName)})
		return nil
	}
	statements := 0
	for {
		tok, line, col, err := rd.s.nextElement()
		if err != nil {
			return err
		}
		el, ok := tok.(xml.StartElement)
		if !ok {
			break
		}
		switch el.Name.Local {
		case "GrpHdr":
			n, err := rd.s.tree(el, line, col)
			if err != nil {
				return err
			}
			rd.st.MessageID = n.value("MsgId")
			rd.pagination(n.child("MsgPgntn"), "GrpHdr/MsgPgntn", "message")
		case stmtName:
			statements++
			if err := rd.statement(stmtName, line, col); err != nil {
				return err
			}
		default:
			if err := rd.s.skip(); err != nil {
				return err
			}
		}
	}
	// The Document's end tag, then nothing but the end of the file.
	for {
		tok, line, col, err := rd.s.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if _, ok := tok.(xml.StartElement); ok {
			rd.probs.add(Problem{Line: line, Column: col, Problem: "content after the end of the message"})
			return nil
		}
	}
	switch {
	case statements == 0:
		rd.probs.add(Problem{Field: msgName, Problem: fmt.Sprintf("the message holds no %s", stmtName)})
	case !rd.matched:
		for _, p := range rd.elsewhere.List {
			rd.probs.add(p)
		}
		rd.probs.Total += rd.elsewhere.Total - len(rd.elsewhere.List)
	}
	return nil
}

// stmt is one Stmt or Ntfctn being read: its header parts, then running totals over its entries.
type stmt struct {
	name    string
	line    int
	col     int
	account string
	ours    bool
	hasAcct bool
	bals    []*node
	summary *node

	n, cdtN, dbtN        int
	sum, cdtSum, dbtSum  decimal.Decimal
	bookedCdt, bookedDbt decimal.Decimal
	// unreadable is set when an entry's amount or direction could not be read: the totals cannot
	// be checked then, and saying they are off would only bury the real problem.
	unreadable bool
	ccy        string
}

func (rd *reader) statement(name string, line, col int) error {
	st := &stmt{name: name, line: line, col: col}
	for {
		tok, line, col, err := rd.s.nextElement()
		if err != nil {
			return err
		}
		el, ok := tok.(xml.StartElement)
		if !ok {
			break
		}
		switch el.Name.Local {
		case "Acct", "Bal", "TxsSummry", "Ntry", "StmtPgntn":
		default:
			if err := rd.s.skip(); err != nil {
				return err
			}
			continue
		}
		n, err := rd.s.tree(el, line, col)
		if err != nil {
			return err
		}
		switch n.name {
		case "Acct":
			rd.account(st, n)
		case "Bal":
			st.bals = append(st.bals, n)
		case "TxsSummry":
			st.summary = n
		case "StmtPgntn":
			rd.pagination(n, name+"/StmtPgntn", "statement")
		case "Ntry":
			if !st.hasAcct {
				rd.problem(n, name+"/Ntry", "", fmt.Sprintf("an entry comes before the %s's Acct", name))
				continue
			}
			rd.entry(st, n)
		}
	}
	if !st.hasAcct {
		rd.probs.add(Problem{Line: st.line, Column: st.col, Field: name + "/Acct", Problem: fmt.Sprintf("the %s has no Acct", name)})
		return nil
	}
	if st.unreadable {
		return nil
	}
	rd.checkSummary(st)
	if rd.st.Kind == KindStatement {
		rd.checkBalances(st)
	}
	return nil
}

// pagination refuses one page of a paged message or statement (Pgntn: PgNb, LastPgInd). The
// totals and balances of a page are those of the whole statement, which no page holds alone, so a
// page can neither be checked nor taken as complete; its entries are not read as receipts.
func (rd *reader) pagination(n *node, field, what string) {
	if n == nil {
		return
	}
	page, last := strings.TrimSpace(n.value("PgNb")), strings.TrimSpace(n.value("LastPgInd"))
	switch {
	case last == "false" || last == "0":
		rd.problem(n.child("LastPgInd"), field+"/LastPgInd", last, fmt.Sprintf(
			"page %s of a %s that continues in another file: a page's totals and balances are the whole %s's, so it cannot be "+
				"checked alone and nothing of it is taken; ask the bank to deliver each statement in one file", page, what, what))
	case page != "1":
		rd.problem(n.child("PgNb"), field+"/PgNb", page, fmt.Sprintf(
			"page %s, the last page of a %s whose earlier pages are other files: nothing of it is taken; ask the bank to "+
				"deliver each statement in one file", page, what))
	}
}

func normIBAN(s string) string { return strings.ToUpper(strings.ReplaceAll(s, " ", "")) }

func (rd *reader) account(st *stmt, n *node) {
	st.hasAcct = true
	iban, othr := n.value("Id/IBAN"), n.value("Id/Othr/Id")
	field := st.name + "/Acct/Id/Othr/Id"
	switch {
	case iban != "":
		st.account, field = iban, st.name+"/Acct/Id/IBAN"
		st.ours = rd.opts.Account != "" && normIBAN(iban) == normIBAN(rd.opts.Account)
	case othr != "":
		st.account = othr
		st.ours = othr == rd.opts.Account
	default:
		rd.problem(n, st.name+"/Acct/Id", "", "the account has neither IBAN nor Othr/Id")
		return
	}
	st.ccy = n.value("Ccy")
	if st.ours {
		if rd.matched && rd.st.Account != st.account {
			rd.problem(n, field, st.account, "the file holds the configured account twice under different spellings")
		}
		rd.matched, rd.st.Account = true, st.account
		return
	}
	rd.elsewhere.add(Problem{Line: n.line, Column: n.col, Field: field, Value: st.account,
		Problem: fmt.Sprintf("the %s is for account %s, not the configured account %s", st.name, st.account, rd.opts.Account)})
}

// amount reads an element holding an amount and its Ccy attribute; ok is false after a problem.
func (rd *reader) amount(n *node, field string) (decimal.Decimal, string, bool) {
	if n == nil {
		rd.problem(nil, field, "", "amount is missing")
		return decimal.Decimal{}, "", false
	}
	ccy, _ := n.attr("Ccy")
	d, msg := parseAmount(n.text.String(), ccy)
	if msg != "" {
		rd.problem(n, field, strings.TrimSpace(n.text.String()), msg)
		return decimal.Decimal{}, ccy, false
	}
	return d, ccy, true
}

// direction reads a CdtDbtInd: true for CRDT.
func (rd *reader) direction(parent *node, field string) (credit, ok bool) {
	n := parent.child("CdtDbtInd")
	switch v := parent.value("CdtDbtInd"); v {
	case "CRDT":
		return true, true
	case "DBIT":
		return false, true
	default:
		if n == nil {
			n = parent
		}
		rd.problem(n, field, v, "CdtDbtInd must be CRDT or DBIT")
		return false, false
	}
}

func (rd *reader) status(n *node, field string) string {
	sts := n.child("Sts")
	if sts == nil {
		rd.problem(n, field, "", "the entry has no Sts")
		return ""
	}
	text := strings.TrimSpace(sts.text.String())
	if rd.version == V02 {
		if len(sts.children) > 0 {
			rd.problem(sts, field, "", "in version .001.02 Sts is the code itself (BOOK, PDNG, INFO), not Sts/Cd")
			return ""
		}
		return text
	}
	if c := sts.value("Cd"); c != "" {
		return c
	}
	if p := sts.value("Prtry"); p != "" {
		return p
	}
	rd.problem(sts, field, text, "in version .001.08 the status is Sts/Cd (or Sts/Prtry)")
	return ""
}

var dateTimeWithoutOffset = "2006-01-02T15:04:05.999999999"

// date reads a Dt or DtTm choice as a civil date (midnight UTC); ok is false after a problem.
func (rd *reader) date(n *node, field string) (time.Time, bool) {
	if dt := n.child("Dt"); dt != nil {
		v := n.value("Dt")
		t, err := time.Parse(time.DateOnly, v)
		if err != nil {
			rd.problem(dt, field+"/Dt", v, "not a date (YYYY-MM-DD)")
			return time.Time{}, false
		}
		return t, true
	}
	dtm := n.child("DtTm")
	if dtm == nil {
		rd.problem(n, field, "", "neither Dt nor DtTm")
		return time.Time{}, false
	}
	v := n.value("DtTm")
	if t, err := time.Parse(dateTimeWithoutOffset, v); err == nil {
		// No offset: the bank's local time, whose date is the date written (never read as UTC).
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC), true
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		rd.problem(dtm, field+"/DtTm", v, "not a date-time (YYYY-MM-DDThh:mm:ss with an optional offset)")
		return time.Time{}, false
	}
	if rd.opts.Location != nil {
		t = t.In(rd.opts.Location)
	}
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC), true
}

func (rd *reader) entry(st *stmt, n *node) {
	f := st.name + "/Ntry"
	before := rd.probs.Total
	amt, ccy, amtOK := rd.amount(n.child("Amt"), f+"/Amt")
	credit, dirOK := rd.direction(n, f+"/CdtDbtInd")
	reversal := false
	switch v := n.value("RvslInd"); v {
	case "", "false", "0":
	case "true", "1":
		reversal = true
	default:
		rd.problem(n.child("RvslInd"), f+"/RvslInd", v, "RvslInd must be true or false")
	}
	status := rd.status(n, f+"/Sts")
	st.unreadable = st.unreadable || !amtOK || !dirOK
	if amtOK && dirOK {
		st.n++
		st.sum = st.sum.Add(amt)
		if credit {
			st.cdtN++
			st.cdtSum = st.cdtSum.Add(amt)
		} else {
			st.dbtN++
			st.dbtSum = st.dbtSum.Add(amt)
		}
		if status == "BOOK" {
			if credit {
				st.bookedCdt = st.bookedCdt.Add(amt)
			} else {
				st.bookedDbt = st.bookedDbt.Add(amt)
			}
		}
	}
	ref := n.value("AcctSvcrRef")
	if ref != "" && dirOK {
		k := refKey{account: st.account, ref: ref, cdi: n.value("CdtDbtInd"), reversal: reversal}
		if first, seen := rd.refs[k]; seen {
			rd.problem(n.child("AcctSvcrRef"), f+"/AcctSvcrRef", ref, fmt.Sprintf("entry reference %s appears twice (first at line %d)", ref, first))
		} else {
			rd.refs[k] = n.line
		}
	}
	var valDt, bookgDt time.Time
	if v := n.child("ValDt"); v != nil {
		valDt, _ = rd.date(v, f+"/ValDt")
	}
	if b := n.child("BookgDt"); b != nil {
		bookgDt, _ = rd.date(b, f+"/BookgDt")
	}
	txs := rd.transactions(n, f, amt, ccy, credit, amtOK && dirOK)
	if rd.probs.Total > before || !st.ours {
		return
	}

	why := ""
	switch {
	case status != "BOOK":
		why = fmt.Sprintf("status %s: not booked", status)
	case credit && reversal:
		why = "reversal of a debit: not new money"
	case !credit && reversal:
		why = "reversal of a credit: money taken back"
	case !credit:
		why = "debit"
	case amt.Sign() == 0:
		why = "zero amount"
	}
	valueDate := valDt
	if valueDate.IsZero() {
		valueDate = bookgDt
	}
	if why != "" {
		rd.st.Others = append(rd.st.Others, Entry{Line: n.line, EntryRef: ref, NtryRef: n.value("NtryRef"), Amount: amt,
			Currency: ccy, Credit: credit, Reversal: reversal, Status: status, ValueDate: valueDate, Why: why})
		return
	}
	if valueDate.IsZero() {
		rd.problem(n, f+"/ValDt", "", "a booked credit needs ValDt or BookgDt")
		return
	}
	base := Receipt{Line: n.line, EntryRef: ref, NtryRef: n.value("NtryRef"), ValueDate: valueDate, BookingDate: bookgDt,
		Amount: amt, Currency: ccy, BankTxCode: bankTxCode(n.child("BkTxCd")), Tx: 1, Txs: 1,
		Remittance: collapse(n.value("AddtlNtryInf"))}
	if len(txs) == 0 {
		txs = []Receipt{base}
	}
	for i, tx := range txs {
		r := base
		r.Line, r.Tx, r.Txs, r.Amount = tx.Line, i+1, len(txs), tx.Amount
		r.TxRef, r.UETR, r.MsgID, r.EndToEndID = tx.TxRef, tx.UETR, tx.MsgID, tx.EndToEndID
		r.OriginatorName, r.OriginatorAccount, r.OriginatorBank, r.OriginatorAddress = tx.OriginatorName, tx.OriginatorAccount, tx.OriginatorBank, tx.OriginatorAddress
		if tx.Remittance != "" {
			r.Remittance = tx.Remittance
		}
		if r.UETR == "" && r.TxRef == "" && r.EntryRef == "" {
			rd.problem(n, f+"/AcctSvcrRef", "", "a booked credit needs AcctSvcrRef (or a UETR) so that the same payment in a camt.054 and a camt.053 is one receipt")
			return
		}
		rd.st.Receipts = append(rd.st.Receipts, r)
	}
}

// transactions reads an entry's TxDtls. A batch (several of them) is split into one receipt each,
// and their amounts must add up to the entry's; one without an amount takes the entry's.
func (rd *reader) transactions(n *node, f string, amt decimal.Decimal, ccy string, credit, entryOK bool) []Receipt {
	var tds []*node
	for _, d := range n.all("NtryDtls") {
		tds = append(tds, d.all("TxDtls")...)
	}
	f += "/NtryDtls/TxDtls"
	var out []Receipt
	sum, sumOK := decimal.Zero, true
	for _, td := range tds {
		tx := Receipt{Line: td.line, Amount: amt}
		amtNode, amtField := td.at("AmtDtls/TxAmt/Amt"), f+"/AmtDtls/TxAmt/Amt"
		if a := td.child("Amt"); a != nil {
			if rd.version == V02 {
				rd.problem(a, f+"/Amt", "", "version .001.02 has no TxDtls/Amt: the amount is AmtDtls/TxAmt/Amt")
			}
			amtNode, amtField = a, f+"/Amt"
		}
		switch {
		case amtNode != nil:
			a, c, ok := rd.amount(amtNode, amtField)
			if ok && c != ccy {
				rd.problem(amtNode, amtField, c, fmt.Sprintf("the transaction is in %s, the entry in %s", c, ccy))
			}
			sumOK = sumOK && ok
			tx.Amount = a
		case len(tds) > 1:
			rd.problem(td, f+"/Amt", "", "each transaction of a batch entry needs its amount")
			sumOK = false
		}
		sum = sum.Add(tx.Amount)
		if td.child("CdtDbtInd") != nil {
			if c, ok := rd.direction(td, f+"/CdtDbtInd"); ok && c != credit {
				rd.problem(td.child("CdtDbtInd"), f+"/CdtDbtInd", td.value("CdtDbtInd"), "the transaction's direction differs from its entry's")
			}
		}
		rd.parties(td, f, &tx)
		out = append(out, tx)
	}
	if len(tds) > 0 && sumOK && entryOK && !sum.Equal(amt) {
		rd.problem(n.child("Amt"), strings.TrimSuffix(f, "/NtryDtls/TxDtls")+"/Amt", strings.TrimSpace(n.child("Amt").text.String()),
			fmt.Sprintf("the entry's %d transactions add up to %s, not the entry amount %s", len(tds), money(sum), money(amt)))
	}
	return out
}

// parties reads references, originator and remittance of one TxDtls by the version's paths.
func (rd *reader) parties(td *node, f string, tx *Receipt) {
	refs := td.child("Refs")
	tx.TxRef, tx.MsgID, tx.EndToEndID = refs.value("AcctSvcrRef"), refs.value("MsgId"), refs.value("EndToEndId")
	if u := refs.child("UETR"); u != nil {
		if rd.version == V02 {
			rd.problem(u, f+"/Refs/UETR", "", "version .001.02 has no UETR")
		}
		tx.UETR = strings.ToLower(refs.value("UETR"))
	}

	dbtr, dbtrField := td.at("RltdPties/Dbtr"), f+"/RltdPties/Dbtr"
	pty := dbtr
	if rd.version == V08 {
		if nm := dbtr.child("Nm"); nm != nil {
			rd.problem(nm, dbtrField+"/Nm", "", "in version .001.08 the debtor's name is Dbtr/Pty/Nm")
		}
		pty = dbtr.child("Pty")
	} else if p := dbtr.child("Pty"); p != nil {
		rd.problem(p, dbtrField+"/Pty", "", "version .001.02 has no Dbtr/Pty: the name is Dbtr/Nm")
	}
	tx.OriginatorName = collapse(pty.value("Nm"))
	tx.OriginatorAddress = address(pty.child("PstlAdr"))
	acct := td.at("RltdPties/DbtrAcct/Id")
	tx.OriginatorAccount = acct.value("IBAN")
	if tx.OriginatorAccount == "" {
		tx.OriginatorAccount = acct.value("Othr/Id")
	}

	fin := td.at("RltdAgts/DbtrAgt/FinInstnId")
	bicName, wrong := "BICFI", "BIC"
	if rd.version == V02 {
		bicName, wrong = "BIC", "BICFI"
	}
	if w := fin.child(wrong); w != nil {
		rd.problem(w, f+"/RltdAgts/DbtrAgt/FinInstnId/"+wrong, "", fmt.Sprintf("version .%s names the bank's BIC %s", rd.version, bicName))
	}
	var bank []string
	if b := fin.value(bicName); b != "" {
		bank = append(bank, "BIC "+b)
	}
	if m := fin.value("ClrSysMmbId/MmbId"); m != "" {
		sys := fin.value("ClrSysMmbId/ClrSysId/Cd")
		if sys == "USABA" || sys == "" {
			sys = "ABA"
		}
		bank = append(bank, sys+" "+m)
	}
	if nm := collapse(fin.value("Nm")); nm != "" {
		bank = append(bank, nm)
	}
	tx.OriginatorBank = strings.Join(bank, " ")

	var rmt []string
	for _, inf := range td.all("RmtInf") {
		for _, u := range inf.all("Ustrd") {
			rmt = append(rmt, collapse(u.text.String()))
		}
		for _, s := range inf.all("Strd") {
			rmt = append(rmt, collapse(s.value("CdtrRefInf/Ref")), collapse(s.value("RfrdDocInf/Nb")))
			for _, a := range s.all("AddtlRmtInf") {
				rmt = append(rmt, collapse(a.text.String()))
			}
		}
	}
	tx.Remittance = collapse(strings.Join(rmt, " "))
}

// address writes a postal address on one line: number and street, town, state and postcode, country;
// or the address lines as given.
func address(a *node) string {
	if a == nil {
		return ""
	}
	var parts []string
	if street := collapse(a.value("BldgNb") + " " + a.value("StrtNm")); street != "" {
		parts = append(parts, street)
	}
	if town := collapse(a.value("TwnNm") + " " + a.value("CtrySubDvsn") + " " + a.value("PstCd") + " " + a.value("Ctry")); town != "" {
		parts = append(parts, town)
	}
	for _, l := range a.all("AdrLine") {
		if s := collapse(l.text.String()); s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, ", ")
}

func bankTxCode(n *node) string {
	if d := n.child("Domn"); d != nil {
		return strings.Join([]string{d.value("Cd"), d.value("Fmly/Cd"), d.value("Fmly/SubFmlyCd")}, "/")
	}
	return n.value("Prtry/Cd")
}

// money writes an amount in messages with at least two decimals, as statements write them.
func money(d decimal.Decimal) string {
	if d.Exponent() >= -2 {
		return d.StringFixed(2)
	}
	return d.String()
}

// collapse joins whitespace runs (remittance text may hold CR/LF) into single spaces.
func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }

// checkSummary compares TxsSummry with the entries read: counts and sums of all, credit and debit
// entries, and the net.
func (rd *reader) checkSummary(st *stmt) {
	s := st.summary
	if s == nil {
		return
	}
	f := st.name + "/TxsSummry/"
	rd.checkTotals(s.child("TtlNtries"), f+"TtlNtries", "", st.n, st.sum)
	rd.checkTotals(s.child("TtlCdtNtries"), f+"TtlCdtNtries", "credit ", st.cdtN, st.cdtSum)
	rd.checkTotals(s.child("TtlDbtNtries"), f+"TtlDbtNtries", "debit ", st.dbtN, st.dbtSum)

	net := st.cdtSum.Sub(st.dbtSum)
	tot := s.child("TtlNtries")
	amtNode, dirNode, field := tot.at("TtlNetNtry/Amt"), tot.child("TtlNetNtry"), f+"TtlNtries/TtlNetNtry"
	if rd.version == V02 {
		amtNode, dirNode, field = tot.child("TtlNetNtryAmt"), tot, f+"TtlNtries/TtlNetNtryAmt"
	}
	if amtNode == nil {
		return
	}
	v, msg := parseNumber(amtNode.text.String(), maxFractionDigits)
	if msg != "" {
		rd.problem(amtNode, field, strings.TrimSpace(amtNode.text.String()), msg)
		return
	}
	credit, ok := rd.direction(dirNode, field+"/CdtDbtInd")
	if !ok {
		return
	}
	if !credit {
		v = v.Neg()
	}
	if !v.Equal(net) {
		rd.problem(amtNode, field, strings.TrimSpace(amtNode.text.String()),
			fmt.Sprintf("the summary's net is %s, the file's entries net %s (credits %s − debits %s)", money(v), money(net), money(st.cdtSum), money(st.dbtSum)))
	}
}

func (rd *reader) checkTotals(t *node, f, what string, n int, sum decimal.Decimal) {
	if t == nil {
		return
	}
	if c := t.child("NbOfNtries"); c != nil {
		v := strings.TrimSpace(c.text.String())
		got, err := strconv.Atoi(v)
		switch {
		case err != nil || !digits(v) || len(v) > 15:
			rd.problem(c, f+"/NbOfNtries", v, "not a count")
		case got != n:
			rd.problem(c, f+"/NbOfNtries", v, fmt.Sprintf("the summary counts %d %sentries, the file holds %d", got, what, n))
		}
	}
	if c := t.child("Sum"); c != nil {
		v := strings.TrimSpace(c.text.String())
		got, msg := parseNumber(v, maxFractionDigits)
		switch {
		case msg != "":
			rd.problem(c, f+"/Sum", v, msg)
		case !got.Equal(sum):
			rd.problem(c, f+"/Sum", v, fmt.Sprintf("the summary's sum of %sentries is %s, the file's %sentries add up to %s", what, money(got), what, money(sum)))
		}
	}
}

// checkBalances proves a statement: opening booked balance (OPBD, else PRCD) + booked credits −
// booked debits = closing booked balance (CLBD), balances signed by their CdtDbtInd.
func (rd *reader) checkBalances(st *stmt) {
	f := st.name + "/Bal"
	find := func(code string) *node {
		for _, b := range st.bals {
			if b.value("Tp/CdOrPrtry/Cd") == code {
				return b
			}
		}
		return nil
	}
	open := find("OPBD")
	if open == nil {
		open = find("PRCD")
	}
	closing := find("CLBD")
	if open == nil || closing == nil {
		rd.probs.add(Problem{Line: st.line, Column: st.col, Field: f,
			Problem: "a camt.053 statement needs an opening (OPBD or PRCD) and a closing (CLBD) booked balance"})
		return
	}
	signed := func(b *node) (decimal.Decimal, bool) {
		v, _, ok := rd.amount(b.child("Amt"), f+"/Amt")
		if !ok {
			return v, false
		}
		credit, ok := rd.direction(b, f+"/CdtDbtInd")
		if !credit {
			v = v.Neg()
		}
		return v, ok
	}
	o, ok1 := signed(open)
	c, ok2 := signed(closing)
	if !ok1 || !ok2 {
		return
	}
	want := o.Add(st.bookedCdt).Sub(st.bookedDbt)
	if !want.Equal(c) {
		amt := closing.child("Amt")
		rd.problem(amt, f+"/Amt", strings.TrimSpace(amt.text.String()),
			fmt.Sprintf("opening balance %s + credits %s − debits %s = %s, but the closing booked balance (CLBD) is %s",
				money(o), money(st.bookedCdt), money(st.bookedDbt), money(want), money(c)))
	}
}

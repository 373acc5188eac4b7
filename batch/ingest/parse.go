package ingest

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/pool"
)

// Kind is what a file holds, decided by its name.
type Kind string

const (
	KindReceipts    Kind = "receipts"
	KindAllocations Kind = "allocations"
	KindRewards     Kind = "rewards"
)

// The columns of each kind, in the order DESIGN.md gives them. Files may order them differently;
// the header says where each one is.
var (
	ReceiptColumns    = []string{"receipt_id", "value_date", "amount", "currency", "originator_name", "originator_account", "originator_bank", "originator_address", "reference"}
	AllocationColumns = []string{"receipt_id", "account_id", "amount", "weight", "client_ref", "description", "bank_reference"}
	RewardColumns     = []string{"reward_id", "account_id", "symbol", "qty", "reason", "description"}
)

// optionalColumns may be left out of a file's header. An allocations file names each row's receipt
// by receipt_id or by bank_reference, so it needs only one of the two columns (see
// allocationReceipt).
var optionalColumns = map[string]bool{"bank_reference": true}

// MaxProblems is how many problems of one file are kept and written; the rest are only counted.
const MaxProblems = 1000

// MaxRecordBytes bounds one CSV record (one row, across quoted line breaks). A valid row is a few
// kilobytes at most; the bound keeps memory flat whatever arrives.
const MaxRecordBytes = 64 << 10

// Problem is one thing wrong with a file.
type Problem struct {
	Line    int    // physical line, 1-based; 0 when the problem is about the whole file
	Column  int    // CSV column, 1-based; 0 when the problem is not about one column
	Field   string // column name from the header, when known
	Value   string // the offending text, when there is one
	Problem string
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&b, "line %d", p.Line)
		if p.Column > 0 {
			fmt.Fprintf(&b, ", column %d", p.Column)
		}
		if p.Field != "" {
			fmt.Fprintf(&b, " (%s)", p.Field)
		}
		b.WriteString(": ")
	}
	b.WriteString(p.Problem)
	return b.String()
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

var (
	errRecordTooLong = errors.New("record too long")
	errStop          = errors.New("stopped at first problem")
)

// table reads one CSV file of a known kind: header, then records with their physical positions.
type table struct {
	columns     []string
	cr          *csv.Reader
	lim         *limitReader
	col         []int // col[i] is the record index of columns[i], -1 when the header lacks it
	lastLine    int
	probs       *Problems
	failFast    bool
	headerWidth int
}

// limitReader refuses to hand the CSV reader more than MaxRecordBytes beyond the end of the last
// complete record, so a missing closing quote or a gigabyte line cannot grow memory.
type limitReader struct {
	r      io.Reader
	handed int64
	start  int64 // offset of the end of the last record, as the CSV reader counts
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.handed-l.start > MaxRecordBytes {
		return 0, errRecordTooLong
	}
	n, err := l.r.Read(p)
	l.handed += int64(n)
	return n, err
}

func newTable(r io.Reader, columns []string, probs *Problems, failFast bool) (*table, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(3)
	switch {
	case bytes.HasPrefix(head, []byte("\xef\xbb\xbf")):
		br.Discard(3)
	case bytes.HasPrefix(head, []byte("\xff\xfe")), bytes.HasPrefix(head, []byte("\xfe\xff")):
		probs.add(Problem{Problem: "the file is UTF-16 encoded: save it as UTF-8 CSV"})
		return nil, nil
	}
	lim := &limitReader{r: br}
	cr := csv.NewReader(lim)
	cr.FieldsPerRecord = -1 // counted here, to say which line and how many
	cr.ReuseRecord = true
	t := &table{columns: columns, cr: cr, lim: lim, probs: probs, failFast: failFast}
	return t, t.readHeader()
}

func (t *table) add(p Problem) error {
	t.probs.add(p)
	if t.failFast {
		return errStop
	}
	return nil
}

func (t *table) readHeader() error {
	var rec []string
	for {
		r, err := t.cr.Read()
		t.lim.start = t.cr.InputOffset()
		if err == io.EOF {
			t.add(Problem{Problem: "the file is empty: a header row and data rows are required"})
			return errStop
		}
		if err != nil {
			// Without a header nothing after it can be read by name.
			if e := t.readError(err); e != nil {
				return e
			}
			return errStop
		}
		if isBlank(r) {
			continue
		}
		rec = r
		break
	}
	line, _ := t.cr.FieldPos(0)
	t.lastLine = line
	t.headerWidth = len(rec)
	t.col = make([]int, len(t.columns))
	for i := range t.col {
		t.col[i] = -1
	}
	known := 0
	var probs []Problem
	for i, raw := range rec {
		name := strings.ToLower(strings.TrimSpace(raw))
		j := indexOf(t.columns, name)
		switch {
		case j < 0:
			probs = append(probs, Problem{Line: line, Column: i + 1, Field: name, Value: raw,
				Problem: fmt.Sprintf("unknown column %q; the columns are %s", raw, strings.Join(t.columns, ","))})
		case t.col[j] >= 0:
			probs = append(probs, Problem{Line: line, Column: i + 1, Field: name, Value: raw,
				Problem: fmt.Sprintf("column %s appears twice (first as column %d)", name, t.col[j]+1)})
		default:
			t.col[j] = i
			known++
		}
	}
	if known == 0 {
		return t.add(Problem{Line: line, Problem: fmt.Sprintf("line %d is not a header row: the first row must name the columns %s",
			line, strings.Join(t.columns, ","))})
	}
	for j, c := range t.col {
		if c < 0 && !optionalColumns[t.columns[j]] && !t.coveredBy(t.columns[j]) {
			probs = append(probs, Problem{Line: line, Field: t.columns[j],
				Problem: fmt.Sprintf("column %s is missing from the header", t.columns[j])})
		}
	}
	for _, p := range probs {
		if err := t.add(p); err != nil {
			return err
		}
	}
	return nil
}

// coveredBy reports whether a missing column is stood in for by another the header has: an
// allocations file may name its receipts by bank_reference alone.
func (t *table) coveredBy(column string) bool {
	if column != "receipt_id" {
		return false
	}
	j := indexOf(t.columns, "bank_reference")
	return j >= 0 && t.col[j] >= 0
}

// next returns the next record with the right number of fields and its physical line. Records
// that cannot be read are reported and skipped; ok is false at the end of the file.
func (t *table) next(width int) (rec []string, line int, ok bool, err error) {
	for {
		r, err := t.cr.Read()
		t.lim.start = t.cr.InputOffset()
		if err == io.EOF {
			return nil, 0, false, nil
		}
		if err != nil {
			if e := t.readError(err); e != nil || errors.Is(err, errRecordTooLong) || !isParseError(err) {
				return nil, 0, false, e
			}
			continue
		}
		line, _ = t.cr.FieldPos(0)
		t.lastLine = line
		if isBlank(r) {
			continue
		}
		if len(r) != width {
			if e := t.add(Problem{Line: line, Problem: fmt.Sprintf("the row has %d fields, the header has %d", len(r), width)}); e != nil {
				return nil, 0, false, e
			}
			continue
		}
		return r, line, true, nil
	}
}

func isParseError(err error) bool {
	var pe *csv.ParseError
	return errors.As(err, &pe)
}

// readError turns a CSV reading error into a problem. I/O errors are returned as they are.
func (t *table) readError(err error) error {
	var pe *csv.ParseError
	switch {
	case errors.Is(err, errRecordTooLong):
		return t.add(Problem{Line: t.lastLine + 1, Problem: fmt.Sprintf(
			"the row starting after line %d is longer than %d bytes (an unclosed quote?); the rest of the file was not read", t.lastLine, MaxRecordBytes)})
	case errors.As(err, &pe):
		msg := "CSV syntax: " + pe.Err.Error()
		if errors.Is(pe.Err, csv.ErrBareQuote) {
			msg = `CSV syntax: a " inside a field that is not quoted; quote the field and double the " inside it`
		} else if errors.Is(pe.Err, csv.ErrQuote) {
			msg = `CSV syntax: a quoted field is not closed properly (a stray or missing ")`
		}
		if pe.StartLine != pe.Line {
			msg += fmt.Sprintf(" (the row starts at line %d)", pe.StartLine)
		}
		t.lastLine = pe.Line
		return t.add(Problem{Line: pe.Line, Problem: msg})
	}
	return fmt.Errorf("read csv: %w", err)
}

func isBlank(rec []string) bool {
	return len(rec) == 1 && strings.TrimSpace(rec[0]) == ""
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// rowChecker collects the problems of one row.
type rowChecker struct {
	t   *table
	rec []string
	bad bool
	err error
}

// field returns the text of columns[i] and whether the header has it.
func (c *rowChecker) field(i int) (string, bool) {
	if c.t.col[i] < 0 {
		c.bad = true
		return "", false
	}
	return c.rec[c.t.col[i]], true
}

// fail records a problem with columns[i]. Field errors from pool read as a predicate of the field
// ("is required"), so the problem text is the field name followed by it.
func (c *rowChecker) fail(i int, err error, prefix bool) {
	c.bad = true
	if c.err != nil {
		return
	}
	col := c.t.col[i]
	line, _ := c.t.cr.FieldPos(col)
	msg := err.Error()
	if prefix {
		msg = c.t.columns[i] + " " + msg
	}
	c.err = c.t.add(Problem{Line: line, Column: col + 1, Field: c.t.columns[i], Value: c.rec[col], Problem: msg})
}

func (c *rowChecker) ref(i int) string { return parsed(c, i, pool.ParseRef) }

// parsed checks the text of columns[i] with p, a pool rule, and returns what p made of it.
func parsed[T any](c *rowChecker, i int, p func(string) (T, error)) T {
	s, ok := c.field(i)
	if !ok {
		var zero T
		return zero
	}
	v, err := p(s)
	if err != nil {
		c.fail(i, err, true)
	}
	return v
}

func (c *rowChecker) text(i int, max int, required bool) string {
	s, ok := c.field(i)
	if !ok {
		return ""
	}
	if err := pool.CheckText(s, max, required); err != nil {
		if errors.Is(err, pool.ErrTextTooLong) {
			err = fmt.Errorf("%w: %d bytes, at most %d", err, len(s), max)
		}
		c.fail(i, err, true)
	}
	return s
}

func (c *rowChecker) amount(i int, optional bool) decimal.NullDecimal {
	s, ok := c.field(i)
	if !ok || (optional && s == "") {
		return decimal.NullDecimal{}
	}
	d, err := pool.ParseAmount(s)
	if err != nil {
		c.fail(i, err, true)
		return decimal.NullDecimal{}
	}
	return decimal.NullDecimal{Decimal: d, Valid: true}
}

// Receipt columns by index in ReceiptColumns.
const (
	rcReceiptID = iota
	rcValueDate
	rcAmount
	rcCurrency
	rcOriginatorName
	rcOriginatorAccount
	rcOriginatorBank
	rcOriginatorAddress
	rcReference
)

// Allocation columns by index in AllocationColumns.
const (
	acReceiptID = iota
	acAccountID
	acAmount
	acWeight
	acClientRef
	acDescription
	acBankReference
)

// ReadReceipts reads a receipts file, calls row for every valid row in file order, and returns
// every problem found. The error is for failures to read or from row, never for bad content.
func ReadReceipts(r io.Reader, now time.Time, row func(line int, rc pool.Receipt) error) (Problems, error) {
	var ps Problems
	_, err := readReceipts(r, now, &ps, false, row)
	return ps, err
}

func readReceipts(r io.Reader, now time.Time, ps *Problems, failFast bool, row func(int, pool.Receipt) error) (*table, error) {
	return readRows(r, ReceiptColumns, ps, failFast, row, func(c *rowChecker) pool.Receipt {
		var rc pool.Receipt
		rc.ReceiptID = c.ref(rcReceiptID)
		if s, ok := c.field(rcValueDate); ok {
			d, err := pool.ParseValueDate(s, now)
			if err != nil {
				c.fail(rcValueDate, err, true)
			}
			rc.ValueDate = d
		}
		rc.Amount = c.amount(rcAmount, false).Decimal
		rc.Currency = parsed(c, rcCurrency, pool.ParseCurrency)
		rc.OriginatorName = c.text(rcOriginatorName, pool.MaxOriginatorLen, true)
		rc.OriginatorAccount = c.text(rcOriginatorAccount, pool.MaxOriginatorLen, true)
		rc.OriginatorBank = c.text(rcOriginatorBank, pool.MaxOriginatorLen, true)
		rc.OriginatorAddress = c.text(rcOriginatorAddress, pool.MaxOriginatorLen, true)
		rc.Reference = c.text(rcReference, pool.MaxReferenceLen, false)
		return rc
	})
}

// readRows walks the data rows of a file with the given columns: parse checks one row and builds
// its value, recording problems on the checker; rows without problems go to row.
func readRows[T any](r io.Reader, columns []string, ps *Problems, failFast bool, row func(int, T) error, parse func(*rowChecker) T) (*table, error) {
	t, err := newTable(r, columns, ps, failFast)
	if t == nil || err != nil {
		return t, stopIsNotAnError(err)
	}
	rows := 0
	hdrWidth := t.width()
	for {
		rec, line, ok, err := t.next(hdrWidth)
		if err != nil || !ok {
			if err == nil && rows == 0 && ps.Total == 0 {
				t.add(Problem{Problem: "no data rows: the file has a header but nothing under it"})
			}
			return t, stopIsNotAnError(err)
		}
		rows++
		c := rowChecker{t: t, rec: rec}
		v := parse(&c)
		if c.err != nil {
			return t, stopIsNotAnError(c.err)
		}
		if c.bad {
			continue
		}
		if err := row(line, v); err != nil {
			return t, err
		}
	}
}

// ReadAllocations reads an allocations file like ReadReceipts.
func ReadAllocations(r io.Reader, row func(line int, a pool.Allocation) error) (Problems, error) {
	var ps Problems
	_, err := readAllocations(r, &ps, false, row)
	return ps, err
}

func readAllocations(r io.Reader, ps *Problems, failFast bool, row func(int, pool.Allocation) error) (*table, error) {
	return readRows(r, AllocationColumns, ps, failFast, row, func(c *rowChecker) pool.Allocation {
		var a pool.Allocation
		a.ReceiptID, a.BankReference = allocationReceipt(c)
		a.AccountID = parsed(c, acAccountID, pool.ParseAccountID)
		amountText, hasAmount := c.field(acAmount)
		weightText, hasWeight := c.field(acWeight)
		if hasAmount && hasWeight {
			switch {
			case amountText == "" && weightText == "":
				c.fail(acAmount, pool.ErrAmountOrWeight, false)
			case amountText != "" && weightText != "":
				c.fail(acWeight, pool.ErrAmountAndWeight, false)
			}
		}
		a.Amount = c.amount(acAmount, true)
		if hasWeight && weightText != "" {
			w, err := pool.ParseWeight(weightText)
			if err != nil {
				c.fail(acWeight, err, true)
			}
			a.Weight = decimal.NullDecimal{Decimal: w, Valid: err == nil}
		}
		a.ClientRef = c.ref(acClientRef)
		a.Description = c.text(acDescription, pool.MaxDescriptionLen, false)
		return a
	})
}

// Reward columns by index in RewardColumns.
const (
	wcRewardID = iota
	wcAccountID
	wcSymbol
	wcQty
	wcReason
	wcDescription
)

// ReadRewards reads a rewards file like ReadReceipts.
func ReadRewards(r io.Reader, row func(line int, w pool.Reward) error) (Problems, error) {
	var ps Problems
	_, err := readRewards(r, &ps, false, row)
	return ps, err
}

func readRewards(r io.Reader, ps *Problems, failFast bool, row func(int, pool.Reward) error) (*table, error) {
	return readRows(r, RewardColumns, ps, failFast, row, func(c *rowChecker) pool.Reward {
		var w pool.Reward
		w.RewardID = c.ref(wcRewardID)
		w.AccountID = parsed(c, wcAccountID, pool.ParseAccountID)
		w.Symbol = parsed(c, wcSymbol, pool.ParseSymbol)
		w.Qty = parsed(c, wcQty, pool.ParseQty)
		w.Reason = c.ref(wcReason)
		w.Description = c.text(wcDescription, pool.MaxRewardDescriptionLen, false)
		return w
	})
}

func (t *table) width() int { return t.headerWidth }

func stopIsNotAnError(err error) error {
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}

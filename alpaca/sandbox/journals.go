package sandbox

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/cashpool/cashpool/alpaca"
	"github.com/shopspring/decimal"
)

// journal is the simulator's record of one journal. Guarded by Server.mu, except the fields set
// at creation and never changed (id, jnls, from, to, cents, description, created, idemKey,
// keyType, tx, rare, seq, firstStatus), which list answers and streams read after the lock is
// released. A night holds a million of these: fields a cash journal rarely has live in rare, the
// amount is in cents, account ids share one string each, statuses and dates are small numbers.
type journal struct {
	id          [16]byte
	from, to    string // the account's own ID string, shared
	cents       int64  // JNLC amount in cents, unless rare.amount holds it
	description string
	created     int64 // unix nanoseconds
	idemKey     string
	tx          *transmitter // Travel Rule fields, shared by the journals of one receipt
	rare        *rareFields
	seq         int32 // position in Server.journals
	settleDay   int32 // set when executed: days since 1970-01-01 plus one (0: none)
	st          uint8 // the status, as a statusCodes index
	firstStatus uint8 // the status of the create answer, as a statusCodes index
	keyType     uint8 // the Idempotency-Key's kind, as a keyTypes index
	jnls        bool  // a securities journal (JNLS); otherwise cash (JNLC)
	overLimit   bool  // pending because of the per-journal or daily limit
	v2          bool  // JNLC v2 flow: executed at creation, activity_created one step later
	holdsCash   bool  // the from account was debited and not yet credited back
	creditsTo   bool  // a reverse-batch journal: the firm to account is credited on execution
	credited    bool  // the to account was credited and not yet debited back
}

// rareFields are what few journals carry: securities, a refusal, an amount beyond int64 cents.
// Set at creation only.
type rareFields struct {
	fixture      string // status named by a /fixtures/status=.../fixtures/ description
	symbol       string
	qty, price   decimal.Decimal
	errorMessage string          // why it was refused
	amount       decimal.Decimal // when cents cannot hold it
	bigAmount    bool
}

// rareOf returns j's rare fields, allocating them; only while j is being created.
func (j *journal) rareOf() *rareFields {
	if j.rare == nil {
		j.rare = &rareFields{}
	}
	return j.rare
}

var noRare rareFields

func (j *journal) fixture() string { return j.extra().fixture }

func (j *journal) status() string { return statusCodes[j.st] }

func (j *journal) entryType() string {
	if j.jnls {
		return entryJNLS
	}
	return entryJNLC
}

// keyTypes are the idempotency_key_type values an event shows, "" for a journal without a key.
var keyTypes = [...]string{"", "single", "batch"}

func (j *journal) idemKeyType() string { return keyTypes[j.keyType] }

func keyTypeCode(s string) uint8 {
	switch s {
	case "single":
		return 1
	case "batch":
		return 2
	}
	return 0
}

// setFixture records the status a description's fixture asks for, if any; only at creation.
func (j *journal) setFixture(description string) {
	if f := fixtureStatus(description); f != "" {
		j.rareOf().fixture = f
	}
}

func (j *journal) createdAt() time.Time { return time.Unix(0, j.created).UTC() }

func (j *journal) extra() *rareFields {
	if j.rare == nil {
		return &noRare
	}
	return j.rare
}

// setAmount records a JNLC amount (at most two places, as parseMoney checked).
func (j *journal) setAmount(a decimal.Decimal) {
	c := a.Shift(2)
	if c.IsInteger() && c.LessThan(maxCents) {
		j.cents = c.IntPart()
		return
	}
	r := j.rareOf()
	r.amount, r.bigAmount = a, true
}

var maxCents = decimal.New(1, 18)

func (j *journal) amount() decimal.Decimal {
	if j.rare != nil && j.rare.bigAmount {
		return j.rare.amount
	}
	return decimal.New(j.cents, -2)
}

// appendAmount appends the amount with two places, without building a decimal for the common case.
func (j *journal) appendAmount(b []byte) []byte {
	if j.rare != nil && j.rare.bigAmount {
		return append(b, j.rare.amount.StringFixed(2)...)
	}
	b = strconv.AppendInt(b, j.cents/100, 10)
	return append(b, '.', byte('0'+j.cents%100/10), byte('0'+j.cents%10))
}

// appendAmountShort appends the amount as decimal.Decimal's String writes it: without trailing
// zeros ("12.5", "7").
func (j *journal) appendAmountShort(b []byte) []byte {
	if j.rare != nil && j.rare.bigAmount {
		return append(b, j.rare.amount.String()...)
	}
	b = strconv.AppendInt(b, j.cents/100, 10)
	switch c := j.cents % 100; {
	case c == 0:
		return b
	case c%10 == 0:
		return append(b, '.', byte('0'+c/10))
	default:
		return append(b, '.', byte('0'+c/10), byte('0'+c%10))
	}
}

// idText formats a journal id the way Alpaca writes UUIDs.
func idText(id [16]byte) string { return string(appendID(make([]byte, 0, 36), id)) }

// appendID appends a journal id the way Alpaca writes UUIDs.
func appendID(b []byte, id [16]byte) []byte {
	var t [36]byte
	hex.Encode(t[0:8], id[0:4])
	t[8] = '-'
	hex.Encode(t[9:13], id[4:6])
	t[13] = '-'
	hex.Encode(t[14:18], id[6:8])
	t[18] = '-'
	hex.Encode(t[19:23], id[8:10])
	t[23] = '-'
	hex.Encode(t[24:36], id[10:16])
	return append(b, t[:]...)
}

// parseID reads a journal id written as idText writes it; anything else is no journal's id.
func parseID(s string) ([16]byte, bool) {
	var id [16]byte
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return id, false
	}
	hexPart := s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:36]
	if strings.ToLower(hexPart) != hexPart {
		return id, false
	}
	if _, err := hex.Decode(id[:], []byte(hexPart)); err != nil {
		return id, false
	}
	return id, true
}

type transmitter struct {
	Name                 string `json:"transmitter_name,omitempty"`
	AccountNumber        string `json:"transmitter_account_number,omitempty"`
	Address              string `json:"transmitter_address,omitempty"`
	FinancialInstitution string `json:"transmitter_financial_institution,omitempty"`
	Timestamp            string `json:"transmitter_timestamp,omitempty"`
}

// currency is the only one the simulator books.
const currency = "USD"

// wire is j as an answer shows it now. Callers hold s.mu.
func (j *journal) wire() journalJSON { return journalJSON{j: j, st: j.st, settleDay: j.settleDay} }

// asCreated is j as its create answer showed it: its first status, settled only if executed then.
// Callers hold s.mu.
func (j *journal) asCreated() journalJSON {
	o := journalJSON{j: j, st: j.firstStatus}
	if statusCodes[j.firstStatus] == alpaca.StatusExecuted {
		o.settleDay = j.settleDay // set by that first execution and never moved since
	}
	return o
}

// LedgerEntry is one journal as the simulator recorded it, for tests' invariant checks.
type LedgerEntry struct {
	ID                 string          `json:"id"`
	EntryType          string          `json:"entry_type"`
	FromAccount        string          `json:"from_account"`
	ToAccount          string          `json:"to_account"`
	Amount             decimal.Decimal `json:"amount"`           // zero for JNLS
	Symbol             string          `json:"symbol,omitempty"` // JNLS only
	Qty                decimal.Decimal `json:"qty,omitzero"`     // JNLS only
	Price              decimal.Decimal `json:"price,omitzero"`   // JNLS only
	Status             string          `json:"status"`
	Description        string          `json:"description"`
	IdempotencyKey     string          `json:"idempotency_key,omitempty"`
	IdempotencyKeyType string          `json:"idempotency_key_type,omitempty"`
	ErrorMessage       string          `json:"error_message,omitempty"`
	CreatedAt          time.Time       `json:"created_at"`
	Corrects           string          `json:"corrects,omitempty"`     // the journal this one replaced
	CorrectedBy        string          `json:"corrected_by,omitempty"` // the journal that replaced this one
}

// Ledger returns every journal the simulator ever created, oldest first, with statuses brought up
// to the simulated now.
func (s *Server) Ledger() []LedgerEntry {
	s.lockAndTick()
	rows := s.ledgerRows()
	s.mu.Unlock()
	out := make([]LedgerEntry, len(rows))
	for i, r := range rows {
		out[i] = r.entry()
	}
	return out
}

// ledgerRow is what of a journal's ledger entry may still change, taken under the lock; the
// entry is shaped from it after the lock is released, so that the ledger of a million journals
// can be written one entry at a time.
type ledgerRow struct {
	j                     *journal
	corrects, correctedBy *journal
	st                    uint8
}

// ledgerRows snapshots every journal, oldest first. Callers hold s.mu.
func (s *Server) ledgerRows() []ledgerRow {
	rows := make([]ledgerRow, s.journals.len())
	for i := range rows {
		j := s.journals.at(i)
		rows[i] = ledgerRow{j: j, corrects: s.corrects[j], correctedBy: s.correctedBy[j], st: j.st}
	}
	return rows
}

func (r ledgerRow) entry() LedgerEntry {
	j := r.j
	x := j.extra()
	e := LedgerEntry{
		ID: idText(j.id), EntryType: j.entryType(), FromAccount: j.from, ToAccount: j.to,
		Symbol: x.symbol, Qty: x.qty, Price: x.price, Status: statusCodes[r.st], Description: j.description,
		IdempotencyKey: j.idemKey, IdempotencyKeyType: j.idemKeyType(), ErrorMessage: x.errorMessage, CreatedAt: j.createdAt(),
	}
	if !j.jnls {
		e.Amount = j.amount()
	}
	if r.corrects != nil {
		e.Corrects = idText(r.corrects.id)
	}
	if r.correctedBy != nil {
		e.CorrectedBy = idText(r.correctedBy.id)
	}
	return e
}

// fixturePattern finds Alpaca's sandbox fixture block, e.g. "/fixtures/status=rejected/fixtures/".
var fixturePattern = regexp.MustCompile(`/fixtures/([^/]*)/fixtures/`)

// fixtureStatus returns the status a description's fixture asks for: rejected, pending or "".
func fixtureStatus(description string) string {
	if !strings.Contains(description, "/fixtures/") {
		return "" // what nearly every description says, found without the pattern's cost
	}
	m := fixturePattern.FindStringSubmatch(description)
	if m == nil {
		return ""
	}
	for _, kv := range strings.Split(m[1], ",") {
		k, v, _ := strings.Cut(kv, "=")
		if strings.TrimSpace(k) == "status" {
			switch v = strings.TrimSpace(v); v {
			case alpaca.StatusRejected, alpaca.StatusPending:
				return v
			}
		}
	}
	return ""
}

// newID returns a random version-4 UUID, the ref_id of a cash deposit or withdrawal activity.
func newID() [16]byte {
	var id [16]byte
	binary.BigEndian.PutUint64(id[0:8], rand.Uint64())
	binary.BigEndian.PutUint64(id[8:16], rand.Uint64())
	id[6] = id[6]&0x0f | 0x40 // version 4
	id[8] = id[8]&0x3f | 0x80 // RFC 4122 variant
	return id
}

// entryRequest is one journal to create, already validated.
type entryRequest struct {
	from, to    string // for createJournal, the accounts' own ID strings (checkFrom, checkTo)
	amount      decimal.Decimal
	description string
	transmitter transmitter
	idemKey     string
	idemKeyType string
	v2          bool // a single JNLC on a JNLC v2 server: executed at once when under the limits
}

// Entry types.
const (
	entryJNLC = "JNLC"
	entryJNLS = "JNLS"
)

// createJournal books one JNLC from a firm account. refuseShort decides what a shortfall of cash
// does: a batch entry is created refused; a single journal is not created at all and the caller
// answers 403. With e.v2 a journal under the limits follows the JNLC v2 flow (executed now,
// activity_created one StepEvery later); over-limit and fixture journals keep the v1 flow, as
// Alpaca keeps over-limit JNLCs on v1 and fixtures must wait for EndOfDay. Callers hold s.mu.
func (s *Server) createJournal(e entryRequest, now time.Time, refuseShort bool) (*journal, error) {
	j := &journal{
		from: e.from, to: e.to,
		description: e.description, created: now.UnixNano(), idemKey: e.idemKey, keyType: keyTypeCode(e.idemKeyType),
	}
	j.setFixture(e.description)
	j.setAmount(e.amount)
	j.tx = s.sharedTransmitter(e.transmitter)
	available := s.cash[e.from]
	if available.LessThan(e.amount) {
		msg := fmt.Sprintf("insufficient balance, available: %s, required: %s",
			available.StringFixed(2), e.amount.StringFixed(2))
		if !refuseShort {
			return nil, fmt.Errorf("%s", msg)
		}
		j.rareOf().errorMessage = msg
		return s.add(j, now, alpaca.StatusRefused), nil
	}
	s.cash[e.from] = available.Sub(e.amount)
	j.holdsCash = true

	overJournal := s.journalLimit.IsPositive() && e.amount.GreaterThan(s.journalLimit)
	overDaily := s.dailyLimit.IsPositive() && s.dailyTotal.Add(e.amount).GreaterThan(s.dailyLimit)
	if overJournal || overDaily {
		j.overLimit = true
		return s.add(j, now, alpaca.StatusPending), nil
	}
	s.dailyTotal = s.dailyTotal.Add(e.amount)
	if e.v2 && j.fixture() == "" {
		j.v2 = true
		return s.add(j, now, alpaca.StatusExecuted), nil
	}
	return s.add(j, now, alpaca.StatusQueued), nil
}

// sharedTransmitter returns Travel Rule fields to keep on a journal: nil for none, else the
// previous journal's copy when it had the same ones (the journals of one receipt come together,
// and ten of them then hold one copy). Callers hold s.mu.
func (s *Server) sharedTransmitter(t transmitter) *transmitter {
	switch {
	case t == (transmitter{}):
		return nil
	case s.lastTx == nil || *s.lastTx != t:
		kept := t
		s.lastTx = &kept
	}
	return s.lastTx
}

// accountID is the account's own ID string, so that a million journals to the same accounts hold
// one copy of each id. Callers hold s.mu and checked the account exists.
func (s *Server) accountID(id string) string {
	if a, ok := s.accounts[id]; ok {
		return a.ID
	}
	return id
}

// securitiesRequest is one JNLS to create, already validated.
type securitiesRequest struct {
	from, to    string
	symbol      string
	qty         decimal.Decimal
	description string
	idemKey     string
}

// createJNLS books one securities journal, whose shares the caller checked are available: it
// follows the v1 flow (queued, sent_to_clearing, executed) and bookShares moves its shares; the
// JNLC cash limits do not apply to it. Callers hold s.mu.
func (s *Server) createJNLS(e securitiesRequest, now time.Time) *journal {
	price, ok := s.opts.Seed.Prices[e.symbol]
	if !ok {
		price = defaultPrice
	}
	j := &journal{
		jnls: true, from: s.accountID(e.from), to: s.accountID(e.to),
		description: e.description, created: now.UnixNano(), idemKey: e.idemKey,
		rare: &rareFields{fixture: fixtureStatus(e.description), symbol: e.symbol, qty: e.qty, price: price},
	}
	if e.idemKey != "" {
		j.keyType = keyTypeCode("single")
	}
	return s.add(j, now, alpaca.StatusQueued)
}

// add records a new journal with its first status and returns the record, which from then on
// stands for it (j was only its draft).
func (s *Server) add(j *journal, now time.Time, status string) *journal {
	j.seq = int32(s.journals.len())
	j.id = s.ids.id(j.seq)
	j.firstStatus = statusCode(status)
	rec := s.journals.add(*j)
	s.setStatus(rec, status, now)
	return rec
}

// chunked is an append-only sequence kept in chunks of a fixed size: appending never copies or
// moves what is stored, so a record's address stays valid and a night's worth of records never
// needs a second, doubled array.
type chunked[T any] struct {
	chunks []*[chunkLen]T
	n      int
}

const chunkLen = 4096

func (c *chunked[T]) len() int    { return c.n }
func (c *chunked[T]) at(i int) *T { return &c.chunks[i/chunkLen][i%chunkLen] }

func (c *chunked[T]) add(v T) *T {
	if c.n%chunkLen == 0 {
		c.chunks = append(c.chunks, new([chunkLen]T))
	}
	p := c.at(c.n)
	*p = v
	c.n++
	return p
}

// setStatus moves j to status at time at, records the event and keeps cash, the open set and the
// due heap in step. Callers hold s.mu.
func (s *Server) setStatus(j *journal, status string, at time.Time) {
	from := j.status()
	j.st = statusCode(status)
	s.bookCash(j, from, status)
	s.bookShares(j, from, status)
	switch status {
	case alpaca.StatusQueued, alpaca.StatusSentToClearing, alpaca.StatusPending:
		s.open.set(j.seq)
	default:
		s.open.clear(j.seq)
	}
	switch status {
	case alpaca.StatusRejected, alpaca.StatusCanceled, alpaca.StatusDeleted, alpaca.StatusCorrect:
		// The money never arrived or was taken back: return it to the firm account.
		if j.holdsCash {
			s.cash[j.from] = s.cash[j.from].Add(j.amount())
			j.holdsCash = false
		}
		if j.credited {
			s.cash[j.to] = s.cash[j.to].Sub(j.amount())
			j.credited = false
		}
	case alpaca.StatusExecuted:
		j.settleDay = int32(unixDay(at)) + 1
		if j.creditsTo && !j.credited {
			s.cash[j.to] = s.cash[j.to].Add(j.amount())
			j.credited = true
		}
	}
	// Fixture journals wait for EOD; the others move on by themselves.
	if j.fixture() == "" {
		switch {
		case status == alpaca.StatusQueued, status == alpaca.StatusSentToClearing,
			status == alpaca.StatusExecuted && j.v2:
			s.due.push(dueStep{at: at.Add(s.opts.StepEvery), seq: j.seq, from: j.st})
		}
	}
	s.appendEvent(j, from, status, at)
}

// bitset is a set of journal positions: the open journals, in creation order for free.
type bitset struct {
	words []uint64
	n     int
}

func (b *bitset) set(i int32) {
	w := int(i) / 64
	for w >= len(b.words) {
		b.words = append(b.words, 0)
	}
	if b.words[w]&(1<<(i%64)) == 0 {
		b.words[w] |= 1 << (i % 64)
		b.n++
	}
}

func (b *bitset) clear(i int32) {
	if w := int(i) / 64; w < len(b.words) && b.words[w]&(1<<(i%64)) != 0 {
		b.words[w] &^= 1 << (i % 64)
		b.n--
	}
}

// each calls fn for every member, in increasing order.
func (b *bitset) each(fn func(i int32)) {
	for w, word := range b.words {
		for word != 0 {
			bit := bits.TrailingZeros64(word)
			fn(int32(w*64 + bit))
			word &^= 1 << bit
		}
	}
}

// tick applies every automatic status change due by the simulated now and returns that now.
// Only due entries are touched, so the cost does not grow with the number of journals.
func (s *Server) tick() time.Time {
	now := s.now()
	for len(s.due) > 0 && !s.due[0].at.After(now) {
		d := s.due.pop()
		j := s.journals.at(int(d.seq))
		if j.st != d.from {
			continue // something else (EOD, an admin action) moved it first
		}
		switch statusCodes[d.from] {
		case alpaca.StatusQueued:
			s.setStatus(j, alpaca.StatusSentToClearing, d.at)
		case alpaca.StatusSentToClearing:
			s.setStatus(j, alpaca.StatusExecuted, d.at)
		case alpaca.StatusExecuted:
			s.setStatus(j, alpaca.StatusActivityCreated, d.at) // JNLC v2 only: nothing else is queued from executed
		}
	}
	if len(s.due) == 0 && cap(s.due) > 1024 {
		s.due = nil // a night's worth of steps is done: let its array go
	}
	s.pruneIdempotency(now)
	return now
}

// dueStep is one automatic status change: the journal at position seq leaves status from (a
// statusCodes index) at time at.
type dueStep struct {
	at   time.Time
	seq  int32
	from uint8
}

// dueHeap is a min-heap of steps on at: container/heap's algorithm written out for this one type,
// so that no step is boxed in an interface, with the same order of steps, ties included.
type dueHeap []dueStep

func (h *dueHeap) push(d dueStep) {
	*h = append(*h, d)
	h.up(len(*h) - 1)
}

func (h *dueHeap) pop() dueStep {
	old := *h
	n := len(old) - 1
	old[0], old[n] = old[n], old[0]
	old.down(0, n)
	*h = old[:n]
	return old[n]
}

func (h dueHeap) up(j int) {
	for {
		i := (j - 1) / 2 // parent
		if i == j || !h[j].at.Before(h[i].at) {
			break
		}
		h[i], h[j] = h[j], h[i]
		j = i
	}
}

func (h dueHeap) down(i, n int) {
	for {
		j1 := 2*i + 1
		if j1 >= n || j1 < 0 { // j1 < 0 after int overflow
			break
		}
		j := j1 // left child
		if j2 := j1 + 1; j2 < n && h[j2].at.Before(h[j1].at) {
			j = j2 // right child
		}
		if !h[j].at.Before(h[i].at) {
			break
		}
		h[i], h[j] = h[j], h[i]
		i = j
	}
}

// EndOfDay runs the simulated EOD: fixture journals resolve (status=rejected is rejected,
// status=pending becomes and stays pending), every other queued or sent_to_clearing journal is
// executed, and the daily total starts again. Over-limit pending journals wait for BeginningOfDay.
func (s *Server) EndOfDay() {
	now := s.lockAndTick()
	defer s.mu.Unlock()
	for _, j := range s.openInOrder() {
		switch {
		case j.fixture() == alpaca.StatusRejected:
			s.setStatus(j, alpaca.StatusRejected, now)
		case j.fixture() == alpaca.StatusPending:
			if j.status() != alpaca.StatusPending {
				s.setStatus(j, alpaca.StatusPending, now)
			}
		case j.status() == alpaca.StatusQueued || j.status() == alpaca.StatusSentToClearing:
			s.setStatus(j, alpaca.StatusExecuted, now)
		}
	}
	s.dailyTotal = decimal.Zero
}

// BeginningOfDay runs the simulated BOD job: over-limit pending journals execute, as Alpaca's FAQ
// says they do the next day, unless a fixture holds them.
func (s *Server) BeginningOfDay() {
	now := s.lockAndTick()
	defer s.mu.Unlock()
	for _, j := range s.openInOrder() {
		if j.status() == alpaca.StatusPending && j.overLimit && j.fixture() == "" {
			s.setStatus(j, alpaca.StatusExecuted, now)
		}
	}
}

// openInOrder returns the open journals in creation order, so EOD and BOD events come out in a
// reproducible order.
func (s *Server) openInOrder() []*journal {
	out := make([]*journal, 0, s.open.n)
	s.open.each(func(i int32) { out = append(out, s.journals.at(int(i))) })
	return out
}

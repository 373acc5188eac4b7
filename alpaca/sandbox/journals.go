package sandbox

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/cashpool/cashpool/alpaca"
	"github.com/shopspring/decimal"
)

// journal is the simulator's record of one journal. Guarded by Server.mu.
type journal struct {
	id, entryType, from, to string
	amount                  decimal.Decimal // JNLC only
	symbol                  string          // JNLS only
	qty, price              decimal.Decimal // JNLS only; price is fixed per symbol (Seed.Prices)
	status                  string
	description             string
	currency                string
	createdAt               time.Time
	settleDate              string // set when executed
	transmitter             transmitter
	errorMessage            string // why it was refused
	idemKey, idemKeyType    string
	fixture                 string // status named by a /fixtures/status=.../fixtures/ description
	overLimit               bool   // pending because of the per-journal or daily limit
	v2                      bool   // JNLC v2 flow: executed at creation, activity_created one step later
	holdsCash               bool   // the from account was debited and not yet credited back
	creditsTo               bool   // a reverse-batch journal: the firm to account is credited on execution
	credited                bool   // the to account was credited and not yet debited back
	corrects, correctedBy   string // links between a corrected journal and its replacement
	seq                     int    // position in Server.journals
}

type transmitter struct {
	Name                 string `json:"transmitter_name,omitempty"`
	AccountNumber        string `json:"transmitter_account_number,omitempty"`
	Address              string `json:"transmitter_address,omitempty"`
	FinancialInstitution string `json:"transmitter_financial_institution,omitempty"`
	Timestamp            string `json:"transmitter_timestamp,omitempty"`
}

// journalJSON is the newest Journal wire shape: every JournalBase key present, null where nothing
// applies (symbol, qty, price for cash; net_amount for securities; the dates until execution).
type journalJSON struct {
	ID          string  `json:"id"`
	EntryType   string  `json:"entry_type"`
	FromAccount string  `json:"from_account"`
	ToAccount   string  `json:"to_account"`
	Symbol      *string `json:"symbol"`
	Qty         *string `json:"qty"`
	Price       *string `json:"price"`
	Status      string  `json:"status"`
	SettleDate  *string `json:"settle_date"`
	SystemDate  *string `json:"system_date"`
	NetAmount   *string `json:"net_amount"`
	Description string  `json:"description"`
	Currency    string  `json:"currency"`
	CreatedAt   string  `json:"created_at"`
	transmitter
}

// batchJournalJSON adds error_message, which the newest schema omits for successful entries.
type batchJournalJSON struct {
	journalJSON
	ErrorMessage string `json:"error_message,omitempty"`
}

func (j *journal) wire() journalJSON {
	out := journalJSON{
		ID: j.id, EntryType: j.entryType, FromAccount: j.from, ToAccount: j.to,
		Status: j.status, Description: j.description, Currency: j.currency,
		CreatedAt:   j.createdAt.UTC().Format(time.RFC3339Nano),
		transmitter: j.transmitter,
	}
	if j.entryType == entryJNLS {
		// The newest JNLS example: symbol, qty and price set, net_amount null.
		sym, qty := j.symbol, j.qty.String()
		price := j.price.StringFixed(max(2, -j.price.Exponent()))
		out.Symbol, out.Qty, out.Price = &sym, &qty, &price
	} else {
		amount := j.amount.StringFixed(2)
		out.NetAmount = &amount
	}
	if j.settleDate != "" {
		d := j.settleDate
		out.SettleDate, out.SystemDate = &d, &d
	}
	return out
}

func (j *journal) batchWire() batchJournalJSON {
	return batchJournalJSON{journalJSON: j.wire(), ErrorMessage: j.errorMessage}
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
	defer s.mu.Unlock()
	out := make([]LedgerEntry, len(s.journals))
	for i, j := range s.journals {
		out[i] = LedgerEntry{
			ID: j.id, EntryType: j.entryType, FromAccount: j.from, ToAccount: j.to, Amount: j.amount,
			Symbol: j.symbol, Qty: j.qty, Price: j.price, Status: j.status, Description: j.description,
			IdempotencyKey: j.idemKey, IdempotencyKeyType: j.idemKeyType, ErrorMessage: j.errorMessage, CreatedAt: j.createdAt,
			Corrects: j.corrects, CorrectedBy: j.correctedBy,
		}
	}
	return out
}

// fixturePattern finds Alpaca's sandbox fixture block, e.g. "/fixtures/status=rejected/fixtures/".
var fixturePattern = regexp.MustCompile(`/fixtures/([^/]*)/fixtures/`)

// fixtureStatus returns the status a description's fixture asks for: rejected, pending or "".
func fixtureStatus(description string) string {
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

// newID returns a random version-4 UUID. Journal ids need not be reproducible, and random ones
// keep two simulator instances from ever handing out the same id.
func newID() string {
	hi, lo := rand.Uint64(), rand.Uint64()
	hi = hi&^0xf000 | 0x4000     // version 4
	lo = lo&^(0xc<<60) | 0x8<<60 // RFC 4122 variant
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x",
		hi>>32, (hi>>16)&0xffff, hi&0xffff, lo>>48, lo&0xffffffffffff)
}

// entryRequest is one journal to create, already validated.
type entryRequest struct {
	from, to    string
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
		id: newID(), entryType: entryJNLC, from: e.from, to: e.to, amount: e.amount,
		description: e.description, currency: "USD", createdAt: now, transmitter: e.transmitter,
		idemKey: e.idemKey, idemKeyType: e.idemKeyType, fixture: fixtureStatus(e.description),
	}
	available := s.cash[e.from]
	if available.LessThan(e.amount) {
		msg := fmt.Sprintf("insufficient balance, available: %s, required: %s",
			available.StringFixed(2), e.amount.StringFixed(2))
		if !refuseShort {
			return nil, fmt.Errorf("%s", msg)
		}
		j.errorMessage = msg
		s.add(j, now, alpaca.StatusRefused)
		return j, nil
	}
	s.cash[e.from] = available.Sub(e.amount)
	j.holdsCash = true

	overJournal := s.journalLimit.IsPositive() && e.amount.GreaterThan(s.journalLimit)
	overDaily := s.dailyLimit.IsPositive() && s.dailyTotal.Add(e.amount).GreaterThan(s.dailyLimit)
	if overJournal || overDaily {
		j.overLimit = true
		s.add(j, now, alpaca.StatusPending)
		return j, nil
	}
	s.dailyTotal = s.dailyTotal.Add(e.amount)
	if e.v2 && j.fixture == "" {
		j.v2 = true
		s.add(j, now, alpaca.StatusExecuted)
		return j, nil
	}
	s.add(j, now, alpaca.StatusQueued)
	return j, nil
}

// securitiesRequest is one JNLS to create, already validated.
type securitiesRequest struct {
	from, to    string
	symbol      string
	qty         decimal.Decimal
	description string
	idemKey     string
}

// createJNLS books one securities journal. Positions are not modelled, so nothing is checked or
// moved: the journal only follows the v1 flow (queued, sent_to_clearing, executed), and the JNLC
// cash limits do not apply to it. Callers hold s.mu.
func (s *Server) createJNLS(e securitiesRequest, now time.Time) *journal {
	price, ok := s.opts.Seed.Prices[e.symbol]
	if !ok {
		price = defaultPrice
	}
	j := &journal{
		id: newID(), entryType: entryJNLS, from: e.from, to: e.to, symbol: e.symbol, qty: e.qty,
		price: price, description: e.description, currency: "USD", createdAt: now,
		idemKey: e.idemKey, fixture: fixtureStatus(e.description),
	}
	if e.idemKey != "" {
		j.idemKeyType = "single"
	}
	s.add(j, now, alpaca.StatusQueued)
	return j
}

// add records a new journal with its first status.
func (s *Server) add(j *journal, now time.Time, status string) {
	j.seq = len(s.journals)
	s.journals = append(s.journals, j)
	s.byID[j.id] = j
	s.setStatus(j, status, now)
}

// setStatus moves j to status at time at, records the event and keeps cash, the open set and the
// due heap in step. Callers hold s.mu.
func (s *Server) setStatus(j *journal, status string, at time.Time) {
	from := j.status
	j.status = status
	s.bookCash(j, from, status)
	switch status {
	case alpaca.StatusQueued, alpaca.StatusSentToClearing, alpaca.StatusPending:
		s.open[j.id] = j
	default:
		delete(s.open, j.id)
	}
	switch status {
	case alpaca.StatusRejected, alpaca.StatusCanceled, alpaca.StatusDeleted, alpaca.StatusCorrect:
		// The money never arrived or was taken back: return it to the firm account.
		if j.holdsCash {
			s.cash[j.from] = s.cash[j.from].Add(j.amount)
			j.holdsCash = false
		}
		if j.credited {
			s.cash[j.to] = s.cash[j.to].Sub(j.amount)
			j.credited = false
		}
	case alpaca.StatusExecuted:
		j.settleDate = at.UTC().Format(time.DateOnly)
		if j.creditsTo && !j.credited {
			s.cash[j.to] = s.cash[j.to].Add(j.amount)
			j.credited = true
		}
	}
	// Fixture journals wait for EOD; the others move on by themselves.
	if j.fixture == "" {
		switch {
		case status == alpaca.StatusQueued, status == alpaca.StatusSentToClearing,
			status == alpaca.StatusExecuted && j.v2:
			heap.Push(&s.due, dueStep{at: at.Add(s.opts.StepEvery), id: j.id, from: status})
		}
	}
	s.appendEvent(j, from, status, at)
}

// tick applies every automatic status change due by the simulated now and returns that now.
// Only due entries are touched, so the cost does not grow with the number of journals.
func (s *Server) tick() time.Time {
	now := s.now()
	for s.due.Len() > 0 && !s.due[0].at.After(now) {
		d := heap.Pop(&s.due).(dueStep)
		j := s.byID[d.id]
		if j == nil || j.status != d.from {
			continue // something else (EOD, an admin action) moved it first
		}
		switch d.from {
		case alpaca.StatusQueued:
			s.setStatus(j, alpaca.StatusSentToClearing, d.at)
		case alpaca.StatusSentToClearing:
			s.setStatus(j, alpaca.StatusExecuted, d.at)
		case alpaca.StatusExecuted:
			s.setStatus(j, alpaca.StatusActivityCreated, d.at) // JNLC v2 only: nothing else is queued from executed
		}
	}
	s.pruneIdempotency(now)
	return now
}

// dueStep is one automatic status change: journal id leaves status from at time at.
type dueStep struct {
	at   time.Time
	id   string
	from string
}

type dueHeap []dueStep

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, k int) bool { return h[i].at.Before(h[k].at) }
func (h dueHeap) Swap(i, k int)      { h[i], h[k] = h[k], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(dueStep)) }
func (h *dueHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// EndOfDay runs the simulated EOD: fixture journals resolve (status=rejected is rejected,
// status=pending becomes and stays pending), every other queued or sent_to_clearing journal is
// executed, and the daily total starts again. Over-limit pending journals wait for BeginningOfDay.
func (s *Server) EndOfDay() {
	now := s.lockAndTick()
	defer s.mu.Unlock()
	for _, j := range s.openInOrder() {
		switch {
		case j.fixture == alpaca.StatusRejected:
			s.setStatus(j, alpaca.StatusRejected, now)
		case j.fixture == alpaca.StatusPending:
			if j.status != alpaca.StatusPending {
				s.setStatus(j, alpaca.StatusPending, now)
			}
		case j.status == alpaca.StatusQueued || j.status == alpaca.StatusSentToClearing:
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
		if j.status == alpaca.StatusPending && j.overLimit && j.fixture == "" {
			s.setStatus(j, alpaca.StatusExecuted, now)
		}
	}
}

// openInOrder returns the open journals in creation order, so EOD and BOD events come out in a
// reproducible order.
func (s *Server) openInOrder() []*journal {
	out := make([]*journal, 0, len(s.open))
	for _, j := range s.open {
		out = append(out, j)
	}
	slices.SortFunc(out, func(a, b *journal) int { return a.seq - b.seq })
	return out
}

package sandbox

import (
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/cashpool/cashpool/alpaca"
	"github.com/shopspring/decimal"
)

func (s *Server) adminMux() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("GET /sandbox/v1/accounts", s.handleAccounts)
	m.HandleFunc("POST /sandbox/v1/accounts", s.handleSetAccount)
	m.HandleFunc("GET /sandbox/v1/cash", s.handleCash)
	m.HandleFunc("POST /sandbox/v1/cash", s.handleSetCash)
	m.HandleFunc("GET /sandbox/v1/positions", s.handlePositions)
	m.HandleFunc("GET /sandbox/v1/clock", s.handleClock)
	m.HandleFunc("POST /sandbox/v1/clock/advance", s.handleAdvance)
	m.HandleFunc("POST /sandbox/v1/eod", func(w http.ResponseWriter, r *http.Request) {
		s.EndOfDay()
		w.WriteHeader(http.StatusNoContent)
	})
	m.HandleFunc("POST /sandbox/v1/bod", func(w http.ResponseWriter, r *http.Request) {
		s.BeginningOfDay()
		w.WriteHeader(http.StatusNoContent)
	})
	m.HandleFunc("POST /sandbox/v1/journals/{id}/{action}", s.handleJournalAction)
	m.HandleFunc("GET /sandbox/v1/ledger", s.handleLedger)
	m.HandleFunc("GET /sandbox/v1/events", s.handleEvents)
	m.HandleFunc("GET /sandbox/v1/faults", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Faults())
	})
	m.HandleFunc("POST /sandbox/v1/faults", s.handleSetFaults)
	m.HandleFunc("GET /sandbox/v1/limits", s.handleLimits)
	m.HandleFunc("POST /sandbox/v1/limits", s.handleSetLimits)
	m.HandleFunc("GET /sandbox/v1/jnlc_version", s.handleJNLCVersion)
	m.HandleFunc("POST /sandbox/v1/jnlc_version", s.handleSetJNLCVersion)
	m.HandleFunc("GET /sandbox/v1/calls", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Calls())
	})
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, codeNotFound, "route not found")
	})
	return m
}

// accountJSON is an account as the admin API shows it; cash only for firm accounts.
type accountJSON struct {
	ID     string  `json:"id"`
	Status string  `json:"status"`
	Firm   bool    `json:"firm"`
	Cash   *string `json:"cash,omitempty"`
}

func (s *Server) handleAccounts(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	out := make([]accountJSON, 0, len(s.accounts))
	for _, a := range s.accounts {
		out = append(out, s.accountWire(a))
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b accountJSON) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) accountWire(a *Account) accountJSON {
	out := accountJSON{ID: a.ID, Status: a.Status, Firm: a.Firm}
	if a.Firm {
		c := s.cash[a.ID].StringFixed(2)
		out.Cash = &c
	}
	return out
}

// SetAccount adds an account or changes an existing one's status and firm flag.
func (s *Server) SetAccount(a Account) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setAccount(a)
}

func (s *Server) setAccount(a Account) {
	s.accounts[a.ID] = &a
	if _, ok := s.cash[a.ID]; a.Firm && !ok {
		s.cash[a.ID] = decimal.Zero
	}
}

func (s *Server) handleSetAccount(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ID     string `json:"id"`
		Status string `json:"status"`
		Firm   *bool  `json:"firm"` // absent keeps an existing account's flag
	}
	if !decodeAdmin(w, r, &req) {
		return
	}
	if req.ID == "" || req.Status == "" {
		writeError(w, http.StatusBadRequest, codeMalformed, "id and status are required")
		return
	}
	s.mu.Lock()
	a := Account{ID: req.ID, Status: req.Status}
	if old, ok := s.accounts[req.ID]; ok {
		a.Firm = old.Firm
	}
	if req.Firm != nil {
		a.Firm = *req.Firm
	}
	s.setAccount(a)
	out := s.accountWire(s.accounts[a.ID])
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// SetCash sets a firm account's cash; account "" means the sweep account.
func (s *Server) SetCash(account string, amount decimal.Decimal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if account == "" {
		account = s.opts.Seed.SweepAccount
	}
	a, ok := s.accounts[account]
	if !ok || !a.Firm {
		return fmt.Errorf("account %q is not a known firm account", account)
	}
	// Cash set from outside is money deposited or withdrawn: booked at once, as a wire is.
	s.bookDeposit(account, amount.Sub(s.cash[account]), s.now())
	s.cash[account] = amount
	return nil
}

// Cash returns a firm account's cash; account "" means the sweep account.
func (s *Server) Cash(account string) decimal.Decimal {
	s.lockAndTick()
	defer s.mu.Unlock()
	if account == "" {
		account = s.opts.Seed.SweepAccount
	}
	return s.cash[account]
}

type cashJSON struct {
	Account string `json:"account"`
	Amount  string `json:"amount"`
}

func (s *Server) handleCash(w http.ResponseWriter, r *http.Request) {
	account := r.URL.Query().Get("account")
	if account == "" {
		account = s.opts.Seed.SweepAccount
	}
	writeJSON(w, http.StatusOK, cashJSON{Account: account, Amount: s.Cash(account).StringFixed(2)})
}

func (s *Server) handleSetCash(w http.ResponseWriter, r *http.Request) {
	var req cashJSON
	if !decodeAdmin(w, r, &req) {
		return
	}
	amount, err := parseMoney(req.Amount)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeMalformed, err.Error())
		return
	}
	if req.Account == "" {
		req.Account = s.opts.Seed.SweepAccount
	}
	if err := s.SetCash(req.Account, amount); err != nil {
		writeError(w, http.StatusNotFound, codeNotFound, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, cashJSON{Account: req.Account, Amount: amount.StringFixed(2)})
}

type clockJSON struct {
	Now string `json:"now"`
}

func (s *Server) handleClock(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, clockJSON{Now: s.Now().UTC().Format(time.RFC3339Nano)})
}

func (s *Server) handleAdvance(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Duration string `json:"duration"`
	}
	if !decodeAdmin(w, r, &req) {
		return
	}
	d, err := time.ParseDuration(req.Duration)
	if err != nil || d < 0 {
		writeError(w, http.StatusBadRequest, codeMalformed, fmt.Sprintf("duration must be a non-negative Go duration like 90s, got %q", req.Duration))
		return
	}
	s.Advance(d)
	s.handleClock(w, r)
}

// handleJournalAction runs what Alpaca's operations team would do to one journal.
func (s *Server) handleJournalAction(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var (
		out  any
		aerr *apiError
	)
	switch r.PathValue("action") {
	case "approve":
		out, aerr = s.approve(id)
	case "reject":
		out, aerr = s.reject(id)
	case "reverse":
		out, aerr = s.reverse(id)
	case "correct":
		var req struct {
			Amount string `json:"amount"`
		}
		if !decodeAdmin(w, r, &req) {
			return
		}
		amount, err := parseMoney(req.Amount)
		if err != nil || !amount.IsPositive() {
			writeError(w, http.StatusBadRequest, codeMalformed, fmt.Sprintf("amount must be a positive decimal with at most 2 places, got %q", req.Amount))
			return
		}
		out, aerr = s.correct(id, amount)
	default:
		writeError(w, http.StatusNotFound, codeNotFound, "route not found")
		return
	}
	if aerr != nil {
		writeError(w, aerr.status, aerr.code, aerr.msg)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// findFor returns journal id if its status is one of want. Callers hold s.mu.
func (s *Server) findFor(id, action string, want ...string) (*journal, *apiError) {
	j, ok := s.journalByID(id)
	if !ok {
		return nil, &apiError{http.StatusNotFound, codeNotFound, "journal not found"}
	}
	if !slices.Contains(want, j.status()) {
		return nil, &apiError{http.StatusUnprocessableEntity, codeUnprocessable,
			fmt.Sprintf("cannot %s journal %s in status %s (want %v)", action, id, j.status(), want)}
	}
	return j, nil
}

// approve executes a pending journal, as an operations approval does.
func (s *Server) approve(id string) (journalJSON, *apiError) {
	now := s.lockAndTick()
	defer s.mu.Unlock()
	j, aerr := s.findFor(id, "approve", alpaca.StatusPending)
	if aerr != nil {
		return journalJSON{}, aerr
	}
	s.setStatus(j, alpaca.StatusExecuted, now)
	return j.wire(), nil
}

// reject rejects a journal that has not executed yet; its cash goes back to the firm account.
func (s *Server) reject(id string) (journalJSON, *apiError) {
	now := s.lockAndTick()
	defer s.mu.Unlock()
	j, aerr := s.findFor(id, "reject", alpaca.StatusPending, alpaca.StatusQueued, alpaca.StatusSentToClearing)
	if aerr != nil {
		return journalJSON{}, aerr
	}
	s.setStatus(j, alpaca.StatusRejected, now)
	return j.wire(), nil
}

// reverse takes back an executed journal. Alpaca's cashiering team does this with a mirror
// journal; the simulator shows it as the original moving executed -> canceled (and the cash
// returning), which is what a client watching that journal must survive.
func (s *Server) reverse(id string) (journalJSON, *apiError) {
	now := s.lockAndTick()
	defer s.mu.Unlock()
	j, aerr := s.findFor(id, "reverse", alpaca.StatusExecuted, alpaca.StatusActivityCreated)
	if aerr != nil {
		return journalJSON{}, aerr
	}
	s.setStatus(j, alpaca.StatusCanceled, now)
	return j.wire(), nil
}

type correctionJSON struct {
	Original   journalJSON `json:"original"`
	Correction journalJSON `json:"correction"`
}

// correct marks an executed journal correct and books a new, executed journal with the corrected
// amount, as Alpaca's docs describe. The firm account may go negative here: operations
// corrections are not subject to the balance check.
func (s *Server) correct(id string, amount decimal.Decimal) (correctionJSON, *apiError) {
	now := s.lockAndTick()
	defer s.mu.Unlock()
	j, aerr := s.findFor(id, "correct", alpaca.StatusExecuted, alpaca.StatusActivityCreated)
	if aerr != nil {
		return correctionJSON{}, aerr
	}
	if j.jnls {
		// A correction books a new amount; a securities journal has none to correct.
		return correctionJSON{}, &apiError{http.StatusUnprocessableEntity, codeUnprocessable,
			fmt.Sprintf("cannot correct journal %s: only cash journals (JNLC) carry an amount", id)}
	}
	s.setStatus(j, alpaca.StatusCorrect, now)
	nj := &journal{
		from: j.from, to: j.to,
		description: j.description, created: now.UnixNano(), creditsTo: j.creditsTo,
	}
	nj.setAmount(amount)
	nj.tx = j.tx
	if !j.creditsTo {
		s.cash[nj.from] = s.cash[nj.from].Sub(amount)
		nj.holdsCash = true
	}
	nj = s.add(nj, now, alpaca.StatusExecuted)
	s.corrects[nj], s.correctedBy[j] = j, nj
	return correctionJSON{Original: j.wire(), Correction: nj.wire()}, nil
}

func decodeAdmin(w http.ResponseWriter, r *http.Request, v any) bool {
	body, aerr := readBody(r)
	if aerr == nil {
		aerr = decodeBody(body, v)
	}
	if aerr != nil {
		writeError(w, aerr.status, aerr.code, aerr.msg)
		return false
	}
	return true
}

// SetLimits replaces the JNLC per-journal and daily limits; zero means none, and a negative value
// counts as zero. They apply to journals created from now on: journals already pending stay
// pending until BeginningOfDay or an approval, and the day's running total is kept.
func (s *Server) SetLimits(journal, daily decimal.Decimal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.journalLimit = decimal.Max(journal, decimal.Zero)
	s.dailyLimit = decimal.Max(daily, decimal.Zero)
}

// Limits returns the JNLC per-journal and daily limits in force (zero means none).
func (s *Server) Limits() (journal, daily decimal.Decimal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.journalLimit, s.dailyLimit
}

// limitsJSON is the admin API's form of the limits: strings, as amounts are on the wire.
type limitsJSON struct {
	JournalLimit *string `json:"journal_limit"`
	DailyLimit   *string `json:"daily_limit"`
}

func (s *Server) writeLimits(w http.ResponseWriter) {
	journal, daily := s.Limits()
	j, d := journal.StringFixed(2), daily.StringFixed(2)
	writeJSON(w, http.StatusOK, limitsJSON{JournalLimit: &j, DailyLimit: &d})
}

func (s *Server) handleLimits(w http.ResponseWriter, r *http.Request) { s.writeLimits(w) }

// handleSetLimits takes either limit or both; an absent one keeps its value, "0" removes it.
func (s *Server) handleSetLimits(w http.ResponseWriter, r *http.Request) {
	var req limitsJSON
	if !decodeAdmin(w, r, &req) {
		return
	}
	if req.JournalLimit == nil && req.DailyLimit == nil {
		writeError(w, http.StatusBadRequest, codeMalformed, "journal_limit or daily_limit is required")
		return
	}
	// Parse both before changing either, so a bad value changes nothing.
	journal, daily := s.Limits()
	for _, l := range []struct {
		name string
		text *string
		dst  *decimal.Decimal
	}{{"journal_limit", req.JournalLimit, &journal}, {"daily_limit", req.DailyLimit, &daily}} {
		if l.text == nil {
			continue
		}
		v, err := parseMoney(*l.text)
		if err != nil {
			writeError(w, http.StatusBadRequest, codeMalformed, l.name+": "+err.Error())
			return
		}
		*l.dst = v
	}
	s.SetLimits(journal, daily)
	s.writeLimits(w)
}

// SetJNLCv2 switches single JNLCs between the v1 flow (false) and the JNLC v2 flow (true), for
// journals created from now on.
func (s *Server) SetJNLCv2(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jnlcV2 = on
}

// JNLCv2 reports whether single JNLCs follow the JNLC v2 flow.
func (s *Server) JNLCv2() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.jnlcV2
}

type jnlcVersionJSON struct {
	Version int `json:"version"`
}

func (s *Server) handleJNLCVersion(w http.ResponseWriter, r *http.Request) {
	v := 1
	if s.JNLCv2() {
		v = 2
	}
	writeJSON(w, http.StatusOK, jnlcVersionJSON{Version: v})
}

func (s *Server) handleSetJNLCVersion(w http.ResponseWriter, r *http.Request) {
	var req jnlcVersionJSON
	if !decodeAdmin(w, r, &req) {
		return
	}
	if req.Version != 1 && req.Version != 2 {
		writeError(w, http.StatusBadRequest, codeMalformed, fmt.Sprintf("version must be 1 or 2, got %d", req.Version))
		return
	}
	s.SetJNLCv2(req.Version == 2)
	s.handleJNLCVersion(w, r)
}

// handleLedger is GET /sandbox/v1/ledger: Ledger() written one entry at a time, so a night of a
// million journals is never held whole as entries or as bytes.
func (s *Server) handleLedger(w http.ResponseWriter, r *http.Request) {
	s.lockAndTick()
	rows := s.ledgerRows()
	s.mu.Unlock()
	writeArray(w, len(rows), func(b []byte, i int) []byte { return rows[i].appendJSON(b) })
}

// handleEvents is GET /sandbox/v1/events: Events() taken a slice at a time under the lock and
// written as they come.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	s.lockAndTick()
	n := s.events.len()
	s.mu.Unlock()
	var slice []Event
	writeArray(w, n, func(b []byte, i int) []byte {
		if i%streamSlice == 0 {
			s.mu.Lock()
			slice = slice[:0]
			for k := i; k < min(n, i+streamSlice); k++ {
				slice = append(slice, s.event(k))
			}
			s.mu.Unlock()
		}
		return appendEventV2(b, &slice[i%streamSlice])
	})
}

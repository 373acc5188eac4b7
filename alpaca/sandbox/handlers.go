package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/cashpool/cashpool/alpaca"
)

// maxBody bounds a request body; a batch of 10,000 entries with full Travel Rule fields fits.
const maxBody = 16 << 20

// batchRequest is the body of POST /v1/journals/batch, with the fields of every schema vintage so
// that a field the simulator does not support is refused rather than silently dropped.
type batchRequest struct {
	EntryType     string       `json:"entry_type"`
	FromAccount   string       `json:"from_account"`
	Description   string       `json:"description"`
	Correspondent string       `json:"correspondent"`
	Entries       []batchEntry `json:"entries"`
}

type batchEntry struct {
	ToAccount   string       `json:"to_account"`
	Amount      *decimalText `json:"amount"`
	Description string       `json:"description"`
	Currency    *string      `json:"currency"`
	Symbol      *string      `json:"symbol"`
	Qty         *decimalText `json:"qty"`
	transmitter
}

// createRequest is the body of POST /v1/journals.
type createRequest struct {
	EntryType   string       `json:"entry_type"`
	FromAccount string       `json:"from_account"`
	ToAccount   string       `json:"to_account"`
	Amount      *decimalText `json:"amount"`
	Symbol      *string      `json:"symbol"`
	Qty         *decimalText `json:"qty"`
	Currency    *string      `json:"currency"`
	Description string       `json:"description"`
	transmitter
}

// apiError is an answer that stops a request before anything is created.
type apiError struct {
	status, code int
	msg          string
}

func (e *apiError) Error() string { return e.msg }

func badRequest(format string, a ...any) *apiError {
	return &apiError{http.StatusBadRequest, codeMalformed, fmt.Sprintf(format, a...)}
}

func (e *apiError) body() []byte { return errorJSON(e.code, e.msg) }

func readBody(r *http.Request) ([]byte, *apiError) {
	// Sized from Content-Length when it is given, so that a batch is read without regrowing.
	body := bytes.NewBuffer(make([]byte, 0, min(max(r.ContentLength, 0), maxBody)+bytes.MinRead))
	_, err := body.ReadFrom(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, badRequest("read request body: %v", err)
	}
	b := body.Bytes()
	if len(b) > maxBody {
		return nil, badRequest("request body is larger than %d bytes", maxBody)
	}
	return b, nil
}

func decodeBody(b []byte, v any) *apiError {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return badRequest("invalid request body: %v", err)
	}
	if dec.More() {
		return badRequest("invalid request body: trailing data after the JSON object")
	}
	return nil
}

// entryAt names the entry an error is about, "entries[3]: ", or nothing (-1) for a single journal.
// It is formatted only when an error is: a night checks a million entries.
type entryAt int

func (i entryAt) String() string {
	if i < 0 {
		return ""
	}
	return fmt.Sprintf("entries[%d]: ", int(i))
}

// checkEntryFields validates the parts of one journal that need no account lookup.
func checkEntryFields(where entryAt, amount *decimalText, currency, symbol *string, qty *decimalText, description string, t transmitter) (entryRequest, *apiError) {
	var e entryRequest
	if amount == nil || *amount == "" {
		return e, badRequest("%samount is required", where)
	}
	a, err := parseMoney(string(*amount))
	if err != nil {
		return e, badRequest("%s%v", where, err)
	}
	if !a.IsPositive() {
		return e, badRequest("%samount must be positive", where)
	}
	if currency != nil && *currency != "" && *currency != "USD" {
		return e, badRequest("%scurrency %q is not supported by the simulator (USD only)", where, *currency)
	}
	if (symbol != nil && *symbol != "") || (qty != nil && *qty != "") {
		return e, badRequest("%ssymbol and qty are not allowed on a JNLC", where)
	}
	if len(description) > 1024 {
		return e, badRequest("%sdescription is longer than 1024 characters", where)
	}
	for _, f := range [...]struct{ name, v string }{
		{"transmitter_name", t.Name}, {"transmitter_account_number", t.AccountNumber},
		{"transmitter_address", t.Address}, {"transmitter_financial_institution", t.FinancialInstitution},
	} {
		if len(f.v) > 255 {
			return e, badRequest("%s%s is longer than 255 characters", where, f.name)
		}
	}
	if t.Timestamp != "" {
		if _, err := time.Parse(time.RFC3339, t.Timestamp); err != nil {
			return e, badRequest("%stransmitter_timestamp %q is not RFC 3339", where, t.Timestamp)
		}
	}
	return entryRequest{amount: a, description: description, transmitter: t}, nil
}

// checkFrom enforces the direction rule on the sending side and returns the account's own ID
// string (see accountID). Callers hold s.mu.
func (s *Server) checkFrom(id string) (string, *apiError) {
	if id == "" {
		return "", badRequest("from_account is required")
	}
	a, ok := s.accounts[id]
	if !ok {
		return "", &apiError{http.StatusNotFound, codeNotFound, fmt.Sprintf("account %s not found", id)}
	}
	if !a.Firm {
		return "", &apiError{http.StatusForbidden, codeForbidden,
			fmt.Sprintf("from_account %s is not a firm account: cash journals go only from a firm account to customer accounts", id)}
	}
	if a.Status != AccountActive {
		return "", &apiError{http.StatusUnprocessableEntity, codeUnprocessable, fmt.Sprintf("account %s is not ACTIVE (%s)", id, a.Status)}
	}
	return a.ID, nil
}

// checkTo enforces the receiving side: known, a customer, ACTIVE. It returns the account's own ID
// string (see accountID). Callers hold s.mu.
func (s *Server) checkTo(where entryAt, id string) (string, *apiError) {
	if id == "" {
		return "", badRequest("%sto_account is required", where)
	}
	a, ok := s.accounts[id]
	if !ok {
		return "", &apiError{http.StatusNotFound, codeNotFound, fmt.Sprintf("%saccount %s not found", where, id)}
	}
	if a.Firm {
		return "", &apiError{http.StatusForbidden, codeForbidden,
			fmt.Sprintf("%sto_account %s is a firm account: cash journals go only from a firm account to customer accounts", where, id)}
	}
	if a.Status != AccountActive {
		return "", &apiError{http.StatusUnprocessableEntity, codeUnprocessable, fmt.Sprintf("%saccount %s is not ACTIVE (%s)", where, id, a.Status)}
	}
	return a.ID, nil
}

// handleBatch is POST /v1/journals/batch. Every check that can fail the whole batch runs before the
// first journal is created, so a canceled batch leaves nothing behind.
func (s *Server) handleBatch(w http.ResponseWriter, r *http.Request) {
	body, aerr := readBody(r)
	if aerr != nil {
		writeRaw(w, aerr.status, aerr.body())
		return
	}
	now := s.lockAndTick()
	defer s.mu.Unlock()
	s.idempotent(w, r, body, now, func(key string) (created, *apiError) {
		var req batchRequest
		if aerr := decodeBatch(body, &req); aerr != nil {
			return created{}, aerr
		}
		entries, aerr := s.checkBatch(req, key)
		if aerr != nil {
			return created{}, aerr
		}
		made := created{journals: make([]*journal, len(entries)), batch: true}
		for i, e := range entries {
			made.journals[i], _ = s.createJournal(e, now, true)
		}
		return made, nil
	})
}

func (s *Server) checkBatch(req batchRequest, key string) ([]entryRequest, *apiError) {
	if req.EntryType != "JNLC" {
		return nil, badRequest("entry_type must be JNLC, got %q", req.EntryType)
	}
	if len(req.Entries) == 0 {
		return nil, badRequest("entries must hold at least one entry")
	}
	entries := make([]entryRequest, len(req.Entries))
	for i, in := range req.Entries {
		desc := in.Description
		if desc == "" {
			desc = req.Description
		}
		e, aerr := checkEntryFields(entryAt(i), in.Amount, in.Currency, in.Symbol, in.Qty, desc, in.transmitter)
		if aerr != nil {
			return nil, aerr
		}
		e.from, e.to, e.idemKey = req.FromAccount, in.ToAccount, key
		if key != "" {
			e.idemKeyType = "batch"
		}
		entries[i] = e
	}
	from, aerr := s.checkFrom(req.FromAccount)
	if aerr != nil {
		return nil, aerr
	}
	for i := range entries {
		e := &entries[i]
		if e.to, aerr = s.checkTo(entryAt(i), e.to); aerr != nil {
			return nil, aerr
		}
		e.from = from
	}
	return entries, nil
}

// handleCreate is POST /v1/journals for a single JNLC or JNLS. A shortfall of cash is a 403 here,
// as Alpaca documents for this endpoint, and creates nothing.
func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request) {
	body, aerr := readBody(r)
	if aerr != nil {
		writeRaw(w, aerr.status, aerr.body())
		return
	}
	now := s.lockAndTick()
	defer s.mu.Unlock()
	s.idempotent(w, r, body, now, func(key string) (created, *apiError) {
		var req createRequest
		if aerr := decodeBody(body, &req); aerr != nil {
			return created{}, aerr
		}
		var (
			j    *journal
			aerr *apiError
		)
		switch req.EntryType {
		case entryJNLC:
			j, aerr = s.createSingleJNLC(req, key, now)
		case entryJNLS:
			j, aerr = s.createSingleJNLS(req, key, now)
		default:
			aerr = badRequest("entry_type must be JNLC or JNLS, got %q", req.EntryType)
		}
		if aerr != nil {
			return created{}, aerr
		}
		return created{journals: []*journal{j}}, nil
	})
}

// createSingleJNLC validates and books a single cash journal. Callers hold s.mu.
func (s *Server) createSingleJNLC(req createRequest, key string, now time.Time) (*journal, *apiError) {
	e, aerr := checkEntryFields(-1, req.Amount, req.Currency, req.Symbol, req.Qty, req.Description, req.transmitter)
	if aerr == nil {
		e.from, aerr = s.checkFrom(req.FromAccount)
	}
	if aerr == nil {
		e.to, aerr = s.checkTo(-1, req.ToAccount)
	}
	if aerr != nil {
		return nil, aerr
	}
	e.idemKey, e.v2 = key, s.jnlcV2
	if key != "" {
		e.idemKeyType = "single"
	}
	j, err := s.createJournal(e, now, false)
	if err != nil {
		return nil, &apiError{http.StatusForbidden, codeForbidden, err.Error()}
	}
	return j, nil
}

// createSingleJNLS validates and books a single securities journal. Callers hold s.mu.
func (s *Server) createSingleJNLS(req createRequest, key string, now time.Time) (*journal, *apiError) {
	if req.Amount != nil && *req.Amount != "" {
		return nil, badRequest("amount is not allowed on a JNLS: it takes symbol and qty")
	}
	if req.Symbol == nil || *req.Symbol == "" {
		return nil, badRequest("symbol is required on a JNLS")
	}
	if !symbolPattern.MatchString(*req.Symbol) {
		return nil, badRequest("symbol %q is not an equity symbol (crypto JNLS is not supported)", *req.Symbol)
	}
	if req.Qty == nil || *req.Qty == "" {
		return nil, badRequest("qty is required on a JNLS")
	}
	qty, err := parseQty("qty", string(*req.Qty))
	if err != nil {
		return nil, badRequest("%v", err)
	}
	if req.Currency != nil && *req.Currency != "" && *req.Currency != "USD" {
		return nil, badRequest("currency %q is not supported by the simulator (USD only)", *req.Currency)
	}
	if len(req.Description) > 1024 {
		return nil, badRequest("description is longer than 1024 characters")
	}
	if req.transmitter != (transmitter{}) {
		// Alpaca's schema has the Travel Rule fields on cash journals only.
		return nil, badRequest("transmitter fields are allowed on a JNLC only")
	}
	if aerr := s.checkJNLSAccounts(req.FromAccount, req.ToAccount); aerr != nil {
		return nil, aerr
	}
	if aerr := s.checkAsset(*req.Symbol, qty); aerr != nil {
		return nil, aerr
	}
	if aerr := s.checkShares(req.FromAccount, *req.Symbol, qty); aerr != nil {
		return nil, aerr
	}
	return s.createJNLS(securitiesRequest{
		from: req.FromAccount, to: req.ToAccount, symbol: *req.Symbol, qty: qty,
		description: req.Description, idemKey: key,
	}, now), nil
}

// checkJNLSAccounts enforces Alpaca's JNLS rule, "JNLS can ONLY be done from the SWEEP ACCOUNT to
// the USER ACCOUNT": an ACTIVE firm account to an ACTIVE customer account. Anything else that
// names known accounts is 403. Callers hold s.mu.
func (s *Server) checkJNLSAccounts(fromID, toID string) *apiError {
	if fromID == "" {
		return badRequest("from_account is required")
	}
	if toID == "" {
		return badRequest("to_account is required")
	}
	from, ok := s.accounts[fromID]
	if !ok {
		return &apiError{http.StatusNotFound, codeNotFound, fmt.Sprintf("account %s not found", fromID)}
	}
	to, ok := s.accounts[toID]
	if !ok {
		return &apiError{http.StatusNotFound, codeNotFound, fmt.Sprintf("account %s not found", toID)}
	}
	forbid := func(format string, a ...any) *apiError {
		return &apiError{http.StatusForbidden, codeForbidden,
			fmt.Sprintf(format, a...) + ": securities journals go only from a firm account to an ACTIVE customer account"}
	}
	switch {
	case !from.Firm:
		return forbid("from_account %s is not a firm account", fromID)
	case from.Status != AccountActive:
		return forbid("from_account %s is not ACTIVE (%s)", fromID, from.Status)
	case to.Firm:
		return forbid("to_account %s is a firm account", toID)
	case to.Status != AccountActive:
		return forbid("to_account %s is not ACTIVE (%s)", toID, to.Status)
	}
	return nil
}

// handleGet is GET /v1/journals/{id}.
func (s *Server) handleGet(w http.ResponseWriter, r *http.Request) {
	s.lockAndTick()
	defer s.mu.Unlock()
	j, ok := s.journalByID(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, codeNotFound, "journal not found")
		return
	}
	writeRaw(w, http.StatusOK, j.wire().appendJSON(nil))
}

// handleDelete is DELETE /v1/journals/{id}: only a pending journal can be canceled.
func (s *Server) handleDelete(w http.ResponseWriter, r *http.Request) {
	now := s.lockAndTick()
	defer s.mu.Unlock()
	j, ok := s.journalByID(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, codeNotFound, "journal not found")
		return
	}
	if j.status() != alpaca.StatusPending {
		writeError(w, http.StatusUnprocessableEntity, codeUnprocessable,
			fmt.Sprintf("journal %s is not in the pending status (%s)", idText(j.id), j.status()))
		return
	}
	s.setStatus(j, alpaca.StatusCanceled, now)
	w.WriteHeader(http.StatusNoContent)
}

// handleList is GET /v1/journals. after and before are creation dates (UTC), both inclusive, so
// after=D&before=D is the one day D. Results come oldest first; limit keeps the first ones. The
// 422 is decided on the whole filtered set, before limit, as Alpaca words it.
func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	// Days since 1970-01-01 (UTC), both bounds inclusive.
	after, before := int64(math.MinInt64), int64(math.MaxInt64)
	for name, dst := range map[string]*int64{"after": &after, "before": &before} {
		v := q.Get(name)
		if v == "" {
			continue
		}
		d, err := time.Parse(time.DateOnly, v)
		if err != nil {
			writeError(w, http.StatusBadRequest, codeMalformed, fmt.Sprintf("%s must be a date YYYY-MM-DD, got %q", name, v))
			return
		}
		*dst = unixDay(d)
	}
	entryType := q.Get("entry_type")
	if entryType != "" && entryType != "JNLC" && entryType != "JNLS" {
		writeError(w, http.StatusBadRequest, codeMalformed, fmt.Sprintf("entry_type must be JNLC or JNLS, got %q", entryType))
		return
	}
	// Alpaca documents the filter as the JournalStatus enum (the newest has activity_created) and
	// an invalid parameter as 400 "One of the parameters is invalid."
	status := q.Get("status")
	if status != "" && !alpaca.KnownStatus(status) {
		writeError(w, http.StatusBadRequest, codeMalformed, fmt.Sprintf("status %q is not a journal status", status))
		return
	}
	limit := 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, codeMalformed, fmt.Sprintf("limit must be a positive integer, got %q", v))
			return
		}
		limit = n
	}
	to, from := q.Get("to_account"), q.Get("from_account")

	// The matching journals are taken with their status and settle date under the lock; the answer
	// is written after it is released, one journal at a time, from fields that never change.
	s.lockAndTick()
	var matched []journalJSON
	for i := range s.journals.len() {
		j := s.journals.at(i)
		day := unixDay(j.createdAt())
		if day < after || day > before ||
			(status != "" && j.status() != status) || (entryType != "" && j.entryType() != entryType) ||
			(to != "" && j.to != to) || (from != "" && j.from != from) {
			continue
		}
		matched = append(matched, j.wire())
		if len(matched) > s.opts.MaxListResults {
			s.mu.Unlock()
			writeError(w, http.StatusUnprocessableEntity, codeUnprocessable,
				fmt.Sprintf("Result set exceeds %s records.", groupThousands(s.opts.MaxListResults)))
			return
		}
	}
	s.mu.Unlock()
	if limit > 0 && len(matched) > limit {
		matched = matched[:limit]
	}
	writeArray(w, len(matched), func(b []byte, i int) []byte { return matched[i].appendJSON(b) })
}

// unixDay is the UTC day of t, counted from 1970-01-01.
func unixDay(t time.Time) int64 {
	sec := t.Unix()
	if sec < 0 {
		return (sec+1)/86400 - 1
	}
	return sec / 86400
}

// journalByID finds a journal by the id its answers show. Callers hold s.mu.
func (s *Server) journalByID(text string) (*journal, bool) {
	id, ok := parseID(text)
	if !ok {
		return nil, false
	}
	seq, ok := s.ids.seq(id)
	if !ok || int(seq) >= s.journals.len() {
		return nil, false
	}
	return s.journals.at(int(seq)), true
}

// groupThousands writes 100000 as "100,000", the way Alpaca's message does.
func groupThousands(n int) string {
	s := strconv.Itoa(n)
	var b []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, s[i])
	}
	return string(b)
}

// reverseBatchRequest is the body of POST /v1/journals/reverse_batch: many customers to one firm account.
type reverseBatchRequest struct {
	EntryType   string `json:"entry_type"`
	ToAccount   string `json:"to_account"`
	Description string `json:"description"`
	Entries     []struct {
		FromAccount string       `json:"from_account"`
		Amount      *decimalText `json:"amount"`
		Description string       `json:"description"`
	} `json:"entries"`
}

// handleReverseBatch is POST /v1/journals/reverse_batch. Alpaca documents no Idempotency-Key here,
// so the simulator ignores the header, and any invalid entry cancels the whole batch. Customer
// balances are not modelled: entries are never refused, they queue and credit the firm account
// when executed.
func (s *Server) handleReverseBatch(w http.ResponseWriter, r *http.Request) {
	body, aerr := readBody(r)
	if aerr != nil {
		writeRaw(w, aerr.status, aerr.body())
		return
	}
	now := s.lockAndTick()
	defer s.mu.Unlock()
	var req reverseBatchRequest
	if aerr := decodeBody(body, &req); aerr != nil {
		writeRaw(w, aerr.status, aerr.body())
		return
	}
	entries, aerr := s.checkReverseBatch(req)
	if aerr != nil {
		writeRaw(w, aerr.status, aerr.body())
		return
	}
	out := make([]journalJSON, 0, len(entries))
	for _, e := range entries {
		j := &journal{
			from: s.accountID(e.from), to: s.accountID(e.to),
			description: e.description, created: now.UnixNano(), creditsTo: true,
		}
		j.setFixture(e.description)
		j.setAmount(e.amount)
		out = append(out, s.add(j, now, alpaca.StatusQueued).wire())
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) checkReverseBatch(req reverseBatchRequest) ([]entryRequest, *apiError) {
	if req.EntryType != "JNLC" {
		return nil, badRequest("entry_type must be JNLC, got %q", req.EntryType)
	}
	if len(req.Entries) == 0 {
		return nil, badRequest("entries must hold at least one entry")
	}
	entries := make([]entryRequest, len(req.Entries))
	for i, in := range req.Entries {
		desc := in.Description
		if desc == "" {
			desc = req.Description
		}
		e, aerr := checkEntryFields(entryAt(i), in.Amount, nil, nil, nil, desc, transmitter{})
		if aerr != nil {
			return nil, aerr
		}
		e.from, e.to = in.FromAccount, req.ToAccount
		entries[i] = e
	}
	if req.ToAccount == "" {
		return nil, badRequest("to_account is required")
	}
	to, ok := s.accounts[req.ToAccount]
	switch {
	case !ok:
		return nil, &apiError{http.StatusNotFound, codeNotFound, fmt.Sprintf("account %s not found", req.ToAccount)}
	case !to.Firm:
		return nil, &apiError{http.StatusForbidden, codeForbidden,
			fmt.Sprintf("to_account %s is not a firm account: a reverse batch goes from customer accounts to a firm account", req.ToAccount)}
	}
	for i, e := range entries {
		where := fmt.Sprintf("entries[%d]: ", i)
		a, ok := s.accounts[e.from]
		switch {
		case e.from == "":
			return nil, badRequest("%sfrom_account is required", where)
		case !ok:
			return nil, &apiError{http.StatusNotFound, codeNotFound, fmt.Sprintf("%saccount %s not found", where, e.from)}
		case a.Firm:
			return nil, &apiError{http.StatusForbidden, codeForbidden,
				fmt.Sprintf("%sfrom_account %s is a firm account: a reverse batch goes from customer accounts to a firm account", where, e.from)}
		case a.Status != AccountActive && a.Status != AccountClosed:
			// Alpaca lets a closed account send its remaining cash back.
			return nil, &apiError{http.StatusUnprocessableEntity, codeUnprocessable, fmt.Sprintf("%saccount %s is not ACTIVE (%s)", where, e.from, a.Status)}
		}
	}
	return entries, nil
}

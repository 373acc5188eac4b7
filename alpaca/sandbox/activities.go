package sandbox

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/alpaca"
)

// The simulator's booked cash and its activity stream (GET /v2beta1/events/activities).
//
// Alpaca's trading account shows `cash`, the booked balance, beside `cash_transferable`, what a
// journal may still take. The simulator keeps both for firm accounts: the available cash
// (Server.cash) drops when a journal is created, as the balance check does; the booked cash moves
// only when a JNLC executes, and moves back when an executed one is canceled, rejected, deleted
// or corrected. Each such move is an account activity on both accounts of the journal, signed
// from each account's side: that is what the activity stream serves.
//
// Where Alpaca's docs are silent the stream is as harsh as plausible: every account's activities
// of every type arrive (no account or type filter is documented), the events of a window come in
// any order, amounts are strings, a taken-back activity is the same ref_id again with status
// canceled or correct, and cash set through the admin API shows as a deposit (CSD) or withdrawal
// (CSW) activity. Journal activities are derived from the journal event log when asked for, so
// a night of a million journals costs no more memory than its events.

// activityBook is the state behind the activity stream. Guarded by Server.mu.
type activityBook struct {
	booked   map[string]decimal.Decimal // firm accounts
	deposits []activityJSON             // cash set through the admin API, in event order
}

// activityJSON is one event of the activity stream: Alpaca's common envelope with the journal's
// details.
type activityJSON struct {
	AccountID    string          `json:"account_id"`
	EventID      string          `json:"event_id"`
	RefID        string          `json:"ref_id"`
	ActivityType string          `json:"activity_type"`
	Qty          string          `json:"qty"`
	Price        string          `json:"price"`
	Currency     string          `json:"currency"`
	NetAmount    string          `json:"net_amount"`
	Status       string          `json:"status"`
	At           time.Time       `json:"at"`
	ExecutedAt   time.Time       `json:"executed_at"`
	SettleDate   string          `json:"settle_date"`
	Details      activityDetails `json:"details"`
}

type activityDetails struct {
	JournalID  string `json:"journal_id,omitempty"`
	SystemDate string `json:"system_date,omitempty"`
	Symbol     string `json:"symbol,omitempty"`
}

// firm reports whether id is a firm account, whose cash the simulator books. Callers hold s.mu.
func (s *Server) firm(id string) bool {
	a := s.accounts[id]
	return a != nil && a.Firm
}

// bookCash moves the booked cash of j's firm accounts when j starts or stops being funded.
// Callers hold s.mu.
func (s *Server) bookCash(j *journal, from, to string) {
	if j.jnls || alpaca.Funded(from) == alpaca.Funded(to) {
		return
	}
	moved := j.amount()
	if !alpaca.Funded(to) {
		moved = moved.Neg() // taken back
	}
	if s.firm(j.from) {
		s.book.booked[j.from] = s.book.booked[j.from].Sub(moved)
	}
	if s.firm(j.to) {
		s.book.booked[j.to] = s.book.booked[j.to].Add(moved)
	}
}

// bookDeposit records cash set through the admin API as a deposit or withdrawal activity on the
// account, moving its booked cash by delta. Callers hold s.mu.
func (s *Server) bookDeposit(account string, delta decimal.Decimal, at time.Time) {
	if delta.IsZero() {
		return
	}
	s.book.booked[account] = s.book.booked[account].Add(delta)
	kind := "CSD"
	if delta.IsNegative() {
		kind = "CSW"
	}
	day := at.UTC().Format(time.DateOnly)
	s.book.deposits = append(s.book.deposits, activityJSON{
		AccountID: account, EventID: encodeULID(s.ulids.next(at)), RefID: idText(newID()), ActivityType: kind, Qty: "0", Price: "0",
		Currency: "USD", NetAmount: delta.StringFixed(2), Status: alpaca.ActivityExecuted, At: at.UTC(),
		ExecutedAt: at.UTC(), SettleDate: day, Details: activityDetails{SystemDate: day},
	})
	s.notify()
}

// BookedCash returns a firm account's booked cash (the trading account's `cash`); account ""
// means the sweep account.
func (s *Server) BookedCash(account string) decimal.Decimal {
	s.lockAndTick()
	defer s.mu.Unlock()
	if account == "" {
		account = s.opts.Seed.SweepAccount
	}
	return s.book.booked[account]
}

// activitiesOf is the activities recorded event i books: both sides of a journal that starts
// being funded (status executed), or both sides again, canceled or correct, when it stops.
// Callers hold s.mu.
func (s *Server) activitiesOf(i int) []activityJSON {
	e, j := s.event(i), s.journals.at(int(s.events.at(i).journal))
	if alpaca.Funded(e.StatusFrom) == alpaca.Funded(e.StatusTo) {
		return nil
	}
	status := alpaca.ActivityExecuted
	switch e.StatusTo {
	case alpaca.StatusCorrect:
		status = alpaca.ActivityCorrect
	case alpaca.StatusCanceled, alpaca.StatusRejected, alpaca.StatusDeleted:
		status = alpaca.ActivityCanceled
	}
	day := e.At.UTC().Format(time.DateOnly)
	side := func(account, id string, net decimal.Decimal) activityJSON {
		a := activityJSON{
			AccountID: account, EventID: id, RefID: j.entryType() + "::" + e.JournalID + "::" + account, ActivityType: j.entryType(),
			Qty: "0", Price: "0", Currency: currency, NetAmount: net.StringFixed(2), Status: status,
			At: e.At.UTC(), ExecutedAt: e.At.UTC(), SettleDate: day,
			Details: activityDetails{JournalID: e.JournalID, SystemDate: day},
		}
		if j.jnls {
			x := j.extra()
			a.Qty, a.Price, a.NetAmount, a.Details.Symbol = x.qty.String(), x.price.StringFixed(2), "0", x.symbol
		}
		return a
	}
	return []activityJSON{side(j.from, e.ID, j.amount().Neg()), side(j.to, siblingULID(e.ID), j.amount())}
}

// siblingULID is a second ULID for the other side of a journal's activity: the same millisecond,
// the top random bit flipped. The event log's ULIDs of one millisecond differ only in their low
// random bits, so it never meets another.
func siblingULID(id string) string {
	b := []byte(id)
	i := 10 // the first character of the random part
	for k := range len(crockford) {
		if crockford[k] == b[i] {
			b[i] = crockford[k^16]
			break
		}
	}
	return string(b)
}

// handleActivities is GET /v2beta1/events/activities: the query rules of Alpaca's other v2
// streams (since or since_id, until or until_id), history first, then live events.
func (s *Server) handleActivities(w http.ResponseWriter, r *http.Request) {
	sq, err := parseStreamV2(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, codeMalformed, err.Error())
		return
	}
	rc := http.NewResponseController(w)
	s.mu.Lock()
	if s.streams >= s.opts.MaxStreams {
		s.mu.Unlock()
		writeError(w, http.StatusTooManyRequests, codeTooManyRequests, "Too many requests: too many event stream connections")
		return
	}
	s.streams++
	s.tick()
	next, nextDeposit := s.start(sq), s.depositStart(sq)
	rnd := rand.New(rand.NewPCG(uint64(s.events.len()), uint64(len(s.book.deposits))))
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.streams--
		s.mu.Unlock()
	}()

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprint(w, ":heartbeat\n\n"); err != nil {
		return
	}
	heartbeat := time.NewTicker(s.opts.HeartbeatEvery)
	defer heartbeat.Stop()
	poll := time.NewTicker(s.opts.PollEvery)
	defer poll.Stop()
	for {
		// Events are taken a slice at a time, as the journal streams take them, so a stream that
		// starts far back never holds a night's activities at once.
		s.mu.Lock()
		now := s.tick()
		var out []activityJSON
		end := min(s.events.len(), next+streamSlice)
		for ; next < end && !sq.past(s.event(next)); next++ {
			out = append(out, s.activitiesOf(next)...)
		}
		pastEnd := next < end // stopped at an event beyond the stream's end
		caughtUp := pastEnd || next == s.events.len()
		for ; nextDeposit < len(s.book.deposits) && !depositPast(sq, s.book.deposits[nextDeposit]); nextDeposit++ {
			out = append(out, s.book.deposits[nextDeposit])
		}
		// An until that is now is reached: every activity up to now is recorded already.
		done := (sq.hasUntil && !now.Before(sq.until) && caughtUp) || (sq.untilULID != "" && pastEnd)
		changed := s.news()
		s.mu.Unlock()

		// Order is promised per account only, and not within a millisecond: send in any order.
		rnd.Shuffle(len(out), func(i, k int) { out[i], out[k] = out[k], out[i] })
		for _, a := range out {
			b, _ := json.Marshal(a)
			if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
				return
			}
		}
		if err := rc.Flush(); err != nil || done {
			return
		}
		if !caughtUp {
			continue
		}
		if !waitForNews(r, w, changed, poll, heartbeat) {
			return
		}
	}
}

// depositStart is the index of the first deposit the stream sends. Callers hold s.mu.
func (s *Server) depositStart(sq streamQuery) int {
	for i, d := range s.book.deposits {
		switch {
		case sq.live:
		case sq.sinceULID != "" && d.EventID > sq.sinceULID, sq.sinceULID == "" && !d.At.Before(sq.since):
			return i
		}
	}
	return len(s.book.deposits)
}

// depositPast reports whether d lies beyond the stream's end.
func depositPast(sq streamQuery, d activityJSON) bool {
	switch {
	case sq.untilULID != "":
		return d.EventID > sq.untilULID
	case sq.hasUntil:
		return d.At.After(sq.until)
	}
	return false
}

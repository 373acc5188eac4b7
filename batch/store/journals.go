package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lib/pq"
	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/alpaca"
	"github.com/cashpool/cashpool/batch/prepared"
	"github.com/cashpool/cashpool/pool"
)

// Journal statuses: ours until Alpaca answers, then Alpaca's, stored raw. A status Alpaca sends
// that is none of these is stored as it came and flagged (status_unknown), never rejected.
// Whether an unanswered journal may already be at Alpaca is its batch's status (planned, or
// sending: Alpaca may hold it), recorded once per batch, never per journal.
const (
	JournalPlanned         = "planned" // the intent is written; Alpaca has not answered for it
	JournalQueued          = alpaca.StatusQueued
	JournalPending         = alpaca.StatusPending
	JournalSentToClearing  = alpaca.StatusSentToClearing
	JournalExecuted        = alpaca.StatusExecuted
	JournalActivityCreated = alpaca.StatusActivityCreated
	JournalRejected        = alpaca.StatusRejected
	JournalRefused         = alpaca.StatusRefused
	JournalCanceled        = alpaca.StatusCanceled
	JournalDeleted         = alpaca.StatusDeleted
	JournalCorrect         = alpaca.StatusCorrect
)

// journalRank orders statuses along Alpaca's flows so an old observation never overwrites a newer
// one. Failed and corrected statuses outrank executed: cashiering can still reverse an executed
// journal.
var journalRank = map[string]int{
	JournalPlanned:         0,
	JournalQueued:          1,
	JournalPending:         2,
	JournalSentToClearing:  3,
	JournalExecuted:        4,
	JournalActivityCreated: 5,
	JournalRejected:        6,
	JournalRefused:         6,
	JournalCanceled:        6,
	JournalDeleted:         6,
	JournalCorrect:         6,
}

// JournalStatuses lists every known journal status in rank order.
var JournalStatuses = []string{JournalPlanned, JournalQueued, JournalPending, JournalSentToClearing,
	JournalExecuted, JournalActivityCreated, JournalRejected, JournalRefused, JournalCanceled, JournalDeleted, JournalCorrect}

// Funded journals reached the customer's account; funded is not final at Alpaca: cashiering may
// still reverse or correct the journal.
var JournalsFunded = []string{JournalExecuted, JournalActivityCreated}

// Failed journals never moved money and never will.
var JournalsFailed = []string{JournalRejected, JournalRefused, JournalCanceled, JournalDeleted}

// JournalsFinal are the statuses after which no change is expected in the normal flow: funded,
// failed, or correct (final for the original journal; its replacement is another journal).
var JournalsFinal = append(append(append([]string{}, JournalsFunded...), JournalsFailed...), JournalCorrect)

// JournalsDone are the statuses after which nothing more happens to a journal at all.
var JournalsDone = append(append([]string{}, JournalsFailed...), JournalCorrect)

// JournalRank is s's rank along the flows; -1 for a status not known.
func JournalRank(s string) int {
	if r, ok := journalRank[s]; ok {
		return r
	}
	return -1
}

// JournalKnown reports whether s is a status Alpaca documents or one of ours.
func JournalKnown(s string) bool { _, ok := journalRank[s]; return ok }

// AlpacaKnown reports whether s is a status Alpaca documents.
func AlpacaKnown(s string) bool { return JournalKnown(s) && s != JournalPlanned }

// JournalFunded, JournalFailed and JournalFinal report s's membership of those lists.
func JournalFunded(s string) bool { return in(JournalsFunded, s) }
func JournalFailed(s string) bool { return in(JournalsFailed, s) }
func JournalFinal(s string) bool  { return in(JournalsFinal, s) }

func in(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// JournalMayMove says whether a journal in status from may move to status to: forward in rank,
// never back to planned, and a status not known neither blocks nor is blocked. The SQL guard of
// MoveJournals is the same rule, written in SQL.
func JournalMayMove(from, to string) bool {
	if from == to || to == JournalPlanned {
		return false
	}
	rf, rt := JournalRank(from), JournalRank(to)
	return rf < 0 || rt < 0 || rf < rt
}

// journalRankSQL is JournalRank of the SQL expression col, built from journalRank.
func journalRankSQL(col string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "(CASE %s", col)
	for _, s := range JournalStatuses {
		fmt.Fprintf(&b, " WHEN %s THEN %d", pq.QuoteLiteral(s), journalRank[s])
	}
	b.WriteString(" ELSE -1 END)")
	return b.String()
}

// journalGuardSQL is JournalMayMove(from, to) in SQL.
func journalGuardSQL(from, to string) string {
	return fmt.Sprintf(`(%[1]s <> %[2]s AND %[2]s <> %[3]s AND (%[4]s < 0 OR %[5]s < 0 OR %[4]s < %[5]s))`,
		from, to, pq.QuoteLiteral(JournalPlanned), journalRankSQL(from), journalRankSQL(to))
}

// JournalMove is one journal's wanted change.
type JournalMove struct {
	ID int64
	To string
	// Seen, when set, is the status the caller read: the journal moves only if it still holds it
	// (the stream or a heal pass may have moved it meanwhile, and theirs may be the newer word).
	Seen string
	// At is the history row's time (an event's own time); zero means now.
	At time.Time
	// AlpacaID and Message are Alpaca's id and error_message for the journal (AnswerJournals only).
	AlpacaID, Message string
	// EventID is the stream event that made the move, recorded on its history row (at most once)
	// and as the journal's newest event seen.
	EventID string
}

// Moved is one move MoveJournals made: the journal, its run, and its status before and after.
type Moved struct {
	ID     int64               `db:"id"`
	RunID  int64               `db:"run_id"`
	From   string              `db:"status_from"`
	To     string              `db:"status_to"`
	Amount decimal.NullDecimal `db:"amount"` // NULL for a journal of securities
}

// OpenDelta is how the moves changed the number of run runID's journals that are not final: a
// journal that became final counts -1, one that left a final status (an unknown status after
// executed) +1. Tracking keeps its open count with it instead of counting the run again.
func OpenDelta(moved []Moved, runID int64) int {
	d := 0
	for _, m := range moved {
		if m.RunID != runID {
			continue
		}
		switch from, to := JournalFinal(m.From), JournalFinal(m.To); {
		case !from && to:
			d--
		case from && !to:
			d++
		}
	}
	return d
}

// FundedDelta is how the moves changed the amount funded by run runID's journals: a journal that
// became funded adds its amount, one that left a funded status (a reversal) takes it away.
func FundedDelta(moved []Moved, runID int64) decimal.Decimal {
	d := decimal.Zero
	for _, m := range moved {
		if m.RunID != runID || !m.Amount.Valid {
			continue
		}
		switch from, to := JournalFunded(m.From), JournalFunded(m.To); {
		case !from && to:
			d = d.Add(m.Amount.Decimal)
		case from && !to:
			d = d.Sub(m.Amount.Decimal)
		}
	}
	return d
}

// AnswerJournals stores Alpaca's answer for journals waiting for it (planned): its id, status and
// error_message, with the history (no row for an answer of queued), in one statement. Every journal must move: one no longer
// planned, or whose status may not become the answer's, is an error and nothing is stored.
func AnswerJournals(ctx context.Context, q Querier, moves []JournalMove, source string, now time.Time) error {
	if len(moves) == 0 {
		return nil
	}
	n := len(moves)
	ids, tos, ats, alpacaIDs, msgs := make([]int64, n), make([]string, n), make([]time.Time, n), make([]string, n), make([]string, n)
	for i, m := range moves {
		ids[i], tos[i], ats[i], alpacaIDs[i], msgs[i] = m.ID, m.To, at(m, now), m.AlpacaID, m.Message
	}
	var stored int
	err := q.GetContext(ctx, &stored, fmt.Sprintf(queryAnswerJournals, journalGuardSQL("$8", "v.status_to"), pq.QuoteLiteral(JournalQueued)),
		pq.Array(ids), pq.Array(tos), pq.Array(ats), pq.Array(alpacaIDs), pq.Array(msgs),
		pq.Array(JournalStatuses), now, JournalPlanned, source)
	if err != nil {
		return fmt.Errorf("store the answer: %w", err)
	}
	if stored != n {
		return fmt.Errorf("store the answer: %d of %d journals are not waiting for it or may not take the status Alpaca answered", n-stored, n)
	}
	return nil
}

// BatchAnswer is Alpaca's answer for one journal of a batch: the journal's key (the token of the
// answer's description), Alpaca's id, status and error_message, and the account and amount the
// answer names ("" when it names none).
type BatchAnswer struct {
	Key, AlpacaID, Status, Message, ToAccount, Amount string
}

// AnswerBatch stores Alpaca's answer to batch batchID, an entry per journal, in one statement, as
// AnswerJournals stores it: each entry finds its journal by key among the batch's and must agree
// with its account and amount, and every journal of the batch must be waiting for it (planned)
// and be answered once. Otherwise nothing is stored and the error names the first entry that is
// not (its index in answers).
func AnswerBatch(ctx context.Context, q Querier, batchID int64, answers []BatchAnswer, source string, now time.Time) error {
	n := len(answers)
	keys, tos, alpacaIDs, msgs, accounts, amounts := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, a := range answers {
		keys[i], tos[i], alpacaIDs[i], msgs[i], accounts[i], amounts[i] = a.Key, a.Status, a.AlpacaID, a.Message, a.ToAccount, a.Amount
	}
	var r struct {
		Stored, Journals, N   int
		What                  string
		WantAccount, WantAmnt string
	}
	err := q.QueryRowxContext(ctx, answerBatchSQL,
		TextArray(keys), TextArray(tos), TextArray(alpacaIDs), TextArray(msgs), TextArray(accounts), TextArray(amounts),
		batchID, pq.Array(JournalStatuses), now, JournalPlanned, source).Scan(&r.Stored, &r.Journals, &r.N, &r.What, &r.WantAccount, &r.WantAmnt)
	if err != nil {
		return fmt.Errorf("store the answer: %w", err)
	}
	if r.N > 0 {
		a := answers[r.N-1]
		switch r.What {
		case "key":
			return fmt.Errorf("answer entry %d (journal %s) carries no key token of this batch", r.N-1, a.AlpacaID)
		case "account":
			return fmt.Errorf("answer entry %d (journal %s) is for account %s, its intent for %s", r.N-1, a.AlpacaID, a.ToAccount, r.WantAccount)
		case "amount":
			return fmt.Errorf("answer entry %d (journal %s) is for %s, its intent for %s", r.N-1, a.AlpacaID, a.Amount, r.WantAmnt)
		default:
			return fmt.Errorf("answer entry %d (journal %s): its journal is not waiting for the answer or may not take the status %q", r.N-1, a.AlpacaID, a.Status)
		}
	}
	if r.Stored != n || r.Journals != n {
		return fmt.Errorf("store the answer: %d of %d journals of the batch answered and stored (%d entries)", r.Stored, r.Journals, n)
	}
	return nil
}

// MoveJournals performs every allowed move in one statement: the journals whose current status
// may move to the wanted one (and still is Seen, when given) take it, with status_unknown set for
// a status not known, and each move appends its journal_history row with source. Moves the guard
// refuses change nothing. It returns the moves made. A journal may appear once per call.
func MoveJournals(ctx context.Context, q Querier, moves []JournalMove, source string, now time.Time) ([]Moved, error) {
	return moveJournals(ctx, q, queryMoveJournals, "o.status", moves, source, now)
}

// MoveSeenJournals is MoveJournals for moves that all carry Seen, without locking the rows first
// (a lock is a WAL record per journal): a journal moved meanwhile keeps its status and is left out
// of the moves made, as a refused one is. The caller tells the two apart by what it judged.
func MoveSeenJournals(ctx context.Context, q Querier, moves []JournalMove, source string, now time.Time) ([]Moved, error) {
	for _, m := range moves {
		if m.Seen == "" {
			return nil, fmt.Errorf("move journal %d without the status it was judged in", m.ID)
		}
	}
	return moveJournals(ctx, q, queryMoveSeenJournals, "v.seen", moves, source, now)
}

// EventMove is one stream event as MoveByEvents applies it: the journal's Alpaca id, the
// event's status_from and status_to, its time and its id, and Key, the journal key its
// description's token names ("" if none; pool.TokenFromDescription gives only a UUID).
type EventMove struct {
	AlpacaID, From, To string
	At                 time.Time
	EventID            string
	Key                string
}

// EventMoved is a move MoveByEvents made, with the event that made it.
type EventMoved struct {
	Moved
	EventID string `db:"event_id"`
}

// The statements of AnswerBatch and MoveByEvents, a few thousand calls each a million-journal
// night: kept prepared on each connection (package prepared).
var (
	answerBatchSQL  = prepared.Statement(fmt.Sprintf(queryAnswerBatch, journalGuardSQL("$10", "m.status_to"), pq.QuoteLiteral(JournalQueued)))
	moveByEventsSQL = prepared.Statement(fmt.Sprintf(queryMoveByEvents, journalGuardSQL("v.status_from", "v.status_to")))
)

// MoveByEvents applies each event whose journal still holds the event's status_from, has seen no
// event as new, and may take its status_to, without reading or locking the journals first: the
// stream's usual event needs no judgment beyond that. Each move records its event on its history
// row and as the journal's newest seen. Events of journals not found or not in that case change
// nothing. A journal's Alpaca id may appear once per call.
//
// More events than moveByEventsAtOnce go in several statements, in the caller's transaction and in
// the order of their keys: each statement's journals are neighbours in the keys' index, and its
// message and working memory stay small (see moveByEventsAtOnce).
func MoveByEvents(ctx context.Context, q Querier, evs []EventMove, source string, now time.Time) ([]EventMoved, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	for _, e := range evs {
		if e.EventID == "" {
			return nil, fmt.Errorf("event for journal %s without an event id", e.AlpacaID)
		}
		if e.Key != "" && !pool.IsUUID(e.Key) {
			return nil, fmt.Errorf("event for journal %s names key %q, not a UUID", e.AlpacaID, e.Key)
		}
	}
	if len(evs) > moveByEventsAtOnce {
		evs = slices.Clone(evs)
		slices.SortFunc(evs, func(a, b EventMove) int {
			if c := strings.Compare(a.Key, b.Key); c != 0 {
				return c
			}
			return strings.Compare(a.AlpacaID, b.AlpacaID)
		})
	}
	moved := make([]EventMoved, 0, len(evs))
	for part := range slices.Chunk(evs, moveByEventsAtOnce) {
		var err error
		if moved, err = moveByEvents(ctx, q, part, source, now, moved); err != nil {
			return nil, err
		}
	}
	return moved, nil
}

// moveByEventsAtOnce is how many events one statement of MoveByEvents applies. A flush of the
// stream holds up to 5,000 events; in one statement their arrays made a Bind message of some
// 500 KB, which PostgreSQL reads into memory it takes from the system and gives back each time
// (measured alone, reading the same arrays: 0.67 µs an element in messages of 3,600 elements, 0.31
// µs in messages of 300).
const moveByEventsAtOnce = 500

// moveByEvents is one statement of MoveByEvents, its moves appended to moved.
func moveByEvents(ctx context.Context, q Querier, evs []EventMove, source string, now time.Time, moved []EventMoved) ([]EventMoved, error) {
	n := len(evs)
	ids, froms, tos, ats, events, keys := make([]string, n), make([]string, n), make([]string, n), make([]int64, n), make([]string, n), make([]string, n)
	for i, e := range evs {
		ids[i], froms[i], tos[i], ats[i], events[i], keys[i] = e.AlpacaID, e.From, e.To, unixMicros(e.At), e.EventID, e.Key
	}
	// Scanned column by column: the stream's moves are two million rows a million-journal night.
	rows, err := q.QueryContext(ctx, moveByEventsSQL,
		TextArray(ids), TextArray(froms), TextArray(tos), pq.Array(ats), TextArray(events), pq.Array(JournalStatuses), now, source, TextArray(keys))
	if err != nil {
		return nil, fmt.Errorf("move journals by their events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var m EventMoved
		if err := rows.Scan(&m.ID, &m.RunID, &m.From, &m.To, &m.Amount, &m.EventID); err != nil {
			return nil, fmt.Errorf("move journals by their events: %w", err)
		}
		moved = append(moved, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("move journals by their events: %w", err)
	}
	return moved, nil
}

// unixMicros is t in microseconds since the Unix epoch, rounded to the nearest as PostgreSQL rounds
// a finer time it reads as text (a tie, which its parser settles in floating point, to the even one).
func unixMicros(t time.Time) int64 {
	us := t.Unix()*1_000_000 + int64(t.Nanosecond()/1000) // Unix is the floor, Nanosecond never negative
	if rest := t.Nanosecond() % 1000; rest > 500 || rest == 500 && us%2 != 0 {
		us++
	}
	return us
}

// moveJournals runs a move statement whose guard judges the status named from.
func moveJournals(ctx context.Context, q Querier, query, from string, moves []JournalMove, source string, now time.Time) ([]Moved, error) {
	if len(moves) == 0 {
		return nil, nil
	}
	n := len(moves)
	ids, tos, seen, ats, events := make([]int64, n), make([]string, n), make([]string, n), make([]time.Time, n), make([]string, n)
	for i, m := range moves {
		ids[i], tos[i], seen[i], ats[i], events[i] = m.ID, m.To, m.Seen, at(m, now), m.EventID
	}
	var moved []Moved
	err := q.SelectContext(ctx, &moved, fmt.Sprintf(query, journalGuardSQL(from, "v.status_to")),
		pq.Array(ids), pq.Array(tos), pq.Array(seen), pq.Array(ats), pq.Array(events), pq.Array(JournalStatuses), now, source)
	if err != nil {
		return nil, fmt.Errorf("move journals to their new status: %w", err)
	}
	return moved, nil
}

// at is the time of m's history row: its own, or now.
func at(m JournalMove, now time.Time) time.Time {
	if m.At.IsZero() {
		return now
	}
	return m.At.UTC()
}

// Moves builds the same move for every id.
func Moves(ids []int64, to string) []JournalMove {
	out := make([]JournalMove, len(ids))
	for i, id := range ids {
		out[i] = JournalMove{ID: id, To: to}
	}
	return out
}

// SQLList renders statuses as a SQL list of literals, for IN (...) in a query.
func SQLList(statuses []string) string {
	q := make([]string, len(statuses))
	for i, s := range statuses {
		q[i] = pq.QuoteLiteral(s)
	}
	return strings.Join(q, ", ")
}

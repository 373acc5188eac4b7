package reconcile

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/shopspring/decimal"
)

// Sweep is the proof of the sweep account's cash over one night, from Alpaca's `cash` of the
// sweep account read twice: the opening, once, before the night's first POST (a resumed night
// keeps it and never reads it again), and the closing, after each tracking of the night (the
// latest stands). Between them only the night's own journals should have moved the cash:
//
//	expected closing = opening − funded + back
//
// where funded is every journal of the night (every attempt) whose money left the sweep account,
// with the replacements Alpaca booked for corrected ones, and back is those of them whose money
// came back (reversed, canceled, corrected). The night's receipts are in the opening: the cash
// check needs them there before the first POST.
type Sweep struct {
	Opening   decimal.NullDecimal // invalid when none was read
	OpeningAt time.Time
	Closing   decimal.NullDecimal // invalid until the night was tracked
	ClosingAt time.Time

	Receipts    decimal.Decimal
	Funded      decimal.Decimal
	FundedCount int
	Back        decimal.Decimal
	BackCount   int

	// Expected and Difference (closing less expected) are set once both readings exist.
	Expected, Difference decimal.Decimal
	// Activities are the JNLC activities on the sweep account between the readings that explain a
	// difference: all of them but those of the night's own journals that did what its books say.
	Activities []SweepActivity
}

// SweepActivity is one JNLC activity Alpaca reported on the sweep account. Effect is what it did
// to the cash between the readings. OursDate is the business date of the cashpool night whose
// journal it is; empty for a journal that is not cashpool's.
type SweepActivity struct {
	RefID      string
	JournalID  string
	NetAmount  decimal.Decimal
	Effect     decimal.Decimal
	Status     string
	At         time.Time
	OursDate   string
	JournalKey string
	ToAccount  string
	ClientRef  string
	ReceiptID  string
}

// Read reports whether both readings exist, so the night can be proved (or not).
func (s *Sweep) Read() bool { return s.Opening.Valid && s.Closing.Valid }

// Proved reports whether the closing cash is exactly the expected one.
func (s *Sweep) Proved() bool { return s.Read() && s.Difference.IsZero() }

// Line says in one sentence how the sweep account stands: proved, not proved by how much, or not
// read yet and why.
func (s *Sweep) Line() string {
	switch {
	case !s.Opening.Valid:
		return "Sweep account not proved: no opening cash was read before the night's first POST (the night was held before it, or its money left before cashpool kept an opening)"
	case !s.Closing.Valid:
		return fmt.Sprintf("Sweep account not proved yet: opening %s, no closing cash until the night is tracked", FormatAmount(s.Opening.Decimal))
	}
	sums := fmt.Sprintf("opening %s − funded %s (%d journals) + back %s (%d) = expected %s; Alpaca reports closing %s; receipts credited %s (in the opening)",
		FormatAmount(s.Opening.Decimal), FormatAmount(s.Funded), s.FundedCount, FormatAmount(s.Back), s.BackCount,
		FormatAmount(s.Expected), FormatAmount(s.Closing.Decimal), FormatAmount(s.Receipts))
	if s.Proved() {
		return "Sweep account proved: " + sums
	}
	return fmt.Sprintf("Sweep account NOT proved, difference %s: %s", signed(s.Difference), sums)
}

// signed shows an amount with its sign, + included.
func signed(d decimal.Decimal) string {
	if d.IsPositive() {
		return "+" + FormatAmount(d)
	}
	return FormatAmount(d)
}

type sweepRow struct {
	Opening       decimal.Decimal     `db:"opening_cash"`
	OpeningAt     time.Time           `db:"opening_at"`
	Closing       decimal.NullDecimal `db:"closing_cash"`
	ClosingAt     sql.NullTime        `db:"closing_at"`
	Receipts      decimal.Decimal     `db:"receipts"`
	Funded        decimal.Decimal     `db:"funded"`
	FundedCount   int                 `db:"funded_count"`
	Back          decimal.Decimal     `db:"back"`
	BackCount     int                 `db:"back_count"`
	Replaced      decimal.Decimal     `db:"replaced"`
	ReplacedCount int                 `db:"replaced_count"`
}

type sweepActivityRow struct {
	RefID      string          `db:"ref_id"`
	JournalID  string          `db:"journal_id"`
	NetAmount  decimal.Decimal `db:"net_amount"`
	Effect     decimal.Decimal `db:"effect"`
	Status     string          `db:"status"`
	At         time.Time       `db:"at"`
	OursDate   string          `db:"ours_date"`
	JournalKey string          `db:"journal_key"`
	ToAccount  string          `db:"to_account"`
	ClientRef  string          `db:"client_ref"`
	ReceiptID  string          `db:"receipt_id"`
}

// SweepOf reads the proof of run runID's sweep account: its readings, its lines, and the
// activities that explain a difference.
func SweepOf(ctx context.Context, q sqlx.QueryerContext, runID int64) (*Sweep, error) {
	var row sweepRow
	err := sqlx.GetContext(ctx, q, &row, querySweep, runID)
	if errors.Is(err, sql.ErrNoRows) {
		return &Sweep{}, nil
	}
	if err != nil {
		return nil, err
	}
	s := &Sweep{
		Opening: decimal.NewNullDecimal(row.Opening), OpeningAt: row.OpeningAt, Closing: row.Closing,
		Receipts: row.Receipts, Funded: row.Funded.Add(row.Replaced), FundedCount: row.FundedCount + row.ReplacedCount,
		Back: row.Back, BackCount: row.BackCount,
	}
	if row.ClosingAt.Valid {
		s.ClosingAt = row.ClosingAt.Time
	}
	if !s.Read() {
		return s, nil
	}
	s.Expected = s.Opening.Decimal.Sub(s.Funded).Add(s.Back)
	s.Difference = s.Closing.Decimal.Sub(s.Expected)
	var acts []sweepActivityRow
	if err := sqlx.SelectContext(ctx, q, &acts, querySweepActivities, runID); err != nil {
		return nil, err
	}
	for _, a := range acts {
		s.Activities = append(s.Activities, SweepActivity(a))
	}
	return s, nil
}

// readSweep adds the sweep account's proof to the report and, when it does not prove, one
// sweep_difference row for the difference and one for each activity that explains it.
func readSweep(ctx context.Context, tx *sqlx.Tx, r *Report, run runRow, _ time.Time) error {
	s, err := SweepOf(ctx, tx, r.RunID)
	if err != nil {
		return err
	}
	r.Sweep = s
	if !s.Read() || s.Proved() {
		return nil
	}
	explained := decimal.Zero
	for _, a := range s.Activities {
		explained = explained.Add(a.Effect)
	}
	r.Exceptions = append(r.Exceptions, Exception{
		Kind:   KindSweepDifference,
		Amount: s.Difference,
		Reason: fmt.Sprintf("the sweep account %s holds %s at Alpaca after the night; its opening %s, less the night's journals funded (%s) plus the money back (%s), makes %s: difference %s, of which %d JNLC activities on the sweep account explain %s (listed below) and %s is unexplained",
			run.SweepAccount, FormatAmount(s.Closing.Decimal), FormatAmount(s.Opening.Decimal), FormatAmount(s.Funded),
			FormatAmount(s.Back), FormatAmount(s.Expected), signed(s.Difference), len(s.Activities), signed(explained),
			signed(s.Difference.Sub(explained))),
		NextAction: "do not re-drive: find who moved the sweep account's cash (the activities below, or a deposit, withdrawal or fee) and book it",
	})
	for _, a := range s.Activities {
		e := Exception{
			Kind: KindSweepDifference, ReceiptID: a.ReceiptID, ClientRef: a.ClientRef, AccountID: a.ToAccount,
			Amount: a.Effect, JournalID: a.JournalID, JournalKey: a.JournalKey, Status: a.Status,
		}
		what := fmt.Sprintf("JNLC activity %s (net_amount %s, %s at %s)", a.RefID, a.NetAmount.String(), a.Status,
			a.At.UTC().Format("2006-01-02 15:04:05 MST"))
		switch {
		case a.OursDate == "":
			e.Reason = what + ": a journal on the sweep account that is not cashpool's"
			e.NextAction = "find who journaled from the sweep account (another system, Alpaca operations) and book it"
		case a.OursDate != r.BusinessDate:
			e.Reason = fmt.Sprintf("%s: cashpool's journal of the night of %s, moved during this night", what, a.OursDate)
			e.NextAction = fmt.Sprintf("nothing if the report of %s accounts for it; otherwise see that night", a.OursDate)
		default:
			e.Reason = what + ": this night's journal, but Alpaca moved the cash otherwise than its status in cashpool says"
			e.NextAction = fmt.Sprintf("run `cashpool track --date %s` and report again; if it stays, ask Alpaca operations", r.BusinessDate)
		}
		r.Exceptions = append(r.Exceptions, e)
	}
	return nil
}

// RecordOpening stores the opening cash of run runID, read at at, unless the night has one
// already or a batch of it was ever marked sending. It reports whether the night has an opening
// now.
func RecordOpening(ctx context.Context, db *sqlx.DB, runID int64, cash decimal.Decimal, at time.Time) (bool, error) {
	if _, err := db.ExecContext(ctx, insertOpening, runID, cash, at.UTC()); err != nil {
		return false, fmt.Errorf("store the opening cash of run %d: %w", runID, err)
	}
	return HasOpening(ctx, db, runID)
}

// HasOpening reports whether run runID's opening cash is stored: a resumed night never reads it
// again.
func HasOpening(ctx context.Context, db *sqlx.DB, runID int64) (bool, error) {
	var ok bool
	if err := db.GetContext(ctx, &ok, queryHasOpening, runID); err != nil {
		return false, fmt.Errorf("read the opening cash of run %d: %w", runID, err)
	}
	return ok, nil
}

// RecordClosing stores the closing cash of run runID, read at at, and replaces the activities
// kept for it (none when the night proves).
func RecordClosing(ctx context.Context, db *sqlx.DB, runID int64, cash decimal.Decimal, at time.Time, acts []SweepActivity) error {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, updateClosing, runID, cash, at.UTC()); err != nil {
		return fmt.Errorf("store the closing cash of run %d: %w", runID, err)
	}
	if _, err := tx.ExecContext(ctx, deleteSweepActivities, runID); err != nil {
		return fmt.Errorf("replace the sweep activities of run %d: %w", runID, err)
	}
	if len(acts) > 0 {
		refs, journals, nets, effects, statuses, ats := make([]string, len(acts)), make([]sql.NullString, len(acts)),
			make([]string, len(acts)), make([]string, len(acts)), make([]string, len(acts)), make([]time.Time, len(acts))
		for i, a := range acts {
			refs[i], nets[i], effects[i], statuses[i], ats[i] = a.RefID, a.NetAmount.String(), a.Effect.String(), a.Status, a.At.UTC()
			journals[i] = sql.NullString{String: a.JournalID, Valid: a.JournalID != ""}
		}
		if _, err := tx.ExecContext(ctx, insertSweepActivities, runID, pq.Array(refs), pq.Array(journals),
			pq.Array(nets), pq.Array(effects), pq.Array(statuses), pq.Array(ats)); err != nil {
			return fmt.Errorf("store the sweep activities of run %d: %w", runID, err)
		}
	}
	return tx.Commit()
}

// sweepMetrics is the proof as (name, value) pairs for totals.csv; amounts empty until read.
func sweepMetrics(s *Sweep) []metricRow {
	if s == nil {
		s = &Sweep{}
	}
	amount := func(d decimal.NullDecimal) string {
		if !d.Valid {
			return ""
		}
		return d.Decimal.StringFixed(2)
	}
	read := func(d decimal.Decimal) decimal.NullDecimal { return decimal.NullDecimal{Decimal: d, Valid: s.Read()} }
	return []metricRow{
		{"sweep_opening", amount(s.Opening)},
		{"sweep_receipts", s.Receipts.StringFixed(2)},
		{"sweep_funded", s.Funded.StringFixed(2)},
		{"sweep_back", s.Back.StringFixed(2)},
		{"sweep_expected", amount(read(s.Expected))},
		{"sweep_closing", amount(s.Closing)},
		{"sweep_difference", amount(read(s.Difference))},
		{"sweep_proved", strconv.FormatBool(s.Proved())},
	}
}

type sweepJSON struct {
	Opening     *string             `json:"opening"`
	OpeningAt   *time.Time          `json:"opening_at"`
	Receipts    string              `json:"receipts"`
	Funded      string              `json:"funded"`
	FundedCount int                 `json:"funded_count"`
	Back        string              `json:"back"`
	BackCount   int                 `json:"back_count"`
	Expected    *string             `json:"expected"`
	Closing     *string             `json:"closing"`
	ClosingAt   *time.Time          `json:"closing_at"`
	Difference  *string             `json:"difference"`
	Proved      bool                `json:"proved"`
	Line        string              `json:"line"`
	Activities  []sweepActivityJSON `json:"activities"`
}

type sweepActivityJSON struct {
	RefID     string    `json:"ref_id"`
	JournalID string    `json:"journal_id"`
	NetAmount string    `json:"net_amount"`
	Effect    string    `json:"effect"`
	Status    string    `json:"status"`
	At        time.Time `json:"at"`
	OursDate  string    `json:"ours_date"`
}

// MarshalJSON writes amounts as strings with two places, null where a reading is missing.
func (s Sweep) MarshalJSON() ([]byte, error) {
	fixed := func(d decimal.Decimal, ok bool) *string {
		if !ok {
			return nil
		}
		v := d.StringFixed(2)
		return &v
	}
	when := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		t = t.UTC()
		return &t
	}
	out := sweepJSON{
		Opening: fixed(s.Opening.Decimal, s.Opening.Valid), OpeningAt: when(s.OpeningAt),
		Receipts: s.Receipts.StringFixed(2), Funded: s.Funded.StringFixed(2), FundedCount: s.FundedCount,
		Back: s.Back.StringFixed(2), BackCount: s.BackCount, Expected: fixed(s.Expected, s.Read()),
		Closing: fixed(s.Closing.Decimal, s.Closing.Valid), ClosingAt: when(s.ClosingAt),
		Difference: fixed(s.Difference, s.Read()), Proved: s.Proved(), Line: s.Line(),
		Activities: []sweepActivityJSON{},
	}
	for _, a := range s.Activities {
		out.Activities = append(out.Activities, sweepActivityJSON{RefID: a.RefID, JournalID: a.JournalID,
			NetAmount: a.NetAmount.StringFixed(2), Effect: a.Effect.StringFixed(2), Status: a.Status, At: a.At.UTC(), OursDate: a.OursDate})
	}
	return json.Marshal(out)
}

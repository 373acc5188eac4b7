package reconcile

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/bank/fedcal"
	"github.com/cashpool/cashpool/batch/store"
	"github.com/cashpool/cashpool/pool"
)

// Exception kinds, in the order the report lists them.
const (
	KindRejectedFile = "rejected_file"
	// KindHeldNight is a run that planned nothing: an allocations file that is not loaded could not
	// be read well enough to tell which receipts it names.
	KindHeldNight = "held_night"
	// KindCashShortfall is a night held before its first POST: the sweep account's cash available
	// for journals at Alpaca did not cover the journals still to send, so none was sent.
	KindCashShortfall = "cash_shortfall"
	// KindHeldReceipt is a receipt not planned because an allocations file naming it was refused
	// or is not complete; a later run plans it once that file's allocations are loaded.
	KindHeldReceipt       = "held_receipt"
	KindOverAllocated     = "over_allocated"
	KindUnallocated       = "unallocated"
	KindSkippedAllocation = "skipped_allocation"
	// KindAmbiguousReference is an allocation naming its receipt by a bank reference that several
	// receipts carry: never funded, and those receipts are held, until it names its receipt_id.
	KindAmbiguousReference = "ambiguous_reference"
	// KindUnmatchedReference is an allocation naming its receipt by a bank reference no receipt
	// carries, past the wait for its bank statement: never funded.
	KindUnmatchedReference = "unmatched_reference"
	// KindAwaitingReceipt is listed for information: the allocation is within its wait for its
	// receipt, and is not yet for a person.
	KindAwaitingReceipt = "awaiting_receipt"
	// KindHolidayValueDate is listed for information: a receipt of the night whose value date is a
	// weekend or a Federal Reserve holiday, when no wire settles; the bank dated it so, check it.
	KindHolidayValueDate = "holiday_value_date"
	KindFailed           = "failed"
	KindStuckPending     = "stuck_pending"
	KindStuck            = "stuck"
	KindNotSent          = "not_sent"
	KindCorrected        = "corrected"
	// KindReversed is a funded journal of an earlier run that Alpaca reversed after funding.
	KindReversed = "reversed"
	// KindFailedLate is a journal still open when its run was reported that Alpaca then failed.
	KindFailedLate    = "failed_late"
	KindUnknownStatus = "unknown_status"
	// KindUnfinishedRun is an earlier date of the same sweep account whose run is not finished:
	// its money may not have moved, and no later run may pass it by in silence.
	KindUnfinishedRun = "unfinished_run"
	KindInFlight      = "in_flight"
	KindUnbalanced    = "unbalanced"
	// KindSweepDifference is a night whose sweep account's closing cash at Alpaca is not its
	// opening less the night's journals (see Sweep); the JNLC activities that explain it follow.
	KindSweepDifference = "sweep_difference"
)

// Kinds lists every exception kind in report order.
var Kinds = []string{
	KindRejectedFile, KindHeldNight, KindCashShortfall, KindHeldReceipt, KindOverAllocated, KindUnallocated, KindSkippedAllocation,
	KindAmbiguousReference, KindUnmatchedReference, KindAwaitingReceipt, KindHolidayValueDate,
	KindFailed, KindStuckPending, KindStuck, KindNotSent, KindCorrected, KindReversed, KindFailedLate, KindUnknownStatus,
	KindRewardToFirm, KindRewardRefused, KindRewardRejected, KindRewardNotSent, KindRewardReversed, KindRewardFailedLate,
	KindRewardUnknownStatus, KindRewardStuck, KindRewardInFlight,
	KindUnfinishedRun, KindInFlight, KindUnbalanced, KindSweepDifference,
}

var kindRank = func() map[string]int {
	m := make(map[string]int, len(Kinds))
	for i, k := range Kinds {
		m[k] = i
	}
	return m
}()

// ErrRunNotFound is returned by Build and Finish for a run id that does not exist.
var ErrRunNotFound = errors.New("run not found")

// Totals are the run's sums. They balance when Receipts = Allocated + Unallocated,
// Allocated = Planned and Planned = Executed + Failed + InFlight, all to the cent, and every
// symbol's rewards balance (see RewardTotals). The cash sums count JNLC journals only.
type Totals struct {
	Receipts, Allocated, Unallocated, Held, Planned, Executed, Failed, InFlight decimal.Decimal

	Journals, ExecutedCount, FailedCount, InFlightCount, Exceptions int

	// Rewards are the run's rewards per symbol, by symbol; each balances on its own, in shares.
	Rewards []RewardTotals

	Balanced bool
	// Problems says which balance check failed, one line each; empty when Balanced.
	Problems []string
}

// Exception is one thing a person must look at. Amount is zero when no amount applies (a
// rejected file, an allocation by weight, a reward); the report then leaves it empty. A reward's
// exception names RewardID, Symbol and Qty (shares) instead. File and Line point at the input
// row the exception comes from.
type Exception struct {
	Kind       string
	ReceiptID  string
	ClientRef  string
	AccountID  string
	Amount     decimal.Decimal
	RewardID   string
	Symbol     string
	Qty        decimal.Decimal // shares of Symbol; zero when no reward applies
	JournalID  string          // Alpaca's id, empty until Alpaca answered
	JournalKey string          // cashpool's key
	Status     string
	Reason     string
	NextAction string
	File       string
	Line       int

	historyID int64 // for a reversal: the history row that recorded it, marked reported by Finish
}

// printable escapes the control characters of the texts that come from input files (file names,
// references, problems that quote values) and from Alpaca, so no report, summary or page that
// shows them hands a terminal raw escape sequences.
func (e *Exception) printable() {
	for _, s := range []*string{&e.ReceiptID, &e.ClientRef, &e.RewardID, &e.Symbol, &e.Status, &e.Reason, &e.NextAction, &e.File} {
		*s = pool.Printable(*s)
	}
}

// Report is the reconciliation of one run.
type Report struct {
	BusinessDate string
	SweepAccount string
	RunID        int64
	GeneratedAt  time.Time
	Totals       Totals
	Exceptions   []Exception
	// Sweep proves the sweep account's cash over the night.
	Sweep *Sweep

	// paths records what Write wrote, so WriteSummary can point at it.
	paths []string
	// snapshot is the one the report was read in (pg_snapshot's text), kept by Finish: history of
	// the run's journals it does not see is a later report's late news.
	snapshot string
}

// ExitCode is the process exit status for a scheduler: 0 when there is nothing for a person and
// the totals balance, 3 otherwise. A journal still in flight is listed, so it also yields 3: the
// run is not done until every journal executed.
func (r *Report) ExitCode() int {
	for _, e := range r.Exceptions {
		if !Informational(e.Kind) {
			return 3
		}
	}
	if !r.Totals.Balanced {
		return 3
	}
	return 0
}

// Informational reports whether rows of kind are listed for information only: they do not make
// the exit status 3.
func Informational(kind string) bool {
	return kind == KindAwaitingReceipt || kind == KindHolidayValueDate
}

type runRow struct {
	BusinessDate  string       `db:"business_date"`
	SweepAccount  string       `db:"sweep_account"`
	PlannedAt     time.Time    `db:"planned_at"`
	TrackDeadline sql.NullTime `db:"track_deadline"`
	// CashNeeded and CashAvailable are set while the last cash check found the sweep account short.
	CashNeeded    decimal.NullDecimal `db:"cash_needed"`
	CashAvailable decimal.NullDecimal `db:"cash_available"`
}

type receiptRow struct {
	ReceiptID   string          `db:"receipt_id"`
	ValueDate   time.Time       `db:"value_date"`
	Amount      decimal.Decimal `db:"amount"`
	Allocated   decimal.Decimal `db:"allocated"`
	Unallocated decimal.Decimal `db:"unallocated"`
	Held        bool            `db:"held"`
	Reason      string          `db:"reason"`
	File        string          `db:"file"`
	Line        int             `db:"line"`
}

type skippedRow struct {
	ReceiptID string              `db:"receipt_id"`
	ClientRef string              `db:"client_ref"`
	AccountID string              `db:"account_id"`
	Amount    decimal.NullDecimal `db:"amount"`
	Reason    string              `db:"reason"`
	Awaiting  bool                `db:"awaiting"`
	// ReferenceMatches is, for an allocation by an unresolved bank reference, how many receipts
	// carry the reference; NULL for one named by receipt_id.
	ReferenceMatches sql.NullInt64 `db:"reference_matches"`
	File             string        `db:"file"`
	Line             int           `db:"line"`
}

type journalRow struct {
	ReceiptID       string          `db:"receipt_id"`
	ClientRef       string          `db:"client_ref"`
	ToAccount       string          `db:"to_account"`
	Amount          decimal.Decimal `db:"amount"`
	JournalKey      string          `db:"journal_key"`
	AlpacaID        string          `db:"alpaca_id"`
	Status          string          `db:"status"`
	ErrorMessage    string          `db:"error_message"`
	ExpectedPending bool            `db:"expected_pending"`
	File            string          `db:"file"`
	Line            int             `db:"line"`

	ReplacementID     sql.NullString      `db:"replacement_id"`
	ReplacementAmount decimal.NullDecimal `db:"replacement_amount"`
	ReplacementStatus sql.NullString      `db:"replacement_status"`
}

// Build reads run runID and returns its report as of now. now decides which journals are past the
// run's track deadline and becomes the report's GeneratedAt.
func Build(ctx context.Context, db *sqlx.DB, runID int64, now time.Time, opts ...Option) (*Report, error) {
	o := options{watch: WatchForDefault}
	for _, opt := range opts {
		opt(&o)
	}
	// One snapshot for every query: the tracker may be updating journals meanwhile, and totals
	// taken from two moments would not balance. The reads run on several connections at once, each
	// in a transaction that imports this one's snapshot (pg_export_snapshot), which stays open
	// until every read is done.
	tx, err := db.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("reconcile run %d: begin: %w", runID, err)
	}
	defer tx.Rollback()

	var run runRow
	if err := tx.GetContext(ctx, &run, queryRun, runID); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("reconcile run %d: %w", runID, ErrRunNotFound)
		}
		return nil, fmt.Errorf("reconcile run %d: read run: %w", runID, err)
	}
	// The transaction's snapshot, taken by the first statement above: every read below sees it.
	var snapshot, exported string
	if err := tx.QueryRowxContext(ctx, `SELECT pg_current_snapshot()::text, pg_export_snapshot()`).Scan(&snapshot, &exported); err != nil {
		return nil, fmt.Errorf("reconcile run %d: read the snapshot: %w", runID, err)
	}
	r := &Report{
		snapshot:     snapshot,
		BusinessDate: run.BusinessDate,
		SweepAccount: run.SweepAccount,
		RunID:        runID,
		GeneratedAt:  now.UTC(),
	}
	steps := []struct {
		what string
		read func(context.Context, *sqlx.Tx, *Report, runRow, time.Time) error
	}{
		{"rejected files", readRejectedFiles},
		{"held receipts", readHeld},
		{"cash shortfall", readCashShortfall},
		{"receipts", readReceipts},
		{"skipped allocations", readSkipped},
		{"journals", readJournals},
		{"rewards", readRewards},
		{"reversals", func(ctx context.Context, tx *sqlx.Tx, r *Report, run runRow, now time.Time) error {
			return readLate(ctx, tx, r, run, o.watch)
		}},
		{"unfinished earlier runs", readUnfinished},
		{"sweep account", readSweep},
	}
	// Each read fills a part of its own; the parts are added up in the order above, so the report
	// is the one the reads would have made one after another.
	parts := make([]Report, len(steps))
	errs := make([]error, len(steps))
	next := make(chan int, len(steps))
	for i := range steps {
		parts[i] = Report{BusinessDate: r.BusinessDate, SweepAccount: r.SweepAccount, RunID: runID, GeneratedAt: r.GeneratedAt}
		next <- i
	}
	close(next)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range min(buildReaders, len(steps)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rtx, err := snapshotTx(rctx, db, exported)
			if err == nil {
				defer rtx.Rollback()
			}
			for i := range next {
				if err == nil {
					err = steps[i].read(rctx, rtx, &parts[i], run, now)
				}
				if errs[i] = err; err != nil {
					cancel() // the steps left fail fast; the first failure is the one told
				}
			}
		}()
	}
	wg.Wait()
	// The failure told is the first read's, in order, that did not fail only because another did.
	failed := -1
	for i := range steps {
		if errs[i] != nil && (failed < 0 || errors.Is(errs[failed], context.Canceled) && !errors.Is(errs[i], context.Canceled)) {
			failed = i
		}
	}
	if failed >= 0 {
		return nil, fmt.Errorf("reconcile run %d: read %s: %w", runID, steps[failed].what, errs[failed])
	}
	for i := range parts {
		r.add(&parts[i])
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("reconcile run %d: commit: %w", runID, err)
	}

	diffs := balance(&r.Totals)
	for i, p := range r.Totals.Problems {
		r.Exceptions = append(r.Exceptions, Exception{
			Kind:       KindUnbalanced,
			Amount:     diffs[i],
			Reason:     p,
			NextAction: "do not re-drive; the database no longer adds up: escalate to engineering",
		})
	}
	r.Exceptions = append(r.Exceptions, balanceRewards(&r.Totals)...)
	for i := range r.Exceptions {
		r.Exceptions[i].printable()
	}
	sortExceptions(r.Exceptions)
	r.Totals.Exceptions = len(r.Exceptions)
	return r, nil
}

// buildReaders is how many connections a report's reads share.
const buildReaders = 3

// snapshotTx begins a read-only transaction on its own connection that sees exactly the snapshot
// another transaction exported.
func snapshotTx(ctx context.Context, db *sqlx.DB, exported string) (*sqlx.Tx, error) {
	tx, err := db.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `SET TRANSACTION SNAPSHOT `+pq.QuoteLiteral(exported)); err != nil {
		_ = tx.Rollback()
		return nil, fmt.Errorf("import the report's snapshot: %w", err)
	}
	return tx, nil
}

// add adds part p, one read's share of the report, to r: each sum and count is added, each list
// appended, the sweep account's proof taken when p has it.
func (r *Report) add(p *Report) {
	t, pt := &r.Totals, &p.Totals
	for _, f := range []struct{ to, from *decimal.Decimal }{
		{&t.Receipts, &pt.Receipts}, {&t.Allocated, &pt.Allocated}, {&t.Unallocated, &pt.Unallocated},
		{&t.Held, &pt.Held}, {&t.Planned, &pt.Planned}, {&t.Executed, &pt.Executed},
		{&t.Failed, &pt.Failed}, {&t.InFlight, &pt.InFlight},
	} {
		*f.to = f.to.Add(*f.from)
	}
	t.Journals += pt.Journals
	t.ExecutedCount += pt.ExecutedCount
	t.FailedCount += pt.FailedCount
	t.InFlightCount += pt.InFlightCount
	t.Rewards = append(t.Rewards, pt.Rewards...)
	t.Problems = append(t.Problems, pt.Problems...)
	r.Exceptions = append(r.Exceptions, p.Exceptions...)
	if p.Sweep != nil {
		r.Sweep = p.Sweep
	}
}

// eachRow streams the rows of query into fn, one struct at a time.
func eachRow[T any](ctx context.Context, tx *sqlx.Tx, query string, fn func(T) error, args ...any) error {
	rows, err := tx.QueryxContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var v T
		if err := rows.StructScan(&v); err != nil {
			return err
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	return rows.Err()
}

type rejectedFileRow struct {
	Name    string `db:"name"`
	Reason  string `db:"reason"`
	Errors  int    `db:"errors"`
	Status  string `db:"status"`
	Changed bool   `db:"changed_while_read"`
}

func readRejectedFiles(ctx context.Context, tx *sqlx.Tx, r *Report, run runRow, _ time.Time) error {
	return eachRow(ctx, tx, queryRejectedFiles, func(f rejectedFileRow) error {
		reason := f.Reason
		if f.Errors > 1 {
			reason = fmt.Sprintf("%s (%d errors in all)", reason, f.Errors)
		}
		next := fmt.Sprintf("fix the file and drop it again (see rejected/%s.errors.csv)", f.Name)
		switch {
		case f.Status == "duplicate":
			next = "nothing to do if it was delivered twice; if it was meant to be another file, ask for that file " +
				fmt.Sprintf("(see rejected/%s.errors.csv)", f.Name)
		case f.Changed:
			next = fmt.Sprintf("check that the finished file was loaded (archive/%s) and have the sender write "+
				"%s.ready after the file; the version read is in rejected/", f.Name, f.Name)
		}
		r.Exceptions = append(r.Exceptions, Exception{
			Kind:       KindRejectedFile,
			Reason:     reason,
			NextAction: next,
			File:       f.Name,
		})
		return nil
	}, run.SweepAccount, run.PlannedAt, r.RunID)
}

// readCashShortfall lists the night's cash shortfall, if the last cash check found one; its
// journals are listed as not sent, held with it.
func readCashShortfall(_ context.Context, _ *sqlx.Tx, r *Report, run runRow, _ time.Time) error {
	if !run.CashNeeded.Valid {
		return nil
	}
	needed, available := run.CashNeeded.Decimal, run.CashAvailable.Decimal
	short := needed.Sub(available)
	r.Exceptions = append(r.Exceptions, Exception{
		Kind:   KindCashShortfall,
		Amount: short,
		Reason: fmt.Sprintf("the sweep account %s can transfer %s at Alpaca (cash_transferable); the journals still to send need %s; short by %s; nothing was sent",
			run.SweepAccount, FormatAmount(available), FormatAmount(needed), FormatAmount(short)),
		NextAction: fmt.Sprintf("fund the sweep account (short by %s) and re-run `cashpool run --date %s`", FormatAmount(short), run.BusinessDate),
	})
	return nil
}

type heldRow struct {
	ReceiptID string              `db:"receipt_id"`
	File      string              `db:"file"`
	Waiting   bool                `db:"waiting"`
	Reason    string              `db:"reason"`
	Amount    decimal.NullDecimal `db:"amount"`
}

func readHeld(ctx context.Context, tx *sqlx.Tx, r *Report, _ runRow, _ time.Time) error {
	return eachRow(ctx, tx, queryHeld, func(h heldRow) error {
		e := Exception{Kind: KindHeldReceipt, ReceiptID: h.ReceiptID, Amount: h.Amount.Decimal, Reason: h.Reason, File: h.File}
		switch {
		case h.ReceiptID == "" && h.Waiting:
			e.Kind = KindHeldNight
			e.NextAction = fmt.Sprintf("let %s be completed (or remove it from the drop folder); the next night planned takes the receipts it names; nothing was sent", h.File)
		case h.ReceiptID == "":
			e.Kind = KindHeldNight
			e.NextAction = fmt.Sprintf("replace %s with a corrected file, then `cashpool release --file %s --reason ...`; nothing was sent", h.File, h.File)
		case h.Waiting:
			e.NextAction = fmt.Sprintf("let %s be completed (write %s.ready when it is); the next night planned takes the receipt", h.File, h.File)
		case strings.HasPrefix(h.Reason, "bank reference "):
			e.NextAction = "see ambiguous_reference: once the allocation is named by receipt_id, the next night planned takes the receipt"
		default:
			e.NextAction = fmt.Sprintf("replace %s with a corrected file (every allocation it has for this receipt); the next night planned takes the receipt. If they must not be paid: `cashpool release --file %s --reason ...`", h.File, h.File)
		}
		r.Exceptions = append(r.Exceptions, e)
		return nil
	}, r.RunID)
}

func readReceipts(ctx context.Context, tx *sqlx.Tx, r *Report, _ runRow, _ time.Time) error {
	t := &r.Totals
	return eachRow(ctx, tx, queryReceipts, func(rr receiptRow) error {
		t.Receipts = t.Receipts.Add(rr.Amount)
		t.Allocated = t.Allocated.Add(rr.Allocated)
		t.Unallocated = t.Unallocated.Add(rr.Unallocated)
		if h, ok := holidayValueDate(rr); ok {
			r.Exceptions = append(r.Exceptions, h)
		}
		e := Exception{ReceiptID: rr.ReceiptID, Reason: rr.Reason, File: rr.File, Line: rr.Line}
		switch {
		case rr.Held:
			t.Held = t.Held.Add(rr.Amount)
			e.Kind = KindOverAllocated
			e.Amount = rr.Amount
			e.NextAction = "correct the allocations for this receipt; nothing was sent"
		case rr.Unallocated.IsPositive():
			e.Kind = KindUnallocated
			e.Amount = rr.Unallocated
			if e.Reason == "" {
				e.Reason = "allocations cover less than the receipt"
			}
			e.NextAction = "remainder stays in the sweep account; allocate it or return it"
		default:
			return nil
		}
		r.Exceptions = append(r.Exceptions, e)
		return nil
	}, r.RunID)
}

// holidayValueDate flags a receipt valued on a day the Federal Reserve is closed: no Fedwire
// payment settles then, so the date is the bank's booking convention or a mistake.
func holidayValueDate(rr receiptRow) (Exception, bool) {
	if fedcal.IsBusinessDay(rr.ValueDate) {
		return Exception{}, false
	}
	day := rr.ValueDate.Weekday().String()
	if name, ok := fedcal.Holiday(rr.ValueDate); ok {
		day = name
	}
	return Exception{
		Kind: KindHolidayValueDate, ReceiptID: rr.ReceiptID, Amount: rr.Amount, File: rr.File, Line: rr.Line,
		Reason: fmt.Sprintf("value date %s (%s): the Federal Reserve is closed and no wire settles",
			rr.ValueDate.Format(time.DateOnly), day),
		NextAction: "none if the bank dates wires received on closed days so; otherwise ask the bank for the value date",
	}, true
}

func readSkipped(ctx context.Context, tx *sqlx.Tx, r *Report, _ runRow, _ time.Time) error {
	return eachRow(ctx, tx, querySkipped, func(s skippedRow) error {
		e := Exception{
			Kind:       KindSkippedAllocation,
			ReceiptID:  s.ReceiptID,
			ClientRef:  s.ClientRef,
			AccountID:  s.AccountID,
			Amount:     s.Amount.Decimal, // zero for a weight allocation: shown empty
			Reason:     s.Reason,
			NextAction: "not funded by this run: resolve the reason",
			File:       s.File,
			Line:       s.Line,
		}
		if s.Awaiting {
			e.Kind = KindAwaitingReceipt
			e.NextAction = "none yet: the run that takes the receipt funds it; past the wait it becomes an exception"
		}
		if s.ReferenceMatches.Valid {
			referenceException(&e, s)
		}
		r.Exceptions = append(r.Exceptions, e)
		return nil
	}, r.RunID)
}

// referenceException classifies an allocation whose bank reference names no single receipt. Its
// receipt_id is no receipt's yet, so it is left empty: the reason names the reference.
func referenceException(e *Exception, s skippedRow) {
	e.ReceiptID = ""
	switch n := s.ReferenceMatches.Int64; {
	case s.Awaiting && n == 0:
		e.NextAction = "none yet: the bank statement carrying the reference resolves it; past the wait it becomes unmatched_reference"
	case s.Awaiting:
		e.NextAction = "none: the next scan of the drop folder resolves it"
	case n == 0:
		e.Kind = KindUnmatchedReference
		e.NextAction = "check the bank reference against the bank statement (or ask the sender whether the wire was sent); " +
			"to fund it, drop an allocations file naming the receipt_id with a new client_ref"
	case n == 1:
		e.NextAction = "nothing to do if it was delivered twice; if it is another allocation, drop it again with its own client_ref"
	default:
		e.Kind = KindAmbiguousReference
		e.NextAction = "drop an allocations file naming the right receipt_id with this client_ref: that receipt is then funded " +
			"with it and the others are released"
	}
}

func readJournals(ctx context.Context, tx *sqlx.Tx, r *Report, run runRow, now time.Time) error {
	// At the deadline tracking stops, so a journal still open then is stuck.
	pastDeadline := run.TrackDeadline.Valid && !now.Before(run.TrackDeadline.Time)
	var totals []struct {
		Status   string          `db:"status"`
		Journals int             `db:"journals"`
		Amount   decimal.Decimal `db:"amount"`
		OpenIDs  pq.Int64Array   `db:"open_ids"`
	}
	if err := tx.SelectContext(ctx, &totals, queryJournalTotals, r.RunID); err != nil {
		return err
	}
	var open pq.Int64Array
	for _, t := range totals {
		tally(&r.Totals, t.Amount, t.Journals, t.Status)
		open = append(open, t.OpenIDs...)
	}
	if len(open) == 0 {
		return nil
	}
	return eachRow(ctx, tx, queryJournals, func(j journalRow) error {
		if e, ok := journalException(j, r.BusinessDate, pastDeadline); ok {
			if e.Kind == KindNotSent && run.CashNeeded.Valid && j.ErrorMessage == "" {
				e.Reason = "held with the night: the sweep account is short of cash (see cash_shortfall)"
				e.NextAction = fmt.Sprintf("fund the sweep account, then re-run `cashpool run --date %s`", r.BusinessDate)
			}
			r.Exceptions = append(r.Exceptions, e)
		}
		return nil
	}, open)
}

// notSent reports whether status is one cashpool gives a journal before Alpaca answered for it.
func notSent(status string) bool {
	return status == store.JournalPlanned || status == "held"
}

// journalException classifies one counted journal. Only a funded journal yields none.
func journalException(j journalRow, date string, pastDeadline bool) (Exception, bool) {
	e := Exception{
		ReceiptID:  j.ReceiptID,
		ClientRef:  j.ClientRef,
		AccountID:  j.ToAccount,
		Amount:     j.Amount,
		JournalID:  j.AlpacaID,
		JournalKey: j.JournalKey,
		Status:     j.Status,
		Reason:     j.ErrorMessage,
		File:       j.File,
		Line:       j.Line,
	}
	s := j.Status
	switch {
	case notSent(s):
		e.Kind = KindNotSent
		if e.Reason == "" {
			e.Reason = "Alpaca never answered for this journal"
		}
		e.NextAction = fmt.Sprintf("re-run `cashpool run --date %s`; it resends with the same key", date)
	case store.JournalFunded(s):
		return Exception{}, false
	case store.JournalFailed(s):
		e.Kind = KindFailed
		e.NextAction = fmt.Sprintf("fix the cause, then `cashpool redrive --date %s`", date)
	case s == store.JournalCorrect:
		e.Kind = KindCorrected
		e.NextAction = "Alpaca corrected this journal; check the replacement journal's amount"
		if j.ReplacementID.Valid {
			e.Reason = strings.TrimSpace(fmt.Sprintf("replaced by journal %s for %s (%s). %s", j.ReplacementID.String,
				j.ReplacementAmount.Decimal.StringFixed(2), j.ReplacementStatus.String, e.Reason))
		}
	case s == store.JournalPending && pastDeadline:
		e.Kind = KindStuckPending
		if j.ExpectedPending {
			if e.Reason == "" {
				e.Reason = "amount above the per-journal limit"
			}
			e.NextAction = "above the per-journal limit: awaits Alpaca approval or the next BOD; no action unless it stays pending"
		} else {
			e.NextAction = "ask Alpaca operations why it is pending"
		}
	case (s == store.JournalQueued || s == store.JournalSentToClearing) && pastDeadline:
		e.Kind = KindStuck
		e.NextAction = fmt.Sprintf("ask Alpaca operations why it is still %s", s)
	case s == store.JournalPending || s == store.JournalQueued || s == store.JournalSentToClearing:
		e.Kind = KindInFlight
		e.NextAction = fmt.Sprintf("not settled yet: run `cashpool track --date %s`, then report again", date)
	default:
		e.Kind = KindUnknownStatus
		e.NextAction = "look the journal up in the Alpaca dashboard; cashpool does not know this status"
	}
	return e, true
}

// tally adds n counted journals of one status, amount in all, to t. Every journal lands in exactly
// one of Executed, Failed and InFlight, so Planned = Executed + Failed + InFlight holds by
// construction.
func tally(t *Totals, amount decimal.Decimal, n int, status string) {
	t.Journals += n
	t.Planned = t.Planned.Add(amount)
	addByOutcome(status, amount, n, bucket{&t.Executed, &t.ExecutedCount}, bucket{&t.Failed, &t.FailedCount},
		bucket{&t.InFlight, &t.InFlightCount})
}

// bucket is one sum and its count in a tally.
type bucket struct {
	sum   *decimal.Decimal
	count *int
}

// addByOutcome adds amount and n journals to exactly one bucket by their status: funded, failed,
// or open, which is anything neither funded nor failed (not sent, pending, corrected, unknown).
func addByOutcome(status string, amount decimal.Decimal, n int, funded, failed, open bucket) {
	b := open
	switch {
	case store.JournalFunded(status):
		b = funded
	case store.JournalFailed(status):
		b = failed
	}
	*b.sum = b.sum.Add(amount)
	*b.count += n
}

// balance sets Balanced and Problems from the sums and returns each problem's difference.
func balance(t *Totals) (diffs []decimal.Decimal) {
	t.Problems = nil
	check := func(left, right decimal.Decimal, what string) {
		if !left.Equal(right) {
			d := left.Sub(right)
			t.Problems = append(t.Problems, fmt.Sprintf("%s: %s <> %s (difference %s)",
				what, left.StringFixed(2), right.StringFixed(2), d.StringFixed(2)))
			diffs = append(diffs, d)
		}
	}
	check(t.Receipts, t.Allocated.Add(t.Unallocated), "receipts <> allocated + unallocated")
	check(t.Allocated, t.Planned, "allocated <> planned")
	check(t.Planned, t.Executed.Add(t.Failed).Add(t.InFlight), "planned <> executed + failed + in flight")
	t.Balanced = len(t.Problems) == 0
	return diffs
}

func sortExceptions(es []Exception) {
	sort.SliceStable(es, func(i, j int) bool {
		a, b := es[i], es[j]
		if ra, rb := kindRank[a.Kind], kindRank[b.Kind]; ra != rb {
			return ra < rb
		}
		if a.ReceiptID != b.ReceiptID {
			return a.ReceiptID < b.ReceiptID
		}
		if a.ClientRef != b.ClientRef {
			return a.ClientRef < b.ClientRef
		}
		if a.RewardID != b.RewardID {
			return a.RewardID < b.RewardID
		}
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.JournalKey < b.JournalKey
	})
}

// Option adjusts Build.
type Option func(*options)

type options struct{ watch time.Duration }

// WatchForDefault is how long after its run a funded journal is still watched and its reversal
// reported. Defaults to 5 days.
const WatchForDefault = 5 * 24 * time.Hour

// WatchFor sets how long after its run a funded journal's reversal is still reported
// (WatchForDefault when zero or less).
func WatchFor(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.watch = d
		}
	}
}

type lateRow struct {
	HistoryID  int64               `db:"history_id"`
	ReceiptID  string              `db:"receipt_id"`
	ClientRef  string              `db:"client_ref"`
	ToAccount  string              `db:"to_account"`
	Amount     decimal.NullDecimal `db:"amount"` // NULL for a reward
	RewardID   string              `db:"reward_id"`
	Symbol     string              `db:"symbol"`
	Qty        decimal.NullDecimal `db:"qty"` // a reward's shares
	JournalKey string              `db:"journal_key"`
	AlpacaID   string              `db:"alpaca_id"`
	StatusFrom string              `db:"status_from"`
	StatusTo   string              `db:"status_to"`
	At         time.Time           `db:"at"`
	RunDate    string              `db:"run_date"`
	Message    string              `db:"error_message"`
	File       string              `db:"file"`
	Line       int                 `db:"line"`
}

// readLate lists what Alpaca did to journals of earlier runs after their reports: reversals of
// funded journals, and failures of journals that were still open.
func readLate(ctx context.Context, tx *sqlx.Tx, r *Report, run runRow, watch time.Duration) error {
	var rows []lateRow
	if err := tx.SelectContext(ctx, &rows, queryLate, r.RunID, run.SweepAccount, run.BusinessDate, watch.Hours()/24); err != nil {
		return err
	}
	for _, v := range rows {
		e := Exception{
			Kind: KindReversed, ReceiptID: v.ReceiptID, ClientRef: v.ClientRef, AccountID: v.ToAccount,
			Amount: v.Amount.Decimal, JournalID: v.AlpacaID, JournalKey: v.JournalKey, Status: v.StatusTo,
			Reason: strings.TrimSpace(fmt.Sprintf("funded by the run of %s, then %s at Alpaca on %s. %s",
				v.RunDate, v.StatusTo, v.At.UTC().Format("2006-01-02 15:04 MST"), v.Message)),
			NextAction: "the money left the customer's account after funding: ask Alpaca operations why; if it must be funded again, `cashpool redrive --date " + v.RunDate + "`",
			File:       v.File, Line: v.Line, historyID: v.HistoryID,
		}
		if !store.JournalFunded(v.StatusFrom) {
			e.Kind = KindFailedLate
			e.Reason = strings.TrimSpace(fmt.Sprintf("%s when the run of %s was reported, then %s at Alpaca on %s. %s",
				v.StatusFrom, v.RunDate, v.StatusTo, v.At.UTC().Format("2006-01-02 15:04 MST"), v.Message))
			e.NextAction = "never funded: fix the cause, then `cashpool redrive --date " + v.RunDate + "`"
		}
		if v.RewardID != "" {
			lateReward(&e, v)
		}
		r.Exceptions = append(r.Exceptions, e)
	}
	return nil
}

type unfinishedRow struct {
	BusinessDate string          `db:"business_date"`
	Status       string          `db:"status"`
	Journals     int             `db:"journals"`
	Final        int             `db:"final"`
	Unsent       int             `db:"unsent"`
	Open         decimal.Decimal `db:"open_amount"`
}

// readUnfinished names every earlier date of the sweep account whose run is not finished, with
// the amount of its journals not yet final: a later night must never hide it.
func readUnfinished(ctx context.Context, tx *sqlx.Tx, r *Report, run runRow, _ time.Time) error {
	return eachRow(ctx, tx, queryUnfinished, func(u unfinishedRow) error {
		r.Exceptions = append(r.Exceptions, Exception{
			Kind:   KindUnfinishedRun,
			Amount: u.Open,
			Status: u.Status,
			Reason: fmt.Sprintf("the run of %s is not finished (%s): %d of %d journals final, %d not sent yet",
				u.BusinessDate, u.Status, u.Final, u.Journals, u.Unsent),
			NextAction: fmt.Sprintf("run `cashpool run --date %s` to finish it (every later run tries first); `cashpool status --date %s` shows where it stopped",
				u.BusinessDate, u.BusinessDate),
		})
		return nil
	}, run.SweepAccount, run.BusinessDate)
}

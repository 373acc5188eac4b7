// Package plan builds the run of one business date: it matches allocations to receipts, checks the
// control totals, splits weight allocations to the cent, and writes every journal intent and every
// batch (with its exact body and Idempotency-Key): the run, its batches and receipts in one
// transaction, its journals beside it on connections of their own (writers.go), committed just
// before it; the run's reservation clears them if the run never commits. Nothing here talks to Alpaca.
package plan

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/alpaca"
	"github.com/cashpool/cashpool/batch/jnlc"
	"github.com/cashpool/cashpool/batch/schema"
	"github.com/cashpool/cashpool/batch/store"
	"github.com/cashpool/cashpool/pool"
)

// AwaitReceiptForDefault is how long after its file arrived an allocation may wait for its
// receipt before it is an exception for a person. Defaults to 72h.
const AwaitReceiptForDefault = 72 * time.Hour

// Config is what planning needs to know about the firm.
type Config struct {
	SweepAccount string // the firm's sweep account id; configuration, never read from a CSV
	// RewardsAccount is the firm account rewards (JNLS) are given from; SweepAccount when empty.
	// Configuration, never read from a CSV.
	RewardsAccount string
	BusinessDate   string          // YYYY-MM-DD
	BatchSize      int             // entries per POST /v1/journals/batch; jnlc.BatchSizeDefault when zero
	JournalLimit   decimal.Decimal // the firm's per-journal limit; amounts above it are expected to go pending; zero = none
	// AwaitReceiptFor is how long after its file arrived an allocation may wait for its receipt
	// before it is an exception for a person; AwaitReceiptForDefault when zero.
	AwaitReceiptFor time.Duration
	Now             func() time.Time
	// JournalsWritten, when set, is called once the night's journals are committed, just before the
	// plan's own transaction (its run) commits: the crash harness kills the process there.
	JournalsWritten func()
}

// Result tells what a Plan call did.
type Result struct {
	RunID    int64
	Existed  bool // the run had been planned before; nothing was written
	Receipts int
	Held     int
	Journals int
	Batches  int
	Skipped  int
	Planned  decimal.Decimal
	// Unsent is the sum of the amounts written on the journals of the run's batches (all planned,
	// none sent yet) when the plan is new: what the night's cash check needs, known without
	// reading the journals back. Zero when Existed.
	Unsent decimal.Decimal
	// Waiting counts the receipts not planned because an allocations file naming them was refused
	// or is not complete; NightHeld says nothing was planned because such a file could not be read.
	Waiting   int
	NightHeld bool
	// Rewards counts the rewards planned as JNLS journals, RewardsRefused those of them refused
	// before any money moves (to the rewards or sweep account itself).
	Rewards        int
	RewardsRefused int
}

// fetchSize is how many receipt×allocation rows are read from the cursor at a time: memory stays
// flat however large the night is.
const fetchSize = 5000

// Plan plans the run for cfg.BusinessDate, or returns the existing run untouched. It takes every
// receipt with a value date on or before the business date that no earlier run took.
func Plan(ctx context.Context, db *sqlx.DB, cfg Config) (Result, error) {
	cfg.BatchSize = cmp.Or(cfg.BatchSize, jnlc.BatchSizeDefault)
	cfg.AwaitReceiptFor = cmp.Or(cfg.AwaitReceiptFor, AwaitReceiptForDefault)
	cfg.RewardsAccount = strings.ToLower(cmp.Or(cfg.RewardsAccount, cfg.SweepAccount))
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	now := cfg.Now().UTC()
	var res Result
	p := &planner{db: db, cfg: cfg, now: now, res: &res, keys: pool.NightKeys(cfg.SweepAccount, cfg.BusinessDate, 1), out: &chunkOut{}}
	defer p.close()
	// One connection holds the plan's transaction; the journals go through writers of their own.
	var err error
	p.conn, err = db.Connx(ctx)
	if err != nil {
		return res, err
	}
	p.tx, err = p.conn.BeginTxx(ctx, nil)
	if err != nil {
		return res, err
	}
	// One plan at a time in the database, whatever its night: two plans taking the same receipts
	// would each hold, in one transaction, a row the other's writers wait for, and each commit
	// waits for its writers, a wait PostgreSQL cannot see to break.
	if _, err := p.tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, schema.LockKey("plan")); err != nil {
		return res, fmt.Errorf("wait for another plan: %w", err)
	}
	// Each statement here runs once a night over freshly loaded tables whose statistics may be
	// stale: JIT compiling them cost more than running them (a second at 100,000 journals).
	if _, err := p.tx.ExecContext(ctx, `SET LOCAL jit = off`); err != nil {
		return res, err
	}
	// Journals of a plan that died between its journals' commits and its run's hold their
	// allocations' (allocation, attempt) and keys: they go first.
	if err := clearDeadPlans(ctx, db); err != nil {
		return res, err
	}
	res.RunID, err = store.RunOf(ctx, db, cfg.BusinessDate, cfg.SweepAccount)
	if err == nil {
		res.Existed = true
		return res, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return res, err
	}
	reserved, err := store.ReservePlan(ctx, db, cfg.BusinessDate, cfg.SweepAccount, now)
	if err != nil {
		return res, fmt.Errorf("reserve the run: %w", err)
	}
	if taken, err := store.TakeReservation(ctx, p.tx, reserved); err != nil || !taken {
		// Only a plan holding the plan lock clears reservations: gone means the database changed
		// under it.
		return res, cmp.Or(err, fmt.Errorf("the reservation of run %d is gone", reserved))
	}
	res.RunID, err = store.CreateRun(ctx, p.tx, reserved, cfg.BusinessDate, cfg.SweepAccount, now)
	if err != nil {
		return res, fmt.Errorf("create run: %w", err)
	}

	if err := p.holds(ctx); err != nil {
		return res, err
	}
	if !res.NightHeld {
		if err := p.receipts(ctx); err != nil {
			return res, err
		}
	}
	if err := p.skipOrphans(ctx); err != nil {
		return res, err
	}
	if !res.NightHeld {
		if err := p.rewards(ctx); err != nil {
			return res, err
		}
	}
	if p.writers != nil {
		if err := p.writers.finish(); err != nil {
			return res, err
		}
	}
	if cfg.JournalsWritten != nil {
		cfg.JournalsWritten()
	}
	if err := p.tx.Commit(); err != nil {
		return res, fmt.Errorf("commit plan: %w", err)
	}
	if err := analyzeJournals(ctx, db, res.Journals); err != nil {
		return res, fmt.Errorf("plan committed, but: %w", err)
	}
	return res, nil
}

// analyzeJournals refreshes the journals' statistics after a plan that wrote more than a tenth
// of the journals they knew. What follows reads the night's journals whole (the cash check's sum,
// the counts, the report): planned on statistics from before the night, a read of a million
// journals was costed as a few rows, run on one core, by a nested loop over the batches, while
// the other core idled. ANALYZE takes a fixed sample (~0.3 s at any size).
func analyzeJournals(ctx context.Context, db *sqlx.DB, written int) error {
	var known float64
	if err := db.GetContext(ctx, &known, `SELECT reltuples FROM pg_class WHERE oid = 'journals'::regclass`); err != nil {
		return fmt.Errorf("statistics of journals: %w", err)
	}
	if float64(written) <= known/10 {
		return nil
	}
	if _, err := db.ExecContext(ctx, `ANALYZE journals`); err != nil {
		return fmt.Errorf("analyze journals: %w", err)
	}
	return nil
}

// close ends what the plan left open. A plan that did not commit rolls back; journals a writer
// committed for it are left to the next plan's clearDeadPlans, as after a crash: they name a run
// that does not exist, so nothing that reads a run's journals sees them meanwhile.
func (p *planner) close() {
	if p.writers != nil {
		p.writers.abort()
	}
	if p.tx != nil {
		p.tx.Rollback()
	}
	if p.conn != nil {
		p.conn.Close()
	}
}

// clearDeadPlans deletes the journals of plans that died before their run was written
// (store.ClearDeadPlans), in a transaction of its own.
func clearDeadPlans(ctx context.Context, db *sqlx.DB) error {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := store.ClearDeadPlans(ctx, tx); err != nil {
		return fmt.Errorf("clear the journals of unfinished plans: %w", err)
	}
	return tx.Commit()
}

// row is one receipt × allocation row of the plan_rows cursor, its fields in the cursor's column
// order, then its receipt's originator (read apart, originators).
type row struct {
	ReceiptID     string
	ReceiptAmount decimal.Decimal
	ValueDate     time.Time
	AllocID       sql.NullInt64
	AccountID     sql.NullString
	Amount        decimal.NullDecimal
	Weight        decimal.NullDecimal
	ClientRef     sql.NullString
	Description   sql.NullString

	OrigName, OrigAccount, OrigBank, OrigAddress string
}

// intent is one journal waiting for its batch to fill. It copies what it needs from the row: rows
// are reused as the cursor moves on.
type intent struct {
	allocID   int64
	key       string
	receiptID string
	clientRef string
	entry     alpaca.BatchEntry
	expectPen bool
}

type planner struct {
	db    *sqlx.DB
	conn  *sqlx.Conn
	tx    *sqlx.Tx
	cfg   Config
	now   time.Time
	res   *Result
	batch []intent
	seq   int
	keys  pool.JournalKeys // the night's journal keys (attempt 1)
	// The writers of the night's journals; while a chunk of the cursor is planned, the batch ids
	// reserved for it, the receipt group it continues, and what it makes (written once it is
	// planned, beside the next chunk's planning). Only the chunk's goroutine touches them then.
	writers  *journalWriters
	aside    receiptsAside // plan_receipts, read on the plan's connection as plan_rows is
	batchIDs []int64
	group    []row
	out      *chunkOut
}

// receipts walks every unplanned receipt with its allocations, in (receipt_id, client_ref) byte
// order, through a server-side cursor, one receipt group at a time. COLLATE "C" keeps the order (and
// so the batches and their keys) the same on a database whose default collation is a locale's.
//
// A chunk of the cursor is planned on a goroutine of its own while the plan's connection writes
// what the chunk before it made (its batches, receipts and skipped allocations) and reads the next
// chunk: one waited for the other, and a million-journal plan spent a quarter of its time
// computing with the connection idle. The journals go to the writers as their batches fill.
func (p *planner) receipts(ctx context.Context) error {
	_, err := p.tx.ExecContext(ctx, declarePlanRows, p.cfg.BusinessDate, p.res.RunID)
	if err != nil {
		return fmt.Errorf("select receipts: %w", err)
	}
	if _, err := p.tx.ExecContext(ctx, declarePlanReceipts, p.cfg.BusinessDate, p.res.RunID); err != nil {
		return fmt.Errorf("select receipts' originators: %w", err)
	}
	var bufs [2][]row
	chunk, err := p.fetch(ctx, bufs[0][:0])
	if err != nil {
		return err
	}
	var written *chunkOut // what the chunk before made, not written yet
	for k := 0; ; k++ {
		bufs[k%2] = chunk
		last := len(chunk) < fetchSize
		// The batches' ids are reserved first (one per BatchSize journals, and one for the last,
		// partial batch), for the journals this chunk may fill batches with.
		ids, err := store.ReserveBatchIDs(ctx, p.tx, (len(p.batch)+len(p.group)+len(chunk))/p.cfg.BatchSize+1)
		if err != nil {
			return err
		}
		p.batchIDs = ids
		if p.writers == nil {
			p.writers = startJournalWriters(ctx, p.db, journalWritersDefault)
		}
		computed := make(chan error, 1)
		go func() { computed <- p.planRows(chunk, last) }()
		// Beside it, on the connection: the chunk before's rows, then the next chunk.
		err = p.write(ctx, written)
		var next []row
		if err == nil && !last {
			next, err = p.fetch(ctx, bufs[(k+1)%2][:0])
		}
		if cerr := <-computed; err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		written = p.take()
		if last {
			break
		}
		chunk = next
	}
	if err := p.write(ctx, written); err != nil {
		return err
	}
	_, err = p.tx.ExecContext(ctx, `CLOSE plan_rows; CLOSE plan_receipts`)
	return err
}

// planRows plans the receipt groups a chunk of the cursor completes; a group may go on in the next
// chunk, unless this one is the last.
func (p *planner) planRows(chunk []row, last bool) error {
	for _, r := range chunk {
		if len(p.group) > 0 && p.group[0].ReceiptID != r.ReceiptID {
			if err := p.receipt(p.group); err != nil {
				return err
			}
			p.group = p.group[:0]
		}
		p.group = append(p.group, r)
	}
	if !last {
		return nil
	}
	if len(p.group) > 0 {
		if err := p.receipt(p.group); err != nil {
			return err
		}
	}
	return p.flushBatch()
}

// chunkOut is what planning a chunk made for the plan's transaction to write: its batch rows, run
// receipts and skipped allocations.
type chunkOut struct {
	batches  []store.NewBatch
	receipts []runReceipt
	skips    []skip
}

// take hands over what the chunk just planned made, and starts the next chunk's afresh.
func (p *planner) take() *chunkOut {
	o := p.out
	p.out = &chunkOut{}
	return o
}

// write stores what a planned chunk made (nothing when o is nil).
func (p *planner) write(ctx context.Context, o *chunkOut) error {
	if o == nil {
		return nil
	}
	if len(o.batches) > 0 {
		if err := store.InsertBatches(ctx, p.tx, p.res.RunID, store.EntryJNLC, o.batches); err != nil {
			return err
		}
	}
	return p.flushRows(ctx, o)
}

// fetch appends the next fetchSize rows of the cursor to chunk, scanned in the cursor's column
// order (no reflection per row).
func (p *planner) fetch(ctx context.Context, chunk []row) ([]row, error) {
	rows, err := p.tx.QueryContext(ctx, fetchPlanRows)
	if err != nil {
		return chunk, fmt.Errorf("fetch receipts: %w", err)
	}
	defer rows.Close()
	start := len(chunk)
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.ReceiptID, &r.ReceiptAmount, &r.ValueDate,
			&r.AllocID, &r.AccountID, &r.Amount, &r.Weight, &r.ClientRef, &r.Description); err != nil {
			return chunk, fmt.Errorf("fetch receipts: %w", err)
		}
		chunk = append(chunk, r)
	}
	if err := rows.Err(); err != nil {
		return chunk, fmt.Errorf("fetch receipts: %w", err)
	}
	if err := rows.Close(); err != nil {
		return chunk, fmt.Errorf("fetch receipts: %w", err)
	}
	return chunk, p.originators(ctx, chunk[start:])
}

// originators fills in each row's receipt originator from plan_receipts, which holds the same
// receipts in the same order.
func (p *planner) originators(ctx context.Context, chunk []row) error {
	for i := range chunk {
		r := &chunk[i]
		if r.ReceiptID != p.aside.last.id || !p.aside.matched {
			if err := p.aside.seek(ctx, p.tx, r.ReceiptID); err != nil {
				return err
			}
		}
		o := &p.aside.last
		r.OrigName, r.OrigAccount, r.OrigBank, r.OrigAddress = o.name, o.account, o.bank, o.address
	}
	return nil
}

// receiptsAside walks plan_receipts beside plan_rows: the receipt matched last (whose rows may go
// on in the next chunk), and the fetched receipts not reached yet.
type receiptsAside struct {
	last    receiptRow
	matched bool
	buf     []receiptRow
	next    int
	done    bool // plan_receipts has no more rows
}

type receiptRow struct{ id, name, account, bank, address string }

// seek moves on to receipt id, passing over any receipt loaded after plan_rows was opened (not
// among its rows). Receipt ids compare as the cursors order them, byte by byte.
func (a *receiptsAside) seek(ctx context.Context, tx *sqlx.Tx, id string) error {
	for {
		if a.next == len(a.buf) {
			if a.done {
				return fmt.Errorf("plan: receipt %s is not among the receipts read beside the plan's rows", id)
			}
			if err := a.fetch(ctx, tx); err != nil {
				return err
			}
			continue
		}
		c := a.buf[a.next]
		switch {
		case c.id < id:
			a.next++
		case c.id == id:
			a.last, a.matched = c, true
			a.next++
			return nil
		default:
			return fmt.Errorf("plan: receipt %s is not among the receipts read beside the plan's rows (next: %s)", id, c.id)
		}
	}
}

// fetch reads the next fetchSize receipts of plan_receipts.
func (a *receiptsAside) fetch(ctx context.Context, tx *sqlx.Tx) error {
	rows, err := tx.QueryContext(ctx, fetchPlanReceipts)
	if err != nil {
		return fmt.Errorf("fetch receipts' originators: %w", err)
	}
	defer rows.Close()
	a.buf, a.next = a.buf[:0], 0
	for rows.Next() {
		var c receiptRow
		if err := rows.Scan(&c.id, &c.name, &c.account, &c.bank, &c.address); err != nil {
			return fmt.Errorf("fetch receipts' originators: %w", err)
		}
		a.buf = append(a.buf, c)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("fetch receipts' originators: %w", err)
	}
	a.done = len(a.buf) < fetchSize
	return rows.Close()
}

// holds records what this run must not plan because an allocations file naming it is not loaded
// (DESIGN invariant 7: no payout on incomplete information):
//   - a receipt named by a refused allocations file, until every allocation (receipt_id,
//     client_ref) the file names for it has been loaded from another file, or an operator
//     released the file;
//   - a receipt named by an allocations file still waiting in the drop folder, until it is taken;
//   - the whole night, while a refused file (not released) or a waiting file cannot be read well
//     enough to tell which receipts it names.
func (p *planner) holds(ctx context.Context) error {
	res, err := p.tx.ExecContext(ctx, insertHeldNight, p.res.RunID)
	if err != nil {
		return fmt.Errorf("record held night: %w", err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		p.res.NightHeld = true
		return nil
	}
	res, err = p.tx.ExecContext(ctx, insertHeldReceipts, p.res.RunID, p.cfg.BusinessDate)
	if err != nil {
		return fmt.Errorf("record held receipts: %w", err)
	}
	err = p.tx.GetContext(ctx, &p.res.Waiting, countHeld, p.res.RunID)
	return err
}

// receipt plans one receipt: amount allocations first, then whatever is left split over the weight
// allocations. Allocations that exceed the receipt, or one to the sweep account itself, hold it
// whole: nothing of it is sent.
func (p *planner) receipt(g []row) error {
	rc := &g[0]
	p.res.Receipts++
	total := rc.ReceiptAmount
	var fixed decimal.Decimal
	var amounts, weights []*row
	var toSweep []string
	for i := range g {
		r := &g[i]
		if !r.AllocID.Valid {
			continue // a receipt with no allocations: all of it stays unallocated
		}
		if strings.EqualFold(r.AccountID.String, p.cfg.SweepAccount) {
			// Dropping it would let the other weights absorb its share: money meant for nobody
			// would go to customers. The file is wrong; a person decides.
			toSweep = append(toSweep, r.ClientRef.String)
		}
		if r.Amount.Valid {
			fixed = fixed.Add(r.Amount.Decimal)
			amounts = append(amounts, r)
		} else {
			weights = append(weights, r)
		}
	}
	var held, why string
	switch {
	case len(toSweep) > 0:
		held = fmt.Sprintf("allocation %s is to the sweep account itself, not a customer account; receipt held whole",
			strings.Join(toSweep, ", "))
		why = "allocation to the sweep account"
	case fixed.GreaterThan(total):
		held = fmt.Sprintf("allocations total %s exceed the receipt's %s by %s; receipt held whole",
			fixed.StringFixed(2), total.StringFixed(2), fixed.Sub(total).StringFixed(2))
		why = "over-allocated"
	}
	if held != "" {
		p.res.Held++
		var skipped []skip
		for _, r := range append(amounts, weights...) {
			skipped = append(skipped, skip{r.AllocID.Int64, "receipt " + rc.ReceiptID + " held: " + why})
		}
		p.addReceipt(rc, decimal.Zero, true, held)
		p.addSkipped(skipped)
		return nil
	}
	var skipped []skip

	type share struct {
		r      *row
		amount decimal.Decimal
	}
	var shares []share
	for _, r := range amounts {
		shares = append(shares, share{r, r.Amount.Decimal})
	}
	allocated := fixed
	if len(weights) > 0 {
		rest := total.Sub(fixed)
		ws := make([]pool.Share, len(weights))
		for i, r := range weights {
			ws[i] = pool.Share{Ref: r.ClientRef.String, Weight: r.Weight.Decimal}
		}
		parts, err := pool.Split(rest, ws)
		if err != nil {
			return fmt.Errorf("split receipt %s: %w", rc.ReceiptID, err)
		}
		for i, r := range weights {
			if parts[i].IsZero() {
				skipped = append(skipped, skip{r.AllocID.Int64, "weight share rounds to 0.00: nothing to send"})
				continue
			}
			shares = append(shares, share{r, parts[i]})
		}
		allocated = total
	}
	// Shares are journaled in client_ref order whatever their kind, so batches are deterministic.
	byRef := make(map[int64]decimal.Decimal, len(shares))
	for _, s := range shares {
		byRef[s.r.AllocID.Int64] = s.amount
	}
	for i := range g {
		r := &g[i]
		amt, ok := byRef[r.AllocID.Int64]
		if !r.AllocID.Valid || !ok {
			continue
		}
		if err := p.addIntent(r, amt); err != nil {
			return err
		}
	}
	p.addReceipt(rc, allocated, false, "")
	p.addSkipped(skipped)
	return nil
}

type skip struct {
	allocID int64
	reason  string
}

// addReceipt and addSkipped buffer the run_receipts and run_skipped_allocations rows of a chunk of
// the cursor, written in one statement each after it (flushRows): no round trip per row, and
// memory stays flat.
func (p *planner) addReceipt(rc *row, allocated decimal.Decimal, held bool, reason string) {
	p.out.receipts = append(p.out.receipts, runReceipt{rc.ReceiptID, rc.ReceiptAmount, allocated, held, reason})
}

func (p *planner) addSkipped(s []skip) {
	p.out.skips = append(p.out.skips, s...)
	p.res.Skipped += len(s)
}

type runReceipt struct {
	id        string
	amount    decimal.Decimal
	allocated decimal.Decimal
	held      bool
	reason    string
}

// flushRows writes a chunk's run_receipts and run_skipped_allocations rows.
func (p *planner) flushRows(ctx context.Context, o *chunkOut) error {
	if n := len(o.receipts); n > 0 {
		ids, amounts, allocated, unallocated, reasons := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		held := make([]bool, n)
		for i, r := range o.receipts {
			ids[i], amounts[i], allocated[i] = r.id, r.amount.StringFixed(2), r.allocated.StringFixed(2)
			unallocated[i], held[i], reasons[i] = r.amount.Sub(r.allocated).StringFixed(2), r.held, r.reason
		}
		if _, err := p.tx.ExecContext(ctx, insertRunReceipts,
			p.res.RunID, pq.Array(ids), pq.Array(amounts), pq.Array(allocated), pq.Array(unallocated), pq.Array(held), pq.Array(reasons)); err != nil {
			return fmt.Errorf("record receipts: %w", err)
		}
	}
	if n := len(o.skips); n > 0 {
		ids, reasons := make([]int64, n), make([]string, n)
		for i, k := range o.skips {
			ids[i], reasons[i] = k.allocID, k.reason
		}
		if _, err := p.tx.ExecContext(ctx, insertSkipped,
			p.res.RunID, pq.Array(ids), pq.Array(reasons)); err != nil {
			return fmt.Errorf("record skipped allocations: %w", err)
		}
	}
	return nil
}

func (p *planner) addIntent(r *row, amount decimal.Decimal) error {
	key := p.keys.Of(r.AllocID.Int64)
	desc := pool.Describe(r.Description.String, key)
	in := intent{
		allocID: r.AllocID.Int64, key: key, receiptID: r.ReceiptID, clientRef: r.ClientRef.String,
		expectPen: p.cfg.JournalLimit.IsPositive() && amount.GreaterThan(p.cfg.JournalLimit),
		entry: alpaca.BatchEntry{
			ToAccount:                       strings.ToLower(r.AccountID.String),
			Amount:                          amount.StringFixed(2),
			Description:                     desc,
			TransmitterName:                 r.OrigName,
			TransmitterAccountNumber:        r.OrigAccount,
			TransmitterAddress:              r.OrigAddress,
			TransmitterFinancialInstitution: r.OrigBank,
			TransmitterTimestamp:            transmitterTime(r.ValueDate).Format(time.RFC3339),
		},
	}
	p.batch = append(p.batch, in)
	p.res.Journals++
	p.res.Planned = p.res.Planned.Add(amount)
	p.res.Unsent = p.res.Unsent.Add(amount.Round(2)) // the amount written (entry.Amount, StringFixed(2))
	if len(p.batch) >= p.cfg.BatchSize {
		return p.flushBatch()
	}
	return nil
}

// transmitterTime is the wire's value date at midnight UTC: the receipt files carry no time of day.
func transmitterTime(d time.Time) time.Time {
	return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC)
}

// flushBatch makes the buffered intents one batch, with the next reserved id, and hands its
// journals to a writer.
func (p *planner) flushBatch() error {
	if len(p.batch) == 0 {
		return nil
	}
	if len(p.batchIDs) == 0 {
		return errors.New("plan: more batches than batch ids reserved")
	}
	id := p.batchIDs[0]
	p.batchIDs = p.batchIDs[1:]
	p.seq++
	entries := make([]alpaca.BatchEntry, len(p.batch))
	for i, in := range p.batch {
		entries[i] = in.entry
	}
	b, err := jnlc.NewBatch(id, p.cfg.SweepAccount, p.cfg.BusinessDate, fmt.Sprintf("%06d", p.seq), entries)
	if err != nil {
		return err
	}
	p.out.batches = append(p.out.batches, b)
	lines := p.writers.buffer()
	for i := range p.batch {
		lines = append(p.appendJournal(lines, id, &p.batch[i]), '\n')
	}
	if err := p.writers.send(p.seq, lines); err != nil {
		return err
	}
	p.res.Batches++
	p.batch = p.batch[:0]
	return nil
}

// appendJournal appends the COPY line of one planned journal, in store.CopyJournalsSQL's columns.
func (p *planner) appendJournal(b []byte, batchID int64, in *intent) []byte {
	b = strconv.AppendInt(b, p.res.RunID, 10)
	b = append(b, '\t')
	b = strconv.AppendInt(b, batchID, 10)
	b = store.AppendCopyText(b, in.key)
	b = append(b, '\t')
	b = strconv.AppendInt(b, in.allocID, 10)
	b = append(b, "\t1"...) // attempt
	b = store.AppendCopyText(b, in.receiptID)
	b = store.AppendCopyText(b, in.clientRef)
	b = store.AppendCopyText(b, in.entry.ToAccount)
	b = store.AppendCopyText(b, in.entry.Amount)
	b = store.AppendCopyText(b, in.entry.Description)
	b = append(b, '\t')
	b = strconv.AppendBool(b, in.expectPen)
	b = store.AppendCopyText(b, store.JournalPlanned)
	b = append(b, '\t')
	return p.now.AppendFormat(b, time.RFC3339Nano)
}

// skipOrphans records allocations this run cannot plan: those whose receipt has not arrived (listed
// again by every run until it does), those that arrived after their receipt was planned by an
// earlier run (listed once), and those whose bank reference does not name exactly one receipt.
func (p *planner) skipOrphans(ctx context.Context) error {
	res, err := p.tx.ExecContext(ctx, insertAwaiting,
		p.res.RunID, p.cfg.AwaitReceiptFor.Seconds(), p.now)
	if err != nil {
		return fmt.Errorf("record allocations awaiting receipts: %w", err)
	}
	n1, _ := res.RowsAffected()
	res, err = p.tx.ExecContext(ctx, insertLate, p.res.RunID)
	if err != nil {
		return fmt.Errorf("record late allocations: %w", err)
	}
	n2, _ := res.RowsAffected()
	res, err = p.tx.ExecContext(ctx, insertUnresolved, p.res.RunID, p.cfg.AwaitReceiptFor.Seconds(), p.now)
	if err != nil {
		return fmt.Errorf("record allocations by unresolved bank reference: %w", err)
	}
	n3, _ := res.RowsAffected()
	p.res.Skipped += int(n1 + n2 + n3)
	return nil
}

package redrive

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
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

// Config names the run to redrive and, optionally, the one journal to redrive and what its new
// attempt corrects.
type Config struct {
	SweepAccount string // the firm's sweep account id, as the Runner is configured with it
	BusinessDate string // YYYY-MM-DD
	BatchSize    int    // entries per new batch; jnlc.BatchSizeDefault when zero
	Now          func() time.Time

	// Journal, when set, limits the redrive to one journal: its cashpool key or Alpaca id. It
	// must be the latest attempt of its allocation and have failed.
	Journal string
	// Account and Description, when set, replace the journal's account and description (without
	// the key token) in its new attempt. Both need Journal, By and Reason.
	Account     string
	Description string
	// By and Reason say who redrove and why; they are kept in the new attempt's history.
	By, Reason string
}

// ErrInvalid wraps a Config that cannot be acted on as given: the caller's to fix.
var ErrInvalid = errors.New("invalid redrive")

// ErrNoJournal means Config.Journal names no journal of the run.
var ErrNoJournal = errors.New("no such journal in this run")

// Actions of an Item.
const (
	ActionRedrive = "redrive"
	ActionRefuse  = "refuse"
)

// Item is the decision about one allocation: its highest attempt in the run and what redrive does
// with it. JournalID, Status, AlpacaID, ErrorMessage and Attempt describe that attempt.
type Item struct {
	JournalID    int64
	AllocationID int64
	ReceiptID    string
	ClientRef    string
	ToAccount    string
	Amount       decimal.Decimal
	Status       string
	AlpacaID     string
	ErrorMessage string
	Attempt      int
	Action       string // ActionRedrive or ActionRefuse
	Why          string
	// NewAccount and NewDescription are the corrections the new attempt carries; empty when none.
	NewAccount     string
	NewDescription string
}

// Plan is what Preview would do or Apply did. Items are in (receipt_id, client_ref) order.
type Plan struct {
	RunID   int64
	Items   []Item
	Redrive int
	Refuse  int
	Amount  decimal.Decimal // total of the journals redriven
}

// ErrNoRun means no run exists for the date and sweep account: there is nothing to redrive.
var ErrNoRun = errors.New("no run for this date")

// Why texts for refused items.
const (
	whyFunded   = "already funded"
	whyInFlight = "still in flight at Alpaca"
	whyNoAnswer = "never answered: re-run `cashpool run`; it resends with the same key"
	whyCorrect  = "corrected by Alpaca"
	whyUnknown  = "unknown status: look it up first"
)

// decide says what redrive does with a highest attempt in status s.
func decide(status string, unknown bool) (action, why string) {
	switch {
	case unknown || !known(status):
		// A status we cannot read may hide a journal that moved money: never guess.
		return ActionRefuse, whyUnknown
	case store.JournalFailed(status):
		return ActionRedrive, status + " by Alpaca: a new journal with a new key"
	case store.JournalFunded(status):
		return ActionRefuse, whyFunded
	case status == store.JournalPending || status == store.JournalQueued || status == store.JournalSentToClearing:
		return ActionRefuse, whyInFlight
	case status == store.JournalPlanned:
		// Its batch may have been sent: Alpaca may hold this journal under its key, and only a
		// resend with that same key is safe.
		return ActionRefuse, whyNoAnswer
	case status == store.JournalCorrect:
		return ActionRefuse, whyCorrect
	}
	return ActionRefuse, whyUnknown
}

func known(s string) bool { return store.JournalKnown(s) }

// journal is the highest attempt of one allocation, with everything a new attempt copies.
type journal struct {
	ID            int64           `db:"id"`
	AllocationID  int64           `db:"allocation_id"`
	Attempt       int             `db:"attempt"`
	Key           string          `db:"journal_key"`
	ReceiptID     string          `db:"receipt_id"`
	ClientRef     string          `db:"client_ref"`
	ToAccount     string          `db:"to_account"`
	Amount        decimal.Decimal `db:"amount"`
	Description   string          `db:"description"`
	TName         string          `db:"transmitter_name"`
	TAccount      string          `db:"transmitter_account_number"`
	TAddress      string          `db:"transmitter_address"`
	TInstitution  string          `db:"transmitter_financial_institution"`
	TTimestamp    time.Time       `db:"transmitter_timestamp"`
	ExpectPending bool            `db:"expected_pending"`
	AlpacaID      string          `db:"alpaca_id"`
	Status        string          `db:"status"`
	StatusUnknown bool            `db:"status_unknown"`
	ErrorMessage  string          `db:"error_message"`
	EntryType     string          `db:"entry_type"` // NamedJournalSQL only
	RewardID      string          `db:"reward_id"`  // NamedJournalSQL only

	newAccount, newDescription string // the corrections of Config, on the journal named
}

// Limits on what an operator types; a description has the allocation file's limit.
const (
	maxBy     = 200
	maxReason = 1000
)

func (c Config) withDefaults() (Config, error) {
	if c.SweepAccount == "" || c.BusinessDate == "" {
		return c, errors.New("redrive: sweep account and business date are required")
	}
	c.BatchSize = cmp.Or(c.BatchSize, jnlc.BatchSizeDefault)
	if c.Now == nil {
		c.Now = time.Now
	}
	var errs []error
	if c.Journal != "" {
		id, err := pool.ParseAccountID(c.Journal) // the same UUID syntax as an account id
		if err != nil {
			errs = append(errs, fmt.Errorf("journal %q %w (a journal key or an Alpaca journal id)", c.Journal, err))
		}
		c.Journal = id
	}
	correcting := c.Account != "" || c.Description != ""
	if correcting && c.Journal == "" && len(errs) == 0 {
		errs = append(errs, errors.New("a corrected account or description applies to one journal: name it"))
	}
	if c.Account != "" {
		acc, err := pool.ParseAccountID(c.Account)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("account %q %w", c.Account, err))
		case acc == strings.ToLower(c.SweepAccount):
			// Direction: journals only ever go from the sweep account, never to it.
			errs = append(errs, fmt.Errorf("account %s is the sweep account itself: journals only go from it", acc))
		}
		c.Account = acc
	}
	if c.Description != "" {
		if err := pool.CheckText(c.Description, pool.MaxDescriptionLen, true); err != nil {
			errs = append(errs, fmt.Errorf("description %w (at most %d bytes)", err, pool.MaxDescriptionLen))
		}
	}
	if err := pool.CheckText(c.By, maxBy, correcting); err != nil {
		errs = append(errs, fmt.Errorf("who redrives %w (a correction is recorded with who and why)", err))
	}
	if err := pool.CheckText(c.Reason, maxReason, correcting); err != nil {
		errs = append(errs, fmt.Errorf("the reason %w (a correction is recorded with who and why)", err))
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return c, nil
}

// Preview tells what Apply would do now, in a read-only transaction: it writes nothing.
func Preview(ctx context.Context, db *sqlx.DB, cfg Config) (*Plan, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	tx, err := db.BeginTxx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead})
	if err != nil {
		return nil, fmt.Errorf("redrive %s: begin: %w", cfg.BusinessDate, err)
	}
	defer tx.Rollback()
	p, _, err := decideRun(ctx, tx, cfg, false)
	return p, err
}

// Apply writes a new attempt for every definitively failed journal of the run and puts the run
// back to 'planned', all in one transaction. With nothing to redrive it changes nothing.
func Apply(ctx context.Context, db *sqlx.DB, cfg Config) (*Plan, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	now := cfg.Now().UTC()
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("redrive %s: begin: %w", cfg.BusinessDate, err)
	}
	defer tx.Rollback()
	p, js, err := decideRun(ctx, tx, cfg, true)
	if err != nil {
		return nil, err
	}
	if p.Redrive == 0 {
		return p, nil
	}
	if err := write(ctx, tx, cfg, p.RunID, js, now); err != nil {
		return nil, fmt.Errorf("redrive %s: %w", cfg.BusinessDate, err)
	}
	// Back to 'planned' with no deadline: the Runner then submits, sets a fresh deadline, tracks and
	// reconciles it like a new run.
	if _, err := store.MoveRun(ctx, tx, p.RunID, store.RunPlanned, nil, now); err != nil {
		return nil, fmt.Errorf("redrive %s: reopen run: %w", cfg.BusinessDate, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("redrive %s: commit: %w", cfg.BusinessDate, err)
	}
	return p, nil
}

// runLockWait is how long a redrive waits for the run's lock: a Runner holds it for its whole night
// (the redrive is then refused as busy), another redrive only until its commit ends.
const runLockWait = "1s"

// lockRun takes the run's lock (schema.RunLockName) for tx, or says schema.ErrBusy. It waits a
// moment: a redrive that held the run row before this one releases the lock just after the row (the
// server lets go of an advisory lock after the row's), and refusing in that gap refused the second of
// two redrives the row had already put one after the other.
func lockRun(ctx context.Context, tx *sqlx.Tx, cfg Config) error {
	var prev string
	if err := tx.GetContext(ctx, &prev, `SELECT current_setting('lock_timeout')`); err != nil {
		return fmt.Errorf("lock run: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `SELECT set_config('lock_timeout', $1, true)`, runLockWait); err != nil {
		return fmt.Errorf("lock run: %w", err)
	}
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, schema.LockKey(schema.RunLockName(cfg.SweepAccount, cfg.BusinessDate)))
	if pqErr := (*pq.Error)(nil); errors.As(err, &pqErr) && pqErr.Code == store.CodeLockNotAvailable {
		return schema.ErrBusy
	}
	if err != nil {
		return fmt.Errorf("lock run: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `SELECT set_config('lock_timeout', $1, true)`, prev); err != nil {
		return fmt.Errorf("lock run: %w", err)
	}
	return nil
}

// decideRun finds the run and decides every allocation's highest attempt. With lock it holds the
// run row (so two redrives serialise and the second sees the first's new attempts) and refuses to
// go on while a Runner holds the run's advisory lock. It returns the journals to redrive.
func decideRun(ctx context.Context, tx *sqlx.Tx, cfg Config, lock bool) (*Plan, []journal, error) {
	runOf := store.RunOf
	if lock {
		runOf = store.LockRunOf
	}
	p := &Plan{}
	var err error
	if p.RunID, err = runOf(ctx, tx, cfg.BusinessDate, cfg.SweepAccount); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil, fmt.Errorf("redrive %s: %w", cfg.BusinessDate, ErrNoRun)
		}
		return nil, nil, fmt.Errorf("redrive %s: find run: %w", cfg.BusinessDate, err)
	}
	if lock {
		if err := lockRun(ctx, tx, cfg); err != nil {
			return nil, nil, fmt.Errorf("redrive %s: %w", cfg.BusinessDate, err)
		}
	}
	var all []journal
	if err := tx.SelectContext(ctx, &all, store.HighestAttemptsSQL, p.RunID); err != nil {
		return nil, nil, fmt.Errorf("redrive %s: read journals: %w", cfg.BusinessDate, err)
	}
	var named *journal
	if cfg.Journal != "" {
		var err error
		if named, all, err = pickNamed(ctx, tx, p.RunID, cfg.Journal, all); err != nil {
			return nil, nil, fmt.Errorf("redrive %s: %w", cfg.BusinessDate, err)
		}
	}
	var redo []journal
	p.Items = make([]Item, 0, len(all))
	for _, j := range all {
		action, why := decide(j.Status, j.StatusUnknown)
		if named != nil && named.ID != j.ID {
			// Only the latest attempt may be redriven: an earlier one was redriven already.
			action, why = ActionRefuse, fmt.Sprintf("journal %s is attempt %d; the latest attempt is %d (%s, key %s)",
				cfg.Journal, named.Attempt, j.Attempt, j.Status, j.Key)
		}
		if action == ActionRedrive {
			j.newAccount, j.newDescription = cfg.Account, cfg.Description
		}
		p.Items = append(p.Items, Item{
			JournalID: j.ID, AllocationID: j.AllocationID, ReceiptID: j.ReceiptID, ClientRef: j.ClientRef,
			ToAccount: j.ToAccount, Amount: j.Amount, Status: j.Status, AlpacaID: j.AlpacaID,
			ErrorMessage: j.ErrorMessage, Attempt: j.Attempt, Action: action, Why: why,
			NewAccount: j.newAccount, NewDescription: j.newDescription,
		})
		if action == ActionRedrive {
			p.Redrive++
			p.Amount = p.Amount.Add(j.Amount)
			redo = append(redo, j)
		} else {
			p.Refuse++
		}
	}
	return p, redo, nil
}

// pickNamed finds the journal named by its key or Alpaca id in the run and keeps, of the latest
// attempts all, only its allocation's.
func pickNamed(ctx context.Context, tx *sqlx.Tx, runID int64, id string, all []journal) (*journal, []journal, error) {
	var named journal
	if err := tx.GetContext(ctx, &named, store.NamedJournalSQL, runID, id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil, fmt.Errorf("journal %s: %w", id, ErrNoJournal)
		}
		return nil, nil, fmt.Errorf("find journal %s: %w", id, err)
	}
	if named.EntryType == store.EntryJNLS {
		// A refused reward failed for its shares, symbol or account: what to give instead is a
		// new reward (a new reward_id in a rewards file), never this one under another key.
		return nil, nil, fmt.Errorf("%w: journal %s gives reward %s (JNLS) and rewards are not redriven; "+
			"drop a rewards file with a new reward_id once the cause is fixed", ErrInvalid, id, named.RewardID)
	}
	for _, j := range all {
		if j.AllocationID == named.AllocationID {
			return &named, []journal{j}, nil
		}
	}
	return nil, nil, fmt.Errorf("journal %s: %w", id, ErrNoJournal)
}

// write stores the new attempts, batched per attempt number in the order given, with their history.
func write(ctx context.Context, tx *sqlx.Tx, cfg Config, runID int64, js []journal, now time.Time) error {
	byAttempt := map[int][]journal{}
	var attempts []int
	for _, j := range js {
		next := j.Attempt + 1
		if _, ok := byAttempt[next]; !ok {
			attempts = append(attempts, next)
		}
		byAttempt[next] = append(byAttempt[next], j)
	}
	var batchIDs []int64
	for _, attempt := range attempts {
		group := byAttempt[attempt]
		// A later redrive of the same attempt number (an allocation that failed only after an
		// earlier redrive) continues the numbering: seqs are unique per run.
		last, err := store.LastRedriveSeq(ctx, tx, runID, attempt)
		if err != nil {
			return fmt.Errorf("number batches: %w", err)
		}
		for start := 0; start < len(group); start += cfg.BatchSize {
			last++
			chunk := group[start:min(start+cfg.BatchSize, len(group))]
			id, err := writeBatch(ctx, tx, cfg, runID, fmt.Sprintf("r%d-%06d", attempt, last), attempt, chunk, now)
			if err != nil {
				return err
			}
			batchIDs = append(batchIDs, id)
		}
	}
	// The new attempt's first history row says who, why, which attempt it replaces and what it
	// corrects; the failed attempt stays as it was.
	return store.JournalsRedriven(ctx, tx, batchIDs, allocationIDs(js), details(js), cfg.By, cfg.Reason, now)
}

func allocationIDs(js []journal) []int64 {
	out := make([]int64, len(js))
	for i, j := range js {
		out[i] = j.AllocationID
	}
	return out
}

// details describes each new attempt for its history: the attempt it replaces and its corrections.
func details(js []journal) []string {
	out := make([]string, len(js))
	for i, j := range js {
		d := fmt.Sprintf("redrive of journal %s (attempt %d, %s)", j.Key, j.Attempt, j.Status)
		if j.newAccount != "" && j.newAccount != strings.ToLower(j.ToAccount) {
			d += fmt.Sprintf("; account %s -> %s", strings.ToLower(j.ToAccount), j.newAccount)
		}
		if j.newDescription != "" {
			d += fmt.Sprintf("; description %q -> %q", j.Description, j.newDescription)
		}
		out[i] = d
	}
	return out
}

func writeBatch(ctx context.Context, tx *sqlx.Tx, cfg Config, runID int64, seq string, attempt int, chunk []journal, now time.Time) (int64, error) {
	keys := make([]string, len(chunk))
	entries := make([]alpaca.BatchEntry, len(chunk))
	for i, j := range chunk {
		keys[i] = pool.JournalKey(cfg.SweepAccount, cfg.BusinessDate, j.AllocationID, attempt)
		to, desc := strings.ToLower(j.ToAccount), j.Description
		if j.newAccount != "" {
			to = j.newAccount
		}
		if j.newDescription != "" {
			desc = j.newDescription
		}
		if to == strings.ToLower(cfg.SweepAccount) {
			return 0, fmt.Errorf("journal %s would go to the sweep account itself", keys[i])
		}
		entries[i] = alpaca.BatchEntry{
			ToAccount:                       to,
			Amount:                          j.Amount.StringFixed(2),
			Description:                     pool.Describe(pool.DescriptionText(desc), keys[i]),
			TransmitterName:                 j.TName,
			TransmitterAccountNumber:        j.TAccount,
			TransmitterAddress:              j.TAddress,
			TransmitterFinancialInstitution: j.TInstitution,
			TransmitterTimestamp:            j.TTimestamp.UTC().Format(time.RFC3339),
		}
	}
	batchID, err := jnlc.InsertBatch(ctx, tx, runID, cfg.SweepAccount, cfg.BusinessDate, seq, entries)
	if err != nil {
		return 0, err
	}
	stmt, err := tx.PrepareContext(ctx, store.CopyJournalsSQL)
	if err != nil {
		return 0, fmt.Errorf("copy journals: %w", err)
	}
	defer stmt.Close()
	for i, j := range chunk {
		e := entries[i]
		if _, err := stmt.ExecContext(ctx, runID, batchID, keys[i], j.AllocationID, attempt, j.ReceiptID, j.ClientRef,
			e.ToAccount, e.Amount, e.Description, j.ExpectPending, store.JournalPlanned, now); err != nil {
			return 0, fmt.Errorf("copy journals: %w", err)
		}
	}
	if _, err := stmt.ExecContext(ctx); err != nil {
		return 0, fmt.Errorf("copy journals: %w", err)
	}
	return batchID, nil
}

// Write prints the plan as a table: what is redriven first, then what is refused and why.
func (p *Plan) Write(w io.Writer) {
	fmt.Fprintf(w, "run %d: %d to redrive (%s), %d refused\n", p.RunID, p.Redrive, p.Amount.StringFixed(2), p.Refuse)
	if len(p.Items) == 0 {
		fmt.Fprintln(w, "no journals in this run")
		return
	}
	// Funded journals are the bulk of a night and need no look: they are counted, not listed.
	funded := 0
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ACTION\tRECEIPT\tCLIENT REF\tACCOUNT\tAMOUNT\tATTEMPT\tSTATUS\tALPACA ID\tWHY\tALPACA SAID")
	for _, action := range []string{ActionRedrive, ActionRefuse} {
		for _, it := range p.Items {
			if it.Action != action {
				continue
			}
			if action == ActionRefuse && store.JournalFunded(it.Status) {
				funded++
				continue
			}
			alpacaID := it.AlpacaID
			if alpacaID == "" {
				alpacaID = "-"
			}
			account := it.ToAccount
			if it.NewAccount != "" {
				account += " -> " + it.NewAccount
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", it.Action, oneLine(it.ReceiptID), oneLine(it.ClientRef),
				account, it.Amount.StringFixed(2), it.Attempt, it.Status, alpacaID, it.Why, oneLine(it.ErrorMessage))
		}
	}
	tw.Flush()
	for _, it := range p.Items {
		if it.Action == ActionRedrive && it.NewDescription != "" {
			fmt.Fprintf(w, "new description for %s / %s: %q\n", oneLine(it.ReceiptID), oneLine(it.ClientRef), it.NewDescription)
		}
	}
	if funded > 0 {
		fmt.Fprintf(w, "(and %d journals already funded, refused, not listed)\n", funded)
	}
}

// oneLine keeps free text (values from files, Alpaca's message) from breaking the table or reaching
// a terminal raw: control and bidi characters are escaped, runs of space collapse.
func oneLine(s string) string {
	return strings.Join(strings.Fields(pool.Printable(s)), " ")
}

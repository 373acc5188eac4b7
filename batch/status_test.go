package batch_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cashpool/cashpool/alpaca/sandbox"
	"github.com/cashpool/cashpool/batch"
	"github.com/cashpool/cashpool/batch/redrive"
	"github.com/cashpool/cashpool/batch/schema/schematest"
	"github.com/cashpool/cashpool/fixtures"
	"github.com/cashpool/cashpool/pool"
)

// statusSection returns the "  name value..." lines under the header of status's output that
// starts with title, split into fields.
func statusSection(out, title string) [][]string {
	var rows [][]string
	in := false
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, title):
			in = true
		case in && strings.HasPrefix(line, "  "):
			rows = append(rows, strings.Fields(line))
		case in:
			return rows
		}
	}
	return rows
}

// After a redrive, status counts each allocation once (its latest attempt), as the report does:
// its figures are the report's to the cent, and the journals still failed or stuck are listed.
func TestStatusAgreesWithReportAfterRedrive(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	date := fixtures.BusinessDate
	nightBySteps(t, b)
	// Operations activates the inactive account and redrives the night's two failed journals
	// (BWP-002's rejected fixture fails again; BWP-003 is funded this time).
	b.sim.SetAccount(sandbox.Account{ID: "c0000000-0000-4000-8000-000000000099", Status: "ACTIVE"})
	p, err := redrive.Apply(ctx, b.db, redrive.Config{SweepAccount: b.runner.Config.SweepAccount, BusinessDate: date, Now: b.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if p.Redrive != 2 {
		t.Fatalf("redrove %d journals, want 2", p.Redrive)
	}
	if _, err := b.runner.Run(ctx, date); err != nil {
		t.Fatal(err)
	}
	b.sim.EndOfDay()
	if err := b.runner.Track(ctx, p.RunID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.runner.Reconcile(ctx, date); err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	if err := batch.WriteStatus(ctx, &out, b.db, b.runner.Config.SweepAccount, date, b.clock.Now()); err != nil {
		t.Fatal(err)
	}
	status := out.String()

	// Oracle 1: the numbers worked out by hand from fixtures/drop. 36 allocations less W1099's
	// (awaiting), W1003's two (over-allocated) and W1007's six (held: the refused late file names
	// it; its 1,860.50 waits for a corrected file and is not taken tonight): 27 journals, and 9 of the 11
	// allocations by bank reference (57,150.00; MSD-001 is ambiguous, TLW-001 awaits its statement): 36.
	// BWP-003 (2,500.00) is now executed; only BWP-002 (5,000.00) failed; BWP-001 (15,000.00) and
	// FOX-001 (3,000.00) stay pending.
	want := map[string]string{
		"receipts": "169650.00", "allocated": "146150.00", "unallocated": "23500.00", "held": "12000.00",
		"planned": "146150.00", "executed": "123150.00", "failed": "5000.00", "in_flight": "18000.00",
		"journals": "36", "executed_count": "33", "failed_count": "1", "in_flight_count": "2", "balanced": "true",
	}
	// Oracle 2: the report file the run wrote.
	f, err := os.Open(filepath.Join(b.runner.Config.OutDir, date, "totals.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	file, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range statusSection(status, "Run of "+date+": totals") {
		if len(r) == 2 {
			got[r[0]] = r[1]
		}
	}
	for _, r := range file[1:] {
		if got[r[0]] != r[1] {
			t.Errorf("status %s = %q, report file %q", r[0], got[r[0]], r[1])
		}
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("status %s = %q, want %s", k, got[k], v)
		}
	}
	// The runs table counts each allocation once.
	for _, r := range statusSection(status, "RUN") {
		if r[1] == date && (r[3] != want["journals"] || r[4] != want["planned"]) {
			t.Errorf("runs table: %s journals for %s; want %s for %s (one per allocation)", r[3], r[4], want["journals"], want["planned"])
		}
	}
	var latest int
	for _, r := range statusSection(status, "Run of "+date+": cash journals") {
		n := 0
		for _, c := range r[1] {
			n = n*10 + int(c-'0')
		}
		latest += n
	}
	if latest != 36 {
		t.Errorf("journals by status add up to %d, want 36:\n%s", latest, status)
	}

	// Failed and stuck journals are listed with their keys.
	listed := map[string]string{}
	for _, r := range statusSection(status, "Run of "+date+": failed and stuck journals") {
		if r[0] != "KIND" {
			listed[r[2]] = r[0] + " " + r[6]
		}
	}
	key := func(receipt, ref string, attempt int) string {
		t.Helper()
		var id int64
		if err := b.db.Get(&id, `SELECT id FROM allocations WHERE receipt_id = $1 AND client_ref = $2`, receipt, ref); err != nil {
			t.Fatal(err)
		}
		return pool.JournalKey(b.runner.Config.SweepAccount, date, id, attempt)
	}
	for ref, w := range map[string]string{
		"BWP-002": "failed " + key("W1002", "BWP-002", 2),
		"BWP-001": "stuck_pending " + key("W1002", "BWP-001", 1),
		"FOX-001": "stuck_pending " + key("W1006", "FOX-001", 1),
	} {
		if listed[ref] != w {
			t.Errorf("%s listed as %q, want %q\n%s", ref, listed[ref], w, status)
		}
	}
	if _, ok := listed["BWP-003"]; ok || len(listed) != 3 {
		t.Errorf("listed %v; want exactly BWP-001, BWP-002, FOX-001\n%s", listed, status)
	}
}

// Refused files are listed by `cashpool status` and /status, duplicates included, with the control
// characters of their names and reasons escaped.
func TestStatusListsRefusedFilesEscaped(t *testing.T) {
	t.Parallel()
	db := schematest.DB(t)
	db.MustExec(`INSERT INTO files (sha256, name, kind, status, errors, reason, received_at) VALUES
		('a', 'receipts_a.csv', 'receipts', 'loaded', 0, '', now()),
		('b', E'receipts_\x1b[2J\nb.csv', 'receipts', 'rejected', 1, E'line 2: value \x07 bad', now()),
		('a', 'receipts_copy.csv', 'receipts', 'duplicate', 1, 'duplicate of receipts_a.csv', now())`)
	var buf bytes.Buffer
	if err := batch.WriteStatus(context.Background(), &buf, db, "8e00a1b2-0000-4000-8000-000000000000", "2026-11-24", time.Now()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for i, c := range []byte(out) {
		if c < 0x20 && c != '\n' {
			t.Fatalf("raw control byte %#x at %d:\n%q", c, i, out)
		}
	}
	lines := strings.Split(out, "\n")
	for _, want := range [][2]string{
		{`receipts_\x1b[2J\nb.csv`, `line 2: value \x07 bad`},
		{"receipts_copy.csv", "duplicate of receipts_a.csv"},
	} {
		if !slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, want[0]) && strings.Contains(l, want[1]) }) {
			t.Errorf("status does not list %q with %q:\n%s", want[0], want[1], out)
		}
	}
}

// A night with rewards: status counts cash journals only where it shows cash, counts each reward
// once, shows the report's per-symbol totals and lists the rewards not delivered, in shares.
func TestStatusShowsRewardsApartFromCash(t *testing.T) {
	t.Parallel()
	db := schematest.DB(t)
	const (
		sweep   = "8e00a1b2-0000-4000-8000-000000000000"
		account = "8e00a1b2-0000-4000-8000-000000000001"
		date    = "2026-11-24"
	)
	planned := time.Date(2026, 11, 24, 22, 0, 0, 0, time.UTC)
	db.MustExec(`INSERT INTO files (id, sha256, name, kind, status, rows, received_at) VALUES
		(1, 'a', 'receipts-1.csv', 'receipts', 'loaded', 1, $1),
		(2, 'b', 'allocations-1.csv', 'allocations', 'loaded', 1, $1),
		(3, 'c', 'rewards-1.csv', 'rewards', 'loaded', 3, $1)`, planned.Add(-time.Hour))
	db.MustExec(`INSERT INTO receipts VALUES ('R1', 1, 2, '2026-11-24', 100.00, 'USD', 'Originator', 'ACC', 'BANK', 'ADDR', 'ref')`)
	var runID, allocID int64
	if err := db.Get(&runID, `INSERT INTO runs (business_date, sweep_account, status, planned_at, track_deadline)
		VALUES ($1, $2, 'tracked', $3, $4) RETURNING id`, date, sweep, planned, planned.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	db.MustExec(`INSERT INTO run_receipts (receipt_id, run_id, amount, allocated, unallocated, held, reason)
		VALUES ('R1', $1, 100.00, 100.00, 0, false, '')`, runID)
	if err := db.Get(&allocID, `INSERT INTO allocations (file_id, line, receipt_id, account_id, amount, client_ref, description)
		VALUES (2, 2, 'R1', $1, 100.00, 'C1', 'd') RETURNING id`, account); err != nil {
		t.Fatal(err)
	}
	db.MustExec(`INSERT INTO journals (run_id, journal_key, allocation_id, attempt, receipt_id, client_ref, to_account, amount,
		description, expected_pending, alpaca_id, status, status_unknown, error_message, updated_at)
		VALUES ($1, gen_random_uuid(), $2, 1, 'R1', 'C1', $3, 100.00, 'd', false, gen_random_uuid(), 'executed', false, '', now())`,
		runID, allocID, account)
	for i, w := range []struct{ id, symbol, qty, status, message string }{
		{"RW-1", "AAPL", "1.5", "executed", ""},
		{"RW-2", "AAPL", "2", "refused", "The amount requested to move is not available."},
		{"RW-3", "TSLA", "0.25", "executed", ""},
	} {
		var batchID int64
		if err := db.Get(&batchID, `INSERT INTO batches (run_id, seq, idempotency_key, body, entries, status, entry_type)
			VALUES ($1, $2, gen_random_uuid(), '{}', 1, 'sent', 'JNLS') RETURNING id`, runID, w.id); err != nil {
			t.Fatal(err)
		}
		db.MustExec(`INSERT INTO rewards (reward_id, file_id, line, account_id, symbol, qty, reason, description)
			VALUES ($1, 3, $2, $3, $4, $5, 'signup', 'welcome')`, w.id, i+2, account, w.symbol, w.qty)
		db.MustExec(`INSERT INTO journals (run_id, batch_id, journal_key, entry_type, reward_id, symbol, qty, attempt, to_account,
			description, alpaca_id, status, status_unknown, error_message, updated_at)
			VALUES ($1, $2, gen_random_uuid(), 'JNLS', $3, $4, $5, 1, $6, 'welcome', gen_random_uuid(), $7, false, $8, now())`,
			runID, batchID, w.id, w.symbol, w.qty, account, w.status, w.message)
	}

	var buf bytes.Buffer
	now := planned.Add(2 * time.Hour)
	if err := batch.WriteStatus(context.Background(), &buf, db, sweep, date, now); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	// Worked out by hand from the rows above.
	var runLine []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 6 && f[1] == date {
			runLine = f
		}
	}
	if runLine == nil || runLine[3] != "1" || runLine[4] != "100.00" || runLine[5] != "3" {
		t.Errorf("runs line %q, want 1 journal, 100.00, 3 rewards\n%s", runLine, out)
	}
	byStatus := statusSection(out, "Run of "+date+": cash journals")
	if len(byStatus) != 1 || byStatus[0][0] != "executed" || byStatus[0][1] != "1" || byStatus[0][2] != "100.00" {
		t.Errorf("cash journals by status %q, want executed 1 100.00\n%s", byStatus, out)
	}
	totals := map[string]string{}
	for _, r := range statusSection(out, "Run of "+date+": totals") {
		if len(r) == 2 {
			totals[r[0]] = r[1]
		}
	}
	for k, v := range map[string]string{"planned": "100.00", "executed": "100.00", "journals": "1",
		"rewards_requested:AAPL": "3.5", "rewards_delivered:AAPL": "1.5", "rewards_failed:AAPL": "2", "rewards_open:AAPL": "0",
		"rewards_requested:TSLA": "0.25", "rewards_delivered:TSLA": "0.25", "balanced": "true"} {
		if totals[k] != v {
			t.Errorf("status %s = %q, want %s\n%s", k, totals[k], v, out)
		}
	}
	var listed [][]string
	for _, r := range statusSection(out, "Run of "+date+": rewards not delivered") {
		if r[0] != "KIND" {
			listed = append(listed, r)
		}
	}
	if len(listed) != 1 || listed[0][0] != "reward_refused" || listed[0][1] != "RW-2" || listed[0][3] != "AAPL" || listed[0][4] != "2" {
		t.Errorf("rewards listed %q, want RW-2 refused, 2 AAPL\n%s", listed, out)
	}
	if len(statusSection(out, "Run of "+date+": failed and stuck journals")) != 0 {
		t.Errorf("a reward listed among the cash journals\n%s", out)
	}
	// A reward kind's line sums shares, not a cash amount of 0.00.
	if !strings.Contains(out, "reward_refused") || !regexp.MustCompile(`(?m)^\s+reward_refused\s+1\s+2 AAPL$`).MatchString(out) {
		t.Errorf("exceptions by kind: want reward_refused 1 2 AAPL\n%s", out)
	}
}

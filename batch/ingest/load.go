package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/cashpool/cashpool/batch/store"
	"github.com/cashpool/cashpool/pool"
)

// SQL per kind. The fast path COPYs straight into the real table inside the transaction that also
// holds the file's row; the careful path COPYs into a temporary table first so that duplicates and
// conflicts with earlier files can be listed line by line before anything is kept.
type kindSQL struct {
	table        string // the kind's table, which the fast path copies into
	copyTarget   string
	stage        string
	copyStage    string
	insertSelect string
	// inFileDups returns line, key, value of the key column, first line, for every repeat in the file.
	inFileDups string
	// conflicts returns line, key text, earlier file name, earlier line, for every row already loaded.
	conflicts string
	keyColumn int // index in the kind's columns of the column a duplicate is reported on
}

// keyRepeated is inFileDups of a kind whose rows are unique by one column, key: the rows of stage
// repeating an earlier row's key.
func keyRepeated(stage, key string) string {
	return `SELECT line, '` + key + ` ' || ` + key + `, ` + key + `, first FROM (
		SELECT line, ` + key + `, min(line) OVER (PARTITION BY ` + key + `) AS first FROM ` + stage + `) s
		WHERE line > first ORDER BY line`
}

var kinds = map[Kind]kindSQL{
	KindReceipts:    receiptsSQL,
	KindAllocations: allocationsSQL,
	KindRewards:     rewardsSQL,
}

var (
	// errFallback marks a fast-path failure that the careful path may explain line by line.
	errFallback = errors.New("fast load failed")
	// errChanged means the file changed while it was read: it was not complete after all.
	errChanged = errors.New("file changed while it was read")
	// errRaced means another process loaded the same bytes while this one read them.
	errRaced = errors.New("loaded concurrently")
)

func (r *runner) process(ctx context.Context, c candidate) (FileResult, error) {
	fr := FileResult{Name: c.name, Kind: c.kind}
	rc, err := r.copyForReading(c.name)
	if err != nil {
		return fr, err
	}
	defer rc.discard()
	fr.SHA256 = rc.sum

	var prev struct {
		Name       string    `db:"name"`
		Status     string    `db:"status"`
		Rows       int       `db:"rows"`
		ReceivedAt time.Time `db:"received_at"`
	}
	err = r.db.GetContext(ctx, &prev, queryFileBySHA, rc.sum)
	switch {
	case err == nil && prev.Status == store.FileLoaded:
		return r.alreadyLoaded(ctx, fr, prev.Name, prev.Rows, prev.ReceivedAt)
	case err != nil && !errors.Is(err, sql.ErrNoRows):
		return fr, fmt.Errorf("look up sha256: %w", err)
	}

	var probs Problems
	if c.format != "" {
		return r.processStatement(ctx, c, rc, fr)
	}
	if rc.longLine > 0 {
		probs.add(Problem{Line: rc.longLine, Problem: fmt.Sprintf("the line is longer than %d bytes; the file was not read", MaxRecordBytes)})
		return r.reject(ctx, fr, &probs)
	}
	rows, err := r.loadFast(ctx, c, rc, &probs)
	if errors.Is(err, errFallback) || (err == nil && probs.Total > 0) {
		probs = Problems{}
		rows, err = r.loadCareful(ctx, c, rc, &probs)
	}
	switch {
	case errors.Is(err, errChanged):
		return r.changed(ctx, fr, rc)
	case errors.Is(err, errRaced):
		return r.alreadyLoaded(ctx, fr, c.name, 0, r.now)
	case err != nil:
		return fr, err
	case probs.Total > 0:
		return r.reject(ctx, fr, &probs)
	}
	return r.loaded(c, fr, rows)
}

func (r *runner) loaded(c candidate, fr FileResult, rows int) (FileResult, error) {
	fr.Rows = rows
	fr.Outcome = OutcomeLoaded
	if r.cfg.OnRows != nil {
		r.cfg.OnRows(c.name, rows)
	}
	moved, err := r.moveAside(archiveDir, c.name, nil)
	fr.MovedTo = moved
	return fr, err
}

// processStatement loads a bank statement's receipts, or refuses the file whole when it has any
// problem. Its lines are bounded by its reader, not by MaxRecordBytes: an XML file may be one line.
func (r *runner) processStatement(ctx context.Context, c candidate, rc *readCopy, fr FileResult) (FileResult, error) {
	var probs Problems
	if r.cfg.BankAccount == "" {
		probs.add(Problem{Problem: "this is a bank statement and no bank account is configured (CASHPOOL_BANK_ACCOUNT): " +
			"its entries cannot be checked against the firm's account, so nothing of it was loaded"})
		return r.reject(ctx, fr, &probs)
	}
	f, err := os.Open(rc.path)
	if err != nil {
		return fr, err
	}
	rows, others, days := readStatement(f, c.format, r.cfg.BankAccount, r.now, &probs)
	f.Close()
	if probs.Total == 0 {
		if err := r.checkAgainstLoaded(ctx, rows, days, &probs); err != nil {
			return fr, err
		}
	}
	if probs.Total > 0 {
		return r.reject(ctx, fr, &probs)
	}
	for _, e := range others {
		r.log.Info("ingest: statement entry is not a receipt", "file", c.name, "line", e.line, "why", e.kind,
			"bank_ref", pool.Printable(e.ref), "amount", e.amount, "currency", pool.Printable(e.ccy))
	}
	fr.NotReceipts = len(others)
	loaded, err := r.loadStatement(ctx, c, rc, rows, &fr)
	switch {
	case errors.Is(err, errChanged):
		return r.changed(ctx, fr, rc)
	case errors.Is(err, errRaced):
		return r.alreadyLoaded(ctx, fr, c.name, 0, r.now)
	case err != nil:
		return fr, err
	}
	return r.loaded(c, fr, loaded)
}

// insertFileRow records c as loaded in tx, the transaction that loads its rows; errRaced when
// another process recorded the same bytes meanwhile.
func (r *runner) insertFileRow(ctx context.Context, tx *sqlx.Tx, c candidate, rc *readCopy) (int64, error) {
	var fileID int64
	err := tx.QueryRowContext(ctx, upsertLoaded, rc.sum, c.name, c.kind, r.now).Scan(&fileID)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, errRaced
	}
	if err != nil {
		return 0, fmt.Errorf("insert file row: %w", err)
	}
	return fileID, nil
}

// commitLoad ends the transaction that loaded rows of c: only when the file is still the bytes that
// were read (otherwise nothing is committed: errChanged), with its row count.
func (r *runner) commitLoad(ctx context.Context, tx *sqlx.Tx, c candidate, rc *readCopy, fileID int64, rows int) (int, error) {
	if err := r.unchanged(c, rc); err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, updateFileRows, fileID, rows); err != nil {
		return 0, fmt.Errorf("count rows: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("commit: %w", err)
	}
	return rows, nil
}

// loadStatement loads a statement's receipts with its file row in one transaction. A receipt
// already loaded (the same entry in an earlier notification, or an interim report) is skipped,
// not refused: it is one payment, received once.
func (r *runner) loadStatement(ctx context.Context, c candidate, rc *readCopy, rows []statementRow, fr *FileResult) (int, error) {
	tx, err := r.db.BeginTxx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	fileID, err := r.insertFileRow(ctx, tx, c, rc)
	if err != nil {
		return 0, err
	}
	ids := make([]string, len(rows))
	for i, row := range rows {
		ids[i] = row.rc.ReceiptID
	}
	var earlier []loadedReceipt
	if err := tx.SelectContext(ctx, &earlier, queryReceiptsLoaded, stringArray(ids)); err != nil {
		return 0, fmt.Errorf("look up receipts: %w", err)
	}
	from := make(map[string]string, len(earlier))
	for _, e := range earlier {
		from[e.ID] = e.File
	}
	stmt, err := tx.PrepareContext(ctx, receiptsSQL.copyTarget)
	if err != nil {
		return 0, fmt.Errorf("prepare copy: %w", err)
	}
	defer stmt.Close()
	loaded := 0
	for _, row := range rows {
		if other, ok := from[row.rc.ReceiptID]; ok {
			fr.AlreadyReceived++
			r.log.Info("ingest: statement entry skipped: already received from "+pool.Printable(other),
				"file", c.name, "line", row.line, "receipt_id", pool.Printable(row.rc.ReceiptID))
			continue
		}
		x := row.rc
		if _, err := stmt.Exec(fileID, row.line, x.ReceiptID, x.ValueDate.Format(time.DateOnly), x.Amount.String(), x.Currency,
			x.OriginatorName, x.OriginatorAccount, x.OriginatorBank, x.OriginatorAddress, x.Reference); err != nil {
			return 0, fmt.Errorf("copy receipts: %w", err)
		}
		loaded++
	}
	if _, err := stmt.Exec(); err != nil {
		return 0, fmt.Errorf("copy receipts: %w", err)
	}
	if err := stmt.Close(); err != nil {
		return 0, fmt.Errorf("copy receipts: %w", err)
	}
	if err := insertRefs(ctx, tx, rows); err != nil {
		return 0, err
	}
	return r.commitLoad(ctx, tx, c, rc, fileID, loaded)
}

// alreadyLoaded handles bytes that are already in the database. Under the name they were loaded
// with, this is a scan finishing an earlier one that committed but stopped before archiving;
// under another name it is a second delivery of the same file.
func (r *runner) alreadyLoaded(ctx context.Context, fr FileResult, name string, rows int, at time.Time) (FileResult, error) {
	if name == fr.Name {
		moved, err := r.moveAside(archiveDir, fr.Name, nil)
		fr.Outcome, fr.Rows, fr.Recovered, fr.MovedTo = OutcomeLoaded, rows, true, moved
		return fr, err
	}
	probs := &Problems{}
	probs.add(Problem{Problem: fmt.Sprintf("duplicate of %s loaded at %s: the same bytes are never loaded twice",
		name, at.UTC().Format(time.RFC3339))})
	fr.Outcome, fr.Errors, fr.Problems = OutcomeDuplicate, probs.Total, probs.List
	// Recorded before the move, like a rejection, so the night's report lists it.
	if _, err := r.db.ExecContext(ctx, upsertDuplicate, fr.SHA256, fr.Name, fr.Kind, probs.Total,
		truncate(probs.List[0].String(), 500), r.now); err != nil {
		return fr, fmt.Errorf("record duplicate: %w", err)
	}
	moved, err := r.moveAside(rejectedDir, fr.Name, probs)
	fr.MovedTo = moved
	return fr, err
}

// changed handles a file that changed between the scan that took it and the end of its load.
// Nothing of it was loaded. The bytes that were read are recorded as a rejected file and kept in
// rejected/ under the file's name with an errors file, so the night's report lists them; the file
// as it is now stays in the drop folder and is taken once it is complete. A .ready marker, written
// before the change, goes with the version that was read.
func (r *runner) changed(ctx context.Context, fr FileResult, rc *readCopy) (FileResult, error) {
	now := "the file is no longer there"
	cur, statErr := os.Stat(filepath.Join(r.dir, fr.Name))
	if statErr == nil {
		now = fmt.Sprintf("it now has %d bytes", cur.Size())
	}
	probs := &Problems{}
	probs.add(Problem{Problem: fmt.Sprintf("the file changed while it was read (%d bytes were read, %s): nothing of it "+
		"was loaded; this is the version that was read, and the file as it is now is taken once it is complete", rc.size, now)})
	fr.Outcome, fr.Errors, fr.Problems = OutcomeChanged, probs.Total, probs.List
	if err := r.recordRejection(ctx, fr, probs.Total, truncate(probs.List[0].String(), 500), true, rc.path); err != nil {
		return fr, fmt.Errorf("record changed file: %w", err)
	}
	moved, err := r.place(rejectedDir, rc.path, fr.Name, probs)
	if err != nil {
		return fr, err
	}
	rc.kept, fr.MovedTo = true, moved
	if statErr == nil {
		// The settling starts again from what the file is now.
		return fr, r.remember(ctx, candidate{name: fr.Name, kind: fr.Kind, size: cur.Size(), mtime: cur.ModTime().UnixNano()})
	}
	return fr, nil
}

func (r *runner) reject(ctx context.Context, fr FileResult, probs *Problems) (FileResult, error) {
	fr.Outcome, fr.Errors, fr.Problems = OutcomeRejected, probs.Total, probs.List
	reason := ""
	if len(probs.List) > 0 {
		reason = truncate(probs.List[0].String(), 500)
	}
	// Recorded before the move: a crash in between leaves the file in the folder, and the next scan
	// checks it again and finds this row. What a refused allocations file names is recorded with it.
	if err := r.recordRejection(ctx, fr, probs.Total, reason, false, filepath.Join(r.dir, fr.Name)); err != nil {
		return fr, fmt.Errorf("record rejection: %w", err)
	}
	moved, err := r.moveAside(rejectedDir, fr.Name, probs)
	fr.MovedTo = moved
	return fr, err
}

// recordRejection records a refused file and, for an allocations file, what the bytes at path
// (the file, or the version of it that was read) name, in one transaction. A refused rewards file
// names no receipt, so it holds no cash (see remember).
func (r *runner) recordRejection(ctx context.Context, fr FileResult, errs int, reason string, changed bool, path string) error {
	tx, err := r.db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var fileID int64
	err = tx.QueryRowContext(ctx, upsertRejected, fr.SHA256, fr.Name, fr.Kind, errs, reason, r.now, changed).Scan(&fileID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // the same bytes were loaded meanwhile: they name nothing that is not loaded
	}
	if err != nil {
		return err
	}
	if fr.Kind == KindAllocations {
		if err := recordRefused(ctx, tx, fileID, path); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// readCopy is the private copy of a taken file that ingest parses: the bytes that were hashed are
// the bytes that are loaded, and when the file changes meanwhile they are still there to be kept.
type readCopy struct {
	path     string
	sum      string
	size     int64
	longLine int  // first physical line longer than MaxRecordBytes, 0 when none
	kept     bool // moved to rejected/: not to be removed
}

// copyForReading copies the file into the hidden reading folder of the drop folder (the same file
// system, so a kept copy is renamed, never copied again), hashing it on the way.
func (r *runner) copyForReading(name string) (*readCopy, error) {
	dir := filepath.Join(r.dir, readingDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", readingDir, err)
	}
	in, err := os.Open(filepath.Join(r.dir, name))
	if err != nil {
		return nil, err
	}
	defer in.Close()
	out, err := os.CreateTemp(dir, "*.csv")
	if err != nil {
		return nil, fmt.Errorf("copy for reading: %w", err)
	}
	rc := &readCopy{path: out.Name()}
	rc.sum, rc.size, rc.longLine, err = hashCopy(in, out)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(rc.path)
		return nil, fmt.Errorf("copy for reading: %w", err)
	}
	return rc, nil
}

func (rc *readCopy) discard() {
	if !rc.kept {
		os.Remove(rc.path)
	}
}

// hashCopy copies src to dst and returns the SHA-256 and size of the bytes and the number of the
// first physical line longer than MaxRecordBytes (0 when there is none), in one pass that holds one
// buffer.
func hashCopy(src io.Reader, dst io.Writer) (sum string, size int64, longLine int, err error) {
	h := sha256.New()
	buf := make([]byte, 256<<10)
	line, lineLen := 1, 0
	for {
		n, err := src.Read(buf)
		h.Write(buf[:n])
		size += int64(n)
		if _, werr := dst.Write(buf[:n]); werr != nil {
			return "", 0, 0, werr
		}
		for chunk := buf[:n]; longLine == 0 && len(chunk) > 0; {
			i := bytes.IndexByte(chunk, '\n')
			if i < 0 {
				lineLen += len(chunk)
				i = len(chunk) - 1
			} else {
				lineLen += i
			}
			if lineLen > MaxRecordBytes {
				longLine = line
			}
			if i < len(chunk) && chunk[i] == '\n' {
				line++
				lineLen = 0
			}
			chunk = chunk[i+1:]
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", 0, 0, err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), size, longLine, nil
}

// loadFast is the path of a good file: the file row and the COPY into the real table in one
// transaction, each row's COPY line streamed as soon as the row is validated. It stops at the first
// problem of any kind and leaves the explaining to loadCareful.
func (r *runner) loadFast(ctx context.Context, c candidate, rc *readCopy, probs *Problems) (int, error) {
	f, err := os.Open(rc.path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	// The COPY is sent on the connection of the transaction, through the driver.
	conn, err := r.db.Connx(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	tx, err := conn.BeginTxx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	if err := jitOff(ctx, tx); err != nil {
		return 0, err
	}
	fileID, err := r.insertFileRow(ctx, tx, c, rc)
	if err != nil {
		return 0, err
	}
	prefix := append(strconv.AppendInt(nil, fileID, 10), '\t')
	_, rows, dbErr, err := r.copyRows(ctx, conn, kinds[c.kind].copyTarget, prefix, f, c, probs, true)
	switch {
	case dbErr != nil:
		return 0, fmt.Errorf("%w: %v", errFallback, dbErr)
	case err != nil:
		return 0, err
	case probs.Total > 0:
		return 0, nil
	}
	if err := analyzeIfGrown(ctx, tx, kinds[c.kind].table, rows); err != nil {
		return 0, err
	}
	if c.kind == KindAllocations {
		var conflict bool
		if err := tx.GetContext(ctx, &conflict, queryResolvedConflict, fileID); err != nil {
			return 0, fmt.Errorf("check resolved bank references: %w", err)
		}
		if conflict {
			return 0, fmt.Errorf("%w: an allocation a resolved bank reference has already", errFallback)
		}
	}
	return r.commitLoad(ctx, tx, c, rc, fileID, rows)
}

// analyzeIfGrown refreshes the statistics of table, inside tx (which just copied rows into it),
// when those rows are more than a tenth of what the statistics knew. The statements after a load
// (the conflict check here, the reference resolution, plan) were planned on statistics that did
// not know the new rows: after a 1,000,000-row allocations file each of the first two scanned all
// of them to find none (3 s); ANALYZE takes a fixed sample.
func analyzeIfGrown(ctx context.Context, tx *sqlx.Tx, table string, rows int) error {
	var known float64
	if err := tx.GetContext(ctx, &known, `SELECT reltuples FROM pg_class WHERE oid = $1::regclass`, table); err != nil {
		return fmt.Errorf("statistics of %s: %w", table, err)
	}
	if float64(rows) <= known/10 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `ANALYZE `+table); err != nil {
		return fmt.Errorf("analyze %s: %w", table, err)
	}
	return nil
}

// copyRows streams the valid rows of f, a file of c's kind, into the COPY query on conn (whose
// transaction is open), each line after prefix, and returns the table read, the rows sent, and the
// database's refusal of the COPY apart from other errors. failFast stops at the first problem and
// ends the COPY early (the caller rolls back what was sent); otherwise every row is read and sent.
func (r *runner) copyRows(ctx context.Context, conn *sqlx.Conn, query string, prefix []byte, f io.Reader, c candidate,
	probs *Problems, failFast bool) (t *table, rows int, dbErr, err error) {
	var readErr error
	s, err := store.StreamCopy(ctx, conn, query, func(s *store.CopyStream) error {
		begin := func() error {
			rows++
			r.rowsRead(c.name, rows)
			if rows%65536 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			s.Buf = append(s.Buf, prefix...)
			return nil
		}
		switch c.kind {
		case KindReceipts:
			t, readErr = readReceipts(f, r.now, probs, failFast, copyRow(s, begin, appendReceipt))
		case KindAllocations:
			t, readErr = readAllocations(f, probs, failFast, copyRow(s, begin, appendAllocation))
		case KindRewards:
			t, readErr = readRewards(f, probs, failFast, copyRow(s, begin, appendReward))
		}
		if readErr == nil && failFast && probs.Total > 0 {
			return errStop
		}
		return readErr
	})
	switch {
	case s.Err != nil:
		return t, rows, s.Err, nil
	case readErr != nil:
		return t, rows, nil, readErr
	case failFast && probs.Total > 0:
		return t, rows, nil, nil
	}
	return t, rows, nil, err
}

// copyRow is the row callback of a reader: it begins each valid row's COPY line, appends its
// columns and sends the line.
func copyRow[T any](s *store.CopyStream, begin func() error, appendRow func([]byte, int, T) []byte) func(int, T) error {
	return func(line int, x T) error {
		if err := begin(); err != nil {
			return err
		}
		s.Buf = appendRow(s.Buf, line, x)
		return s.Row()
	}
}

// loadCareful reads the whole file, collects every problem, stages the good rows in a temporary
// table and asks the database for duplicates within the file and conflicts with rows already
// loaded. If there is no problem at all it loads the staged rows; otherwise nothing is kept.
func (r *runner) loadCareful(ctx context.Context, c candidate, rc *readCopy, probs *Problems) (int, error) {
	ks := kinds[c.kind]
	f, err := os.Open(rc.path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	conn, err := r.db.Connx(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	tx, err := conn.BeginTxx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, ks.stage); err != nil {
		return 0, fmt.Errorf("create stage: %w", err)
	}
	t, rows, dbErr, err := r.copyRows(ctx, conn, ks.copyStage, nil, f, c, probs, false)
	if dbErr != nil {
		// Every value was checked before it was sent, so this is the database disagreeing with
		// pool's rules; the file is refused with the database's words rather than loaded.
		probs.add(Problem{Problem: "the database refused the rows: " + dbErr.Error()})
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if err := r.unchanged(c, rc); err != nil {
		return 0, err
	}
	if t != nil && t.col != nil {
		col := t.col[ks.keyColumn] + 1
		field := t.columns[ks.keyColumn]
		if err := queryProblems(ctx, tx, ks.inFileDups, func(rs *sql.Rows) error {
			var p Problem
			var key string
			var first int
			if err := rs.Scan(&p.Line, &key, &p.Value, &first); err != nil {
				return err
			}
			p.Column, p.Field = col, field
			p.Problem = fmt.Sprintf("%s appears twice in the file: first at line %d", key, first)
			probs.add(p)
			return nil
		}); err != nil {
			return 0, err
		}
		if err := queryProblems(ctx, tx, ks.conflicts, func(rs *sql.Rows) error {
			var p Problem
			var key, other string
			var otherLine int
			if err := rs.Scan(&p.Line, &key, &p.Value, &other, &otherLine); err != nil {
				return err
			}
			p.Column, p.Field = col, field
			p.Problem = fmt.Sprintf("%s was already loaded from %s (line %d)", key, other, otherLine)
			probs.add(p)
			return nil
		}); err != nil {
			return 0, err
		}
	}
	if probs.Total > 0 {
		sort.SliceStable(probs.List, func(i, j int) bool {
			a, b := probs.List[i], probs.List[j]
			if a.Line != b.Line {
				return a.Line < b.Line
			}
			return a.Column < b.Column
		})
		return 0, nil
	}
	fileID, err := r.insertFileRow(ctx, tx, c, rc)
	if err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, ks.insertSelect, fileID); err != nil {
		return 0, fmt.Errorf("load staged rows: %w", err)
	}
	if _, err := tx.ExecContext(ctx, updateFileRows, fileID, rows); err != nil {
		return 0, fmt.Errorf("count rows: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("commit: %w", err)
	}
	return rows, nil
}

func queryProblems(ctx context.Context, tx *sqlx.Tx, q string, scan func(*sql.Rows) error) error {
	rs, err := tx.QueryContext(ctx, q)
	if err != nil {
		return fmt.Errorf("check duplicates: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		if err := scan(rs); err != nil {
			return err
		}
	}
	return rs.Err()
}

// unchanged checks, just before the commit, that the file is still what the scan saw and what was
// read: same size and modification time, same SHA-256. A writer that was still going would
// otherwise get half a file loaded and the rest lost.
func (r *runner) unchanged(c candidate, rc *readCopy) error {
	if r.cfg.AfterRead != nil {
		r.cfg.AfterRead(c.name)
	}
	path := filepath.Join(r.dir, c.name)
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return errChanged
	}
	if err != nil {
		return err
	}
	if info.Size() != c.size || info.Size() != rc.size || info.ModTime().UnixNano() != c.mtime {
		return errChanged
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sum, _, _, err := hashCopy(f, io.Discard)
	if err != nil {
		return err
	}
	if sum != rc.sum {
		return errChanged
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func stringArray(s []string) any { return pq.Array(s) }

// rowsRead tells Config.OnRows of every RowsEvery-th row of the file name.
func (r *runner) rowsRead(name string, rows int) {
	if r.cfg.OnRows != nil && rows%RowsEvery == 0 {
		r.cfg.OnRows(name, rows)
	}
}

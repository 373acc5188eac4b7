package ingest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/cashpool/cashpool/pool"
)

// Which files of the drop folder are which kind, matched case-insensitively.
const (
	// ReceiptsPatternDefault names receipts files. Defaults to receipts*.csv.
	ReceiptsPatternDefault = "receipts*.csv"
	// AllocationsPatternDefault names allocations files. Defaults to allocations*.csv.
	AllocationsPatternDefault = "allocations*.csv"
	// RewardsPatternDefault names rewards files. Defaults to rewards*.csv.
	RewardsPatternDefault = "rewards*.csv"
)

// Config says where the drop folder is and how to read it.
type Config struct {
	DropDir            string
	ReceiptsPattern    string // ReceiptsPatternDefault when empty
	AllocationsPattern string // AllocationsPatternDefault when empty
	RewardsPattern     string // RewardsPatternDefault when empty
	BAI2Pattern        string // BAI2PatternDefault when empty
	CAMTPattern        string // CAMTPatternDefault when empty
	// BankAccount is the firm's bank account the statements report (an IBAN or an account
	// number). A statement file is refused while it is empty.
	BankAccount string
	// RequireReady takes only files with a <file>.ready marker beside them; without it a file is
	// also taken when its size and modification time held still between two scans.
	RequireReady bool
	Now          func() time.Time
	Logger       *slog.Logger
	// AfterRead, when set, is called with a file's name after its rows were read and before the
	// file is checked for changes, just before the commit (tests change the file there).
	AfterRead func(name string)
	// OnRows, when set, is told how many rows of a file were read so far, every RowsEvery rows
	// and once the file is loaded (a terminal's status line).
	OnRows func(name string, rows int)
}

// RowsEvery is how many rows pass between two calls of Config.OnRows.
const RowsEvery = 10000

// Outcome is what one scan did with one file.
type Outcome string

const (
	OutcomeLoaded     Outcome = "loaded"             // rows committed, file moved to archive/
	OutcomeRejected   Outcome = "rejected"           // nothing loaded, file and its errors in rejected/
	OutcomeDuplicate  Outcome = "duplicate"          // same bytes already loaded under another name; in rejected/
	OutcomeChanged    Outcome = "changed-while-read" // nothing loaded; the version read in rejected/, the file left in place
	OutcomeIncomplete Outcome = "skipped-incomplete" // not known to be complete yet; left in place
	OutcomeIgnored    Outcome = "ignored"            // a .csv file matching neither pattern; left in place
)

// FileResult is the answer for one file.
type FileResult struct {
	Name     string
	Kind     Kind
	SHA256   string
	Outcome  Outcome
	Rows     int
	Errors   int       // all problems, of which Problems holds the first MaxProblems
	Problems []Problem // sorted by line and column
	MovedTo  string    // where the file is now, relative to the drop folder
	// Recovered is set when the rows had been committed by an earlier scan that stopped before it
	// could move the file; this scan only archived it.
	Recovered bool
	// For a bank statement: entries skipped because their receipt was already loaded from an
	// earlier statement, and entries that are not receipts (debits, reversals, pending).
	AlreadyReceived, NotReceipts int
}

// Result lists every file a scan looked at, in the order it handled them.
type Result struct {
	Files []FileResult
}

// Count returns how many files had outcome o.
func (r Result) Count(o Outcome) int {
	n := 0
	for _, f := range r.Files {
		if f.Outcome == o {
			n++
		}
	}
	return n
}

const (
	archiveDir  = "archive"
	rejectedDir = "rejected"
	readySuffix = ".ready"
	readingDir  = ".reading" // private copies of the files being read
)

type runner struct {
	db   *sqlx.DB
	cfg  Config
	dir  string
	now  time.Time
	log  *slog.Logger
	pats map[Kind]string
	// statement formats and their patterns, matched after the CSV kinds' patterns
	formats [][2]string
}

type candidate struct {
	name  string
	kind  Kind
	size  int64
	mtime int64
	ready bool
	// format is the bank statement format (formatBAI2, formatCAMT) of a receipts file, "" for a CSV
	format string
}

// Run takes one scan of the drop folder: every complete file is loaded or rejected and moved,
// every other one is remembered for the next scan. The error is for failures of the database or the
// file system; bad files are never an error, they are results.
func Run(ctx context.Context, db *sqlx.DB, cfg Config) (Result, error) {
	res, err := scanFolder(ctx, db, cfg)
	if err != nil {
		err = printableError{err}
	}
	return res, err
}

// printableError shows an error's message with its control characters escaped: it names files of
// the drop folder, and it ends up on a terminal.
type printableError struct{ err error }

func (e printableError) Error() string { return pool.Printable(e.err.Error()) }
func (e printableError) Unwrap() error { return e.err }

func scanFolder(ctx context.Context, db *sqlx.DB, cfg Config) (Result, error) {
	if cfg.DropDir == "" {
		return Result{}, errors.New("ingest: no drop folder configured")
	}
	dir, err := filepath.Abs(cfg.DropDir)
	if err != nil {
		return Result{}, fmt.Errorf("ingest: drop folder: %w", err)
	}
	r := &runner{db: db, cfg: cfg, dir: dir, log: cfg.Logger, pats: map[Kind]string{
		KindReceipts:    strings.ToLower(cmp.Or(cfg.ReceiptsPattern, ReceiptsPatternDefault)),
		KindAllocations: strings.ToLower(cmp.Or(cfg.AllocationsPattern, AllocationsPatternDefault)),
		KindRewards:     strings.ToLower(cmp.Or(cfg.RewardsPattern, RewardsPatternDefault)),
	}, formats: [][2]string{
		{formatBAI2, strings.ToLower(cmp.Or(cfg.BAI2Pattern, BAI2PatternDefault))},
		{formatCAMT, strings.ToLower(cmp.Or(cfg.CAMTPattern, CAMTPatternDefault))},
	}}
	for k, p := range r.pats {
		if _, err := filepath.Match(p, ""); err != nil {
			return Result{}, fmt.Errorf("ingest: %s pattern %q: %w", k, p, err)
		}
	}
	for _, f := range r.formats {
		if _, err := filepath.Match(f[1], ""); err != nil {
			return Result{}, fmt.Errorf("ingest: %s pattern %q: %w", f[0], f[1], err)
		}
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now != nil {
		r.now = cfg.Now()
	} else {
		r.now = time.Now()
	}
	cands, ignored, stale, err := r.list()
	if err != nil {
		return Result{}, err
	}
	if err := r.archiveStaleMarkers(stale); err != nil {
		return Result{}, err
	}
	var res Result
	for _, name := range ignored {
		r.log.Warn("ingest: file matches no pattern, left in place", "file", name)
		res.Files = append(res.Files, FileResult{Name: name, Outcome: OutcomeIgnored})
	}
	seen, err := r.loadScans(ctx)
	if err != nil {
		return res, err
	}
	for _, c := range cands {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if !c.ready && r.cfg.RequireReady {
			r.log.Info("ingest: file has no .ready marker yet, will look again at the next scan", "file", c.name)
			res.Files = append(res.Files, FileResult{Name: c.name, Kind: c.kind, Outcome: OutcomeIncomplete})
			continue
		}
		prev, known := seen[c.name]
		if !c.ready && !(known && prev.size == c.size && prev.mtime == c.mtime) {
			if err := r.remember(ctx, c); err != nil {
				return res, err
			}
			r.log.Info("ingest: file not complete yet, will look again at the next scan", "file", c.name, "size", c.size)
			res.Files = append(res.Files, FileResult{Name: c.name, Kind: c.kind, Outcome: OutcomeIncomplete})
			continue
		}
		fr, err := r.process(ctx, c)
		if err != nil {
			return res, fmt.Errorf("ingest %s: %w", c.name, err)
		}
		res.Files = append(res.Files, fr)
		r.logResult(fr)
	}
	if err := r.forget(ctx, cands); err != nil {
		return res, err
	}
	return res, r.resolveReferences(ctx)
}

func (r *runner) logResult(fr FileResult) {
	args := []any{"file", fr.Name, "kind", fr.Kind, "outcome", fr.Outcome, "rows", fr.Rows, "sha256", fr.SHA256, "moved_to", fr.MovedTo}
	switch fr.Outcome {
	case OutcomeLoaded:
		r.log.Info("ingest: file loaded", append(args, "recovered", fr.Recovered)...)
	case OutcomeChanged:
		r.log.Error("ingest: file changed while it was read; nothing of it was loaded, the version read is kept", args...)
	default:
		first := ""
		if len(fr.Problems) > 0 {
			first = fr.Problems[0].String()
		}
		r.log.Warn("ingest: file refused", append(args, "errors", fr.Errors, "first", first)...)
	}
}

// list returns the files of the drop folder that match a pattern, receipts first (allocations refer
// to them), then by name; the .csv files that match neither; and the markers of such files whose
// file is not in the folder.
func (r *runner) list() (cands []candidate, ignored, stale []string, err error) {
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("ingest: read drop folder: %w", err)
	}
	names := make(map[string]bool, len(entries))
	for _, e := range entries {
		names[e.Name()] = true
	}
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || strings.HasPrefix(name, ".") {
			continue
		}
		if file, ok := strings.CutSuffix(name, readySuffix); ok {
			if kind, _ := r.kindOf(file); !names[file] && kind != "" {
				stale = append(stale, name)
			}
			continue
		}
		kind, format := r.kindOf(name)
		if kind == "" {
			if strings.HasSuffix(strings.ToLower(name), ".csv") {
				ignored = append(ignored, name)
			}
			continue
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, nil, nil, fmt.Errorf("ingest: %w", err)
		}
		cands = append(cands, candidate{name: name, kind: kind, size: info.Size(),
			mtime: info.ModTime().UnixNano(), ready: names[name+readySuffix], format: format})
	}
	sort.Slice(cands, func(i, j int) bool {
		if cands[i].kind != cands[j].kind {
			return cands[i].kind == KindReceipts
		}
		return cands[i].name < cands[j].name
	})
	return cands, ignored, stale, nil
}

// archiveStaleMarkers moves markers whose file is not in the drop folder (left by a scan that
// stopped between moving a file and its marker, or written before the file) to archive/: left in
// place, a marker would make the next file of that name count as complete while it is still being
// written.
func (r *runner) archiveStaleMarkers(markers []string) error {
	for _, m := range markers {
		// The listing is not atomic: a file written during it, before its marker, may be missing
		// from it. A file that exists now keeps its marker.
		if _, err := os.Lstat(filepath.Join(r.dir, strings.TrimSuffix(m, readySuffix))); err == nil {
			continue
		}
		moved, err := r.moveAside(archiveDir, m, nil)
		if err != nil {
			return fmt.Errorf("ingest: stale marker %s: %w", m, err)
		}
		r.log.Warn("ingest: marker without its file moved out of the drop folder", "marker", m, "moved_to", moved)
	}
	return nil
}

// kindOf is a file's kind and, for a bank statement (a receipts file), its format.
func (r *runner) kindOf(name string) (Kind, string) {
	lower := strings.ToLower(name)
	for _, k := range []Kind{KindReceipts, KindAllocations, KindRewards} {
		if ok, _ := filepath.Match(r.pats[k], lower); ok {
			return k, ""
		}
	}
	for _, f := range r.formats {
		if ok, _ := filepath.Match(f[1], lower); ok {
			return KindReceipts, f[0]
		}
	}
	return "", ""
}

type scan struct {
	size, mtime int64
}

func (r *runner) loadScans(ctx context.Context) (map[string]scan, error) {
	rows, err := r.db.QueryContext(ctx, queryScans, r.dir)
	if err != nil {
		return nil, fmt.Errorf("ingest: read scan state: %w", err)
	}
	defer rows.Close()
	m := map[string]scan{}
	for rows.Next() {
		var name string
		var s scan
		if err := rows.Scan(&name, &s.size, &s.mtime); err != nil {
			return nil, err
		}
		m[name] = s
	}
	return m, rows.Err()
}

// remember keeps what the scan saw of a file it did not take; for an allocations file, with the
// receipts it names so far, which plan holds while it waits. A rewards file names no receipt and
// holds nothing: read as allocations it would be unreadable and hold the whole cash night.
func (r *runner) remember(ctx context.Context, c candidate) error {
	tx, err := r.db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, upsertScan,
		r.dir, c.name, c.size, c.mtime, r.now)
	if err == nil && c.kind == KindAllocations {
		err = recordWaiting(ctx, tx, r.dir, c.name, filepath.Join(r.dir, c.name))
	}
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		return fmt.Errorf("ingest: remember %s: %w", c.name, err)
	}
	return nil
}

// forget drops the scan state of every file that is no longer waiting in the folder.
func (r *runner) forget(ctx context.Context, cands []candidate) error {
	waiting := []string{} // not nil: a NULL array would match nothing
	for _, c := range cands {
		if _, err := os.Lstat(filepath.Join(r.dir, c.name)); err == nil {
			waiting = append(waiting, c.name)
		}
	}
	_, err := r.db.ExecContext(ctx, deleteScansGone,
		r.dir, stringArray(waiting))
	if err != nil {
		return fmt.Errorf("ingest: forget scan state: %w", err)
	}
	return nil
}

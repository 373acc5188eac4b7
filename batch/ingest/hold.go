package ingest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/cashpool/cashpool/pool"
)

// An allocations file that was refused, or that is still waiting in the drop folder, names
// allocations that are not loaded. Plan must not pay their receipts on the allocations that are:
// the weights would take the whole remainder. So what such a file names is recorded here, read as
// best it can be, and plan holds those receipts (see batch/plan and README, "Plan rules").

// Named is one allocation a file names: its receipt and, where it could be read, its client_ref
// ("" otherwise).
type Named struct {
	ReceiptID, ClientRef string
}

var errNotText = errors.New("NUL byte: not a text file")

// NamedAllocations reads, as best it can, which allocations an allocations file names. It is as
// tolerant as the loader is strict: loose quotes, any number of fields per row, spaces and quotes
// around ids, rows that a stray quote swallowed into another row's field. Reading too much only
// holds more; reading too little would pay a receipt on part of its allocations. So ok is false
// when the file has rows whose receipt cannot be told: UTF-16 or NUL bytes, no receipt_id column
// in its first row, a record longer than MaxRecordBytes, or a row without a readable receipt_id.
// partial says the file may still be being written: a last line cut short is then not held
// against it. An empty or header-only file names nothing. The error is for I/O failures only.
func NamedAllocations(r io.Reader, partial bool) (named []Named, ok bool, err error) {
	tail := &lastByte{r: r}
	br := bufio.NewReaderSize(tail, 64<<10)
	head, _ := br.Peek(3)
	switch {
	case bytes.HasPrefix(head, []byte("\xef\xbb\xbf")):
		br.Discard(3)
	case bytes.HasPrefix(head, []byte("\xff\xfe")), bytes.HasPrefix(head, []byte("\xfe\xff")):
		return nil, false, nil
	}
	lim := &limitReader{r: &nulGuard{r: br}}
	cr := csv.NewReader(lim)
	cr.LazyQuotes = true
	cr.FieldsPerRecord = -1
	seen := map[Named]bool{}
	add := func(n Named) {
		if !seen[n] {
			seen[n] = true
			named = append(named, n)
		}
	}
	idCol, refCol := -1, -1
	header := false
	pendingBad := false // a row without a readable receipt_id; forgiven only as the cut last line of a partial file
	for {
		rec, err := cr.Read()
		lim.start = cr.InputOffset()
		if err == io.EOF {
			break
		}
		if errors.Is(err, errRecordTooLong) || errors.Is(err, errNotText) || isParseError(err) {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, err
		}
		if blankRecord(rec) {
			continue
		}
		if pendingBad {
			return nil, false, nil
		}
		if !header {
			header = true
			for i, name := range rec {
				switch strings.ToLower(strings.TrimSpace(name)) {
				case "receipt_id":
					idCol = i
				case "client_ref":
					refCol = i
				}
			}
			if idCol < 0 {
				return nil, false, nil
			}
			continue
		}
		id, good := looseRef(rec, idCol)
		if !good {
			pendingBad = true
			continue
		}
		ref, _ := looseRef(rec, refCol)
		add(Named{id, ref})
		// A stray quote can swallow whole rows into one field; each swallowed row starts a line.
		for _, f := range rec {
			lines := strings.Split(f, "\n")
			for _, line := range lines[1:] {
				fields := strings.Split(line, ",")
				if id, good := looseRef(fields, idCol); good {
					ref, _ := looseRef(fields, refCol)
					add(Named{id, ref})
				}
			}
		}
	}
	if pendingBad && !(partial && tail.last != '\n') {
		return nil, false, nil
	}
	return named, true, nil
}

// looseRef returns fields[i] without surrounding spaces and quotes, and whether it is a valid
// identifier.
func looseRef(fields []string, i int) (string, bool) {
	if i < 0 || i >= len(fields) {
		return "", false
	}
	s := strings.TrimSpace(strings.Trim(strings.TrimSpace(fields[i]), `"`))
	if _, err := pool.ParseRef(s); err != nil {
		return "", false
	}
	return s, true
}

func blankRecord(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// lastByte remembers the last byte read, to tell a file whose last line is complete.
type lastByte struct {
	r    io.Reader
	last byte
}

func (l *lastByte) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if n > 0 {
		l.last = p[n-1]
	}
	return n, err
}

// nulGuard fails on a NUL byte: UTF-16 without a byte order mark, or a binary file.
type nulGuard struct{ r io.Reader }

func (g *nulGuard) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	if bytes.IndexByte(p[:n], 0) >= 0 {
		return 0, errNotText
	}
	return n, err
}

// readNamed reads the allocations the file at path names. A file gone meanwhile was taken by a
// concurrent scan, which records what it names.
func readNamed(path string, partial bool) ([]Named, bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	return NamedAllocations(f, partial)
}

// recordRefused records, in the transaction that records the refusal, what the refused
// allocations file at path names.
func recordRefused(ctx context.Context, tx *sqlx.Tx, fileID int64, path string) error {
	named, ok, err := readNamed(path, false)
	if err != nil {
		return fmt.Errorf("read the receipt ids of a refused file: %w", err)
	}
	ids, refs := make([]string, len(named)), make([]string, len(named))
	for i, n := range named {
		ids[i], refs[i] = n.ReceiptID, n.ClientRef
	}
	if _, err := tx.ExecContext(ctx, insertRefusedAllocations, fileID, pq.Array(ids), pq.Array(refs)); err != nil {
		return fmt.Errorf("record what a refused file names: %w", err)
	}
	if _, err := tx.ExecContext(ctx, updateFileReceiptsUnread, fileID, !ok); err != nil {
		return fmt.Errorf("record what a refused file names: %w", err)
	}
	return nil
}

// recordWaiting records, with the scan state of an allocations file still waiting in the drop
// folder, the receipts it names so far.
func recordWaiting(ctx context.Context, tx *sqlx.Tx, dir, name, path string) error {
	named, ok, err := readNamed(path, true)
	if err != nil {
		return fmt.Errorf("read the receipt ids of a waiting file: %w", err)
	}
	ids := make([]string, 0, len(named))
	for _, n := range named {
		ids = append(ids, n.ReceiptID)
	}
	if _, err := tx.ExecContext(ctx, updateScanReceiptsUnread,
		dir, name, !ok); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, deleteScanReceipts, dir, name); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, insertScanReceipts, dir, name, pq.Array(ids))
	return err
}

// Release lifts the holds of the refused allocations files called name that still hold receipts
// or the night: an operator's decision that their rows will not come (or came under other
// client_refs), recorded with its reason. It returns how many files it released.
func Release(ctx context.Context, db *sqlx.DB, name, reason string, now time.Time) (int, error) {
	if strings.TrimSpace(reason) == "" {
		return 0, errors.New("release: a reason is required")
	}
	res, err := db.ExecContext(ctx, updateFileReleased, name, reason, now)
	if err != nil {
		return 0, fmt.Errorf("release %s: %w", name, err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

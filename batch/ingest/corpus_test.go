package ingest_test

import (
	"bytes"
	"encoding/csv"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cashpool/cashpool/batch/ingest"
	"github.com/cashpool/cashpool/batch/schema/schematest"
	"github.com/cashpool/cashpool/internal/golden"
)

// TestBadFiles drops every file of testdata/bad into its own folder, on top of a database that
// already holds testdata/good/*_base.csv, and checks that it is refused with exactly the problems
// its .want file lists (line, column, field, problem) and that nothing of it was loaded.
func TestBadFiles(t *testing.T) {
	t.Parallel()
	db := schematest.DB(t)
	base := &bundle{db: db, dir: t.TempDir()}
	base.cfg = ingest.Config{DropDir: base.dir, Now: func() time.Time { return testNow }}
	base.dropFile(t, "testdata/good/receipts_base.csv", "receipts_base.csv")
	base.dropFile(t, "testdata/good/allocations_base.csv", "allocations_base.csv")
	base.dropFile(t, "testdata/good/rewards_base.csv", "rewards_base.csv")
	if res := base.run(t); res.Count(ingest.OutcomeLoaded) != 3 {
		t.Fatalf("base files: %+v", res)
	}

	files, err := filepath.Glob("testdata/bad/*.csv")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 30 {
		t.Fatalf("%d bad files, want at least 30", len(files))
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := &bundle{db: db, dir: t.TempDir()}
			b.cfg = ingest.Config{DropDir: b.dir, Now: func() time.Time { return testNow }}
			b.dropFile(t, path, name)
			f := outcomeOf(t, b.run(t), name)
			if f.Outcome != ingest.OutcomeRejected {
				t.Fatalf("outcome %s, want rejected; problems %v", f.Outcome, f.Problems)
			}
			if f.Errors != len(f.Problems) {
				t.Fatalf("errors %d, listed %d", f.Errors, len(f.Problems))
			}
			golden.Check(t, strings.TrimSuffix(path, ".csv")+".want", formatWant(f.Problems))
			if !exists(t, filepath.Join(b.dir, "rejected", name)) || !exists(t, filepath.Join(b.dir, "rejected", name+".errors.csv")) {
				t.Fatalf("file or its errors not in rejected/")
			}
			var status string
			var errs int
			if err := db.QueryRow(`SELECT status, errors FROM files WHERE sha256 = $1`, f.SHA256).Scan(&status, &errs); err != nil {
				t.Fatal(err)
			}
			if status != "rejected" || errs != f.Errors {
				t.Fatalf("files row: %s with %d errors", status, errs)
			}
			if n := b.count(t, `SELECT (SELECT count(*) FROM receipts) + (SELECT count(*) FROM allocations) + (SELECT count(*) FROM rewards)`); n != 10 {
				t.Fatalf("%d rows in the database, want the 10 base rows only", n)
			}
		})
	}
}

func formatWant(ps []ingest.Problem) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"line", "column", "field", "problem"})
	for _, p := range ps {
		w.Write([]string{strconv.Itoa(p.Line), strconv.Itoa(p.Column), p.Field, p.Problem})
	}
	w.Flush()
	return buf.Bytes()
}

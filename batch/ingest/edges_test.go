package ingest_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cashpool/cashpool/batch/ingest"
)

const receiptsHead = "receipt_id,value_date,amount,currency,originator_name,originator_account,originator_bank,originator_address,reference\n"

// A writer that goes on after the file was taken (it paused longer than the settle time, or wrote
// its marker too early) must never get part of the file loaded and the rest lost. AfterRead changes
// the file between the read and the check before the commit.
func TestFileChangedWhileReadIsKeptAndReported(t *testing.T) {
	t.Parallel()
	first := receiptsHead + "A,2026-11-23,1.00,USD,N,A,B,C,\nB,2026-11-23,2.00,USD,N,A,B,C,\n"
	for _, c := range []struct {
		name   string
		change func(t *testing.T, path string)
		want   string // the file as it is after the change
	}{
		{"appended", func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteString("C,2026-11-23,4.00,USD,N,A,B,C,\n"); err != nil {
				t.Fatal(err)
			}
		}, first + "C,2026-11-23,4.00,USD,N,A,B,C,\n"},
		// Same size and modification time, other bytes: only the hash tells.
		{"rewritten in place", func(t *testing.T, path string) {
			info, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(strings.Replace(first, "2.00", "9.00", 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(path, info.ModTime(), info.ModTime()); err != nil {
				t.Fatal(err)
			}
		}, strings.Replace(first, "2.00", "9.00", 1)},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.drop(t, "receipts_a.csv", first, true)
			path := filepath.Join(b.dir, "receipts_a.csv")
			changes := 0
			b.cfg.AfterRead = func(name string) {
				if name == "receipts_a.csv" && changes == 0 {
					changes++
					c.change(t, path)
				}
			}
			f := outcomeOf(t, b.run(t), "receipts_a.csv")
			if f.Outcome != ingest.OutcomeChanged || f.MovedTo != "rejected/receipts_a.csv" || f.Errors != 1 ||
				!strings.Contains(f.Problems[0].Problem, "changed while it was read") {
				t.Fatalf("%+v", f)
			}
			if n := b.count(t, `SELECT count(*) FROM receipts`); n != 0 {
				t.Fatalf("%d receipts loaded from a file that changed while it was read", n)
			}
			// Both versions kept: the bytes read in rejected/ with the marker that came with them,
			// the file as it is now in the drop folder.
			read, err := os.ReadFile(filepath.Join(b.dir, "rejected", "receipts_a.csv"))
			if err != nil || string(read) != first {
				t.Fatalf("version read: %q, %v", read, err)
			}
			now, err := os.ReadFile(path)
			if err != nil || string(now) != c.want {
				t.Fatalf("file as it is now: %q, %v", now, err)
			}
			errs, err := os.ReadFile(filepath.Join(b.dir, "rejected", "receipts_a.csv.errors.csv"))
			if err != nil || !bytes.Contains(errs, []byte("changed while it was read")) {
				t.Fatalf("errors file %q, %v", errs, err)
			}
			if !exists(t, filepath.Join(b.dir, "rejected", "receipts_a.csv.ready")) || exists(t, path+".ready") {
				t.Fatal("the marker written before the change must go with the version read")
			}
			var row struct {
				Status  string `db:"status"`
				Changed bool   `db:"changed_while_read"`
				Reason  string `db:"reason"`
			}
			if err := b.db.Get(&row, `SELECT status, changed_while_read, reason FROM files WHERE sha256 = $1`, f.SHA256); err != nil {
				t.Fatal(err)
			}
			if row.Status != "rejected" || !row.Changed || !strings.Contains(row.Reason, "changed while it was read") {
				t.Fatalf("files row %+v", row)
			}

			// The writer is done: the file is taken whole at the next scan.
			b.cfg.AfterRead = nil
			f = outcomeOf(t, b.run(t), "receipts_a.csv")
			if f.Outcome != ingest.OutcomeLoaded || f.Rows != strings.Count(c.want, "\n")-1 {
				t.Fatalf("after the writer finished: %+v", f)
			}
			if n := b.count(t, `SELECT count(*) FROM receipts`); n != f.Rows {
				t.Fatalf("%d receipts, want %d", n, f.Rows)
			}
		})
	}
}

// The careful path (a file with a problem) checks the file too: a half-written last row is not
// reported as the file's problem when the file changed under it.
func TestFileChangedWhileReadOnTheCarefulPath(t *testing.T) {
	t.Parallel()
	b := setup(t)
	half := receiptsHead + "A,2026-11-23,1.00,USD,N,A,B,C,\nB,2026-11-23,2.0"
	b.drop(t, "receipts_a.csv", half, true)
	b.cfg.AfterRead = func(name string) {
		if err := os.WriteFile(filepath.Join(b.dir, name), []byte(half+"0,USD,N,A,B,C,\n"), 0o644); err != nil {
			t.Error(err)
		}
	}
	f := outcomeOf(t, b.run(t), "receipts_a.csv")
	if f.Outcome != ingest.OutcomeChanged || f.MovedTo != "rejected/receipts_a.csv" {
		t.Fatalf("%+v", f)
	}
	if n := b.count(t, `SELECT count(*) FROM receipts`); n != 0 {
		t.Fatalf("%d receipts loaded", n)
	}
}

func TestRequireReadyTakesOnlyMarkedFiles(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.cfg.RequireReady = true
	b.dropFile(t, "testdata/good/receipts_base.csv", "receipts_marked.csv")
	data, err := os.ReadFile("testdata/good/receipts_crlf_header_case.csv")
	if err != nil {
		t.Fatal(err)
	}
	b.drop(t, "receipts_plain.csv", string(data), false)
	// Without the setting the second scan takes a file that held still; with it, never.
	for scan := 1; scan <= 2; scan++ {
		res := b.run(t)
		if f := outcomeOf(t, res, "receipts_plain.csv"); f.Outcome != ingest.OutcomeIncomplete {
			t.Fatalf("scan %d: unmarked file %+v", scan, f)
		}
		if scan == 1 {
			if f := outcomeOf(t, res, "receipts_marked.csv"); f.Outcome != ingest.OutcomeLoaded {
				t.Fatalf("marked file %+v", f)
			}
		}
	}
	if n := b.count(t, `SELECT count(*) FROM receipts`); n != 3 {
		t.Fatalf("%d receipts, want the marked file's 3", n)
	}
	b.drop(t, "receipts_plain.csv", string(data), true)
	if f := outcomeOf(t, b.run(t), "receipts_plain.csv"); f.Outcome != ingest.OutcomeLoaded {
		t.Fatalf("once marked: %+v", f)
	}
}

// A marker already in archive/ under the name the file would take must not stop the scan after
// the file's rows were committed (it did, and then every later scan stopped at the same place).
func TestStaleMarkerInArchiveDoesNotStopTheScan(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if err := os.MkdirAll(filepath.Join(b.dir, "archive"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.dir, "archive", "receipts_a.csv.ready"), []byte("stale"), 0o644); err != nil {
		t.Fatal(err)
	}
	b.dropFile(t, "testdata/good/receipts_base.csv", "receipts_a.csv")
	f := outcomeOf(t, b.run(t), "receipts_a.csv")
	if f.Outcome != ingest.OutcomeLoaded || f.MovedTo != "archive/receipts_a~1.csv" {
		t.Fatalf("%+v", f)
	}
	if !exists(t, filepath.Join(b.dir, "archive", "receipts_a~1.csv.ready")) || exists(t, filepath.Join(b.dir, "receipts_a.csv.ready")) {
		t.Fatal("the marker must follow its file")
	}
	if stale, err := os.ReadFile(filepath.Join(b.dir, "archive", "receipts_a.csv.ready")); err != nil || string(stale) != "stale" {
		t.Fatalf("the stale marker must be kept as it was: %q, %v", stale, err)
	}
}

// A marker whose file was archived already (a scan stopped between the two moves) must not make
// the next file of that name count as complete the moment it appears.
func TestMarkerWithoutItsFileIsArchived(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.dropFile(t, "testdata/good/receipts_base.csv", "receipts_a.csv")
	b.run(t)
	b.drop(t, "receipts_a.csv.ready", "", false)
	if res := b.run(t); len(res.Files) != 0 {
		t.Fatalf("%+v", res)
	}
	if exists(t, filepath.Join(b.dir, "receipts_a.csv.ready")) || !exists(t, filepath.Join(b.dir, "archive", "receipts_a.csv~1.ready")) {
		t.Fatal("stale marker not moved to archive/")
	}
	b.drop(t, "receipts_a.csv", receiptsHead+"X,2026-11-23,1.00,USD,N,A,B,C,\n", false)
	if f := outcomeOf(t, b.run(t), "receipts_a.csv"); f.Outcome != ingest.OutcomeIncomplete {
		t.Fatalf("a new file taken on a stale marker's word: %+v", f)
	}
}

// Same bytes under another name are refused and recorded like any refused file, so the night's
// report and `cashpool status` list them.
func TestDuplicateIsRecorded(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.dropFile(t, "testdata/good/receipts_base.csv", "receipts_a.csv")
	b.run(t)
	for i := 0; i < 2; i++ { // dropped twice: one record
		b.dropFile(t, "testdata/good/receipts_base.csv", "receipts_b.csv")
		if f := outcomeOf(t, b.run(t), "receipts_b.csv"); f.Outcome != ingest.OutcomeDuplicate {
			t.Fatalf("%+v", f)
		}
	}
	var rows []struct {
		Name   string `db:"name"`
		Status string `db:"status"`
		Errors int    `db:"errors"`
		Reason string `db:"reason"`
	}
	if err := b.db.Select(&rows, `SELECT name, status, errors, reason FROM files ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Name != "receipts_a.csv" || rows[0].Status != "loaded" ||
		rows[1].Name != "receipts_b.csv" || rows[1].Status != "duplicate" || rows[1].Errors != 1 ||
		rows[1].Reason != "duplicate of receipts_a.csv loaded at 2026-11-24T12:00:00Z: the same bytes are never loaded twice" {
		t.Fatalf("files rows %+v", rows)
	}
}

// A file name and values with control characters reach the errors file escaped, and no column of
// it, the field column included, can run as a formula.
func TestErrorsFileEscapesControlsAndFormulas(t *testing.T) {
	t.Parallel()
	b := setup(t)
	name := "receipts_\x1b[31m\nred.csv"
	b.drop(t, name, "receipt_id,value_date,amount,currency,originator_name,originator_account,originator_bank,originator_address,reference,=cmd|' /C calc'!A0\n"+
		"A,2026-11-23,1.00,USD,\"Evil\x00\x1b[2J\",A,B,C,,x\n", true)
	f := outcomeOf(t, b.run(t), name)
	if f.Outcome != ingest.OutcomeRejected {
		t.Fatalf("%+v", f)
	}
	errs, err := os.ReadFile(filepath.Join(b.dir, "rejected", name+".errors.csv"))
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range errs {
		if (c < 0x20 && c != '\n') || c == 0x7f {
			t.Fatalf("raw control byte %#x at %d in the errors file:\n%q", c, i, errs)
		}
	}
	want := "line,column,field,value,problem\n" +
		"1,10,'=cmd|' /c calc'!a0,'=cmd|' /C calc'!A0,\"unknown column \"\"=cmd|' /C calc'!A0\"\"; the columns are " +
		"receipt_id,value_date,amount,currency,originator_name,originator_account,originator_bank,originator_address,reference\"\n" +
		`2,5,originator_name,Evil\x00\x1b[2J,originator_name contains a control character (only tab and line breaks are allowed in text)` + "\n"
	if string(errs) != want {
		t.Fatalf("errors file:\n%s\nwant:\n%s", errs, want)
	}
}

// An allocations file whose header names neither receipt_id nor bank_reference is refused for its
// header, and each row is not blamed again for a column the header lacks (FuzzAllocations found
// the careful path panicking there, inside the COPY, which left the scan hung on its connection).
func TestAllocationsHeaderWithoutReceiptColumnsIsRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.drop(t, "allocations_noreceipt.csv", "account_id,amount,weight,client_ref,description\n"+
		"0d9f6e2c-3b1a-4c5d-8e7f-123456789abc,1.00,,C-1,d\n", true)
	f := outcomeOf(t, b.run(t), "allocations_noreceipt.csv")
	if f.Outcome != ingest.OutcomeRejected || f.Errors != 1 || f.Problems[0].Line != 1 ||
		f.Problems[0].Problem != "column receipt_id is missing from the header" {
		t.Fatalf("%+v", f)
	}
}

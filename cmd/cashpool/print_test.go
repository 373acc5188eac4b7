package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cashpool/cashpool/batch/ingest"
)

// File names and problems come from the drop folder: printIngest shows their control characters
// escaped, never raw on the operator's terminal.
func TestPrintIngestEscapesControls(t *testing.T) {
	t.Parallel()
	res := ingest.Result{Files: []ingest.FileResult{
		{Name: "receipts_\x1b[31m\nfake.csv", Outcome: ingest.OutcomeLoaded, Rows: 2},
		{Name: "allocations_\x1b]0;x\x07.csv", Outcome: ingest.OutcomeRejected, Errors: 1,
			MovedTo:  "rejected/allocations_\x1b]0;x\x07.csv",
			Problems: []ingest.Problem{{Line: 2, Column: 6, Field: "description\u202e", Problem: "value \x00\x1b[2J\r\n is bad"}}},
		{Name: "receipts_\x9bx.csv", Outcome: ingest.OutcomeChanged, Errors: 1, MovedTo: "rejected/receipts_\x9bx.csv"},
	}}
	var buf bytes.Buffer
	printIngest(&buf, res)
	out := buf.String()
	for i, c := range []byte(out) {
		if (c < 0x20 && c != '\n') || c == 0x7f || c == 0x9b {
			t.Fatalf("raw control byte %#x at %d:\n%q", c, i, out)
		}
	}
	want := `  loaded     receipts_\x1b[31m\nfake.csv: 2 rows
  rejected   allocations_\x1b]0;x\x07.csv: 1 problems, see rejected/allocations_\x1b]0;x\x07.csv.errors.csv
             line 2, column 6 (description\u202e): value \x00\x1b[2J\r\n is bad
  changed-while-read receipts_\x9bx.csv: 1 problems, see rejected/receipts_\x9bx.csv.errors.csv
             nothing of it was loaded; the file as it is now stays in the drop folder
`
	if out != want {
		t.Fatalf("got:\n%s\nwant:\n%s", out, want)
	}
	if strings.Count(out, "\n") != 5 {
		t.Fatalf("a name must not add lines:\n%s", out)
	}
}

package batch_test

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/cashpool/cashpool/batch"
	"github.com/cashpool/cashpool/batch/schema/schematest"
)

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
	if err := batch.WriteStatus(context.Background(), &buf, db, "8e00a1b2-0000-4000-8000-000000000000", "2026-11-24"); err != nil {
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

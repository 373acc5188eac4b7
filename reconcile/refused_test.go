package reconcile_test

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cashpool/cashpool/batch/ingest"
	"github.com/cashpool/cashpool/reconcile"
)

// Every file ingest refuses is a rejected_file exception of the night's report, whatever the
// reason: bad rows, the same bytes as a loaded file, a change while it was read. Names with control
// characters reach no report file raw.
func TestRefusedFilesFromIngestAreReported(t *testing.T) {
	t.Parallel()
	f := setup(t, &deadline)
	dir := t.TempDir()
	head := "receipt_id,value_date,amount,currency,originator_name,originator_account,originator_bank,originator_address,reference\n"
	good := head + "A,2026-11-23,1.00,USD,N,A,B,C,\n"
	drop := func(name, content string) {
		t.Helper()
		for _, p := range []string{name, name + ".ready"} {
			if err := os.WriteFile(filepath.Join(dir, p), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			content = ""
		}
	}
	cfg := ingest.Config{DropDir: dir, Now: func() time.Time { return plannedAt.Add(-30 * time.Minute) }}
	drop("receipts_a.csv", good)
	if _, err := ingest.Run(context.Background(), f.db, cfg); err != nil {
		t.Fatal(err)
	}
	drop("receipts_b.csv", good)                                            // the same bytes again
	drop("receipts_c.csv", head+"C,2026-11-23,3.00,USD,N,A,B,C,\n")         // grows while it is read
	drop("receipts_\x1b[2J\nd.csv", head+"D,2026-11-23,1e3,USD,N,A,B,C,\n") // a bad amount
	cfg.AfterRead = func(name string) {
		if name == "receipts_c.csv" {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(head+"C,2026-11-23,3.00,USD,N,A,B,C,\nE,2026-11-23,5.00,USD,N,A,B,C,\n"), 0o644); err != nil {
				t.Error(err)
			}
		}
	}
	res, err := ingest.Run(context.Background(), f.db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Count(ingest.OutcomeDuplicate) != 1 || res.Count(ingest.OutcomeChanged) != 1 || res.Count(ingest.OutcomeRejected) != 1 {
		t.Fatalf("ingest: %+v", res)
	}

	r, err := reconcile.Build(context.Background(), f.db, f.runID, after)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]reconcile.Exception{}
	for _, e := range r.Exceptions {
		if e.Kind == reconcile.KindRejectedFile {
			got[e.File] = e
		}
	}
	want := map[string]string{ // file as the report shows it → the start of its next action
		"receipts_b.csv":          "nothing to do if it was delivered twice",
		"receipts_c.csv":          "check that the finished file was loaded (archive/receipts_c.csv)",
		`receipts_\x1b[2J\nd.csv`: `fix the file and drop it again (see rejected/receipts_\x1b[2J\nd.csv.errors.csv)`,
	}
	if len(got) != len(want) {
		t.Fatalf("rejected files %v, want %v", slices.Collect(maps.Keys(got)), want)
	}
	for name, next := range want {
		if e, ok := got[name]; !ok || !strings.HasPrefix(e.NextAction, next) {
			t.Errorf("%q: %+v, want next action %q", name, e, next)
		}
	}
	if e := got["receipts_b.csv"]; !strings.HasPrefix(e.Reason, "duplicate of receipts_a.csv") {
		t.Errorf("duplicate reason %q", e.Reason)
	}
	if e := got["receipts_c.csv"]; !strings.Contains(e.Reason, "changed while it was read") {
		t.Errorf("changed reason %q", e.Reason)
	}

	out := t.TempDir()
	paths, err := reconcile.Write(out, r, "csv", "json", "html")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if i := strings.IndexFunc(string(b), func(c rune) bool { return c < 0x20 && c != '\n' }); i >= 0 {
			t.Errorf("%s: raw control character at %d", filepath.Base(p), i)
		}
	}
}

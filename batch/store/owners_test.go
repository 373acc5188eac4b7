package store_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// tableOwners says, for every table of the schema, the one file that holds the statements writing
// it, written out by hand. A file may own several tables that are written together.
var tableOwners = map[string]string{
	"journals":                "batch/store/journals_sql.go",
	"journal_history":         "batch/store/journals_sql.go",
	"journal_answers":         "batch/store/journals_sql.go",
	"batches":                 "batch/store/batches_sql.go",
	"runs":                    "batch/store/runs_sql.go",
	"plan_reservations":       "batch/store/runs_sql.go",
	"run_fences":              "batch/store/run_fences_sql.go",
	"track_parts":             "batch/store/track_parts_sql.go",
	"redrive_requests":        "console/sql.go",
	"run_receipts":            "batch/plan/sql.go",
	"run_skipped_allocations": "batch/plan/sql.go",
	"run_held_receipts":       "batch/plan/sql.go",
	"files":                   "batch/ingest/files_sql.go",
	"receipts":                "batch/ingest/receipts_sql.go",
	"stage_receipts":          "batch/ingest/receipts_sql.go",
	"allocations":             "batch/ingest/allocations_sql.go",
	"rewards":                 "batch/ingest/rewards_sql.go",
	"stage_allocations":       "batch/ingest/allocations_sql.go",
	"refused_allocations":     "batch/ingest/files_sql.go",
	"receipt_references":      "batch/ingest/reference_sql.go",
	"allocation_references":   "batch/ingest/reference_sql.go",
	"drop_scans":              "batch/ingest/scans_sql.go",
	"drop_scan_receipts":      "batch/ingest/scans_sql.go",
	"event_cursors":           "batch/track/events_sql.go",
	"journal_replacements":    "batch/track/replacements_sql.go",
	"schedule_state":          "batch/schedule_sql.go",
	"serve_leaders":           "batch/schedule_sql.go",
	"reported_reversals":      "reconcile/sql.go",
	"sweep_balances":          "reconcile/sweep_sql.go",
	"sweep_activities":        "reconcile/sweep_sql.go",
}

// sqlWrite finds a statement writing a table: the keywords are written in capitals in this
// repository's SQL, which keeps prose ("update the files") out.
var sqlWrite = regexp.MustCompile(`\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|COPY|CREATE\s+TEMP\s+TABLE)\s+([a-z_][a-z0-9_]*)`)

// TestTableWritesOnlyInOwnerFile: every statement that writes a table (INSERT, UPDATE, DELETE,
// COPY) is in the file that owns the table, so the schema and every write against it are read
// together. A table the schema gains needs its owner here.
func TestTableWritesOnlyInOwnerFile(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..", "..")
	tables := schemaTables(t, root)
	for table := range tables {
		if _, ok := tableOwners[table]; !ok {
			t.Errorf("table %s has no owner file in tableOwners", table)
		}
	}
	seen := map[string]bool{}
	checked := 0
	walkGo(t, root, func(rel string, lit string) {
		checked++
		for _, m := range sqlWrite.FindAllStringSubmatch(lit, -1) {
			owner, ok := tableOwners[m[1]]
			if !ok {
				continue // FOR UPDATE OF j, DO UPDATE SET: not a table
			}
			seen[m[1]] = true
			if filepath.ToSlash(rel) != owner {
				t.Errorf("%s writes %s (%q); its statements belong in %s", rel, m[1], strings.TrimSpace(m[0]), owner)
			}
		}
	})
	if checked < 100 {
		t.Fatalf("only %d string literals checked: the walk missed the repository", checked)
	}
	for table := range tableOwners {
		if !seen[table] {
			t.Errorf("no statement writes %s: is tableOwners out of date?", table)
		}
	}
}

// schemaTables lists the tables the migrations create and do not drop (their Up parts, in order).
func schemaTables(t *testing.T, root string) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, "batch", "schema", "migrations", "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations found: %v", err)
	}
	table := regexp.MustCompile(`(CREATE|DROP) TABLE\s+([a-z_]+)`)
	out := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		up, _, _ := strings.Cut(string(b), "-- +goose Down")
		for _, m := range table.FindAllStringSubmatch(up, -1) {
			out[m[2]] = m[1] == "CREATE"
		}
	}
	for name, exists := range out {
		if !exists {
			delete(out, name)
		}
	}
	return out
}

// walkGo calls fn with every string literal of every non-test Go file of the repository; a
// statement glued together with + (around a status constant, say) comes as one.
func walkGo(t *testing.T, root string, fn func(rel, lit string)) {
	t.Helper()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if rel != "." && strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if s, ok := joined(n); ok {
				fn(rel, s)
				return false
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// readAcross lists, by hand, the files allowed to hold reads that name several tables (joins,
// subqueries), and why. A read that names exactly one table belongs in that table's owner file,
// whatever file asks for it; so does a read across tables that one owner file holds.
var readAcross = map[string]string{
	"batch/plan/sql.go":               "plan reads ingest's files, receipts and allocations against the journals already planned",
	"batch/store/journals_sql.go":     "a journal not answered yet is sent or not as its batch is",
	"batch/ingest/receipts_sql.go":    "a file's receipts are staged, checked and loaded against its files row",
	"batch/ingest/allocations_sql.go": "a file's allocations are staged, checked and loaded against its files row",
	"batch/ingest/rewards_sql.go":     "a file's rewards are staged, checked and loaded against its files row",
	"batch/ingest/reference_sql.go":   "a BAI2 correction finds the receipts, and their files, an earlier report of the day gave",
	"batch/track/corrections.go":      "corrections find a sweep's journals and batches through their runs",
	"batch/lookup.go":                 "a journal's night is found through its run",
	"batch/status.go":                 "the status page counts each run's journals",
	"reconcile/sql.go":                "the nightly report reads runs, journals, history and files together",
	"console/sql.go":                  "the console's read model: what an operator's pages show, read across tables",
	"reconcile/sweep_sql.go":          "the sweep account's proof reads a night's journals, history, replacements and receipts",
}

// readModels lists, by hand, the report and console files whose reads all stay beside the page
// they feed, a read of one table included.
var readModels = map[string]bool{
	"reconcile/sql.go": true,
	"console/sql.go":   true,
}

// sqlRead finds the tables a statement reads: FROM and JOIN, in capitals like sqlWrite.
var sqlRead = regexp.MustCompile(`\b(FROM|JOIN)\s+([a-z_][a-z0-9_]*)`)

// TestTableReadsOnlyInOwnerFile: a read that names exactly one table (no JOIN) is in that table's
// owner file, so a step asks the owner instead of repeating its SQL; reads across tables stay only
// in the files readAcross lists, and the report and console keep their reads (readModels). Statements that also write are held by the write test.
func TestTableReadsOnlyInOwnerFile(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..", "..")
	across := map[string]bool{}
	walkGo(t, root, func(rel, lit string) {
		rel = filepath.ToSlash(rel)
		if !strings.Contains(lit, "SELECT") || sqlWrite.MatchString(lit) {
			return
		}
		tables := map[string]bool{}
		join := false
		for _, m := range sqlRead.FindAllStringSubmatch(lit, -1) {
			if _, ok := tableOwners[m[2]]; ok {
				tables[m[2]] = true
				join = join || m[1] == "JOIN"
			}
		}
		owners := map[string]bool{}
		for table := range tables {
			owners[tableOwners[table]] = true
		}
		switch {
		case len(tables) == 0:
		case len(owners) == 1 && owners[rel], readModels[rel] && len(tables) == 1:
		case len(tables) == 1 && !join:
			for table := range tables {
				t.Errorf("%s reads only %s; the statement belongs in %s", rel, table, tableOwners[table])
			}
		case readAcross[rel] != "":
			across[rel] = true
		default:
			t.Errorf("%s reads across %v; move it to an owner file or list it in readAcross", rel, keys(tables))
		}
	})
	for rel := range readAcross {
		if !across[rel] {
			t.Errorf("%s holds no read across tables: is readAcross out of date?", rel)
		}
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// joined is the text of a string literal, or of a + chain holding one with "?" for the
// operands that are not literals.
func joined(n ast.Node) (string, bool) {
	switch e := n.(type) {
	case *ast.BasicLit:
		if e.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(e.Value)
		if err != nil {
			s = e.Value
		}
		return s, true
	case *ast.BinaryExpr:
		if e.Op != token.ADD {
			return "", false
		}
		x, okx := joined(e.X)
		y, oky := joined(e.Y)
		if !okx && !oky {
			return "", false
		}
		if !okx {
			x = "?"
		}
		if !oky {
			y = "?"
		}
		return x + y, true
	case *ast.ParenExpr:
		return joined(e.X)
	}
	return "", false
}

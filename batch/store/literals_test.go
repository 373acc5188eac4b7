package store_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestStatusLiteralsOnlyHere: no SQL outside this package (and the Alpaca client's wire words)
// names a journal, batch, run or file status as a literal; queries take them from here.
func TestStatusLiteralsOnlyHere(t *testing.T) {
	t.Parallel()
	words := []string{"planned", "sending", "sent", "split", "failed", "submitted", "tracked", "reconciled", "queued",
		"pending", "sent_to_clearing", "executed", "activity_created", "rejected", "refused", "canceled", "deleted", "correct",
		"loaded", "duplicate"}
	root := filepath.Join("..", "..")
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if rel == "alpaca" || rel == filepath.Join("batch", "store") || rel != "." && strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" {
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
		checked++
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			for _, w := range words {
				if strings.Contains(lit.Value, "'"+w+"'") {
					t.Errorf("%s: SQL names the status '%s'; take it from batch/store", rel, w)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 20 {
		t.Fatalf("only %d files checked: the walk missed the repository", checked)
	}
}

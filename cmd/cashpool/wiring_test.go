package main

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// goList runs `go list -json` with args and decodes every package it prints.
func goList(t *testing.T, args ...string) []listedPackage {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list", "-json"}, args...)...).Output()
	if err != nil {
		t.Fatalf("go list %v: %v", args, err)
	}
	var pkgs []listedPackage
	for dec := json.NewDecoder(bytes.NewReader(out)); dec.More(); {
		var p listedPackage
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

type listedPackage struct {
	ImportPath   string
	Dir          string
	GoFiles      []string
	Imports      []string
	Deps         []string
	TestImports  []string
	XTestImports []string
	Module       *struct{ Path string }
}

// sqlMethods are the database/sql and sqlx calls that run a statement or open a transaction; their
// names are distinct enough that nothing else in the command carries them.
var sqlMethods = map[string]bool{
	"Exec": true, "ExecContext": true, "MustExec": true, "MustExecContext": true, "NamedExec": true, "NamedExecContext": true,
	"QueryContext": true, "QueryRowContext": true, "Queryx": true, "QueryxContext": true, "QueryRowx": true, "QueryRowxContext": true,
	"Select": true, "SelectContext": true, "GetContext": true, "Prepare": true, "PrepareContext": true,
	"Begin": true, "BeginTx": true, "Beginx": true, "BeginTxx": true, "MustBegin": true,
}

var sqlText = regexp.MustCompile(`(?s)^\s*(SELECT|INSERT|UPDATE|DELETE|WITH|COPY|CREATE|ALTER|DROP|TRUNCATE|LOCK)\s`)

// TestCommandRunsNoSQL: cmd only wires. Every statement lives in the package that owns its table;
// the command calls that package's functions.
func TestCommandRunsNoSQL(t *testing.T) {
	t.Parallel()
	pkg := goList(t, ".")[0]
	fset := token.NewFileSet()
	for _, name := range pkg.GoFiles {
		f, err := parser.ParseFile(fset, filepath.Join(pkg.Dir, name), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok && sqlMethods[sel.Sel.Name] {
					t.Errorf("%s: cmd calls %s: move the statement into the package that owns its table", fset.Position(n.Pos()), sel.Sel.Name)
				}
			case *ast.BasicLit:
				if n.Kind == token.STRING {
					if s, err := strconv.Unquote(n.Value); err == nil && sqlText.MatchString(s) {
						t.Errorf("%s: cmd holds SQL text %.40q", fset.Position(n.Pos()), s)
					}
				}
			}
			return true
		})
	}
}

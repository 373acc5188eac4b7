package main

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
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

const module = "github.com/cashpool/cashpool/"

// pipeline says whether a package of the module is the pipeline: the runner and its steps, the
// report, the domain.
func pipeline(path string) bool {
	rel, ok := strings.CutPrefix(path, module)
	return ok && (rel == "batch" || strings.HasPrefix(rel, "batch/") || rel == "reconcile" || rel == "pool")
}

// steps hand work to each other only through PostgreSQL; what they share sits below them.
var steps = []string{module + "batch/ingest", module + "batch/plan", module + "batch/submit",
	module + "batch/track", module + "batch/redrive", module + "reconcile"}

// TestImportRules: the simulator and the pipeline meet only over HTTP, steps do not import each
// other, nothing made for tests is built into the binary, and the crash failpoints exist only in a
// binary built for the crash harness. (The binary itself wires both sides: `cashpool sandbox` and
// `cashpool demo` serve the simulator beside the pipeline.) Tests of the pipeline may start the
// simulator: they still reach it over HTTP only.
func TestImportRules(t *testing.T) {
	t.Parallel()
	pkgs := map[string]listedPackage{}
	for _, p := range goList(t, module+"...") {
		pkgs[p.ImportPath] = p
	}
	const sim = module + "alpaca/sandbox"
	if _, ok := pkgs[sim]; !ok || len(pkgs) < 10 {
		t.Fatalf("go list found %d packages, the simulator among them: %v", len(pkgs), ok)
	}
	for path, p := range pkgs {
		if pipeline(path) && slices.Contains(p.Deps, sim) {
			t.Errorf("%s imports the simulator %s: the pipeline meets it only over HTTP", path, sim)
		}
		if path == sim {
			for _, d := range p.Deps {
				if pipeline(d) {
					t.Errorf("the simulator imports the pipeline's %s: it meets the pipeline only over HTTP", d)
				}
			}
		}
	}
	for _, s := range steps {
		p, ok := pkgs[s]
		if !ok {
			t.Fatalf("no package %s", s)
		}
		for _, other := range steps {
			if other != s && slices.Contains(p.Deps, other) {
				t.Errorf("step %s imports step %s: what they share belongs below both", s, other)
			}
		}
	}

	bin := pkgs[module+"cmd/cashpool"]
	for _, d := range bin.Deps {
		if d == "testing" || d == module+"batch/schema/schematest" || d == module+"batch/crash" {
			t.Errorf("the binary is built with %s, which exists for tests", d)
		}
	}

	// A production build holds no failpoint: nothing reads CASHPOOL_FAILPOINT or kills the process.
	failpoint := func(tags ...string) bool {
		p := goList(t, append(tags, ".")...)[0]
		found := false
		for _, name := range p.GoFiles {
			b, err := os.ReadFile(filepath.Join(p.Dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte(`"CASHPOOL_FAILPOINT"`)) || bytes.Contains(b, []byte("syscall.Kill")) {
				found = true
			}
		}
		return found
	}
	if failpoint() {
		t.Error("a binary built without -tags failpoint reads CASHPOOL_FAILPOINT or kills itself")
	}
	if !failpoint("-tags", "failpoint") {
		t.Error("a binary built with -tags failpoint has no failpoints: the crash harness would kill nothing")
	}
}

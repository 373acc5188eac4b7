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

// TestNoDuplicatedMachinery: one context-aware sleep (alpaca.Sleep), one backoff (the library's,
// through alpaca.NewBackOff: no hand-made jitter), one way to take a session advisory lock
// (schema.TryLock) and one ErrBusy, in every package but the simulator, which stands for Alpaca and
// keeps its own clock.
func TestNoDuplicatedMachinery(t *testing.T) {
	t.Parallel()
	var sleeps, locks, busy, jitter []string
	fset := token.NewFileSet()
	for _, p := range goList(t, module+"...") {
		if p.ImportPath == module+"alpaca/sandbox" {
			continue
		}
		for _, name := range p.GoFiles {
			f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range f.Imports {
				if path, _ := strconv.Unquote(imp.Path.Value); strings.HasPrefix(path, "math/rand") {
					jitter = append(jitter, fset.Position(imp.Pos()).String())
				}
			}
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.FuncDecl:
					if isSleep(n) {
						sleeps = append(sleeps, p.ImportPath+"."+n.Name.Name)
					}
				case *ast.BasicLit:
					if n.Kind == token.STRING && strings.Contains(n.Value, "pg_try_advisory_lock(") {
						locks = append(locks, fset.Position(n.Pos()).String())
					}
				case *ast.ValueSpec:
					for _, id := range n.Names {
						if id.Name == "ErrBusy" {
							busy = append(busy, p.ImportPath+".ErrBusy")
						}
					}
				}
				return true
			})
		}
	}
	if len(sleeps) != 1 || sleeps[0] != module+"alpaca.Sleep" {
		t.Errorf("context-aware sleeps: %v; want alpaca.Sleep alone", sleeps)
	}
	if len(locks) != 1 {
		t.Errorf("session advisory locks taken in %d places: %v; want schema.TryLock alone", len(locks), locks)
	}
	if len(busy) != 1 {
		t.Errorf("ErrBusy declared %d times: %v; want one", len(busy), busy)
	}
	if len(jitter) != 0 {
		t.Errorf("hand-made jitter (math/rand) in %v; want alpaca.NewBackOff", jitter)
	}
}

// isSleep says whether fn is a func(context.Context, time.Duration) error that waits on a timer.
func isSleep(fn *ast.FuncDecl) bool {
	ps, rs := fn.Type.Params.List, fn.Type.Results
	if fn.Body == nil || len(ps) != 2 || rs == nil || len(rs.List) != 1 {
		return false
	}
	typeName := func(e ast.Expr) string {
		if sel, ok := e.(*ast.SelectorExpr); ok {
			if x, ok := sel.X.(*ast.Ident); ok {
				return x.Name + "." + sel.Sel.Name
			}
		}
		if id, ok := e.(*ast.Ident); ok {
			return id.Name
		}
		return ""
	}
	if typeName(ps[0].Type) != "context.Context" || typeName(ps[1].Type) != "time.Duration" || typeName(rs.List[0].Type) != "error" {
		return false
	}
	timer := false
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if name := typeName(sel); name == "time.NewTimer" || name == "time.After" {
				timer = true
			}
		}
		return true
	})
	return timer
}

package deploy

import (
	"bufio"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// makeBuild is the command `make build` runs: its environment assignments and its argv, read from
// the Makefile's recipe with $(GO) as go.
func makeBuild(t *testing.T) (env, argv []string) {
	t.Helper()
	f, err := os.Open("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recipe []string
	in := false
	for sc := bufio.NewScanner(f); sc.Scan(); {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "build:"):
			in = true
		case in && strings.HasPrefix(line, "\t"):
			recipe = append(recipe, strings.TrimSpace(line))
		case in:
			in = false
		}
	}
	if len(recipe) != 1 {
		t.Fatalf("the Makefile's build target has %d recipe lines, want one command: %q", len(recipe), recipe)
	}
	cmd := strings.ReplaceAll(recipe[0], "$(GO)", "go")
	if strings.ContainsAny(cmd, "$'\"`;&|\\") {
		t.Fatalf("build recipe %q: keep it one plain command (this test and the Dockerfile read it word by word)", cmd)
	}
	words := strings.Fields(cmd)
	for len(words) > 0 && strings.Contains(words[0], "=") {
		env, words = append(env, words[0]), words[1:]
	}
	return env, words
}

// `make build` makes a statically linked binary, as the README promises (it runs on a host or in an
// image with no C library): no program interpreter, no shared library needed. Its `version` names
// the Go toolchain, and the commit when built from a clone.
func TestMakeBuildIsStatic(t *testing.T) {
	t.Parallel()
	env, argv := makeBuild(t)
	bin := filepath.Join(t.TempDir(), "cashpool")
	out := -1
	for i, w := range argv {
		if w == "-o" && i+1 < len(argv) {
			out = i + 1
		}
	}
	if out < 0 || argv[0] != "go" || argv[1] != "build" {
		t.Fatalf("build recipe %q: want go build -o PATH ...", argv)
	}
	argv[out] = bin
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", argv, err, b)
	}

	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("the binary asks for a program interpreter (dynamically linked): build with CGO_ENABLED=0")
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %v (%v): build with CGO_ENABLED=0", libs, err)
	}

	b, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("cashpool version: %v\n%s", err, b)
	}
	v := string(b)
	for _, line := range []string{"go:           " + runtime.Version() + "\n", "cgo:          off\n"} {
		if !strings.Contains(v, line) {
			t.Errorf("cashpool version: no %q in:\n%s", line, v)
		}
	}
	// Go stamps the commit only in a clone (a .git folder) with git installed.
	if fi, err := os.Stat("../.git"); err == nil && fi.IsDir() {
		if head, err := exec.Command("git", "-C", "..", "rev-parse", "HEAD").Output(); err == nil {
			if want := "commit:       " + strings.TrimSpace(string(head)) + "\n"; !strings.Contains(v, want) {
				t.Errorf("cashpool version: want %q in:\n%s", want, v)
			}
		}
	}
}

package deploy

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// stage is one FROM of a Dockerfile and its instructions, continuation lines joined.
type stage struct {
	from, name string
	ins        [][2]string // instruction (upper case), its arguments
}

func readDockerfile(t *testing.T, name string) []stage {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stages []stage
	var cont string
	for sc := bufio.NewScanner(f); sc.Scan(); {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			cont += strings.TrimSuffix(line, "\\") + " "
			continue
		}
		line, cont = cont+line, ""
		op, args, _ := strings.Cut(line, " ")
		op, args = strings.ToUpper(op), strings.TrimSpace(args)
		if op == "FROM" {
			w := strings.Fields(args)
			s := stage{from: w[0]}
			if len(w) == 3 && strings.EqualFold(w[1], "AS") {
				s.name = w[2]
			}
			stages = append(stages, s)
			continue
		}
		if len(stages) == 0 {
			t.Fatalf("%s: %s before FROM", name, op)
		}
		stages[len(stages)-1].ins = append(stages[len(stages)-1].ins, [2]string{op, args})
	}
	if len(stages) < 2 {
		t.Fatalf("%s: %d stages, want a build stage and a final one", name, len(stages))
	}
	return stages
}

// The image is built by exactly `make build`'s command, on the Go that go.mod asks for, and runs
// that binary as its entrypoint, as a numeric non-root user, on a base with CA certificates and
// nothing to run but the binary.
func TestDockerfileBuildsWhatMakeBuildBuilds(t *testing.T) {
	t.Parallel()
	stages := readDockerfile(t, "../Dockerfile")
	final := stages[len(stages)-1]

	// The final stage copies the binary from the build stage and runs it.
	var copied, buildName string
	for _, in := range final.ins {
		if w := strings.Fields(in[1]); in[0] == "COPY" && len(w) == 3 && strings.HasPrefix(w[0], "--from=") {
			buildName, copied = strings.TrimPrefix(w[0], "--from="), w[1]
			if dest := w[2]; !strings.HasSuffix(dest, "/") {
				copied += " " + dest
			}
		}
	}
	src, dest, ok := strings.Cut(copied, " ")
	if !ok {
		t.Fatalf("the final stage copies no binary from a build stage (COPY --from=STAGE SRC DEST)")
	}
	var build *stage
	for i := range stages[:len(stages)-1] {
		if stages[i].name == buildName {
			build = &stages[i]
		}
	}
	if build == nil {
		t.Fatalf("COPY --from=%s: no such stage", buildName)
	}

	// The build stage: golang at go.mod's version, running make build's command word for word.
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(mod)
	if goVersion == nil || !strings.HasPrefix(build.from, "golang:"+string(goVersion[1])) {
		t.Errorf("build stage FROM %s: want golang:%s (go.mod's go version)", build.from, goVersion[1])
	}
	env, argv := makeBuild(t)
	want := strings.Join(append(env, argv...), " ")
	workdir, runs := "/", 0
	for _, in := range build.ins {
		switch in[0] {
		case "WORKDIR":
			workdir = path.Join(workdir, in[1])
		case "ENV", "ARG":
			if strings.Contains(in[1], "CGO_ENABLED") || strings.Contains(in[1], "GOFLAGS") {
				t.Errorf("build stage %s %s: the build's settings belong in its one command, as in make build", in[0], in[1])
			}
		case "RUN":
			words := strings.Fields(in[1])
			for len(words) > 0 && strings.HasPrefix(words[0], "--") { // RUN options such as --mount
				words = words[1:]
			}
			if slices.Contains(words, "build") && slices.Contains(words, "go") {
				runs++
				if got := strings.Join(words, " "); got != want {
					t.Errorf("build stage runs\n  %s\nmake build runs\n  %s", got, want)
				}
			}
		}
	}
	if runs != 1 {
		t.Errorf("build stage has %d go build commands, want one", runs)
	}
	out := argv[slices.Index(argv, "-o")+1]
	if src != path.Join(workdir, out) {
		t.Errorf("final stage copies %s, want the binary make build writes, %s", src, path.Join(workdir, out))
	}

	// The final stage.
	switch {
	case strings.HasPrefix(final.from, "gcr.io/distroless/static"):
	case final.from == "scratch":
		if !slices.ContainsFunc(final.ins, func(in [2]string) bool { return in[0] == "COPY" && strings.Contains(in[1], "/etc/ssl/certs") }) {
			t.Errorf("FROM scratch without CA certificates: Alpaca's TLS cannot be checked")
		}
	default:
		t.Errorf("final stage FROM %s: want distroless static or scratch (the binary needs nothing else)", final.from)
	}
	var user, entrypoint string
	for _, in := range final.ins {
		switch in[0] {
		case "USER":
			user = in[1]
		case "ENTRYPOINT":
			entrypoint = in[1]
		case "RUN":
			t.Errorf("final stage RUN %s: the final image has nothing to run but cashpool", in[1])
		}
	}
	uid, gid, _ := strings.Cut(user, ":")
	for _, id := range []string{uid, gid} {
		if n, err := strconv.Atoi(id); id != "" && (err != nil || n == 0) {
			t.Errorf("USER %q: want a numeric non-root user (Kubernetes' runAsNonRoot checks only a number)", user)
		}
	}
	if uid == "" {
		t.Errorf("the final stage sets no USER: the image would run as root")
	}
	var ep []string
	if err := json.Unmarshal([]byte(entrypoint), &ep); err != nil || len(ep) != 1 || ep[0] != dest {
		t.Errorf("ENTRYPOINT %s: want [%q] in exec form (the binary, so that signals reach it)", entrypoint, dest)
	}

	ignore, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(ignore), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	if !slices.Contains(lines, "bin/") || slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, ".git") }) {
		t.Errorf(".dockerignore: want bin/ out (a host's binary never enters the build) and .git in (the commit stamp):\n%s", ignore)
	}
}

// make image says plainly when it cannot build, and fails: no builder installed, or one whose
// engine does not answer.
func TestMakeImageWithoutABuilder(t *testing.T) {
	t.Parallel()
	mk, err := exec.LookPath("make")
	if err != nil {
		t.Fatalf("make is not installed: README's two commands need it: %v", err)
	}
	empty, broken := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(broken, "podman"), []byte("#!/bin/sh\nexit 125\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for dir, want := range map[string][]string{
		empty:  {"no working container image builder (docker, podman or buildah) is installed"},
		broken: {"podman is installed but does not answer", "no working container image builder"},
	} {
		cmd := exec.Command(mk, "-s", "image")
		cmd.Dir = ".."
		cmd.Env = []string{"PATH=" + dir}
		b, err := cmd.CombinedOutput()
		if err == nil {
			t.Errorf("make image with PATH=%s succeeded:\n%s", dir, b)
		}
		for _, w := range want {
			if !strings.Contains(string(b), w) {
				t.Errorf("make image with PATH=%s: no %q in:\n%s", dir, w, b)
			}
		}
	}
}

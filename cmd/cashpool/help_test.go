package main

import (
	"bytes"
	"context"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// Every command answers --help and -h with exit 0, its summary and its own flags (and none of
// another command's).
func TestEveryCommandHelpListsItsOwnFlags(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	for cmd, want := range map[string]struct{ has, hasNot []string }{
		"run":       {has: []string{"-date", "-drop", "-out", "-sweep", "-format", "-batch-size"}, hasNot: []string{"-yes", "-file", "-addr"}},
		"ingest":    {has: []string{"-drop"}, hasNot: []string{"-yes"}},
		"plan":      {has: []string{"-date"}},
		"submit":    {has: []string{"-date"}},
		"track":     {has: []string{"-date"}},
		"reconcile": {has: []string{"-date"}},
		"report":    {has: []string{"-date", "-format"}},
		"status":    {has: []string{"-date"}},
		"redrive":   {has: []string{"-date", "-yes", "-dry-run", "-journal", "-account", "-description", "-by", "-reason"}, hasNot: []string{"-file"}},
		"release":   {has: []string{"-file", "-reason"}, hasNot: []string{"-yes", "-journal"}},
		"serve":     {has: []string{"-date"}, hasNot: []string{"-yes"}},
		"migrate":   {hasNot: []string{"-yes"}},
		"demo":      {has: []string{"-out", "-track-for", "-serve"}, hasNot: []string{"-date"}},
		"sandbox":   {has: []string{"-addr", "-seed", "-step", "-rate-limit"}, hasNot: []string{"-date"}},
		"version":   {has: []string{"No flags."}, hasNot: []string{"-date"}},
	} {
		for _, h := range []string{"--help", "-h"} {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{cmd, h}, &stdout, &stderr)
			out := stdout.String()
			if code != exitOK || stderr.Len() > 0 {
				t.Errorf("%s %s: exit %d, want 0; stderr: %s", cmd, h, code, stderr.String())
			}
			if !strings.HasPrefix(out, "Usage: cashpool "+cmd+" [flags]\n\n") || len(strings.Split(out, "\n")) < 4 {
				t.Errorf("%s %s: want a usage line and the command's summary:\n%s", cmd, h, out)
			}
			for _, f := range want.has {
				if !listed(out, f) && !(f == "No flags." && strings.Contains(out, f)) {
					t.Errorf("%s %s: %s not listed:\n%s", cmd, h, f, out)
				}
			}
			for _, f := range want.hasNot {
				if listed(out, f) {
					t.Errorf("%s %s: lists another command's %s:\n%s", cmd, h, f, out)
				}
			}
		}
	}
}

// listed says whether a --help output lists flag f (as flag.PrintDefaults does: "  -name type" or
// "  -name" alone for a boolean).
func listed(out, f string) bool {
	return strings.Contains(out, "\n  "+f+" ") || strings.Contains(out, "\n  "+f+"\n")
}

func TestVersion(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"version"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("version: exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "go:           "+runtime.Version()+"\n") {
		t.Errorf("version does not name the Go version %s:\n%s", runtime.Version(), stdout.String())
	}
	if code := run(context.Background(), []string{"version", "extra"}, &stdout, &stderr); code != exitUsage {
		t.Errorf("version with an argument: exit %d, want %d", code, exitUsage)
	}

	var b bytes.Buffer
	writeVersion(&b, &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.4.0"}, Settings: []debug.BuildSetting{
		{Key: "CGO_ENABLED", Value: "0"}, {Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "arm64"},
		{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"}, {Key: "vcs.time", Value: "2026-11-20T06:30:00Z"},
		{Key: "vcs.modified", Value: "true"},
	}})
	want := `cashpool v1.4.0
commit:       0123456789abcdef0123456789abcdef01234567
commit time:  2026-11-20T06:30:00Z
modified:     true
go:           go1.26.8
platform:     linux/arm64
cgo:          off
`
	if b.String() != want {
		t.Errorf("stamped build:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	writeVersion(&b, &debug.BuildInfo{GoVersion: "go1.26.8", Settings: []debug.BuildSetting{{Key: "CGO_ENABLED", Value: "1"}}})
	for _, line := range []string{"cashpool (devel)\n", "commit:       unknown (built without version control information)\n", "modified:     unknown\n", "cgo:          on"} {
		if !strings.Contains(b.String(), line) {
			t.Errorf("unstamped build: no %q in:\n%s", line, b.String())
		}
	}
}

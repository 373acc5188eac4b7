package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// A log format or level cashpool does not know stops any command before it does anything (exit 2,
// naming the setting).
func TestLogSettingsUnknownAreUsageErrors(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	for _, env := range [][2]string{{"CASHPOOL_LOG_FORMAT", "yaml"}, {"CASHPOOL_LOG_FORMAT", "logfmt "}, {"CASHPOOL_LOG_LEVEL", "verbose"}, {"CASHPOOL_LOG_LEVEL", "info+2"}} {
		t.Setenv("CASHPOOL_LOG_FORMAT", "")
		t.Setenv("CASHPOOL_LOG_LEVEL", "")
		t.Setenv(env[0], env[1])
		for _, args := range [][]string{{"status"}, {"run"}, {"demo"}, {"sandbox"}} {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), args, &stdout, &stderr)
			if code != exitUsage || !strings.Contains(stderr.String(), env[0]+" ") {
				t.Errorf("%s=%q %v: exit %d, want %d naming %s:\n%s", env[0], env[1], args, code, exitUsage, env[0], stderr.String())
			}
		}
	}
}

func TestLogFormatAndLevel(t *testing.T) {
	for _, c := range []struct {
		format, level string
		want          []string // lines, in order
	}{
		{"json", "warn", []string{`"level":"WARN","msg":"w","k":"v"`, `"level":"ERROR","msg":"e","k":"v"`}},
		{"JSON", "error", []string{`"level":"ERROR","msg":"e","k":"v"`}},
		{"", "", []string{`level=INFO msg=i k=v`, `level=WARN msg=w k=v`, `level=ERROR msg=e k=v`}},
		{"text", "DEBUG", []string{`level=DEBUG msg=d k=v`, `level=INFO msg=i k=v`, `level=WARN msg=w k=v`, `level=ERROR msg=e k=v`}},
	} {
		t.Setenv("CASHPOOL_LOG_FORMAT", c.format)
		t.Setenv("CASHPOOL_LOG_LEVEL", c.level)
		var b bytes.Buffer
		l, err := newLogger(&b)
		if err != nil {
			t.Fatalf("%q %q: %v", c.format, c.level, err)
		}
		l.Debug("d", "k", "v")
		l.Info("i", "k", "v")
		l.Warn("w", "k", "v")
		l.Error("e", "k", "v")
		lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
		if len(lines) != len(c.want) {
			t.Errorf("%q %q: %d lines, want %d:\n%s", c.format, c.level, len(lines), len(c.want), b.String())
			continue
		}
		for i, line := range lines {
			if !strings.Contains(line, c.want[i]) {
				t.Errorf("%q %q: line %q, want it to hold %q", c.format, c.level, line, c.want[i])
			}
			if strings.EqualFold(c.format, "json") && !json.Valid([]byte(line)) {
				t.Errorf("%q: line %q is not JSON", c.format, line)
			}
		}
	}
}

// logLines reads JSON log lines; anything else on stderr fails the test.
func logLines(t *testing.T, stderr string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSuffix(stderr, "\n"), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("stderr line %q is not a JSON log line: %v\n%s", line, err, stderr)
		}
		out = append(out, m)
	}
	return out
}

// Every line of one `cashpool run` carries the same run id, and another run another one.
func TestRunIDOnEveryLineOfARun(t *testing.T) {
	serveEnv(t, map[string]string{"CASHPOOL_LOG_FORMAT": "json"})
	ids := map[string]bool{}
	for i := 0; i < 2; i++ {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{"run", "--date", "2026-11-20"}, &stdout, &stderr)
		if code != exitOK {
			t.Fatalf("run: exit %d\n%s\n%s", code, stdout.String(), stderr.String())
		}
		lines := logLines(t, stderr.String())
		if len(lines) < 2 {
			t.Fatalf("run logged %d lines, want the steps':\n%s", len(lines), stderr.String())
		}
		id, _ := lines[0]["run_id"].(string)
		for _, l := range lines {
			if l["run_id"] != id || len(id) != 16 {
				t.Errorf("line %v: run_id %v, want %q (one id of 16 hex digits for the run)", l, l["run_id"], id)
			}
		}
		ids[id] = true
	}
	if len(ids) != 2 {
		t.Errorf("two runs logged run ids %v, want two different ones", ids)
	}
}

// serve gives each night it runs its own run id, on every line from the night's start to its end.
func TestServeNightHasItsOwnRunID(t *testing.T) {
	// No drop-folder scan during the night: it would race the night for the ingest lock.
	serveEnv(t, map[string]string{"CASHPOOL_LOG_FORMAT": "json", "CASHPOOL_TZ": "UTC", "CASHPOOL_SCAN_EVERY": "1h"})
	today := time.Now().UTC().Format(time.DateOnly)
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"plan", "--date", today}, &stdout, &stderr); code != exitOK {
		t.Fatalf("plan: exit %d\n%s", code, stderr.String())
	}
	// The planned night is unfinished: serve's catch-up finishes it at start.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var out safeBuffer
	go func() { done <- run(ctx, []string{"serve"}, &stdout, &out) }()
	for end := time.Now().Add(60 * time.Second); !strings.Contains(out.String(), `"msg":"run finished"`); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			cancel()
			<-done
			t.Fatalf("the night did not finish within a minute:\n%s", out.String())
		}
	}
	cancel()
	if code := <-done; code != exitOK {
		t.Fatalf("serve: exit %d\n%s", code, out.String())
	}
	lines := logLines(t, out.String())
	start, end := -1, -1
	for i, l := range lines {
		switch l["msg"] {
		case "finishing an unfinished night":
			start = i + 1
		case "run finished":
			end = i
		}
		if l["msg"] == "serving" && l["run_id"] != nil {
			t.Errorf("serve's own line carries a run id: %v", l)
		}
	}
	if start < 0 || end < start {
		t.Fatalf("no night between lines %d and %d:\n%s", start, end, out.String())
	}
	id, _ := lines[end]["run_id"].(string)
	for _, l := range lines[start : end+1] {
		if l["run_id"] != id || len(id) != 16 {
			t.Errorf("night's line %v: run_id %v, want %q", l, l["run_id"], id)
		}
	}
}

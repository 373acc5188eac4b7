package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemo is `make run`: the sample night must come out exactly as the fixtures intend.
func TestDemo(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"demo", "--out", out, "--track-for", "2s"}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("demo exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	for _, f := range []string{"reconciliation.csv", "totals.csv", "reconciliation.json", "reconciliation.html"} {
		if _, err := os.Stat(filepath.Join(out, "demo", "reports", "2026-11-20", f)); err != nil {
			t.Errorf("report file: %v", err)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "demo", "drop", "rejected", "allocations-2026-11-20-late.csv.errors.csv")); err != nil {
		t.Errorf("rejected file's error report: %v", err)
	}
}

// TestSecretsNeverPrinted runs commands that fail on purpose and checks the secret is nowhere in
// what they print.
func TestSecretsNeverPrinted(t *testing.T) {
	const secret = "s3cr3t-DO-NOT-PRINT"
	t.Setenv("APCA_API_SECRET_KEY", secret)
	t.Setenv("APCA_API_KEY_ID", "key")
	t.Setenv("APCA_BROKER_URL", "http://127.0.0.1:1")
	t.Setenv("CASHPOOL_SWEEP_ACCOUNT", "not-a-uuid")
	t.Setenv("DATABASE_URL", "postgres://cashpool:"+secret+"@127.0.0.1:1/x?sslmode=disable&connect_timeout=1")
	for _, args := range [][]string{{"run", "--date", "2026-11-20"}, {"status"}, {"submit"}, {"sandbox", "--addr", "256.0.0.1:0"}} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), args, &stdout, &stderr)
		if code == exitOK {
			t.Errorf("%v succeeded; want a failure", args)
		}
		if strings.Contains(stdout.String()+stderr.String(), secret) {
			t.Errorf("%v printed the secret:\n%s%s", args, stdout.String(), stderr.String())
		}
	}
}

func TestUsageErrors(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	for _, args := range [][]string{{"nosuch"}, {"run", "--date", "20-11-2026"}, {"run"}, {"release", "--file", "x.csv"}} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr); code != exitUsage {
			t.Errorf("%v: exit %d, want %d (%s)", args, code, exitUsage, stderr.String())
		}
	}
}

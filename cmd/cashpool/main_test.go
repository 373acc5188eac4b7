package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

// A DATABASE_URL that cannot be read is a usage error whose message never quotes it: it may hold
// the password.
func TestMalformedDatabaseURLNeverPrintsThePassword(t *testing.T) {
	const secret = "Pw0rdLEAK"
	t.Setenv("CASHPOOL_SWEEP_ACCOUNT", "8f8c8cee-2591-4f83-be12-82c659b5e748")
	for _, dsn := range []string{
		"postgres://cashpool:" + secret + "@[::1/cashpool",
		"postgres://cashpool:Pw0rd/LEAK@db.example/cashpool",
		"postgres://cashpool:Pw0rd%zzLEAK@db.example/cashpool",
		"host=db.example password='" + secret,
	} {
		t.Setenv("DATABASE_URL", dsn)
		for _, args := range [][]string{{"status"}, {"migrate"}} {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), args, &stdout, &stderr)
			out := stdout.String() + stderr.String()
			if code != exitUsage || !strings.Contains(out, "DATABASE_URL cannot be read") {
				t.Errorf("%v with %q: exit %d, want %d with a clear message:\n%s", args, dsn, code, exitUsage, out)
			}
			if strings.Contains(out, "Pw0rd") || strings.Contains(out, "LEAK") {
				t.Errorf("%v printed the password:\n%s", args, out)
			}
		}
	}
}

// A secret file readable by group or others is refused before anything runs (exit 2), with a
// message naming the file and the fix, and without its contents.
func TestSecretFileReadableByOthersIsRefused(t *testing.T) {
	const secret = "s3cr3t-IN-A-FILE"
	dir := t.TempDir()
	file := filepath.Join(dir, "secret")
	if err := os.WriteFile(file, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("APCA_API_SECRET_KEY", "")
	t.Setenv("DATABASE_URL", "")
	t.Setenv("CASHPOOL_SWEEP_ACCOUNT", "8f8c8cee-2591-4f83-be12-82c659b5e748")
	for _, name := range []string{"APCA_API_SECRET_KEY", "DATABASE_URL"} {
		t.Setenv(name+"_FILE", file)
		for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o620, 0o666} {
			if err := os.Chmod(file, mode); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{"status"}, &stdout, &stderr)
			out := stdout.String() + stderr.String()
			if code != exitUsage || !strings.Contains(out, name+"_FILE "+file+" is readable by group or others") {
				t.Errorf("%s_FILE mode %04o: exit %d, want %d with a clear message:\n%s", name, mode, code, exitUsage, out)
			}
			if strings.Contains(out, secret) {
				t.Errorf("printed the secret:\n%s", out)
			}
		}
		// Readable by its owner only: taken.
		if err := os.Chmod(file, 0o400); err != nil {
			t.Fatal(err)
		}
		got, err := secretOrFile(name, "", file)
		if err != nil || got != secret {
			t.Errorf("%s_FILE mode 0400: %q, %v; want the secret", name, got, err)
		}
		t.Setenv(name+"_FILE", "")
	}
}

// A step that needs the date's run, asked of a date without one, is a usage error that says what
// to run first, never a failure quoting the database.
func TestStepsWithoutARunAreUsageErrors(t *testing.T) {
	newSimNight(t, nil, nil)
	for _, step := range []string{"submit", "track", "reconcile", "report"} {
		out := cashpool(t, exitUsage, step, "--date", "2026-11-20")
		if !strings.Contains(out, "no planned run for 2026-11-20: run `cashpool plan --date 2026-11-20` first") || strings.Contains(out, "sql") {
			t.Errorf("%s without a run says:\n%s", step, out)
		}
	}
}

// A business date after today, where CASHPOOL_TZ says today is, is refused before anything is
// planned: the night would take receipts valued up to that date and fund wires before they settle.
func TestNotAheadOfToday(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 3, 3, 0, 0, 0, time.UTC) // 22:00 on 2 December in New York
	for _, c := range []struct {
		date string
		tz   *time.Location
		ok   bool
	}{
		{"2026-12-03", time.UTC, true},
		{"2026-12-02", time.UTC, true},
		{"1999-12-31", time.UTC, true},
		{"2026-12-04", time.UTC, false},
		{"2026-12-02", ny, true},
		{"2026-12-03", ny, false},
		{"2027-01-01", nil, false},
	} {
		if err := notAhead(c.date, c.tz, now); (err == nil) != c.ok {
			t.Errorf("%s in %v: %v, want allowed %v", c.date, c.tz, err, c.ok)
		}
	}
}

// `cashpool run` and `cashpool plan` of a date after today are usage errors that touch nothing:
// the dropped file is still where operations left it, and the date has no run.
func TestRunOfAFutureDateIsRefused(t *testing.T) {
	night := newSimNight(t, map[string]string{
		"receipts-1.csv": receiptsCSVHeader + "W1,2026-11-20,250.00,USD,Acme Corp,123,First Bank,1 Main St,wire 1\n",
	}, nil)
	later := time.Now().UTC().AddDate(0, 0, 2).Format(time.DateOnly) // after today in every time zone
	for _, step := range []string{"run", "plan"} {
		if out := cashpool(t, exitUsage, step, "--date", later); !strings.Contains(out, "is after today") {
			t.Errorf("%s --date %s says:\n%s", step, later, out)
		}
	}
	if _, err := os.Stat(filepath.Join(night.drop, "receipts-1.csv")); err != nil {
		t.Errorf("the dropped file was taken by a refused run: %v", err)
	}
	if out := cashpool(t, exitUsage, "report", "--date", later); !strings.Contains(out, "no planned run for "+later) {
		t.Errorf("report of the refused date says:\n%s", out)
	}
	if n := len(night.sim.Ledger()); n != 0 {
		t.Errorf("the simulator holds %d journals after refused runs", n)
	}
}

package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cashpool/cashpool/alpaca/sandbox"
	"github.com/cashpool/cashpool/batch/schema/schematest"
)

// An allocations file nobody can read holds the whole night; `cashpool release` lifts the hold,
// says which night plans what it held, and that night (not the one already run) funds the receipt
// once, as the simulator's ledger shows.
func TestReleaseThroughTheCommandLine(t *testing.T) {
	const (
		date = "2026-11-20"
		next = "2026-11-23"
		cust = "c0000000-0000-4000-8000-000000000001"
	)
	seed, err := loadSeed("")
	if err != nil {
		t.Fatal(err)
	}
	sim := sandbox.New(sandbox.Options{Seed: seed, KeyID: "k", Secret: "s", StepEvery: 20 * time.Millisecond})
	ts := httptest.NewServer(sim)
	defer ts.Close()
	drop, out := t.TempDir(), t.TempDir()
	files := map[string]string{
		"receipts-1.csv": "receipt_id,value_date,amount,currency,originator_name,originator_account,originator_bank,originator_address,reference\n" +
			"W1," + date + ",250.00,USD,Acme Corp,123,First Bank,1 Main St,wire 1\n",
		"allocations-1.csv": "receipt_id,account_id,amount,weight,client_ref,description\n" +
			"W1," + cust + ",250.00,,A-001,Funding\n",
		// Saved as UTF-16: its receipt ids cannot be read, so it could name any receipt.
		"allocations-utf16.csv": "\xff\xfer\x00e\x00c\x00\n\x00",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(drop, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(drop, name+".ready"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range map[string]string{
		"DATABASE_URL": schematest.URL(t), "APCA_BROKER_URL": ts.URL, "APCA_API_KEY_ID": "k", "APCA_API_SECRET_KEY": "s",
		"CASHPOOL_SWEEP_ACCOUNT": seed.SweepAccount, "CASHPOOL_DROP_DIR": drop, "CASHPOOL_OUT_DIR": out,
		"CASHPOOL_TRACK_FOR": "60s", "CASHPOOL_POLL_EVERY": "50ms", "CASHPOOL_SETTLE_FOR": "0s",
	} {
		t.Setenv(k, v)
	}
	cmd := func(want int, args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr); code != want {
			t.Fatalf("%v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", args, code, want, stdout.String(), stderr.String())
		}
		return stdout.String() + stderr.String()
	}
	funded := func() int {
		t.Helper()
		n := 0
		for _, e := range sim.Ledger() {
			if e.ToAccount != cust || e.Amount.StringFixed(2) != "250.00" {
				t.Fatalf("the simulator holds a journal of %s to %s, not the night's", e.Amount, e.ToAccount)
			}
			n++
		}
		return n
	}

	held := cmd(exitExceptions, "run", "--date", date)
	if !strings.Contains(held, "held_night") {
		t.Errorf("the held night's report does not say so:\n%s", held)
	}
	if n := funded(); n != 0 {
		t.Fatalf("%d journals sent on a held night, want 0", n)
	}
	released := cmd(exitOK, "release", "--file", "allocations-utf16.csv", "--reason", "sent again as allocations-1.csv")
	if !strings.Contains(released, "the next night planned takes the receipts it held") {
		t.Errorf("release does not say which night plans what it held:\n%s", released)
	}
	// The night already run is not planned again: nothing is sent.
	again := cmd(exitExceptions, "run", "--date", date)
	if !strings.Contains(again, "nothing was sent") {
		t.Errorf("a second run of the held night does not say it sent nothing:\n%s", again)
	}
	if n := funded(); n != 0 {
		t.Fatalf("%d journals sent by the held night run again, want 0", n)
	}
	// The next night funds the receipt, once.
	cmd(exitOK, "run", "--date", next)
	if n := funded(); n != 1 {
		t.Fatalf("%d journals funded after the release, want 1", n)
	}
	cmd(exitOK, "run", "--date", next)
	if n := funded(); n != 1 {
		t.Fatalf("%d journals funded after the next night ran twice, want 1", n)
	}
}

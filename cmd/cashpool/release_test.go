package main

import (
	"strings"
	"testing"
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
	n := newSimNight(t, map[string]string{
		"receipts-1.csv": receiptsCSVHeader + "W1," + date + ",250.00,USD,Acme Corp,123,First Bank,1 Main St,wire 1\n",
		"allocations-1.csv": "receipt_id,account_id,amount,weight,client_ref,description\n" +
			"W1," + cust + ",250.00,,A-001,Funding\n",
		// Saved as UTF-16: its receipt ids cannot be read, so it could name any receipt.
		"allocations-utf16.csv": "\xff\xfer\x00e\x00c\x00\n\x00",
	}, nil)
	funded := func() int {
		t.Helper()
		count := 0
		for _, e := range n.sim.Ledger() {
			if e.ToAccount != cust || e.Amount.StringFixed(2) != "250.00" {
				t.Fatalf("the simulator holds a journal of %s to %s, not the night's", e.Amount, e.ToAccount)
			}
			count++
		}
		return count
	}

	held := cashpool(t, exitExceptions, "run", "--date", date)
	if !strings.Contains(held, "held_night") {
		t.Errorf("the held night's report does not say so:\n%s", held)
	}
	if c := funded(); c != 0 {
		t.Fatalf("%d journals sent on a held night, want 0", c)
	}
	released := cashpool(t, exitOK, "release", "--file", "allocations-utf16.csv", "--reason", "sent again as allocations-1.csv")
	if !strings.Contains(released, "the next night planned takes the receipts it held") {
		t.Errorf("release does not say which night plans what it held:\n%s", released)
	}
	// The night already run is not planned again: nothing is sent.
	again := cashpool(t, exitExceptions, "run", "--date", date)
	if !strings.Contains(again, "nothing was sent") {
		t.Errorf("a second run of the held night does not say it sent nothing:\n%s", again)
	}
	if c := funded(); c != 0 {
		t.Fatalf("%d journals sent by the held night run again, want 0", c)
	}
	// The next night funds the receipt, once.
	cashpool(t, exitOK, "run", "--date", next)
	if c := funded(); c != 1 {
		t.Fatalf("%d journals funded after the release, want 1", c)
	}
	cashpool(t, exitOK, "run", "--date", next)
	if c := funded(); c != 1 {
		t.Fatalf("%d journals funded after the next night ran twice, want 1", c)
	}
}

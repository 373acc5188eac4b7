package sandbox_test

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/cashpool/cashpool/alpaca"
)

// The trading account's cash is booked cash: it moves when journals execute and moves back when
// one is reversed or corrected, while cash_transferable drops as soon as a journal is created.
// The activity stream shows each move on both accounts, a deposit set through the admin API
// among them, every account's activities mixed, and a taken-back activity under its own ref_id.
func TestActivitiesFollowBookedCash(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	answer := answered(t, b.batch(t, 200, batchOf(
		entry{ToAccount: cust1, Amount: "100.00"}, entry{ToAccount: cust2, Amount: "200.00"},
		entry{ToAccount: cust3, Amount: "300.00"}), ""))
	type trading struct {
		Cash             string `json:"cash"`
		CashTransferable string `json:"cash_transferable"`
	}
	path := "/v1/trading/accounts/" + sweep + "/account"
	if got := decodeJSON[trading](t, b.must(t, 200, "GET", path, nil).body); got.Cash != "100000.00" || got.CashTransferable != "99400.00" {
		t.Fatalf("queued journals: %+v, want cash 100000.00 (nothing booked) and cash_transferable 99400.00", got)
	}
	b.sim.Advance(3 * time.Second) // queued, sent_to_clearing, executed
	b.must(t, 200, "POST", "/sandbox/v1/journals/"+answer[0].ID+"/reverse", nil)
	b.must(t, 200, "POST", "/sandbox/v1/journals/"+answer[1].ID+"/correct", map[string]string{"amount": "150.00"})
	b.must(t, 200, "POST", "/sandbox/v1/cash", map[string]string{"amount": "99600.00"}) // +50.00 deposited
	// 100000 - 100 + 100 (reversed) - 200 + 200 (corrected) - 150 (its replacement) - 300 + 50 = 99600.
	if got := decodeJSON[trading](t, b.must(t, 200, "GET", path, nil).body); got.Cash != "99600.00" || got.CashTransferable != "99600.00" {
		t.Fatalf("after reversal, correction and deposit: %+v, want 99600.00 both", got)
	}

	c := alpaca.NewClient(alpaca.Options{BaseURL: b.srv.URL, KeyID: keyID, Secret: secret})
	var got []string
	accounts := map[string]bool{}
	err := c.StreamActivities(ctx, alpaca.ActivityOptions{Since: base.Add(-time.Minute), Until: b.sim.Now()},
		func(a alpaca.Activity) error {
			accounts[a.AccountID] = true
			if a.AccountID != sweep {
				return nil
			}
			n, err := a.NetAmount()
			if err != nil {
				return err
			}
			got = append(got, a.ActivityType+" "+a.Status+" "+n.StringFixed(2))
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	want := []string{
		"CSD executed 50.00",
		"JNLC canceled -100.00", "JNLC correct -200.00",
		"JNLC executed -100.00", "JNLC executed -150.00", "JNLC executed -200.00", "JNLC executed -300.00",
	}
	if len(got) != len(want) {
		t.Fatalf("sweep activities %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("sweep activities %q, want %q", got, want)
		}
	}
	if !accounts[cust1] || !accounts[cust2] || !accounts[cust3] {
		t.Errorf("the customers' side of the journals is missing from the stream: %v", accounts)
	}
}

// A read that starts far back takes the event log a slice at a time: a window of more events than
// one slice still brings every activity in it, each once, and then ends.
func TestActivitiesAcrossSlices(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	const n = 500 // three events each: more than one slice of the log
	entries := make([]entry, n)
	for i := range entries {
		entries[i] = entry{ToAccount: cust1, Amount: "1.00"}
	}
	b.batch(t, 200, batchOf(entries...), "")
	b.sim.Advance(3 * time.Second)

	c := alpaca.NewClient(alpaca.Options{BaseURL: b.srv.URL, KeyID: keyID, Secret: secret})
	refs := map[string]int{}
	err := c.StreamActivities(context.Background(), alpaca.ActivityOptions{Since: base.Add(-time.Minute), Until: b.sim.Now()},
		func(a alpaca.Activity) error {
			if a.ActivityType == "JNLC" && a.Status == "executed" {
				refs[a.RefID]++
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != 2*n {
		t.Fatalf("%d executed JNLC activities, want %d (both sides of %d journals)", len(refs), 2*n, n)
	}
	for ref, k := range refs {
		if k != 1 {
			t.Fatalf("activity %s came %d times", ref, k)
		}
	}
}

package batch_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cashpool/cashpool/alpaca"
	"github.com/cashpool/cashpool/fixtures"
	"github.com/cashpool/cashpool/reconcile"
)

// nightOf plays date like nightBySteps, on whatever the drop folder holds now.
func nightOf(t *testing.T, b *bundle, date string) *reconcile.Report {
	t.Helper()
	trackedNight(t, b, date)
	out, err := b.runner.Reconcile(context.Background(), date)
	if err != nil {
		t.Fatal(err)
	}
	return out.Report
}

// dropSample copies one file of the sample night into the drop folder.
func dropSample(t *testing.T, b *bundle, name string) {
	t.Helper()
	data, err := fixtures.FS.ReadFile("drop/" + name)
	if err != nil {
		t.Fatal(err)
	}
	dropReady(t, b, name, string(data))
}

func keysOf(r *reconcile.Report) []string {
	var out []string
	for _, e := range r.Exceptions {
		out = append(out, exceptionKey(e))
	}
	slices.Sort(out)
	return out
}

// liveAmountsTo lists the amounts of the simulator's journals to account that did not fail.
func liveAmountsTo(b *bundle, account string) []string {
	var out []string
	for _, e := range b.sim.Ledger() {
		if e.ToAccount == account && !alpaca.Failed(e.Status) {
			out = append(out, e.Amount.StringFixed(2))
		}
	}
	return out
}

func sameKeys(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	slices.Sort(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("%s: exceptions\n%s\nwant\n%s", what, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// An allocation naming its receipt by the bank's reference before the statement carrying it
// arrived waits (information), is unmatched past the wait, and is funded, once, by the first night
// after the statement is loaded.
func TestAllocationByBankReferenceWaitsForItsStatement(t *testing.T) {
	t.Parallel()
	b := setup(t)
	emptyDrop(t, b)
	dropReady(t, b, "allocations-north-ridge.csv", "bank_reference,account_id,amount,weight,client_ref,description\n"+
		"CHS2611200007355,"+acct(33)+",,1,NRH-001,North Ridge Q4 distribution\n"+
		"CHS2611200007355,"+acct(34)+",,1,NRH-002,North Ridge Q4 distribution\n")

	r := nightOf(t, b, "2026-11-20")
	sameKeys(t, "before the statement", keysOf(r), "awaiting_receipt,,NRH-001,,", "awaiting_receipt,,NRH-002,,")
	if r.ExitCode() != 0 {
		t.Fatalf("exit code %d while the allocations wait, want 0", r.ExitCode())
	}
	if !strings.Contains(r.Exceptions[0].Reason, "no receipt carries bank reference CHS2611200007355 yet") {
		t.Fatalf("reason %q", r.Exceptions[0].Reason)
	}

	b.clock.Advance(4 * 24 * time.Hour) // past the 72h wait
	r = nightOf(t, b, "2026-11-24")
	sameKeys(t, "past the wait", keysOf(r), "unmatched_reference,,NRH-001,,", "unmatched_reference,,NRH-002,,")
	if r.ExitCode() != 3 {
		t.Fatalf("exit code %d with unmatched references, want 3", r.ExitCode())
	}
	if got := liveAmountsTo(b, acct(33)); len(got) != 0 {
		t.Fatalf("funded before its receipt arrived: %v", got)
	}

	dropSample(t, b, "camt054-20261120-0014.xml")
	r = nightOf(t, b, "2026-11-25")
	// Harbor Light's wire in the same notification has no allocations: unallocated.
	sameKeys(t, "after the statement", keysOf(r), "unallocated,uetr:9a4c2e71-5b3d-4f60-8c1e-2d7b6a9f0e53,,,")
	for _, a := range []string{acct(33), acct(34)} {
		if got := liveAmountsTo(b, a); strings.Join(got, " ") != "3200.00" {
			t.Fatalf("journals to %s at the broker: %v, want one of 3200.00", a, got)
		}
	}
	var receipt string
	if err := b.db.Get(&receipt, `SELECT DISTINCT receipt_id FROM journals`); err != nil {
		t.Fatal(err)
	}
	if receipt != "uetr:e27b4d90-1c8f-4a35-9b6e-5f0d3a7c2e18" {
		t.Fatalf("journals of receipt %q", receipt)
	}
}

// A bank reference two receipts carry funds neither and holds both until the allocation is named
// by receipt_id; then that receipt is funded with it, once, and the other is planned.
func TestAmbiguousBankReferenceHoldsUntilNamed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	emptyDrop(t, b)
	dropSample(t, b, "prevday-20261119.bai")
	dropSample(t, b, "camt053-20261120.xml")
	dropReady(t, b, "allocations-maple.csv", "bank_reference,account_id,amount,weight,client_ref,description\n"+
		"INV-20261120,"+acct(40)+",4750.00,,MSD-001,Maple Street invoice\n")
	const maple, orchard = "uetr:0b9f2c7d-4e1a-4d36-8f5b-7a2c9e1d6b34", "uetr:5c8e1a37-9d2f-4b60-a4e7-1f3b8c6d0a95"

	r := nightOf(t, b, "2026-11-20")
	got := keysOf(r)
	for _, want := range []string{"ambiguous_reference,,MSD-001,,", "held_receipt," + maple + ",,,", "held_receipt," + orchard + ",,,"} {
		if !slices.Contains(got, want) {
			t.Fatalf("no %s in\n%s", want, strings.Join(got, "\n"))
		}
	}
	if got := liveAmountsTo(b, acct(40)); len(got) != 0 {
		t.Fatalf("an ambiguous reference was funded: %v", got)
	}

	dropReady(t, b, "allocations-maple-fixed.csv", "receipt_id,account_id,amount,weight,client_ref,description\n"+
		maple+","+acct(40)+",4750.00,,MSD-001,Maple Street invoice\n")
	b.clock.Advance(24 * time.Hour)
	r = nightOf(t, b, "2026-11-23")
	sameKeys(t, "named by receipt_id", keysOf(r), "unallocated,"+orchard+",,,")
	if got := liveAmountsTo(b, acct(40)); strings.Join(got, " ") != "4750.00" {
		t.Fatalf("journals to the Maple Street account: %v, want one of 4750.00", got)
	}
}

// Across Thanksgiving (Thursday 2026-11-26) and the weekend after: each business night takes every
// receipt valued since the night before, and a receipt valued on a day the Fed is closed is flagged.
func TestNightsAcrossAHolidayTakeEverythingSinceTheLastBusinessDay(t *testing.T) {
	t.Parallel()
	b := setup(t)
	emptyDrop(t, b)
	receipts := "receipt_id,value_date,amount,currency,originator_name,originator_account,originator_bank,originator_address,reference\n"
	for _, r := range [][2]string{
		{"W-1125", "2026-11-25"}, {"W-1126", "2026-11-26"}, {"W-1127", "2026-11-27"},
		{"W-1128", "2026-11-28"}, {"W-1129", "2026-11-29"}, {"W-1130", "2026-11-30"},
	} {
		receipts += r[0] + "," + r[1] + ",100.00,USD,Quarry Hill Partners LP,021000021-5531,JPMorgan Chase Bank NA,\"1 Main St, Boston, MA 02108, US\",NOV\n"
	}
	allocations := "receipt_id,account_id,amount,weight,client_ref,description\n"
	for _, id := range []string{"W-1125", "W-1126", "W-1127", "W-1128", "W-1129", "W-1130"} {
		allocations += id + "," + acct(1) + ",100.00,,C-" + id + ",Funding\n"
	}
	dropReady(t, b, "receipts-thanksgiving.csv", receipts)
	dropReady(t, b, "allocations-thanksgiving.csv", allocations)

	// The business nights around Thanksgiving, by hand: Wednesday, Friday (the Fed is open the day
	// after Thanksgiving), Monday.
	for _, night := range []struct {
		date    string
		takes   []string
		flagged []string
	}{
		{"2026-11-25", []string{"W-1125"}, nil},
		{"2026-11-27", []string{"W-1126", "W-1127"}, []string{"W-1126"}},
		{"2026-11-30", []string{"W-1128", "W-1129", "W-1130"}, []string{"W-1128", "W-1129"}},
	} {
		r := nightOf(t, b, night.date)
		var took []string
		if err := b.db.Select(&took, `SELECT j.receipt_id FROM journals j JOIN runs r ON r.id = j.run_id
			WHERE r.business_date = $1 ORDER BY j.receipt_id`, night.date); err != nil {
			t.Fatal(err)
		}
		if strings.Join(took, " ") != strings.Join(night.takes, " ") {
			t.Fatalf("night %s took %v, want %v", night.date, took, night.takes)
		}
		var want []string
		for _, id := range night.flagged {
			want = append(want, "holiday_value_date,"+id+",,,")
		}
		sameKeys(t, "night "+night.date, keysOf(r), want...)
		if night.date == "2026-11-27" && !strings.Contains(r.Exceptions[0].Reason, "2026-11-26 (Thanksgiving Day)") {
			t.Fatalf("reason %q does not name the holiday", r.Exceptions[0].Reason)
		}
		if r.ExitCode() != 0 {
			t.Fatalf("night %s: exit code %d, want 0 (a holiday value date is information)", night.date, r.ExitCode())
		}
		b.clock.Advance(24 * time.Hour)
	}
}

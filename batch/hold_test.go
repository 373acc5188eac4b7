package batch_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/batch/ingest"
	"github.com/cashpool/cashpool/reconcile"
)

const (
	receiptsHeader    = "receipt_id,value_date,amount,currency,originator_name,originator_account,originator_bank,originator_address,reference\n"
	allocationsHeader = "receipt_id,account_id,amount,weight,client_ref,description\n"
)

func cust(n string) string { return "c0000000-0000-4000-8000-0000000000" + n }

// emptyDrop points the runner at a drop folder of the test's own.
func emptyDrop(t *testing.T, b *bundle) {
	b.drop = t.TempDir()
	b.runner.Config.DropDir = b.drop
}

func dropReady(t *testing.T, b *bundle, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(b.drop, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.drop, name+".ready"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// paid lists what the broker holds beyond the first skip journals, as "account=amount" (the
// account's last two digits), sorted: the simulator's books, not cashpool's.
func paid(b *bundle, skip int) []string {
	var out []string
	for _, e := range b.sim.Ledger()[skip:] {
		out = append(out, e.ToAccount[len(e.ToAccount)-2:]+"="+e.Amount.StringFixed(2)+":"+e.Status)
	}
	sort.Strings(out)
	return out
}

func findException(r *reconcile.Report, kind string) (reconcile.Exception, bool) {
	for _, e := range r.Exceptions {
		if e.Kind == kind {
			return e, true
		}
	}
	return reconcile.Exception{}, false
}

// R1 (100.00) has allocations in two files; one of them is refused. R1 must not be paid that
// night on the other file's weights alone (they would take all of it: 50.00 + 50.00); it is held
// and reported with the file. The corrected file then loads, and the next night pays R1 on the
// full set. Hand-computed: 10.01 to B2 first, then 89.99 in thirds over A1, A2, B1 = 29.99 each
// with 2 cents left, to the bytewise lowest refs A1 and A2: 30.00, 30.00, 29.99.
func TestReceiptHeldWhileAnAllocationsFileNamingItIsRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	emptyDrop(t, b)
	ctx := context.Background()
	dropReady(t, b, "receipts-1.csv", receiptsHeader+
		"R1,2026-11-20,100.00,USD,Orig,ACC1,Bank,Addr,r1\nR2,2026-11-20,50.00,USD,Orig,ACC1,Bank,Addr,r2\n")
	dropReady(t, b, "allocations-a.csv", allocationsHeader+
		"R1,"+cust("01")+",,1,A1,d\nR1,"+cust("02")+",,1,A2,d\nR2,"+cust("03")+",50.00,,C1,d\n")
	dropReady(t, b, "allocations-b.csv", allocationsHeader+
		"R1,"+cust("04")+",,1,B1,d\nR1,"+cust("05")+",\"10,01\",,B2,d\n") // a decimal comma: refused

	first, err := b.runner.Run(ctx, "2026-11-20")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(paid(b, 0), " "); got != "03=50.00:executed" {
		t.Fatalf("first night paid %s, want only R2's 50.00 to account 03", got)
	}
	held, ok := findException(first.Report, reconcile.KindHeldReceipt)
	if !ok || held.ReceiptID != "R1" || held.File != "allocations-b.csv" || !held.Amount.Equal(decimal.RequireFromString("100.00")) ||
		!strings.Contains(held.NextAction, "replace allocations-b.csv with a corrected file") ||
		!strings.Contains(held.NextAction, "the next night planned takes the receipt") {
		t.Fatalf("held receipt exception %+v (found %v)", held, ok)
	}
	if first.Report.ExitCode() != 3 {
		t.Fatalf("exit %d, want 3", first.Report.ExitCode())
	}
	if !first.Report.Totals.Balanced || !first.Report.Totals.Receipts.Equal(decimal.RequireFromString("50.00")) {
		t.Fatalf("first night's totals %+v: R1 is not this run's", first.Report.Totals)
	}

	// The corrected file, under the same name, loads; the night already run is not planned again,
	// and the next night plans R1 with all four.
	dropReady(t, b, "allocations-b.csv", allocationsHeader+
		"R1,"+cust("04")+",,1,B1,d\nR1,"+cust("05")+",10.01,,B2,d\n")
	if _, err := b.runner.Run(ctx, "2026-11-20"); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(paid(b, 0), " "); got != "03=50.00:executed" {
		t.Fatalf("the night already run, run again, paid %s, want still only R2's 50.00", got)
	}
	b.clock.Advance(24 * time.Hour)
	before := len(b.sim.Ledger())
	second, err := b.runner.Run(ctx, "2026-11-21")
	if err != nil {
		t.Fatal(err)
	}
	want := "01=30.00:executed 02=30.00:executed 04=29.99:executed 05=10.01:executed"
	if got := strings.Join(paid(b, before), " "); got != want {
		t.Fatalf("second night paid %s, want %s", got, want)
	}
	if code := second.Report.ExitCode(); code != 0 {
		t.Fatalf("second night exit %d, exceptions %+v", code, second.Report.Exceptions)
	}
	checkBrokerLedger(t, b)
}

// A refused allocations file whose receipt ids cannot be read could name any receipt: nothing is
// planned that night, and the report says why. Once an operator releases it, the next night plans
// everything.
func TestUnreadableRefusedAllocationsFileHoldsTheNight(t *testing.T) {
	t.Parallel()
	b := setup(t)
	emptyDrop(t, b)
	ctx := context.Background()
	dropReady(t, b, "receipts-1.csv", receiptsHeader+
		"R1,2026-11-20,100.00,USD,Orig,ACC1,Bank,Addr,r1\nR2,2026-11-20,50.00,USD,Orig,ACC1,Bank,Addr,r2\n")
	dropReady(t, b, "allocations-a.csv", allocationsHeader+
		"R1,"+cust("01")+",,1,A1,d\nR1,"+cust("02")+",,1,A2,d\nR2,"+cust("03")+",50.00,,C1,d\n")
	dropReady(t, b, "allocations-x.csv", "\xff\xfer\x00e\x00c\x00") // UTF-16: refused, and unreadable

	first, err := b.runner.Run(ctx, "2026-11-20")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(b.sim.Ledger()); n != 0 {
		t.Fatalf("the broker holds %d journals of a held night", n)
	}
	night, ok := findException(first.Report, reconcile.KindHeldNight)
	if !ok || night.File != "allocations-x.csv" || !strings.Contains(night.Reason, "cannot be read") ||
		!strings.Contains(night.NextAction, "cashpool release --file allocations-x.csv") {
		t.Fatalf("held night exception %+v (found %v)", night, ok)
	}
	if first.Report.ExitCode() != 3 || first.Report.Totals.Journals != 0 {
		t.Fatalf("exit %d, %d journals", first.Report.ExitCode(), first.Report.Totals.Journals)
	}

	n, err := ingest.Release(ctx, b.db, "allocations-x.csv", "sent again as allocations-a.csv", b.clock.Now())
	if err != nil || n != 1 {
		t.Fatalf("release: %d, %v", n, err)
	}
	b.clock.Advance(24 * time.Hour)
	second, err := b.runner.Run(ctx, "2026-11-21")
	if err != nil {
		t.Fatal(err)
	}
	want := "01=50.00:executed 02=50.00:executed 03=50.00:executed"
	if got := strings.Join(paid(b, 0), " "); got != want {
		t.Fatalf("after release paid %s, want %s", got, want)
	}
	if code := second.Report.ExitCode(); code != 0 {
		t.Fatalf("second night exit %d, exceptions %+v", code, second.Report.Exceptions)
	}
}

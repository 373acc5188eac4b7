package batch_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cashpool/cashpool/reconcile"
)

// A rewards file names no receipt, so neither a refused one nor one still being written may hold
// the cash night the way an allocations file does (its receipt ids unreadable: the whole night).
// Here one is refused for a bad qty, one is refused as UTF-16, and one is still being written
// (no marker, seen for the first time); R1 is paid all the same, and only the refusals are
// reported.
func TestRewardsFilesDoNotHoldTheCashNight(t *testing.T) {
	t.Parallel()
	b := setup(t)
	emptyDrop(t, b)
	dropReady(t, b, "receipts-1.csv", receiptsHeader+"R1,2026-11-20,100.00,USD,Orig,ACC1,Bank,Addr,r1\n")
	dropReady(t, b, "allocations-a.csv", allocationsHeader+"R1,"+cust("01")+",100.00,,A1,d\n")
	dropReady(t, b, "rewards-bad.csv", "reward_id,account_id,symbol,qty,reason,description\n"+
		"RW-1,"+cust("02")+",AAPL,-1,sign_up,\n")
	dropReady(t, b, "rewards-utf16.csv", "\xff\xfer\x00e\x00w\x00")
	if err := os.WriteFile(filepath.Join(b.drop, "rewards-slow.csv"), []byte("reward_id,account_id,sym"), 0o644); err != nil {
		t.Fatal(err)
	}

	out, err := b.runner.Run(context.Background(), "2026-11-20")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(paid(b, 0), " "); got != "01=100.00:executed" {
		t.Fatalf("paid %s, want R1's 100.00 to account 01", got)
	}
	var refused []string
	for _, e := range out.Report.Exceptions {
		switch e.Kind {
		case reconcile.KindHeldNight, reconcile.KindHeldReceipt:
			t.Fatalf("a rewards file holds the cash night: %+v", e)
		case reconcile.KindRejectedFile:
			refused = append(refused, e.File)
		}
	}
	if got := strings.Join(refused, " "); got != "rewards-bad.csv rewards-utf16.csv" {
		t.Fatalf("refused files reported: %q", got)
	}
}

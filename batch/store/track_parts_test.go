package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/batch/store"
)

// TestClaimTrackPartsShares: the run's holder claims every free part; each tracker that joins takes
// its fair share (ceil(parts / live trackers)) from those holding more; a part whose lease ran out
// goes to the next claimer; a part taken commits nothing more for its old holder; closed parts are
// claimed by no one. The shares are written out by hand.
func TestClaimTrackPartsShares(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	claim := func(holder string, lease time.Duration, all bool) []int {
		t.Helper()
		c, err := store.ClaimTrackParts(ctx, f.db, f.runID, holder, lease, all)
		must(t, err)
		if c.Closed {
			t.Fatalf("%s: parts closed", holder)
		}
		return c.Mine
	}
	if c, err := store.ClaimTrackParts(ctx, f.db, f.runID, "w1", time.Minute, false); err != nil || c.Started || len(c.Mine) > 0 {
		t.Fatalf("before the parts exist: %+v %v", c, err)
	}
	must(t, store.OpenTrackParts(ctx, f.db, f.runID, 8))
	must(t, store.OpenTrackParts(ctx, f.db, f.runID, 8)) // idempotent

	if got := claim("run", time.Minute, true); !slices.Equal(got, []int{0, 1, 2, 3, 4, 5, 6, 7}) {
		t.Fatalf("the holder alone: %v", got)
	}
	if got := claim("w1", time.Minute, false); !slices.Equal(got, []int{4, 5, 6, 7}) {
		t.Fatalf("a first worker: %v, want the holder's upper half", got)
	}
	if got := claim("run", time.Minute, true); !slices.Equal(got, []int{0, 1, 2, 3}) {
		t.Fatalf("the holder renewing: %v", got)
	}
	if got := claim("w2", time.Minute, false); len(got) != 2 {
		t.Fatalf("a second worker: %v, want 2 (3 each at most: the others keep 3)", got)
	}
	holds := map[string]int{}
	var rows []struct {
		Holder string `db:"holder"`
	}
	must(t, f.db.Select(&rows, `SELECT holder FROM track_parts WHERE run_id = $1`, f.runID))
	for _, r := range rows {
		holds[r.Holder]++
	}
	if holds["run"] != 3 || holds["w1"] != 3 || holds["w2"] != 2 {
		t.Fatalf("holders %v, want run 3, w1 3, w2 2", holds)
	}

	// w1 stops renewing: once its leases ran out the holder takes its parts.
	w1 := claim("w1", time.Millisecond, false)
	deadline := time.Now().Add(10 * time.Second)
	for {
		var expired bool
		must(t, f.db.Get(&expired, `SELECT bool_and(lease_until <= now()) FROM track_parts WHERE run_id = $1 AND holder = 'w1'`, f.runID))
		if expired {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("w1's leases never ran out")
		}
	}
	got := claim("run", time.Minute, true)
	for _, p := range w1 {
		if !slices.Contains(got, p) {
			t.Errorf("the holder holds %v, not w1's expired part %d", got, p)
		}
	}
	tx, err := f.db.Beginx()
	must(t, err)
	kept, err := store.AdvanceTrackParts(ctx, tx, f.runID, "w1", w1, "01KJ0000000000000000000000", -1, decimal.Zero)
	must(t, err)
	must(t, tx.Rollback())
	if len(kept) != 0 {
		t.Errorf("w1 still applies parts %v it lost", kept)
	}

	must(t, store.CloseTrackParts(ctx, f.db, f.runID))
	if c, err := store.ClaimTrackParts(ctx, f.db, f.runID, "w3", time.Minute, false); err != nil || !c.Closed || len(c.Mine) > 0 {
		t.Fatalf("after closing: %+v %v", c, err)
	}
	must(t, store.OpenTrackParts(ctx, f.db, f.runID, 8)) // tracked again
	if got := claim("run", time.Minute, true); len(got) != 8 {
		t.Fatalf("reopened: the holder claims %v", got)
	}
}

package alpaca_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cashpool/cashpool/alpaca"
	"github.com/cashpool/cashpool/alpaca/sandbox"
)

// pagedNight books, over three days, journals in several statuses to both customers: day one 8
// (executed by day three), day two 3 (executed), day three 6 under the journal limit (queued) and
// 7 over it (pending), split between the two customers. It returns the simulator's own list of what it holds.
func pagedNight(t *testing.T, sim *sandbox.Server, c *alpaca.Client, clk *simClock) []sandbox.LedgerEntry {
	t.Helper()
	ctx := context.Background()
	post := func(day, n int, amount string) {
		var entries []alpaca.BatchEntry
		for i := range n {
			entries = append(entries, alpaca.BatchEntry{ToAccount: customer([]string{"01", "02"}[i%2]), Amount: amount})
		}
		key := fmt.Sprintf("0b5c8a5e-8f0a-4c1e-9a63-%012d", day*100+n)
		if _, err := c.CreateBatch(ctx, key, batchBody(t, entries...)); err != nil {
			t.Fatal(err)
		}
	}
	post(1, 8, "1.00")
	clk.Sleep(ctx, 24*time.Hour)
	post(2, 3, "1.00")
	clk.Sleep(ctx, 24*time.Hour)
	post(3, 6, "1.00")
	post(3, 7, "2000.00") // over the journal limit: pending
	return sim.Ledger()
}

// collect lists with EachJournalPaged and counts each journal it was handed.
func collect(t *testing.T, c *alpaca.Client, f alpaca.ListFilter, n alpaca.Narrow) (map[string]int, error) {
	t.Helper()
	got := map[string]int{}
	err := alpaca.EachJournalPaged(context.Background(), c, f, n, func(j alpaca.Journal) error {
		got[j.ID]++
		return nil
	})
	return got, err
}

// A window over the list limit is split by date, a day over it by status, a day and status over
// it by to_account: every journal the simulator holds comes back exactly once, and no call asks
// for more than the limit.
func TestPagedListCoversEveryJournalUnderTheLimit(t *testing.T) {
	t.Parallel()
	sim, c, clk := newSim(t, sandbox.Options{MaxListResults: 4})
	ledger := pagedNight(t, sim, c, clk)
	got, err := collect(t, c, alpaca.ListFilter{FromAccount: sweep, After: "2026-11-19", Before: "2026-11-23"},
		alpaca.Narrow{Statuses: alpaca.Statuses, ToAccounts: []string{customer("01"), customer("02")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(ledger) || len(ledger) != 24 {
		t.Fatalf("listed %d journals, the simulator holds %d (want 24)", len(got), len(ledger))
	}
	for _, e := range ledger {
		if got[e.ID] != 1 {
			t.Errorf("journal %s (%s, %s) listed %d times", e.ID, e.Status, e.CreatedAt.Format(time.DateOnly), got[e.ID])
		}
	}
}

// Where every narrowing is spent and a window is still over the limit, the error names that
// window; every other window was still listed.
func TestPagedListNamesTheWindowsItCannotCover(t *testing.T) {
	t.Parallel()
	sim, c, clk := newSim(t, sandbox.Options{MaxListResults: 4})
	ledger := pagedNight(t, sim, c, clk)
	got, err := collect(t, c, alpaca.ListFilter{FromAccount: sweep, After: "2026-11-20", Before: "2026-11-22"},
		alpaca.Narrow{Statuses: alpaca.Statuses})
	var werrs []alpaca.ListFilter
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var w *alpaca.WindowError
		if !errors.As(e, &w) {
			t.Fatalf("error %v is not a window", e)
		}
		werrs = append(werrs, w.Filter)
	}
	want := []alpaca.ListFilter{
		{FromAccount: sweep, After: "2026-11-20", Before: "2026-11-20", Status: "executed"},
		{FromAccount: sweep, After: "2026-11-22", Before: "2026-11-22", Status: "pending"},
		{FromAccount: sweep, After: "2026-11-22", Before: "2026-11-22", Status: "queued"},
	}
	if !errors.Is(err, alpaca.ErrWindowTooLarge) || len(werrs) != 3 {
		t.Fatalf("err %v; want the three windows over the limit", err)
	}
	for _, w := range want {
		if !slices.Contains(werrs, w) {
			t.Errorf("window %s not named in %v", w, err)
		}
	}
	if len(got) != 3 {
		t.Fatalf("listed %d journals, want the 3 of the day under the limit", len(got))
	}
	for _, e := range ledger {
		if e.CreatedAt.Format(time.DateOnly) == "2026-11-21" && got[e.ID] != 1 {
			t.Errorf("journal %s of the day under the limit listed %d times", e.ID, got[e.ID])
		}
	}
}

// A paged list never pages with limit and never runs without a window of dates, or an inverted one.
func TestPagedListRefusesLimitAndOpenWindows(t *testing.T) {
	t.Parallel()
	_, c, _ := newSim(t, sandbox.Options{})
	for _, f := range []alpaca.ListFilter{
		{After: "2026-11-20", Before: "2026-11-21", Limit: 10},
		{Before: "2026-11-21"},
		{After: "2026-11-20"},
		{After: "2026-11-21", Before: "2026-11-20"},
	} {
		if _, err := collect(t, c, f, alpaca.Narrow{}); err == nil {
			t.Errorf("%s limit %d: no error", f, f.Limit)
		}
	}
}

package track_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cashpool/cashpool/alpaca"
	"github.com/cashpool/cashpool/alpaca/sandbox"
	"github.com/cashpool/cashpool/batch/track"
)

// listLimit lowers the simulator's list limit (Alpaca's is 100,000) so a test crosses it with a
// few dozen journals; Alpaca's behaviour is otherwise the same.
func listLimit(n int) func(*sandbox.Options) {
	return func(o *sandbox.Options) { o.MaxListResults = n }
}

// status reads one journal's status by Alpaca's id.
func (b *bundle) status(t *testing.T, alpacaID string) string {
	t.Helper()
	var s string
	if err := b.db.Get(&s, `SELECT status FROM journals WHERE alpaca_id = $1`, alpacaID); err != nil {
		t.Fatal(err)
	}
	return s
}

// Two nights hold more journals than Alpaca lists in one answer, one day alone too: the watch still
// finds the reversal of a funded journal on each night, and the late execution of a journal it
// held as open, instead of giving up on the list.
func TestWatchFindsReversalsAmongMoreJournalsThanTheListLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Faults{}, nil, listLimit(50))
	first := b.post(t, 40, true, "night one")
	b.sim.Advance(24 * time.Hour)
	second := b.post(t, 40, true, "night two")
	b.post(t, 30, false, "another client's journals")
	b.sim.Advance(10 * time.Second) // every journal executes
	// As tracking left them: funded, except one that was still queued when tracking stopped.
	if _, err := b.db.Exec(`UPDATE journals SET status = 'executed'`); err != nil {
		t.Fatal(err)
	}
	if _, err := b.db.Exec(`UPDATE journals SET status = 'queued' WHERE alpaca_id = $1`, second[7]); err != nil {
		t.Fatal(err)
	}
	b.admin(t, "/sandbox/v1/journals/"+first[3]+"/reverse", "")
	b.admin(t, "/sandbox/v1/journals/"+second[11]+"/reverse", "")

	n, err := track.Watch(context.Background(), b.db, b.client, sweep, "", base.AddDate(0, 0, -1), b.sim.Now())
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	if n != 3 {
		t.Errorf("watch applied %d changes, want 3", n)
	}
	for id, want := range map[string]string{first[3]: "canceled", second[11]: "canceled", second[7]: "executed", first[4]: "executed"} {
		if got := b.status(t, id); got != want {
			t.Errorf("journal %s is %s, want %s", id, got, want)
		}
	}
	var watched int
	if err := b.db.Get(&watched, `SELECT count(*) FROM journal_history WHERE source = 'watch'`); err != nil || watched != 3 {
		t.Errorf("history rows from the watch: %d (%v), want 3", watched, err)
	}
}

// A single day with more reversals than Alpaca lists at once, and nothing documented to narrow it:
// the watch fails and names the window, rather than skipping the check.
func TestWatchFailsOnAWindowItCannotList(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Faults{}, nil, listLimit(5))
	ids := b.post(t, 8, true, "night")
	b.sim.Advance(10 * time.Second)
	if _, err := b.db.Exec(`UPDATE journals SET status = 'executed'`); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids[:6] {
		b.admin(t, "/sandbox/v1/journals/"+id+"/reverse", "")
	}
	n, err := track.Watch(context.Background(), b.db, b.client, sweep, "", base.AddDate(0, 0, -1), b.sim.Now())
	var werr *alpaca.WindowError
	if !errors.Is(err, alpaca.ErrWindowTooLarge) || !errors.As(err, &werr) {
		t.Fatalf("watch: %d, %v; want an error naming the window", n, err)
	}
	day := base.Format(time.DateOnly)
	if werr.Filter.Status != "canceled" || werr.Filter.After != day || werr.Filter.Before != day ||
		!strings.Contains(err.Error(), "status=canceled") {
		t.Fatalf("the error names %+v (%v), want the canceled journals of %s", werr.Filter, err, day)
	}
}

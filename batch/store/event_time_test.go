package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/cashpool/cashpool/batch/store"
)

// Each move MoveByEvents makes records its event's time on its history row as PostgreSQL reads
// that time written out in full (the oracle): times of any date, with nanoseconds to round, in any
// zone. (The statement takes times as microseconds, not as text.)
func TestMoveByEventsKeepsEachEventsTime(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	seq := 0
	rapid.Check(t, func(rt *rapid.T) {
		n := rapid.IntRange(1, 5).Draw(rt, "events")
		evs := make([]store.EventMove, n)
		ids := make([]int64, n)
		for i := range evs {
			j := f.answered(t, "queued", "")
			ids[i] = j.id
			nanos := rapid.IntRange(0, 999_999_999).Filter(func(ns int) bool { return ns%1000 != 500 }).Draw(rt, "nanos") // a tie is the text parser's own
			at := time.Unix(rapid.Int64Range(-2_000_000_000, 4_000_000_000).Draw(rt, "seconds"), int64(nanos)).
				In(time.FixedZone("", rapid.IntRange(-12, 14).Draw(rt, "zone")*3600))
			seq++
			evs[i] = store.EventMove{AlpacaID: j.alpaca, From: "queued", To: "pending", At: at, EventID: fmt.Sprintf("01KJR%021d", seq)}
		}
		moved, err := store.MoveByEvents(ctx, f.db, evs, "sse", now)
		if err != nil || len(moved) != n {
			rt.Fatalf("moved %d of %d: %v", len(moved), n, err)
		}
		for i, e := range evs {
			var same bool
			var got, want string
			must(t, f.db.QueryRow(`SELECT h.at = $2::text::timestamptz, h.at::text, $2::text::timestamptz::text FROM journal_history h WHERE h.journal_id = $1`,
				ids[i], e.At.Format(time.RFC3339Nano)).Scan(&same, &got, &want))
			if !same {
				rt.Fatalf("event at %s: history says %s, PostgreSQL reads %s", e.At.Format(time.RFC3339Nano), got, want)
			}
		}
	})
}

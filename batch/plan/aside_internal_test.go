package plan

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cashpool/cashpool/batch/schema/schematest"
)

// receiptsAside walks plan_receipts as plan_rows names receipts: it passes over a receipt loaded
// between the two cursors (one plan_rows does not hold), reads on across fetches, and refuses a
// receipt plan_receipts does not hold rather than give a row another receipt's originator. The
// oracle is the cursor's own text: receipt i's originator is "name i".
func TestReceiptsAsideFollowsThePlansReceipts(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := schematest.DB(t)
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	// 12,000 receipts R00001..R12000 (more than two fetches), in the cursor's byte order.
	if _, err := tx.ExecContext(ctx, `DECLARE plan_receipts NO SCROLL CURSOR FOR
		SELECT * FROM (SELECT 'R' || lpad(g::text, 5, '0') AS id, 'name ' || g, 'acct ' || g, 'bank ' || g, 'addr ' || g
		FROM generate_series(1, 12000) g) s ORDER BY id COLLATE "C"`); err != nil {
		t.Fatal(err)
	}
	var a receiptsAside
	id := func(g int) string { return fmt.Sprintf("R%05d", g) }
	// Every third receipt is one plan_rows does not hold: seek passes over it.
	for g := 1; g <= 12000; g++ {
		if g%3 == 0 {
			continue
		}
		if err := a.seek(ctx, tx, id(g)); err != nil {
			t.Fatalf("seek %s: %v", id(g), err)
		}
		if want := fmt.Sprintf("name %d", g); a.last.id != id(g) || a.last.name != want || a.last.address != fmt.Sprintf("addr %d", g) {
			t.Fatalf("seek %s: got %+v, want %s's originator", id(g), a.last, id(g))
		}
	}
	if err := a.seek(ctx, tx, "R12001"); err == nil || !strings.Contains(err.Error(), "R12001") {
		t.Fatalf("seek past the last receipt: %v, want an error naming it", err)
	}

	// A receipt between two that plan_receipts holds, but not itself held: refused.
	var b receiptsAside
	if _, err := tx.ExecContext(ctx, `CLOSE plan_receipts; DECLARE plan_receipts NO SCROLL CURSOR FOR
		SELECT * FROM (VALUES ('A', 'a', '', '', ''), ('C', 'c', '', '', '')) v ORDER BY column1 COLLATE "C"`); err != nil {
		t.Fatal(err)
	}
	if err := b.seek(ctx, tx, "A"); err != nil || b.last.name != "a" {
		t.Fatalf("seek A: %v %+v", err, b.last)
	}
	if err := b.seek(ctx, tx, "B"); err == nil || !strings.Contains(err.Error(), "receipt B ") {
		t.Fatalf("seek B, which plan_receipts does not hold: %v, want an error naming it", err)
	}
}

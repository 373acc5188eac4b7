package reconcile

import (
	"database/sql"
	"fmt"
	"reflect"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/batch/schema/schematest"
)

// A report's reads run on several connections: each must see the snapshot the report exported,
// not one of its own, or totals taken while the tracker commits would not balance.
func TestReportReadsSeeTheExportedSnapshot(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := schematest.DB(t)
	if _, err := db.ExecContext(ctx, `CREATE TABLE probe (n int); INSERT INTO probe VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	tx, err := db.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var exported string
	if err := tx.GetContext(ctx, &exported, `SELECT pg_export_snapshot()`); err != nil {
		t.Fatal(err)
	}
	// A commit after the export: the report must not see it.
	if _, err := db.ExecContext(ctx, `INSERT INTO probe VALUES (2)`); err != nil {
		t.Fatal(err)
	}
	rtx, err := snapshotTx(ctx, db, exported)
	if err != nil {
		t.Fatal(err)
	}
	defer rtx.Rollback()
	var seen, now int
	if err := rtx.GetContext(ctx, &seen, `SELECT count(*) FROM probe`); err != nil {
		t.Fatal(err)
	}
	if err := db.GetContext(ctx, &now, `SELECT count(*) FROM probe`); err != nil {
		t.Fatal(err)
	}
	if seen != 1 || now != 2 {
		t.Fatalf("the read saw %d rows and the table holds %d: want 1 (the exported snapshot) and 2", seen, now)
	}
}

// Each of a report's reads fills a part of its own; add must carry every figure a part can hold
// into the report, or a field added to Totals later would be read and silently dropped. The part
// here has every field set (by reflection, so a new field is set too); added to an empty report it
// must come out whole. Balanced, Problems and Exceptions are the report's own, set after the reads.
func TestReportAddsEveryFigureOfAPart(t *testing.T) {
	t.Parallel()
	var p Report
	v := reflect.ValueOf(&p.Totals).Elem()
	own := map[string]bool{"Balanced": true, "Problems": true, "Exceptions": true}
	for i := 0; i < v.NumField(); i++ {
		f, name := v.Field(i), v.Type().Field(i).Name
		if own[name] {
			continue
		}
		switch f.Interface().(type) {
		case decimal.Decimal:
			f.Set(reflect.ValueOf(decimal.New(int64(i+1), -2)))
		case int:
			f.SetInt(int64(i + 1))
		case []RewardTotals:
			f.Set(reflect.ValueOf([]RewardTotals{{Symbol: "AAPL"}}))
		default:
			t.Fatalf("Totals.%s is a %s: teach this test, and Report.add, to carry it", name, f.Type())
		}
	}
	p.Exceptions = []Exception{{Kind: KindFailed, ReceiptID: "R1"}}
	p.Sweep = &Sweep{}
	var r Report
	r.add(&p)
	if got, want := fmt.Sprintf("%+v", r.Totals), fmt.Sprintf("%+v", p.Totals); got != want {
		t.Errorf("totals after add\n got %s\nwant %s", got, want)
	}
	if len(r.Exceptions) != 1 || r.Exceptions[0].ReceiptID != "R1" || r.Sweep != p.Sweep {
		t.Errorf("exceptions %+v, sweep %p: want the part's (%p)", r.Exceptions, r.Sweep, p.Sweep)
	}
}

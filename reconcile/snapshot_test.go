package reconcile

import (
	"database/sql"
	"testing"

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

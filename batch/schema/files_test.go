package schema_test

import (
	"strings"
	"testing"

	"github.com/cashpool/cashpool/batch/schema/schematest"
)

// Ingest COPYs a million rows into allocations in a night: no check may run once per inserted row
// there or in receipts (a foreign key's is a trigger query per row, almost half the load's time).
func TestIngestTablesHaveNoPerRowInsertTriggers(t *testing.T) {
	t.Parallel()
	db := schematest.DB(t)
	var names []string
	// tgtype bits: 1 a row trigger, 4 fired on INSERT.
	if err := db.Select(&names, `SELECT tgrelid::regclass || ': ' || tgname FROM pg_trigger
		WHERE tgrelid IN ('allocations'::regclass, 'receipts'::regclass) AND tgtype & 1 = 1 AND tgtype & 4 = 4
		ORDER BY 1`); err != nil {
		t.Fatal(err)
	}
	if len(names) > 0 {
		t.Fatalf("per-row insert triggers: %s", strings.Join(names, ", "))
	}
}

// Every receipt and allocation names a recorded file, and a loaded file's row is kept.
func TestRowsNeedTheirFile(t *testing.T) {
	t.Parallel()
	db := schematest.DB(t)
	mustExec(t, db.DB, `INSERT INTO files (id,sha256,name,kind,status,received_at) VALUES
		(1,'a','a.csv','receipts','loaded',now()), (2,'b','b.csv','allocations','rejected',now())`)
	mustExec(t, db.DB, `INSERT INTO receipts VALUES ('R1',1,2,'2026-11-24',10,'USD','n','a','b','c','r')`)
	mustExec(t, db.DB, `INSERT INTO allocations (file_id,line,receipt_id,account_id,amount,client_ref,description)
		VALUES (1,2,'R1','8e00a1b2-0000-4000-8000-000000000001',10,'c1','')`)
	for _, q := range []string{
		`INSERT INTO receipts VALUES ('R2',1,3,'2026-11-24',10,'USD','n','a','b','c','r'), ('R3',9,2,'2026-11-24',10,'USD','n','a','b','c','r')`,
		`INSERT INTO allocations (file_id,line,receipt_id,account_id,amount,client_ref,description)
			SELECT f, 2, 'R1', '8e00a1b2-0000-4000-8000-000000000001', 10, 'c' || f, '' FROM unnest(ARRAY[1, 7]) AS f`,
		`DELETE FROM files WHERE id = 1`,
	} {
		if _, err := db.Exec(q); err == nil {
			t.Fatalf("%s succeeded, want refusal", q)
		}
	}
	mustExec(t, db.DB, `DELETE FROM files WHERE id = 2`)
	var n int
	if err := db.Get(&n, `SELECT (SELECT count(*) FROM receipts) + (SELECT count(*) FROM allocations)`); err != nil || n != 2 {
		t.Fatalf("%d rows (%v), want the first receipt and allocation only", n, err)
	}
}

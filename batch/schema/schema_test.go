package schema_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/cashpool/cashpool/batch/schema"
	"github.com/cashpool/cashpool/batch/schema/schematest"
)

func TestMain(m *testing.M) { schematest.Main(m) }

func TestMigrateIsIdempotent(t *testing.T) {
	t.Parallel()
	db := schematest.DB(t)
	n, err := schema.Migrate(context.Background(), db.DB)
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("second migrate applied %d migrations, want 0", n)
	}
}

func TestJournalHistoryIsAppendOnly(t *testing.T) {
	t.Parallel()
	db := schematest.DB(t)
	// The trigger refuses updates and deletes even of rows that do not exist yet at statement level;
	// insert a minimal chain of rows first.
	mustExec(t, db.DB, `INSERT INTO files (sha256,name,kind,status,received_at) VALUES ('x','a.csv','receipts','loaded',now())`)
	mustExec(t, db.DB, `INSERT INTO receipts VALUES ('R1',1,2,'2026-11-24',10,'USD','n','a','b','c','r')`)
	mustExec(t, db.DB, `INSERT INTO allocations (file_id,line,receipt_id,account_id,amount,client_ref,description) VALUES (1,2,'R1','8e00a1b2-0000-4000-8000-000000000001',10,'c1','')`)
	mustExec(t, db.DB, `INSERT INTO runs (business_date,sweep_account,status,planned_at) VALUES ('2026-11-24','8e00a1b2-0000-4000-8000-000000000000','planned',now())`)
	mustExec(t, db.DB, `INSERT INTO journals (run_id,journal_key,allocation_id,receipt_id,client_ref,to_account,amount,description,updated_at)
		VALUES (1,'8e00a1b2-0000-4000-8000-0000000000aa',1,'R1','c1','8e00a1b2-0000-4000-8000-000000000001',10,'',now())`)
	mustExec(t, db.DB, `INSERT INTO journal_history (journal_id,status_from,status_to,source,at) VALUES (1,'','planned','plan',now())`)
	if _, err := db.Exec(`UPDATE journal_history SET status_to='executed'`); err == nil {
		t.Fatal("UPDATE of journal_history succeeded, want refusal")
	}
	if _, err := db.Exec(`DELETE FROM journal_history`); err == nil {
		t.Fatal("DELETE of journal_history succeeded, want refusal")
	}
}

func mustExec(t *testing.T, db *sql.DB, q string) {
	t.Helper()
	if _, err := db.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

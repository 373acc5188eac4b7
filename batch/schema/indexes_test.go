package schema_test

import (
	"slices"
	"testing"

	"github.com/cashpool/cashpool/batch/schema/schematest"
)

// TestNightTablesIndexes: the night's tables carry exactly the indexes README's table of them
// names, each needed by a query or an invariant; every other index costs a write per row.
func TestNightTablesIndexes(t *testing.T) {
	t.Parallel()
	db := schematest.DB(t)
	want := []string{
		"batches.batches_idempotency_key_key",
		"batches.batches_pkey",
		"batches.batches_run_id_seq_key",
		"batches.batches_to_send",
		"journal_answers.journal_answers_pkey",
		"journal_history.journal_history_late",
		"journal_history.journal_history_pkey",
		"journals.journals_allocation_id_attempt_key",
		"journals.journals_journal_key_key",
		"journals.journals_pkey",
		"journals.journals_reward_attempt",
		"journals.journals_run_batch",
	}
	var got []string
	if err := db.Select(&got, `SELECT tablename || '.' || indexname FROM pg_indexes
		WHERE schemaname = current_schema() AND tablename IN ('batches', 'journals', 'journal_answers', 'journal_history')
		ORDER BY 1`); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("indexes of the night's tables:\n got %v\nwant %v", got, want)
	}
}

// TestJournalsColumns: a journal row carries its intent, Alpaca's answer and where it stands, and
// nothing its receipt already holds (the transmitter is the receipt's, read when it is redriven):
// every byte of it is written once per journal.
func TestJournalsColumns(t *testing.T) {
	t.Parallel()
	db := schematest.DB(t)
	want := []string{"id", "run_id", "batch_id", "journal_key", "allocation_id", "attempt", "receipt_id", "client_ref",
		"to_account", "amount", "description", "expected_pending", "alpaca_id", "status", "status_unknown",
		"error_message", "updated_at", "last_event_id", "entry_type", "reward_id", "symbol", "qty"}
	var got []string
	if err := db.Select(&got, `SELECT column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = 'journals' ORDER BY ordinal_position`); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("columns of journals:\n got %v\nwant %v", got, want)
	}
}

-- +goose Up

-- A journal's status changes several times a night. No index names a column that changes after
-- the answer (status, status_unknown, error_message, updated_at), and half of each new page is
-- left free, so those updates stay HOT: the new row version goes on the same page and no index is
-- touched. journals_run serves every read of one run's journals (run_id never changes).
DROP INDEX journals_run_status;
CREATE INDEX journals_run ON journals (run_id);
ALTER TABLE journals SET (fillfactor = 50);

-- Foreign keys checked once per row on the night's largest tables: each check locked the parent
-- row (a write of its own). The rows they guarded are written from their parent in the same
-- statement or transaction (a journal from its run, batch and allocation by plan; a history row
-- and an event from the journal row the same statement moved), and no parent is ever deleted.
ALTER TABLE journals
    DROP CONSTRAINT journals_run_id_fkey,
    DROP CONSTRAINT journals_batch_id_fkey,
    DROP CONSTRAINT journals_allocation_id_fkey;
ALTER TABLE journal_history DROP CONSTRAINT journal_history_journal_id_fkey;
ALTER TABLE journal_events DROP CONSTRAINT journal_events_journal_id_fkey;

-- +goose Down
ALTER TABLE journal_events ADD CONSTRAINT journal_events_journal_id_fkey FOREIGN KEY (journal_id) REFERENCES journals (id);
ALTER TABLE journal_history ADD CONSTRAINT journal_history_journal_id_fkey FOREIGN KEY (journal_id) REFERENCES journals (id);
ALTER TABLE journals
    ADD CONSTRAINT journals_allocation_id_fkey FOREIGN KEY (allocation_id) REFERENCES allocations (id),
    ADD CONSTRAINT journals_batch_id_fkey FOREIGN KEY (batch_id) REFERENCES batches (id),
    ADD CONSTRAINT journals_run_id_fkey FOREIGN KEY (run_id) REFERENCES runs (id);
ALTER TABLE journals RESET (fillfactor);
DROP INDEX journals_run;
CREATE INDEX journals_run_status ON journals (run_id, status);

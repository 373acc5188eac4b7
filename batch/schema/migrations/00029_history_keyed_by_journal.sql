-- +goose Up

-- One index for the history instead of two: every read of it names its journals (a journal's
-- history, a batch's in the console, a night's in the report), and the report's watermark is
-- compared only with the history of its own run's journals, so it is taken from them
-- (runs.reported_history_id) instead of a max(id) over the whole table. id stays a sequence, the
-- order of the changes. journal_history_journal and the primary key on id were an index entry
-- each per history row.
ALTER TABLE reported_reversals DROP CONSTRAINT reported_reversals_history_id_fkey;
ALTER TABLE journal_history DROP CONSTRAINT journal_history_pkey;
ALTER TABLE journal_history ADD PRIMARY KEY (journal_id, id);
DROP INDEX journal_history_journal;

-- reported_reversals.history_id names a history row without a foreign key: it is written only
-- from a row the report read, and the history is append-only (its trigger refuses DELETE), so the
-- row it names is never gone.

-- +goose Down
CREATE INDEX journal_history_journal ON journal_history (journal_id);
ALTER TABLE journal_history DROP CONSTRAINT journal_history_pkey;
ALTER TABLE journal_history ADD PRIMARY KEY (id);
ALTER TABLE reported_reversals ADD CONSTRAINT reported_reversals_history_id_fkey FOREIGN KEY (history_id) REFERENCES journal_history (id);

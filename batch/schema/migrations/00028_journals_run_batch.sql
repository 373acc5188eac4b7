-- +goose Up

-- One index serves the reads of a night's journals and of a batch's: a batch's journals are read
-- with their run (batches.run_id), the index's leading column. journals_run and journals_batch
-- were an index entry each per journal, and a rebatch moved every entry of journals_batch.
CREATE INDEX journals_run_batch ON journals (run_id, batch_id);
DROP INDEX journals_run;
DROP INDEX journals_batch;

-- +goose Down
CREATE INDEX journals_batch ON journals (batch_id);
CREATE INDEX journals_run ON journals (run_id);
DROP INDEX journals_run_batch;

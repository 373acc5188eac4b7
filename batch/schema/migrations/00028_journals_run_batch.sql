-- +goose Up

-- One index serves the reads of a night's journals and of a batch's: a batch's journals are read
-- with their run (batches.run_id), the index's leading column. journals_run and journals_batch
-- were an index entry each per journal, and a rebatch moved every entry of journals_batch.
CREATE INDEX journals_run_batch ON journals (run_id, batch_id);
DROP INDEX journals_run;
DROP INDEX journals_batch;

-- A journal row grows when Alpaca answers (its id, the message): at half-filled pages the answers
-- of a page's last journals did not fit beside the rows before them, and each such update moved
-- its row to another page with an entry in every index. At 40% every answer stays on its page.
ALTER TABLE journals SET (fillfactor = 40);

-- +goose Down
ALTER TABLE journals SET (fillfactor = 50);
CREATE INDEX journals_batch ON journals (batch_id);
CREATE INDEX journals_run ON journals (run_id);
DROP INDEX journals_run_batch;

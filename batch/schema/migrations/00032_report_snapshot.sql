-- +goose Up

-- Late news is every history row of an earlier run's journal that run's report did not see. A
-- watermark id alone cannot say that: ids are taken when a row is written, not when it commits, so
-- a row that commits after the report read the history can carry an id below the highest one the
-- report saw, and would be neither in that report nor in any later one. Each row now records its
-- writing transaction, and a finished run the snapshot its report was read in: a row is late news
-- when its transaction is not visible in that snapshot. A row from before (no xid) committed before
-- this migration, so every report read since saw it; a run finished before keeps its id mark.
-- No rewrite: the column is added without a default, which is set afterwards for new rows only.
ALTER TABLE journal_history ADD COLUMN xid xid8;
ALTER TABLE journal_history ALTER COLUMN xid SET DEFAULT pg_current_xact_id();
ALTER TABLE runs ADD COLUMN reported_snapshot pg_snapshot;

-- +goose Down
ALTER TABLE runs DROP COLUMN reported_snapshot;
ALTER TABLE journal_history DROP COLUMN xid;

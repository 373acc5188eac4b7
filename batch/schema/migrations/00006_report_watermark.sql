-- +goose Up
-- The last journal_history row a run's report had seen when it was finished: a later change to
-- one of its journals (a reversal, a late rejection) is news for the next report, an earlier one
-- was already in this run's own report.
ALTER TABLE runs ADD COLUMN reported_history_id BIGINT;

-- +goose Down
ALTER TABLE runs DROP COLUMN reported_history_id;

-- +goose Up
-- Who redrove a journal and why, and what the new attempt changed (another account, another
-- description): written on the new attempt's first history row. Empty for every other change.
ALTER TABLE journal_history ADD COLUMN actor TEXT NOT NULL DEFAULT '';
ALTER TABLE journal_history ADD COLUMN reason TEXT NOT NULL DEFAULT '';
ALTER TABLE journal_history ADD COLUMN detail TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE journal_history DROP COLUMN detail;
ALTER TABLE journal_history DROP COLUMN reason;
ALTER TABLE journal_history DROP COLUMN actor;

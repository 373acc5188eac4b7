-- +goose Up
-- An allocation whose receipt has not arrived waits (awaiting = true) until the configured deadline
-- after its file arrived; past it, it is an exception for a person.
ALTER TABLE run_skipped_allocations ADD COLUMN awaiting BOOLEAN NOT NULL DEFAULT FALSE;

-- +goose Down
ALTER TABLE run_skipped_allocations DROP COLUMN awaiting;

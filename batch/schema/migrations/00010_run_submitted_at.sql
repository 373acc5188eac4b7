-- +goose Up
-- When the run's current round of batches was submitted. The tracking deadline is this plus the
-- CASHPOOL_TRACK_FOR of the run that tracks, so a later run with another setting is honoured.
ALTER TABLE runs ADD COLUMN submitted_at TIMESTAMPTZ;
-- Runs submitted before: the last batch sent is the moment their deadline was counted from.
UPDATE runs SET submitted_at = COALESCE(
    (SELECT max(COALESCE(b.sent_at, b.sending_at)) FROM batches b WHERE b.run_id = runs.id), planned_at)
WHERE track_deadline IS NOT NULL;

-- +goose Down
ALTER TABLE runs DROP COLUMN submitted_at;

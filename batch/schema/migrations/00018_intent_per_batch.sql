-- +goose Up

-- A journal no longer takes 'sending' when its batch does: the batch row says it once for all its
-- journals, which stay 'planned' until Alpaca answers. Journals an older version left 'sending'
-- go back to 'planned' (their batch is still 'sending', so they are resent with the same key),
-- each with its history row.
INSERT INTO journal_history (journal_id, status_from, status_to, source, at)
SELECT id, status, 'planned', 'migrate', now() FROM journals WHERE status = 'sending' ORDER BY id;
UPDATE journals SET status = 'planned', updated_at = now() WHERE status = 'sending';

-- +goose Down
-- Nothing to undo: an older version reads such journals as 'planned' with their batch 'sending'.
SELECT 1;

-- +goose Up

-- The report's late news (reconcile's queryLate) are the history rows that moved a journal away
-- from funded (executed, activity_created: a reversal) or, from a status not final, to one after
-- which nothing happens (failed or correct). Without an index that read walked every history row
-- the database ever kept, every night: a year of million-journal nights is some 700 million rows.
-- This partial index holds only such rows, a few a night: a night's usual changes (queued to
-- sent_to_clearing to executed, executed to activity_created) write no entry in it. Its predicate
-- names the statuses queryLate's does (store.JournalsFunded, JournalsFinal, JournalsDone), so the
-- planner can use it; reconcile's TestLateNewsReadOnlyTheirRows fails if it no longer can.
CREATE INDEX journal_history_late ON journal_history (id)
    WHERE (status_from IN ('executed', 'activity_created') AND status_to NOT IN ('executed', 'activity_created'))
       OR (status_from NOT IN ('executed', 'activity_created', 'rejected', 'refused', 'canceled', 'deleted', 'correct')
           AND status_to IN ('rejected', 'refused', 'canceled', 'deleted', 'correct'));

-- +goose Down
DROP INDEX journal_history_late;

-- +goose Up

-- A journal no longer takes 'sending' when its batch does: the batch row says it once for all its
-- journals, which stay 'planned' until Alpaca answers. Journals an older version left 'sending'
-- go back to 'planned' (their batch is still 'sending', so they are resent with the same key),
-- each with its history row.
INSERT INTO journal_history (journal_id, status_from, status_to, source, at)
SELECT id, status, 'planned', 'migrate', now() FROM journals WHERE status = 'sending' ORDER BY id;
UPDATE journals SET status = 'planned', updated_at = now() WHERE status = 'sending';

-- One history table: an event the stream applied is recorded on the history row of the change it
-- made (event_id, unique: an event is applied at most once). journals.last_event_id is the newest
-- stream event seen for the journal, applied or not: an event not newer than it is a duplicate or
-- came late behind a newer one, and changes nothing. It replaces journal_events and the max(event_id)
-- each journal's events were searched for; the events applied before are the history rows of source
-- 'sse', the others changed nothing.
ALTER TABLE journal_history ADD COLUMN event_id TEXT COLLATE "C";
CREATE UNIQUE INDEX journal_history_event ON journal_history (event_id) WHERE event_id IS NOT NULL;
ALTER TABLE journals ADD COLUMN last_event_id TEXT COLLATE "C" NOT NULL DEFAULT '';
UPDATE journals j SET last_event_id = e.last
FROM (SELECT journal_id, max(event_id) AS last FROM journal_events GROUP BY journal_id) e
WHERE e.journal_id = j.id;
DROP TABLE journal_events;

-- Alpaca's id of every answered journal, found again by it (the stream's events, the watch of
-- earlier nights, an operator's lookup). Kept beside the journal rather than indexed on it, so the
-- answer's update of the journal is HOT like the changes after it; the primary key keeps an
-- Alpaca id to one journal. journals.alpaca_id stays, written by the same statement, for reading.
CREATE TABLE journal_answers (
    alpaca_id  UUID   PRIMARY KEY,
    journal_id BIGINT NOT NULL
);
INSERT INTO journal_answers (alpaca_id, journal_id) SELECT alpaca_id, id FROM journals WHERE alpaca_id IS NOT NULL;
ALTER TABLE journals DROP CONSTRAINT journals_alpaca_id_key;

-- +goose Down
ALTER TABLE journals ADD CONSTRAINT journals_alpaca_id_key UNIQUE (alpaca_id);
DROP TABLE journal_answers;
CREATE TABLE journal_events (
    event_id    TEXT        COLLATE "C" PRIMARY KEY,
    journal_id  BIGINT      NOT NULL,
    status_from TEXT        NOT NULL,
    status_to   TEXT        NOT NULL,
    at          TIMESTAMPTZ NOT NULL,
    applied     BOOLEAN     NOT NULL,
    received_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX journal_events_journal ON journal_events (journal_id, event_id);
INSERT INTO journal_events (event_id, journal_id, status_from, status_to, at, applied, received_at)
SELECT event_id, journal_id, status_from, status_to, at, true, at FROM journal_history WHERE event_id IS NOT NULL;
ALTER TABLE journals DROP COLUMN last_event_id;
DROP INDEX journal_history_event;
ALTER TABLE journal_history DROP COLUMN event_id;
-- Journals moved back from 'sending' stay 'planned': an older version reads them so with their
-- batch 'sending'.

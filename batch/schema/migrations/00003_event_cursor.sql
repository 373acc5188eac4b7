-- +goose Up

-- How far the v2 journal event stream of a sweep account has been applied. last_event_id only moves
-- in the transaction that applied the events up to it, so a crash replays, never skips.
CREATE TABLE event_cursors (
    sweep_account UUID        PRIMARY KEY,
    last_event_id TEXT        COLLATE "C" NOT NULL, -- ULID: byte order is time order
    updated_at    TIMESTAMPTZ NOT NULL
);

-- Every stream event seen for one of our journals, once. The primary key de-duplicates events the
-- stream sends twice and the overlap a reconnect replays on purpose; applied is false when the
-- journal already held a newer status (a late or re-ordered event). Events for journals that are not
-- ours are not kept. Never updated.
CREATE TABLE journal_events (
    event_id    TEXT        COLLATE "C" PRIMARY KEY,
    journal_id  BIGINT      NOT NULL REFERENCES journals (id),
    status_from TEXT        NOT NULL,
    status_to   TEXT        NOT NULL,
    at          TIMESTAMPTZ NOT NULL,
    applied     BOOLEAN     NOT NULL,
    received_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX journal_events_journal ON journal_events (journal_id, event_id);

-- +goose Down
DROP TABLE journal_events;
DROP TABLE event_cursors;

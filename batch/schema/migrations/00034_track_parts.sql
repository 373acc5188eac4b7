-- +goose Up

-- Several processes share a night's tracking: the run's journals are split by their Alpaca id into
-- a fixed number of parts, each applied from the event stream by the process holding it (holder)
-- until lease_until (the database's clock), renewed while it works; a part whose lease ran out
-- (its holder killed, paused or cut off) is taken by another tracker. cursor is the newest event
-- id up to which every event of the part is committed, written in the transaction that applied
-- them; the account's cursor (event_cursors) never passes the run's smallest. open_delta and
-- funded_delta add up what the part's moves did to the run's open count and funded amount, so the
-- run's holder learns the other trackers' moves without counting the run. closed: tracking ended
-- (the run's holder closed every part); no process applies or claims the run's parts any more.
CREATE TABLE track_parts (
    run_id       BIGINT      NOT NULL REFERENCES runs (id),
    part         INT         NOT NULL,
    holder       TEXT,
    lease_until  TIMESTAMPTZ,
    cursor       TEXT,
    open_delta   BIGINT      NOT NULL DEFAULT 0,
    funded_delta NUMERIC     NOT NULL DEFAULT 0,
    closed       BOOLEAN     NOT NULL DEFAULT false,
    PRIMARY KEY (run_id, part),
    CONSTRAINT track_parts_lease CHECK ((holder IS NULL) = (lease_until IS NULL))
) WITH (fillfactor = 50);

-- +goose Down
DROP TABLE track_parts;

-- +goose Up

-- Alpaca's operations may correct an executed journal: the original becomes 'correct' and a new
-- journal (another id, the same description) carries the corrected amount. This links the two.
CREATE TABLE journal_replacements (
    journal_id BIGINT PRIMARY KEY REFERENCES journals (id),
    alpaca_id  UUID          NOT NULL UNIQUE,
    amount     NUMERIC(20,2),
    status     TEXT          NOT NULL,
    found_at   TIMESTAMPTZ   NOT NULL
);

-- A reversal of a funded journal of an earlier run is reported once, by the first report finished
-- after it was seen; rewriting that report lists it again.
CREATE TABLE reported_reversals (
    history_id BIGINT PRIMARY KEY REFERENCES journal_history (id),
    run_id     BIGINT NOT NULL REFERENCES runs (id)
);

-- +goose Down
DROP TABLE reported_reversals;
DROP TABLE journal_replacements;

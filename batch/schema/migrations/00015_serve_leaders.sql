-- +goose Up
-- Which `cashpool serve` replica runs a sweep account's schedule, and since when, for the console:
-- written by the replica as it takes the leader lock, removed as it lets go. The lock itself is a
-- PostgreSQL advisory lock; this row only names its holder (a replica that dies leaves it until
-- the next leader overwrites it).
CREATE TABLE serve_leaders (
    sweep_account UUID PRIMARY KEY,
    holder        TEXT        NOT NULL CHECK (holder <> ''),
    since         TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE serve_leaders;

-- +goose Up
-- The fencing token of each run lock: every process that takes the lock of a run (sweep account +
-- business date) bumps its epoch and keeps the value; a batch is marked 'sending' only in a
-- transaction that finds the epoch unchanged, so a process that lost its lock (a database restart,
-- a killed session) can never start a POST once another has taken the lock.
CREATE TABLE run_fences (
    name     TEXT        PRIMARY KEY,
    epoch    BIGINT      NOT NULL,
    taken_at TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE run_fences;

-- +goose Up

-- A plan writes a night's journals on several connections at once, each COPY in a transaction of
-- its own that commits just before the plan's own transaction (which creates the run, its batches
-- and receipts) commits. The run's id is reserved first, in a row committed on its own; the plan's
-- transaction deletes the row as it creates the run, holding its lock until it commits. A
-- reservation that outlives its plan (killed, or failed between the journals' commits and its own)
-- names journals whose run was never written: the next plan deletes them, skipping reservations a
-- live plan holds (FOR UPDATE SKIP LOCKED).
CREATE TABLE plan_reservations (
    run_id        BIGINT      PRIMARY KEY,
    business_date DATE        NOT NULL,
    sweep_account UUID        NOT NULL,
    reserved_at   TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE plan_reservations;

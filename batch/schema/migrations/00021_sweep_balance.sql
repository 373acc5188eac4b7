-- +goose Up
-- The sweep account's cash at Alpaca around one night, for the report's proof. opening_cash is
-- Alpaca's `cash` read once, before the night's first POST, and never read again; closing_cash is
-- read after each tracking of the night (the latest reading stands). Amounts are kept exactly as
-- Alpaca sent them: the proof is to the cent, and rounding here would hide a fraction.
CREATE TABLE sweep_balances (
    run_id       BIGINT PRIMARY KEY REFERENCES runs (id),
    opening_cash NUMERIC     NOT NULL,
    opening_at   TIMESTAMPTZ NOT NULL,
    closing_cash NUMERIC,
    closing_at   TIMESTAMPTZ,
    CHECK ((closing_cash IS NULL) = (closing_at IS NULL))
);

-- The JNLC activities Alpaca reported on the sweep account between a night's opening and closing
-- readings, read when the two do not prove: effect is what the activity did to the cash inside
-- that window (net_amount when executed in it, less net_amount when canceled or corrected in it).
CREATE TABLE sweep_activities (
    run_id     BIGINT      NOT NULL REFERENCES sweep_balances (run_id),
    ref_id     TEXT        NOT NULL,
    journal_id UUID,
    net_amount NUMERIC     NOT NULL,
    effect     NUMERIC     NOT NULL,
    status     TEXT        NOT NULL,
    at         TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (run_id, ref_id)
);
CREATE INDEX sweep_activities_journal ON sweep_activities (journal_id);

-- +goose Down
DROP TABLE sweep_activities;
DROP TABLE sweep_balances;

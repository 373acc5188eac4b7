-- +goose Up
-- The last cash check of a run that found the sweep account short, for the report: what the
-- journals still to send needed and what Alpaca said the account could transfer. Cleared by the
-- next check that finds enough; NULL when there is no shortfall to report.
ALTER TABLE runs
    ADD COLUMN cash_needed    NUMERIC(20,2),
    ADD COLUMN cash_available NUMERIC(20,2),
    ADD CONSTRAINT runs_cash_shortfall CHECK ((cash_needed IS NULL) = (cash_available IS NULL));

-- +goose Down
ALTER TABLE runs DROP CONSTRAINT runs_cash_shortfall, DROP COLUMN cash_available, DROP COLUMN cash_needed;

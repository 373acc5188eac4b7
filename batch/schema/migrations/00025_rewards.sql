-- +goose Up

-- A third file kind: rewards, shares the firm gives customers (sign-up, referral) as JNLS journals.
ALTER TABLE files DROP CONSTRAINT files_kind_check;
ALTER TABLE files ADD CONSTRAINT files_kind_check CHECK (kind IN ('receipts', 'allocations', 'rewards'));

-- One reward: account_id gets qty shares of symbol from the rewards (firm) account. reward_id is
-- unique across all files, so the same reward delivered twice is refused, never given twice.
-- qty has Alpaca's precision for a JNLS (at most 9 decimal places).
CREATE TABLE rewards (
    reward_id   TEXT COLLATE "C" PRIMARY KEY,
    file_id     BIGINT        NOT NULL,
    line        INT           NOT NULL,
    account_id  UUID          NOT NULL,
    symbol      TEXT COLLATE "C" NOT NULL,
    qty         NUMERIC(30,9) NOT NULL CHECK (qty > 0),
    reason      TEXT          NOT NULL,
    description TEXT          NOT NULL
);
CREATE TRIGGER rewards_have_their_file AFTER INSERT ON rewards REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION rows_have_their_file();

-- +goose Down
DROP TABLE rewards;
ALTER TABLE files DROP CONSTRAINT files_kind_check;
ALTER TABLE files ADD CONSTRAINT files_kind_check CHECK (kind IN ('receipts', 'allocations'));

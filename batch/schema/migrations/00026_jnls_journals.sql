-- +goose Up

-- Journals are cash (JNLC, funding an allocation from a receipt) or securities (JNLS, giving a
-- reward's shares). Both live in journals so one state machine, one stream and one heal pass
-- follow them; each kind's own columns are required for it and absent for the other.
ALTER TABLE journals
    ADD COLUMN entry_type TEXT NOT NULL DEFAULT 'JNLC' CHECK (entry_type IN ('JNLC', 'JNLS')),
    ADD COLUMN reward_id  TEXT COLLATE "C",
    ADD COLUMN symbol     TEXT COLLATE "C",
    ADD COLUMN qty        NUMERIC(30,9) CHECK (qty > 0),
    ALTER COLUMN allocation_id DROP NOT NULL,
    ALTER COLUMN receipt_id DROP NOT NULL,
    ALTER COLUMN client_ref DROP NOT NULL,
    ALTER COLUMN amount DROP NOT NULL,
    ADD CONSTRAINT journals_kind_columns CHECK (
        (entry_type = 'JNLC' AND allocation_id IS NOT NULL AND receipt_id IS NOT NULL AND client_ref IS NOT NULL
            AND amount IS NOT NULL AND reward_id IS NULL AND symbol IS NULL AND qty IS NULL)
     OR (entry_type = 'JNLS' AND reward_id IS NOT NULL AND symbol IS NOT NULL AND qty IS NOT NULL
            AND allocation_id IS NULL AND receipt_id IS NULL AND client_ref IS NULL AND amount IS NULL));
-- A reward is given by one journal per attempt, as an allocation is funded by one.
CREATE UNIQUE INDEX journals_reward_attempt ON journals (reward_id, attempt) WHERE reward_id IS NOT NULL;

-- A batch is one POST: /v1/journals/batch for JNLC, /v1/journals for one JNLS (Alpaca's batch
-- endpoint takes cash only). body is still the exact bytes sent and idempotency_key its key.
ALTER TABLE batches ADD COLUMN entry_type TEXT NOT NULL DEFAULT 'JNLC' CHECK (entry_type IN ('JNLC', 'JNLS'));

-- +goose Down
ALTER TABLE batches DROP COLUMN entry_type;
DROP INDEX journals_reward_attempt;
ALTER TABLE journals
    DROP CONSTRAINT journals_kind_columns,
    DROP COLUMN qty,
    DROP COLUMN symbol,
    DROP COLUMN reward_id,
    DROP COLUMN entry_type,
    ALTER COLUMN allocation_id SET NOT NULL,
    ALTER COLUMN receipt_id SET NOT NULL,
    ALTER COLUMN client_ref SET NOT NULL,
    ALTER COLUMN amount SET NOT NULL;

-- +goose Up

-- Every file ever seen in the drop folder, loaded or rejected, identified by the SHA-256 of its bytes.
CREATE TABLE files (
    id          BIGSERIAL PRIMARY KEY,
    sha256      TEXT        NOT NULL UNIQUE,
    name        TEXT        NOT NULL,
    kind        TEXT        NOT NULL CHECK (kind IN ('receipts', 'allocations')),
    status      TEXT        NOT NULL CHECK (status IN ('loaded', 'rejected')),
    rows        INT         NOT NULL DEFAULT 0,
    errors      INT         NOT NULL DEFAULT 0,
    -- first problem of a rejected file, for the report; the full list sits beside the file in rejected/
    reason      TEXT        NOT NULL DEFAULT '',
    received_at TIMESTAMPTZ NOT NULL
);

-- One incoming wire. receipt_id is the bank reference and is unique across all files.
CREATE TABLE receipts (
    receipt_id         TEXT PRIMARY KEY,
    file_id            BIGINT        NOT NULL REFERENCES files (id),
    line               INT           NOT NULL,
    value_date         DATE          NOT NULL,
    amount             NUMERIC(20,2) NOT NULL CHECK (amount > 0),
    currency           TEXT          NOT NULL,
    originator_name    TEXT          NOT NULL,
    originator_account TEXT          NOT NULL,
    originator_bank    TEXT          NOT NULL,
    originator_address TEXT          NOT NULL,
    reference          TEXT          NOT NULL
);
CREATE INDEX receipts_value_date ON receipts (value_date);

-- One instruction: account_id gets amount (or weight) of receipt_id. client_ref is unique per receipt,
-- so the same instruction delivered twice (even in two different files) is refused, never funded twice.
CREATE TABLE allocations (
    id          BIGSERIAL PRIMARY KEY,
    file_id     BIGINT        NOT NULL REFERENCES files (id),
    line        INT           NOT NULL,
    receipt_id  TEXT          NOT NULL,
    account_id  UUID          NOT NULL,
    amount      NUMERIC(20,2) CHECK (amount > 0),
    weight      NUMERIC(30,10) CHECK (weight > 0),
    client_ref  TEXT          NOT NULL,
    description TEXT          NOT NULL,
    CHECK ((amount IS NULL) <> (weight IS NULL)),
    UNIQUE (receipt_id, client_ref)
);

-- One business date for one sweep account. A finished run is never run again.
CREATE TABLE runs (
    id             BIGSERIAL PRIMARY KEY,
    business_date  DATE        NOT NULL,
    sweep_account  UUID        NOT NULL,
    status         TEXT        NOT NULL CHECK (status IN ('planned', 'submitted', 'tracked', 'reconciled')),
    planned_at     TIMESTAMPTZ NOT NULL,
    track_deadline TIMESTAMPTZ,
    finished_at    TIMESTAMPTZ,
    -- totals as written by reconcile, kept for `status` and for audits
    totals         JSONB,
    UNIQUE (business_date, sweep_account)
);

-- Which run took which receipt, and how the receipt's amount was accounted for.
-- receipt_id is the primary key: a receipt is planned by exactly one run.
CREATE TABLE run_receipts (
    receipt_id  TEXT PRIMARY KEY REFERENCES receipts (receipt_id),
    run_id      BIGINT        NOT NULL REFERENCES runs (id),
    amount      NUMERIC(20,2) NOT NULL,
    allocated   NUMERIC(20,2) NOT NULL,
    unallocated NUMERIC(20,2) NOT NULL,
    held        BOOLEAN       NOT NULL,
    reason      TEXT          NOT NULL DEFAULT '',
    CHECK (allocated + unallocated = amount)
);
CREATE INDEX run_receipts_run ON run_receipts (run_id);

-- Allocations a run saw but could not plan (receipt held, receipt missing, receipt already planned).
CREATE TABLE run_skipped_allocations (
    allocation_id BIGINT NOT NULL REFERENCES allocations (id),
    run_id        BIGINT NOT NULL REFERENCES runs (id),
    reason        TEXT   NOT NULL,
    PRIMARY KEY (run_id, allocation_id)
);

-- One POST /v1/journals/batch. body holds the exact bytes sent, so a retry is byte-for-byte identical.
CREATE TABLE batches (
    id              BIGSERIAL PRIMARY KEY,
    run_id          BIGINT      NOT NULL REFERENCES runs (id),
    seq             TEXT        NOT NULL,
    idempotency_key UUID        NOT NULL UNIQUE,
    body            BYTEA       NOT NULL,
    entries         INT         NOT NULL,
    status          TEXT        NOT NULL CHECK (status IN ('planned', 'sending', 'sent', 'failed', 'split')),
    attempts        INT         NOT NULL DEFAULT 0,
    http_status     INT,
    error           TEXT        NOT NULL DEFAULT '',
    sending_at      TIMESTAMPTZ,
    sent_at         TIMESTAMPTZ,
    UNIQUE (run_id, seq)
);

-- One JNLC from the sweep account to one customer account: our intent, then Alpaca's id and status.
-- status is 'planned' (then 'sending') until the broker answers, then Alpaca's status, stored raw.
CREATE TABLE journals (
    id                 BIGSERIAL PRIMARY KEY,
    run_id             BIGINT        NOT NULL REFERENCES runs (id),
    batch_id           BIGINT        REFERENCES batches (id),
    journal_key        UUID          NOT NULL UNIQUE,
    allocation_id      BIGINT        NOT NULL REFERENCES allocations (id),
    attempt            INT           NOT NULL DEFAULT 1,
    receipt_id         TEXT          NOT NULL,
    client_ref         TEXT          NOT NULL,
    to_account         UUID          NOT NULL,
    amount             NUMERIC(20,2) NOT NULL CHECK (amount > 0),
    description        TEXT          NOT NULL,
    transmitter_name              TEXT NOT NULL,
    transmitter_account_number    TEXT NOT NULL,
    transmitter_address           TEXT NOT NULL,
    transmitter_financial_institution TEXT NOT NULL,
    transmitter_timestamp         TIMESTAMPTZ NOT NULL,
    expected_pending   BOOLEAN       NOT NULL DEFAULT FALSE,
    alpaca_id          UUID UNIQUE,
    status             TEXT          NOT NULL DEFAULT 'planned',
    status_unknown     BOOLEAN       NOT NULL DEFAULT FALSE,
    error_message      TEXT          NOT NULL DEFAULT '',
    updated_at         TIMESTAMPTZ   NOT NULL,
    UNIQUE (allocation_id, attempt)
);
CREATE INDEX journals_run_status ON journals (run_id, status);
CREATE INDEX journals_batch ON journals (batch_id);

-- Every status change of every journal, append-only.
CREATE TABLE journal_history (
    id          BIGSERIAL PRIMARY KEY,
    journal_id  BIGINT      NOT NULL REFERENCES journals (id),
    status_from TEXT        NOT NULL,
    status_to   TEXT        NOT NULL,
    source      TEXT        NOT NULL,
    at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX journal_history_journal ON journal_history (journal_id);

-- +goose StatementBegin
CREATE FUNCTION journal_history_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'journal_history is append-only';
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd

CREATE TRIGGER journal_history_no_update BEFORE UPDATE OR DELETE ON journal_history
    FOR EACH ROW EXECUTE FUNCTION journal_history_append_only();

-- The scheduler's memory: the last business date it completed, per sweep account.
CREATE TABLE schedule_state (
    sweep_account  UUID PRIMARY KEY,
    last_completed DATE NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE schedule_state;
DROP TABLE journal_history;
DROP FUNCTION journal_history_append_only;
DROP TABLE journals;
DROP TABLE batches;
DROP TABLE run_skipped_allocations;
DROP TABLE run_receipts;
DROP TABLE runs;
DROP TABLE allocations;
DROP TABLE receipts;
DROP TABLE files;

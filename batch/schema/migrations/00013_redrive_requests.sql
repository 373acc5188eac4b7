-- +goose Up
-- A redrive asked for in the operator console (maker) and approved by a second person (checker).
-- Approval runs the same redrive as `cashpool redrive --yes`. Names are the identities the
-- authenticating proxy vouched for, lower-cased; the database itself refuses a self-approval.
CREATE TABLE redrive_requests (
    id            BIGSERIAL PRIMARY KEY,
    sweep_account UUID        NOT NULL,
    business_date DATE        NOT NULL,
    requester     TEXT        NOT NULL CHECK (requester <> ''),
    reason        TEXT        NOT NULL CHECK (reason <> ''),
    -- the preview the requester saw, as the CLI prints it
    preview       TEXT        NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    approver      TEXT,
    approved_at   TIMESTAMPTZ,
    state         TEXT        NOT NULL CHECK (state IN ('requested', 'approved')),
    CHECK (approver IS NULL OR approver <> requester),
    CHECK ((state = 'approved') = (approver IS NOT NULL AND approved_at IS NOT NULL))
);
-- One open request per night: a second would redrive what the first already redrove.
CREATE UNIQUE INDEX redrive_requests_open ON redrive_requests (sweep_account, business_date) WHERE state = 'requested';

-- +goose Down
DROP TABLE redrive_requests;

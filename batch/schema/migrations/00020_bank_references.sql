-- +goose Up
-- An allocations row names its receipt by receipt_id or, instead, by the bank's reference
-- (bank_reference): exactly one of the two, as loaded. Ingest never rewrites the row: once the
-- reference resolves to exactly one receipt, allocation_references records which receipt it is.
-- receipt_allocations is the one definition of the receipt an allocation funds.

-- The references a bank statement gives each receipt it loaded, besides the receipt_id: the
-- bank's entry reference (BAI2 bank reference, camt AcctSvcrRef), the end-to-end id, the UETR
-- (lower case) and the Fedwire IMAD; and, for a BAI2 receipt, the (bank, account, as-of date) it
-- was reported for (kind bai2_day), which a corrected or deleted BAI2 group names.
CREATE TABLE receipt_references (
    receipt_id TEXT NOT NULL REFERENCES receipts (receipt_id),
    kind       TEXT NOT NULL CHECK (kind IN ('bank_reference', 'end_to_end_id', 'uetr', 'imad', 'bai2_day')),
    reference  TEXT NOT NULL,
    PRIMARY KEY (receipt_id, kind, reference)
);
CREATE INDEX receipt_references_reference ON receipt_references (reference);

-- UNIQUE (receipt_id, client_ref) refuses the same allocation twice among rows named by receipt
-- id (NULLs are distinct, so it says nothing of rows named by reference); the partial unique index
-- does the same among rows named by reference, and lists those rows for plan without a scan.
ALTER TABLE allocations ALTER COLUMN receipt_id DROP NOT NULL;
ALTER TABLE allocations ADD COLUMN bank_reference TEXT;
ALTER TABLE allocations ADD CONSTRAINT allocations_receipt_named_once
    CHECK ((receipt_id IS NULL) <> (bank_reference IS NULL));
CREATE UNIQUE INDEX allocations_bank_reference_client_ref ON allocations (bank_reference, client_ref)
    WHERE bank_reference IS NOT NULL;

-- The receipt an allocation named by bank_reference resolved to, and when. client_ref is the
-- allocation's, kept here so that no two references resolve to the same allocation of a receipt;
-- ingest resolves none to a receipt that has the client_ref by receipt_id already.
CREATE TABLE allocation_references (
    allocation_id  BIGINT      PRIMARY KEY REFERENCES allocations (id),
    receipt_id     TEXT        NOT NULL REFERENCES receipts (receipt_id),
    client_ref     TEXT        NOT NULL,
    bank_reference TEXT        NOT NULL,
    resolved_at    TIMESTAMPTZ NOT NULL,
    UNIQUE (receipt_id, client_ref)
);

-- Every allocation whose receipt is known, with the receipt it funds: its receipt_id, or the
-- receipt its bank reference resolved to. A row named by receipt_id reads straight from
-- allocations; the resolved few join through allocation_references' key.
CREATE VIEW receipt_allocations AS
SELECT a.id, a.file_id, a.line, a.receipt_id, a.account_id, a.amount, a.weight, a.client_ref, a.description,
       a.bank_reference
FROM allocations a
WHERE a.receipt_id IS NOT NULL
UNION ALL
SELECT a.id, a.file_id, a.line, x.receipt_id, a.account_id, a.amount, a.weight, a.client_ref, a.description,
       a.bank_reference
FROM allocation_references x
JOIN allocations a ON a.id = x.allocation_id;

-- receipt_allocations looked up by its keys: the allocation that funds a receipt with a
-- client_ref, if any, and the receipt an allocation funds, if known. Functions, so that each
-- lookup reaches both branches of the view through their indexes; PostgreSQL does not carry a join
-- condition into a UNION ALL view, so a join against it would scan allocations.
-- +goose StatementBegin
CREATE FUNCTION receipt_allocation(receipt TEXT, client TEXT) RETURNS BIGINT
LANGUAGE sql STABLE STRICT AS $$
    SELECT id FROM receipt_allocations WHERE receipt_id = receipt AND client_ref = client LIMIT 1
$$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION allocation_receipt(allocation BIGINT) RETURNS TEXT
LANGUAGE sql STABLE STRICT AS $$
    SELECT receipt_id FROM receipt_allocations WHERE id = allocation
$$;
-- +goose StatementEnd

-- Every receipt an unresolved allocation's bank reference names: a receipt whose receipt_id is
-- the reference, or one a statement gave that reference (UETRs compare in lower case).
CREATE VIEW bank_reference_matches AS
SELECT a.id AS allocation_id, a.bank_reference, m.receipt_id
FROM allocations a
JOIN LATERAL (
    SELECT r.receipt_id FROM receipts r WHERE r.receipt_id = a.bank_reference
    UNION
    SELECT x.receipt_id FROM receipt_references x
    WHERE x.kind <> 'bai2_day'
      AND x.reference IN (a.bank_reference, lower(a.bank_reference))
) m ON true
WHERE a.bank_reference IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM allocation_references o WHERE o.allocation_id = a.id);

-- How many receipts an unresolved allocation's bank reference matched when a run skipped it
-- (0 unmatched, 1 its receipt already had the client_ref, 2 or more ambiguous); NULL for an
-- allocation named by receipt_id.
ALTER TABLE run_skipped_allocations ADD COLUMN reference_matches INT;

-- +goose Down
-- Fails while an allocation named by bank_reference is loaded: receipt_id cannot be NOT NULL again.
ALTER TABLE run_skipped_allocations DROP COLUMN reference_matches;
DROP VIEW bank_reference_matches;
DROP FUNCTION allocation_receipt(BIGINT);
DROP FUNCTION receipt_allocation(TEXT, TEXT);
DROP VIEW receipt_allocations;
DROP TABLE allocation_references;
DROP INDEX allocations_bank_reference_client_ref;
ALTER TABLE allocations DROP CONSTRAINT allocations_receipt_named_once;
ALTER TABLE allocations DROP COLUMN bank_reference;
ALTER TABLE allocations ALTER COLUMN receipt_id SET NOT NULL;
DROP TABLE receipt_references;

-- +goose Up
-- An allocations row may name its receipt by the bank's reference (its bank_reference column)
-- instead of the receipt_id. Until that reference resolves to exactly one receipt, the row's
-- receipt_id is E'\x1fref:' followed by the reference: no receipt id can start with a control
-- character, so it names no receipt, and (receipt_id, client_ref) still refuses the same
-- allocation twice. Ingest resolves it (receipt_id set to the receipt's) once exactly one receipt
-- carries the reference and the receipt has no allocation with the same client_ref yet.

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

-- Which bank reference a resolved allocation named, and when it resolved: the audit trail of
-- allocations.receipt_id set by ingest.
CREATE TABLE allocation_references (
    allocation_id  BIGINT PRIMARY KEY REFERENCES allocations (id),
    bank_reference TEXT        NOT NULL,
    resolved_at    TIMESTAMPTZ NOT NULL
);

CREATE INDEX allocations_by_reference ON allocations (id) WHERE receipt_id LIKE E'\x1fref:%';

-- Every receipt an unresolved allocation's bank reference names: a receipt whose receipt_id is
-- the reference, or one a statement gave that reference (UETRs compare in lower case).
CREATE VIEW bank_reference_matches AS
SELECT a.id AS allocation_id, substr(a.receipt_id, 6) AS bank_reference, m.receipt_id
FROM allocations a
JOIN LATERAL (
    SELECT r.receipt_id FROM receipts r WHERE r.receipt_id = substr(a.receipt_id, 6)
    UNION
    SELECT x.receipt_id FROM receipt_references x
    WHERE x.kind <> 'bai2_day'
      AND x.reference IN (substr(a.receipt_id, 6), lower(substr(a.receipt_id, 6)))
) m ON true
WHERE a.receipt_id LIKE E'\x1fref:%';

-- How many receipts an unresolved allocation's bank reference matched when a run skipped it
-- (0 unmatched, 1 its receipt already had the client_ref, 2 or more ambiguous); NULL for an
-- allocation named by receipt_id.
ALTER TABLE run_skipped_allocations ADD COLUMN reference_matches INT;

-- +goose Down
ALTER TABLE run_skipped_allocations DROP COLUMN reference_matches;
DROP VIEW bank_reference_matches;
DROP INDEX allocations_by_reference;
DROP TABLE allocation_references;
DROP TABLE receipt_references;

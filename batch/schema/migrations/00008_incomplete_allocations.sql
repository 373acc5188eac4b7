-- +goose Up

-- The allocations a refused allocations file names, read as best the file allows (client_ref is ''
-- where it could not be read). A receipt is not planned while one of them has not been loaded from
-- another file, so a receipt is never paid out on part of its allocations (see batch/plan).
CREATE TABLE refused_allocations (
    file_id    BIGINT NOT NULL REFERENCES files (id),
    receipt_id TEXT   NOT NULL,
    client_ref TEXT   NOT NULL,
    PRIMARY KEY (file_id, receipt_id, client_ref)
);
CREATE INDEX refused_allocations_receipt ON refused_allocations (receipt_id, client_ref);

-- receipts_unread: a refused allocations file whose receipt ids could not be read at all; it holds
-- the whole night's planning. released_at: an operator lifted the file's holds (`cashpool release`).
ALTER TABLE files
    ADD COLUMN receipts_unread BOOLEAN     NOT NULL DEFAULT FALSE,
    ADD COLUMN released_at     TIMESTAMPTZ,
    ADD COLUMN release_reason  TEXT        NOT NULL DEFAULT '';

-- The receipts an allocations file still waiting in the drop folder names so far; it holds them
-- until it is taken. receipts_unread: nothing of it can be read yet, so it holds the whole night.
CREATE TABLE drop_scan_receipts (
    drop_dir   TEXT NOT NULL,
    name       TEXT NOT NULL,
    receipt_id TEXT NOT NULL,
    PRIMARY KEY (drop_dir, name, receipt_id),
    FOREIGN KEY (drop_dir, name) REFERENCES drop_scans (drop_dir, name) ON DELETE CASCADE
);
ALTER TABLE drop_scans ADD COLUMN receipts_unread BOOLEAN NOT NULL DEFAULT FALSE;

-- What a run did not plan because an allocations file naming it was refused or not complete: a
-- receipt, or the whole night (receipt_id '') when the file's receipt ids could not be read. The
-- run that comes after the hold is lifted plans the receipt.
CREATE TABLE run_held_receipts (
    run_id     BIGINT  NOT NULL REFERENCES runs (id),
    receipt_id TEXT    NOT NULL,
    file       TEXT    NOT NULL,
    waiting    BOOLEAN NOT NULL, -- the file was still in the drop folder, not refused
    reason     TEXT    NOT NULL,
    PRIMARY KEY (run_id, receipt_id, file)
);

-- +goose Down
DROP TABLE run_held_receipts;
ALTER TABLE drop_scans DROP COLUMN receipts_unread;
DROP TABLE drop_scan_receipts;
ALTER TABLE files DROP COLUMN release_reason, DROP COLUMN released_at, DROP COLUMN receipts_unread;
DROP TABLE refused_allocations;

-- +goose Up

-- A file whose bytes were already loaded under another name is refused as a duplicate and recorded
-- like any other refused file, so the night's report and `cashpool status` list it. Its row repeats
-- the loaded file's sha256: a file is still identified by its bytes among the other rows, and one
-- row is kept per duplicate name.
ALTER TABLE files DROP CONSTRAINT files_status_check;
ALTER TABLE files ADD CONSTRAINT files_status_check CHECK (status IN ('loaded', 'rejected', 'duplicate'));
ALTER TABLE files DROP CONSTRAINT files_sha256_key;
CREATE UNIQUE INDEX files_sha256_key ON files (sha256) WHERE status <> 'duplicate';
CREATE UNIQUE INDEX files_duplicate_key ON files (sha256, name) WHERE status = 'duplicate';

-- A rejected file that changed while it was read: the row is the version that was read (kept in
-- rejected/), nothing of it was loaded, and the file as it is now is taken again once complete.
ALTER TABLE files ADD COLUMN changed_while_read BOOLEAN NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE files DROP COLUMN changed_while_read;
DELETE FROM files WHERE status = 'duplicate';
DROP INDEX files_duplicate_key;
DROP INDEX files_sha256_key;
ALTER TABLE files ADD CONSTRAINT files_sha256_key UNIQUE (sha256);
ALTER TABLE files DROP CONSTRAINT files_status_check;
ALTER TABLE files ADD CONSTRAINT files_status_check CHECK (status IN ('loaded', 'rejected'));

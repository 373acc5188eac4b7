-- +goose Up

-- A batch's body (the exact bytes of its POST, ~200 KB for 500 journals) is compressed when it is
-- stored: lz4 costs half of pglz's CPU at the same size (plan writes a million-journal night's
-- 380 MB of bodies in one transaction) and reads back faster when submit sends it. A server built
-- without lz4 keeps pglz.
-- +goose StatementBegin
DO $$
BEGIN
    ALTER TABLE batches ALTER COLUMN body SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    NULL;
END $$;
-- +goose StatementEnd

-- +goose Down
ALTER TABLE batches ALTER COLUMN body SET COMPRESSION default;

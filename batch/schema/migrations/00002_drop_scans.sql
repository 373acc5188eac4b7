-- +goose Up

-- What ingest saw of each not-yet-taken file in a drop folder at its last scan. A file whose size and
-- modification time are unchanged since the previous scan is complete (see batch/ingest/doc.go).
CREATE TABLE drop_scans (
    drop_dir   TEXT        NOT NULL,
    name       TEXT        NOT NULL,
    size       BIGINT      NOT NULL,
    mtime_ns   BIGINT      NOT NULL,
    seen_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (drop_dir, name)
);

-- +goose Down
DROP TABLE drop_scans;

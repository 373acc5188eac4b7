-- +goose Up

-- Every receipt and allocation belongs to a recorded file: plan's awaiting check and the conflict
-- messages join them to files, and a row without its file would silently drop out of those joins.
-- The foreign keys checked that once per row, a trigger query for each of a million COPYed rows
-- (almost half the time of the load); the same is now checked once per statement, over the file
-- ids the statement inserted. Nothing updates a row's file_id.
ALTER TABLE allocations DROP CONSTRAINT allocations_file_id_fkey;
ALTER TABLE receipts DROP CONSTRAINT receipts_file_id_fkey;

-- +goose StatementBegin
CREATE FUNCTION rows_have_their_file() RETURNS trigger AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM (SELECT DISTINCT file_id FROM new_rows) n
               WHERE NOT EXISTS (SELECT 1 FROM files f WHERE f.id = n.file_id)) THEN
        RAISE EXCEPTION '% rows name a file that is not in files', TG_TABLE_NAME
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd

CREATE TRIGGER allocations_have_their_file AFTER INSERT ON allocations REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION rows_have_their_file();
CREATE TRIGGER receipts_have_their_file AFTER INSERT ON receipts REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION rows_have_their_file();

-- The foreign keys also kept a file with rows from being deleted. Loaded files are never deleted
-- (the rows they brought are the night's record), so that is refused outright.
-- +goose StatementBegin
CREATE FUNCTION loaded_files_are_kept() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'file % was loaded: its row is never deleted', OLD.name;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd

CREATE TRIGGER loaded_files_are_kept BEFORE DELETE ON files
    FOR EACH ROW WHEN (OLD.status = 'loaded') EXECUTE FUNCTION loaded_files_are_kept();

-- +goose Down
DROP TRIGGER loaded_files_are_kept ON files;
DROP FUNCTION loaded_files_are_kept();
DROP TRIGGER receipts_have_their_file ON receipts;
DROP TRIGGER allocations_have_their_file ON allocations;
DROP FUNCTION rows_have_their_file();
ALTER TABLE receipts ADD CONSTRAINT receipts_file_id_fkey FOREIGN KEY (file_id) REFERENCES files (id);
ALTER TABLE allocations ADD CONSTRAINT allocations_file_id_fkey FOREIGN KEY (file_id) REFERENCES files (id);

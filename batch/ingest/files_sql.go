package ingest

import "github.com/cashpool/cashpool/batch/store"

// Every statement that writes files and refused_allocations (schema: migrations 00001, 00008,
// 00009): a file's row is written in the transaction that loads or refuses it, with what a
// refused allocations file names. The statuses are store's (FileLoaded, FileRejected,
// FileDuplicate): plan and the report read them too.

// Rows of duplicates repeat the sha256 of the file they duplicate; every other row has its own.
const upsertLoaded = `
	INSERT INTO files (sha256, name, kind, status, rows, errors, reason, received_at)
	VALUES ($1, $2, $3, '` + store.FileLoaded + `', 0, 0, '', $4)
	ON CONFLICT (sha256) WHERE status <> '` + store.FileDuplicate + `' DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind,
		status = '` + store.FileLoaded + `', rows = 0, errors = 0, reason = '', received_at = EXCLUDED.received_at,
		changed_while_read = false
	WHERE files.status = '` + store.FileRejected + `'
	RETURNING id`

// A file that was rejected before may come back byte for byte (dropped again, or a crash between
// recording the rejection and moving the file): it is checked again and its row updated.
const upsertRejected = `
	INSERT INTO files (sha256, name, kind, status, rows, errors, reason, received_at, changed_while_read)
	VALUES ($1, $2, $3, '` + store.FileRejected + `', 0, $4, $5, $6, $7)
	ON CONFLICT (sha256) WHERE status <> '` + store.FileDuplicate + `' DO UPDATE SET name = EXCLUDED.name, errors = EXCLUDED.errors,
		reason = EXCLUDED.reason, changed_while_read = EXCLUDED.changed_while_read
	WHERE files.status = '` + store.FileRejected + `'
	RETURNING id`

// A duplicate is recorded once per name, like a rejected file dropped again under its name.
const upsertDuplicate = `
	INSERT INTO files (sha256, name, kind, status, rows, errors, reason, received_at)
	VALUES ($1, $2, $3, '` + store.FileDuplicate + `', 0, $4, $5, $6)
	ON CONFLICT (sha256, name) WHERE status = '` + store.FileDuplicate + `' DO UPDATE SET errors = EXCLUDED.errors, reason = EXCLUDED.reason`

// LatestRefusedSQL lists the ten files refused last (columns name, errors, reason, at), for the
// status page.
var LatestRefusedSQL = `
		SELECT name, errors, reason, to_char(received_at, 'YYYY-MM-DD HH24:MI') AS at FROM files
		WHERE status IN (` + store.SQLList(store.FilesRefused) + `) ORDER BY received_at DESC LIMIT 10`

// queryFileBySHA finds the row of earlier bytes that were loaded or refused, not a duplicate.
const queryFileBySHA = `SELECT name, status, rows, received_at FROM files
		WHERE sha256 = $1 AND status <> '` + store.FileDuplicate + `'`

// updateFileRows records how many rows a loaded file held.
const updateFileRows = `UPDATE files SET rows = $2 WHERE id = $1`

// insertRefusedAllocations records the (receipt_id, client_ref) pairs a refused allocations file
// names; updateFileReceiptsUnread records that its receipt ids could not all be read.
const (
	insertRefusedAllocations = `
		INSERT INTO refused_allocations (file_id, receipt_id, client_ref)
		SELECT $1, v.id, v.ref FROM unnest($2::text[], $3::text[]) AS v(id, ref)
		ON CONFLICT DO NOTHING`
	updateFileReceiptsUnread = `UPDATE files SET receipts_unread = $2 WHERE id = $1`
)

// updateFileReleased lifts the holds of the refused allocations files called $1, with the
// operator's reason $2 at $3.
const updateFileReleased = `
		UPDATE files SET released_at = $3, release_reason = $2
		WHERE name = $1 AND kind = 'allocations' AND status = '` + store.FileRejected + `' AND released_at IS NULL`

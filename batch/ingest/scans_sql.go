package ingest

// Every statement against drop_scans and drop_scan_receipts (schema: migrations 00002, 00008):
// what a scan saw of the files it did not take yet, and the receipts a waiting allocations file
// names so far.
const (
	queryScans = `SELECT name, size, mtime_ns FROM drop_scans WHERE drop_dir = $1`
	upsertScan = `
		INSERT INTO drop_scans (drop_dir, name, size, mtime_ns, seen_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (drop_dir, name) DO UPDATE SET size = EXCLUDED.size, mtime_ns = EXCLUDED.mtime_ns, seen_at = EXCLUDED.seen_at`
	// deleteScansGone forgets every file of folder $1 not in $2 (never NULL).
	deleteScansGone          = `DELETE FROM drop_scans WHERE drop_dir = $1 AND NOT (name = ANY($2))`
	updateScanReceiptsUnread = `UPDATE drop_scans SET receipts_unread = $3 WHERE drop_dir = $1 AND name = $2`
	deleteScanReceipts       = `DELETE FROM drop_scan_receipts WHERE drop_dir = $1 AND name = $2`
	insertScanReceipts       = `
		INSERT INTO drop_scan_receipts (drop_dir, name, receipt_id)
		SELECT DISTINCT $1, $2, v FROM unnest($3::text[]) AS v`
)

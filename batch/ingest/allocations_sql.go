package ingest

// Every statement that writes allocations (schema: migration 00001), and the careful path's
// staging table stage_allocations. plan and the report read allocations with their own queries.
var allocationsSQL = kindSQL{
	copyTarget: `COPY allocations (file_id, line, receipt_id, account_id, amount, weight, client_ref, description) FROM STDIN`,
	stage: `CREATE TEMP TABLE stage_allocations (line INT NOT NULL, receipt_id TEXT NOT NULL, account_id UUID NOT NULL,
		amount NUMERIC(20,2), weight NUMERIC(30,10), client_ref TEXT NOT NULL, description TEXT NOT NULL) ON COMMIT DROP`,
	copyStage: `COPY stage_allocations (line, receipt_id, account_id, amount, weight, client_ref, description) FROM STDIN`,
	insertSelect: `INSERT INTO allocations (file_id, line, receipt_id, account_id, amount, weight, client_ref, description)
		SELECT $1, line, receipt_id, account_id, amount, weight, client_ref, description FROM stage_allocations ORDER BY line`,
	inFileDups: `SELECT line, format('receipt_id %s with client_ref %s', receipt_id, client_ref), client_ref, first FROM (
		SELECT line, receipt_id, client_ref, min(line) OVER (PARTITION BY receipt_id, client_ref) AS first
		FROM stage_allocations) s WHERE line > first ORDER BY line`,
	conflicts: `SELECT s.line, format('receipt_id %s with client_ref %s', s.receipt_id, s.client_ref), s.client_ref, f.name, a.line
		FROM stage_allocations s
		JOIN allocations a ON a.receipt_id = s.receipt_id AND a.client_ref = s.client_ref
		JOIN files f ON f.id = a.file_id ORDER BY s.line`,
	keyColumn: acClientRef,
}

package ingest

import "strings"

// Every statement that writes allocations (schema: migration 00001), and the careful path's
// staging table stage_allocations. plan and the report read allocations with their own queries.
var allocationsSQL = kindSQL{
	copyTarget: `COPY allocations (file_id, line, receipt_id, account_id, amount, weight, client_ref, description) FROM STDIN`,
	stage: `CREATE TEMP TABLE stage_allocations (line INT NOT NULL, receipt_id TEXT NOT NULL, account_id UUID NOT NULL,
		amount NUMERIC(20,2), weight NUMERIC(30,10), client_ref TEXT NOT NULL, description TEXT NOT NULL) ON COMMIT DROP`,
	copyStage: `COPY stage_allocations (line, receipt_id, account_id, amount, weight, client_ref, description) FROM STDIN`,
	insertSelect: `INSERT INTO allocations (file_id, line, receipt_id, account_id, amount, weight, client_ref, description)
		SELECT $1, line, receipt_id, account_id, amount, weight, client_ref, description FROM stage_allocations ORDER BY line`,
	inFileDups: `SELECT line, ` + allocationNamed("receipt_id") + `, client_ref, first FROM (
		SELECT line, receipt_id, client_ref, min(line) OVER (PARTITION BY receipt_id, client_ref) AS first
		FROM stage_allocations) s WHERE line > first ORDER BY line`,
	conflicts: `SELECT s.line, ` + allocationNamed("s.receipt_id") + `, s.client_ref, f.name, a.line
		FROM stage_allocations s
		JOIN allocations a ON a.receipt_id = s.receipt_id AND a.client_ref = s.client_ref
		JOIN files f ON f.id = a.file_id ORDER BY s.line`,
	keyColumn: acClientRef,
}

// allocationNamed is the SQL naming an allocation in a problem by the receipt column col names:
// its receipt_id, or the bank reference of one that names its receipt so (migration 00020).
func allocationNamed(col string) string {
	client := strings.Replace(col, "receipt_id", "client_ref", 1)
	return `CASE WHEN ` + col + ` LIKE E'\x1fref:%' THEN format('bank_reference %s with client_ref %s', substr(` + col + `, 6), ` + client + `)
		ELSE format('receipt_id %s with client_ref %s', ` + col + `, ` + client + `) END`
}

// updateResolveReferences gives each allocation by bank reference that names exactly one receipt
// that receipt (migration 00020), unless the receipt has an allocation with its client_ref already;
// of several naming the same receipt with the same client_ref, only the first loaded. It returns
// what it resolved, with the reference and where the allocation came from.
const updateResolveReferences = `
	WITH one AS (
		SELECT allocation_id, min(bank_reference) AS bank_reference, min(receipt_id) AS receipt_id
		FROM bank_reference_matches GROUP BY allocation_id HAVING count(*) = 1
	), pick AS (
		SELECT DISTINCT ON (one.receipt_id, a.client_ref) a.id, one.receipt_id, one.bank_reference
		FROM one JOIN allocations a ON a.id = one.allocation_id
		WHERE NOT EXISTS (SELECT 1 FROM allocations b WHERE b.receipt_id = one.receipt_id AND b.client_ref = a.client_ref)
		ORDER BY one.receipt_id, a.client_ref, a.id
	)
	UPDATE allocations a SET receipt_id = pick.receipt_id
	FROM pick, files f
	WHERE a.id = pick.id AND f.id = a.file_id
	RETURNING a.id, a.receipt_id, pick.bank_reference, f.name AS file, a.line`

package ingest

// Every statement that writes allocations (schema: migrations 00001, 00020), and the careful
// path's staging table stage_allocations. plan and the report read allocations with their own
// queries. A row names its receipt by receipt_id or by bank_reference; conflicts with earlier files
// compare the receipt it names with the receipt every loaded allocation funds (receipt_allocations,
// resolved references included), and a bank reference with the references loaded.
var allocationsSQL = kindSQL{
	table:      "allocations",
	copyTarget: `COPY allocations (file_id, line, receipt_id, bank_reference, account_id, amount, weight, client_ref, description) FROM STDIN`,
	stage: `CREATE TEMP TABLE stage_allocations (line INT NOT NULL, receipt_id TEXT, bank_reference TEXT, account_id UUID NOT NULL,
		amount NUMERIC(20,2), weight NUMERIC(30,10), client_ref TEXT NOT NULL, description TEXT NOT NULL) ON COMMIT DROP`,
	copyStage: `COPY stage_allocations (line, receipt_id, bank_reference, account_id, amount, weight, client_ref, description) FROM STDIN`,
	insertSelect: `INSERT INTO allocations (file_id, line, receipt_id, bank_reference, account_id, amount, weight, client_ref, description)
		SELECT $1, line, receipt_id, bank_reference, account_id, amount, weight, client_ref, description FROM stage_allocations ORDER BY line`,
	inFileDups: `SELECT line, ` + allocationNamed("") + `, client_ref, first FROM (
		SELECT line, receipt_id, bank_reference, client_ref,
		       min(line) OVER (PARTITION BY receipt_id, bank_reference, client_ref) AS first
		FROM stage_allocations) s WHERE line > first ORDER BY line`,
	conflicts: `SELECT s.line, ` + allocationNamed("s.") + `, s.client_ref, f.name, a.line
		FROM stage_allocations s
		JOIN receipt_allocations a ON a.receipt_id = s.receipt_id AND a.client_ref = s.client_ref
		JOIN files f ON f.id = a.file_id
		UNION ALL
		SELECT s.line, ` + allocationNamed("s.") + `, s.client_ref, f.name, a.line
		FROM stage_allocations s
		JOIN allocations a ON a.bank_reference = s.bank_reference AND a.client_ref = s.client_ref
		JOIN files f ON f.id = a.file_id
		ORDER BY 1`,
	keyColumn: acClientRef,
}

// allocationNamed is the SQL naming an allocation in a problem by its receipt_id or its bank
// reference, from the columns of the row alias prefix names.
func allocationNamed(prefix string) string {
	return `CASE WHEN ` + prefix + `receipt_id IS NULL
		THEN format('bank_reference %s with client_ref %s', ` + prefix + `bank_reference, ` + prefix + `client_ref)
		ELSE format('receipt_id %s with client_ref %s', ` + prefix + `receipt_id, ` + prefix + `client_ref) END`
}

// queryResolvedConflict finds, after the fast path copied file $1's allocations, one that names by
// receipt_id the receipt and client_ref a resolved bank reference already has: no unique index
// sees that pair, so the load falls back to the careful path, which lists it.
const queryResolvedConflict = `SELECT EXISTS (SELECT 1 FROM allocation_references x
		JOIN allocations a ON a.receipt_id = x.receipt_id AND a.client_ref = x.client_ref
		WHERE a.file_id = $1)`

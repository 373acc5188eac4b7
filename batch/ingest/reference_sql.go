package ingest

// Every statement that writes receipt_references and allocation_references (schema: migration
// 00020): the references a statement gives its receipts, written with them, and which reference
// each resolved allocation named.

// insertReceiptReferences records the references $2 of kinds $3 of receipts $1.
const insertReceiptReferences = `
	INSERT INTO receipt_references (receipt_id, kind, reference)
	SELECT v.id, v.kind, v.ref FROM unnest($1::text[], $2::text[], $3::text[]) AS v(id, kind, ref)
	ON CONFLICT DO NOTHING`

// insertAllocationReferences records that allocations $1 named bank references $2 and resolved at $3.
const insertAllocationReferences = `
	INSERT INTO allocation_references (allocation_id, bank_reference, resolved_at)
	SELECT v.id, v.ref, $3 FROM unnest($1::bigint[], $2::text[]) AS v(id, ref)`

// queryReceiptsOfDay lists the receipts a BAI2 statement reported for day $1 (bank/account/as-of
// date) other than $2, with the file that loaded them.
const queryReceiptsOfDay = `SELECT r.receipt_id, r.amount, f.name FROM receipt_references x
	JOIN receipts r ON r.receipt_id = x.receipt_id JOIN files f ON f.id = r.file_id
	WHERE x.kind = 'bai2_day' AND x.reference = $1 AND NOT (x.receipt_id = ANY($2::text[]))
	ORDER BY r.receipt_id`

package ingest

// Every statement that writes receipt_references and allocation_references (schema: migration
// 00020): the references a statement gives its receipts, written with them, and the receipt each
// allocation by bank reference resolved to.

// insertReceiptReferences records the references $2 of kinds $3 of receipts $1.
const insertReceiptReferences = `
	INSERT INTO receipt_references (receipt_id, kind, reference)
	SELECT v.id, v.kind, v.ref FROM unnest($1::text[], $2::text[], $3::text[]) AS v(id, kind, ref)
	ON CONFLICT DO NOTHING`

// insertResolveReferences records, at $1, the receipt of each unresolved allocation by bank
// reference that names exactly one receipt, unless that receipt funds an allocation with its
// client_ref already (receipt_allocation: by receipt_id or by a resolved reference); of several
// naming the same receipt with the same client_ref, only the first loaded. It returns what it
// resolved, with the reference and where the allocation came from.
const insertResolveReferences = `
	WITH one AS (
		SELECT allocation_id, min(bank_reference) AS bank_reference, min(receipt_id) AS receipt_id
		FROM bank_reference_matches GROUP BY allocation_id HAVING count(*) = 1
	), pick AS (
		SELECT DISTINCT ON (one.receipt_id, a.client_ref) a.id, one.receipt_id, a.client_ref, one.bank_reference,
		       f.name AS file, a.line
		FROM one JOIN allocations a ON a.id = one.allocation_id JOIN files f ON f.id = a.file_id
		WHERE receipt_allocation(one.receipt_id, a.client_ref) IS NULL
		ORDER BY one.receipt_id, a.client_ref, a.id
	), done AS (
		INSERT INTO allocation_references (allocation_id, receipt_id, client_ref, bank_reference, resolved_at)
		SELECT id, receipt_id, client_ref, bank_reference, $1 FROM pick
		RETURNING allocation_id
	)
	SELECT pick.receipt_id, pick.bank_reference, pick.file, pick.line
	FROM pick JOIN done ON done.allocation_id = pick.id ORDER BY pick.id`

// queryReceiptsOfDay lists the receipts a BAI2 statement reported for day $1 (bank/account/as-of
// date) other than $2, with the file that loaded them.
const queryReceiptsOfDay = `SELECT r.receipt_id, r.amount, f.name FROM receipt_references x
	JOIN receipts r ON r.receipt_id = x.receipt_id JOIN files f ON f.id = r.file_id
	WHERE x.kind = 'bai2_day' AND x.reference = $1 AND NOT (x.receipt_id = ANY($2::text[]))
	ORDER BY r.receipt_id`

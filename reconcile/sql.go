package reconcile

// Every query the report runs, in one place. Build runs them inside one repeatable-read
// transaction, so they all see the same snapshot.
const (
	queryRun = `
SELECT to_char(business_date, 'YYYY-MM-DD') AS business_date,
       sweep_account::text AS sweep_account,
       planned_at,
       track_deadline
FROM runs
WHERE id = $1`

	// Rejected files since the previous run of the same sweep account was planned, up to this run:
	// each rejected file is reported by exactly one run.
	queryRejectedFiles = `
SELECT f.name, f.reason, f.errors
FROM files f
WHERE f.status = 'rejected'
  AND f.received_at <= $2
  AND f.received_at > COALESCE(
        (SELECT max(p.planned_at) FROM runs p
         WHERE p.sweep_account = $1::uuid AND p.planned_at < $2 AND p.id <> $3),
        '-infinity')
ORDER BY f.name, f.received_at, f.id`

	queryReceipts = `
SELECT rr.receipt_id, rr.amount, rr.allocated, rr.unallocated, rr.held, rr.reason,
       f.name AS file, r.line
FROM run_receipts rr
JOIN receipts r ON r.receipt_id = rr.receipt_id
JOIN files f ON f.id = r.file_id
WHERE rr.run_id = $1
ORDER BY rr.receipt_id`

	querySkipped = `
SELECT a.receipt_id, a.client_ref, a.account_id::text AS account_id, a.amount, s.reason, s.awaiting,
       f.name AS file, a.line
FROM run_skipped_allocations s
JOIN allocations a ON a.id = s.allocation_id
JOIN files f ON f.id = a.file_id
WHERE s.run_id = $1
ORDER BY a.receipt_id, a.client_ref`

	// Only the highest attempt per allocation counts; earlier attempts were re-driven.
	queryJournals = `
SELECT DISTINCT ON (j.allocation_id)
       j.receipt_id, j.client_ref, j.to_account::text AS to_account, j.amount,
       j.journal_key::text AS journal_key, COALESCE(j.alpaca_id::text, '') AS alpaca_id,
       j.status, j.error_message, j.expected_pending, f.name AS file, a.line
FROM journals j
JOIN allocations a ON a.id = j.allocation_id
JOIN files f ON f.id = a.file_id
WHERE j.run_id = $1
ORDER BY j.allocation_id, j.attempt DESC`

	queryFinish = `
UPDATE runs
SET totals = $2, status = 'reconciled', finished_at = COALESCE(finished_at, $3)
WHERE id = $1`
)

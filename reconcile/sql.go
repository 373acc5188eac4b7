package reconcile

import (
	"github.com/lib/pq"

	"github.com/cashpool/cashpool/batch/store"
)

// Statuses in the queries below come from their owner, batch/store.
var (
	final    = store.SQLList(store.JournalsFinal)
	funded   = store.SQLList(store.JournalsFunded)
	done     = store.SQLList(store.JournalsDone)
	finished = pq.QuoteLiteral(store.RunReconciled)
	refused  = store.SQLList(store.FilesRefused)
)

// Every query the report runs, in one place. Build runs them inside one repeatable-read
// transaction, so they all see the same snapshot.
var (
	queryRun = `
SELECT to_char(business_date, 'YYYY-MM-DD') AS business_date,
       sweep_account::text AS sweep_account,
       planned_at,
       track_deadline,
       cash_needed,
       cash_available
FROM runs
WHERE id = $1`

	// Runs of earlier dates of the same sweep account that are not finished, oldest first.
	queryUnfinished = `
SELECT to_char(r.business_date, 'YYYY-MM-DD') AS business_date, r.status,
       count(j.id) AS journals,
       count(j.id) FILTER (WHERE j.status IN (` + final + `)) AS final,
       count(j.id) FILTER (WHERE j.alpaca_id IS NULL AND j.status NOT IN (` + final + `)) AS unsent,
       COALESCE(sum(j.amount) FILTER (WHERE j.status NOT IN (` + final + `) AND j.entry_type = 'JNLC'), 0) AS open_amount
FROM runs r
LEFT JOIN journals j ON j.run_id = r.id
WHERE r.sweep_account = $1::uuid AND r.business_date < $2::date AND r.status <> ` + finished + `
GROUP BY r.id
ORDER BY r.business_date`

	// Refused files (rejected, or duplicates of loaded ones) since the previous run of the same sweep
	// account was planned, up to this run: each refused file is reported by exactly one run.
	queryRejectedFiles = `
SELECT f.name, f.reason, f.errors, f.status, f.changed_while_read
FROM files f
WHERE f.status IN (` + refused + `)
  AND f.received_at <= $2
  AND f.received_at > COALESCE(
        (SELECT max(p.planned_at) FROM runs p
         WHERE p.sweep_account = $1::uuid AND p.planned_at < $2 AND p.id <> $3),
        '-infinity')
ORDER BY f.name, f.received_at, f.id`

	// What the run did not plan because an allocations file naming it is not loaded.
	queryHeld = `
SELECT h.receipt_id, h.file, h.waiting, h.reason, r.amount
FROM run_held_receipts h
LEFT JOIN receipts r ON r.receipt_id = h.receipt_id
WHERE h.run_id = $1
ORDER BY h.receipt_id, h.file`

	queryReceipts = `
SELECT rr.receipt_id, r.value_date, rr.amount, rr.allocated, rr.unallocated, rr.held, rr.reason,
       f.name AS file, r.line
FROM run_receipts rr
JOIN receipts r ON r.receipt_id = rr.receipt_id
JOIN files f ON f.id = r.file_id
WHERE rr.run_id = $1
ORDER BY rr.receipt_id`

	// An allocation by a bank reference that resolved to no receipt has no receipt_id ('').
	querySkipped = `
SELECT e.receipt_id, a.client_ref, a.account_id::text AS account_id, a.amount,
       s.reason, s.awaiting, s.reference_matches, f.name AS file, a.line
FROM run_skipped_allocations s
JOIN allocations a ON a.id = s.allocation_id
CROSS JOIN LATERAL (SELECT COALESCE(allocation_receipt(a.id), '') AS receipt_id) e
JOIN files f ON f.id = a.file_id
WHERE s.run_id = $1
ORDER BY e.receipt_id, CASE WHEN e.receipt_id = '' THEN a.bank_reference END, a.client_ref`

	// Only the highest attempt per allocation counts; earlier attempts were re-driven. Cash only:
	// a reward's JNLS journal has no allocation and moves no cash. The counted journals are summed
	// by status in one pass that sorts only their ids, statuses and amounts: a million-journal
	// night is added up by the database instead of read row by row into the report; the ids of
	// those not funded come with their sum.
	queryJournalTotals = `
SELECT l.status, count(*) AS journals, sum(l.amount) AS amount,
       COALESCE(array_agg(l.id) FILTER (WHERE l.status NOT IN (` + funded + `)), '{}') AS open_ids
FROM (SELECT DISTINCT ON (j.allocation_id) j.id, j.status, j.amount
      FROM journals j
      WHERE j.run_id = $1 AND j.entry_type = 'JNLC'
      ORDER BY j.allocation_id, j.attempt DESC) l
GROUP BY l.status`

	// The counted journals that are not funded, by id ($1): each is an exception of the report.
	queryJournals = `
SELECT j.receipt_id, j.client_ref, j.to_account::text AS to_account, j.amount,
       j.journal_key::text AS journal_key, COALESCE(j.alpaca_id::text, '') AS alpaca_id,
       j.status, j.error_message, j.expected_pending, f.name AS file, a.line,
       x.alpaca_id::text AS replacement_id, x.amount AS replacement_amount, x.status AS replacement_status
FROM journals j
JOIN allocations a ON a.id = j.allocation_id
JOIN files f ON f.id = a.file_id
LEFT JOIN journal_replacements x ON x.journal_id = j.id
WHERE j.id = ANY($1::bigint[])
ORDER BY j.allocation_id`

	// The run's rewards: the highest attempt of each reward's JNLS journal beside the reward as
	// loaded, whose quantity is what was requested. A journal with no batch is one plan refused
	// before any POST (a reward naming a firm account).
	queryRewards = `
SELECT DISTINCT ON (j.reward_id)
       j.reward_id, j.to_account::text AS to_account, w.symbol, w.qty AS requested, j.qty,
       j.journal_key::text AS journal_key, COALESCE(j.alpaca_id::text, '') AS alpaca_id,
       j.status, j.error_message, j.batch_id IS NULL AS refused_at_plan, f.name AS file, w.line
FROM journals j
JOIN rewards w ON w.reward_id = j.reward_id
JOIN files f ON f.id = w.file_id
WHERE j.run_id = $1 AND j.entry_type = 'JNLS'
ORDER BY j.reward_id, j.attempt DESC`

	// Late news about journals of earlier runs of this sweep account (at most the watch days older
	// than this run) that their own run's finished report did not see: a history row written by a
	// transaction its snapshot does not see. A row without xid was written before migration 00032,
	// so every later snapshot sees it; a run finished before it has no snapshot, only the last
	// history row its report saw. A funded journal moved away from funded (a reversal, a
	// correction), or a journal still open then that failed. Listed until a finished report other
	// than this run's has listed it.
	// A reward's journal (JNLS) is read beside its reward instead of an allocation.
	// The status clause is the predicate of the partial index journal_history_late (migration
	// 00035), through which the rows are read: change both together (TestLateNewsReadOnlyTheirRows).
	queryLate = `
SELECT h.id AS history_id, COALESCE(j.receipt_id, '') AS receipt_id, COALESCE(j.client_ref, '') AS client_ref,
       j.to_account::text AS to_account, j.amount, COALESCE(j.reward_id, '') AS reward_id,
       COALESCE(j.symbol, '') AS symbol, j.qty,
       j.journal_key::text AS journal_key, COALESCE(j.alpaca_id::text, '') AS alpaca_id, h.status_from, h.status_to, h.at,
       to_char(r.business_date, 'YYYY-MM-DD') AS run_date, j.error_message, f.name AS file, COALESCE(a.line, w.line) AS line
FROM journal_history h
JOIN journals j ON j.id = h.journal_id
JOIN runs r ON r.id = j.run_id
LEFT JOIN allocations a ON a.id = j.allocation_id
LEFT JOIN rewards w ON w.reward_id = j.reward_id
JOIN files f ON f.id = COALESCE(a.file_id, w.file_id)
WHERE CASE WHEN r.reported_snapshot IS NULL THEN h.id > r.reported_history_id
           ELSE h.xid IS NOT NULL AND NOT pg_visible_in_snapshot(h.xid, r.reported_snapshot) END
  AND ((h.status_from IN (` + funded + `) AND h.status_to NOT IN (` + funded + `))
    OR (h.status_from NOT IN (` + final + `)
        AND h.status_to IN (` + done + `)))
  AND j.run_id <> $1
  AND r.sweep_account = $2::uuid
  AND r.business_date >= $3::date - make_interval(days => ceil($4::float8)::int)
  AND r.business_date <= $3::date
  AND NOT EXISTS (SELECT 1 FROM reported_reversals x WHERE x.history_id = h.id AND x.run_id <> $1)
ORDER BY j.receipt_id, j.client_ref, j.reward_id, h.id`
)

// insertReportedReversal marks late news (a journal_history row) reported by a run, once: the one
// statement that writes reported_reversals, which the report owns.
const insertReportedReversal = `INSERT INTO reported_reversals (history_id, run_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`

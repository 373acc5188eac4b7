package plan

import (
	"fmt"

	"github.com/cashpool/cashpool/batch/store"
)

// Every statement that writes the tables plan owns (schema: migrations 00001, 00004, 00008):
// run_receipts (what a run took), run_skipped_allocations (what it did not plan and why) and
// run_held_receipts (what an incomplete allocations file holds). They read the files, receipts
// and allocations ingest loaded; runs, batches and journals are written through batch/store.

// declarePlanRows opens the cursor over every unplanned receipt of value date $1 or before, with
// its allocations (receipt_allocations: by receipt_id or by a resolved bank reference), in
// (receipt_id, client_ref) byte order; run $2's held receipts are left out. A receipt's
// originator, the same on each of its allocations' rows, comes from plan_receipts beside it: in
// this cursor it made every row half as wide again, and PostgreSQL sorts and sends the rows whole
// (1M allocations: the first fetch 1.6 s against 1.2 s without it, the rest 2.1 s against 1.3 s).
const declarePlanRows = `
		DECLARE plan_rows NO SCROLL CURSOR FOR
		SELECT r.receipt_id, r.amount AS receipt_amount, r.value_date,
		       a.id AS allocation_id, a.account_id, a.amount, a.weight, a.client_ref, a.description
		FROM receipts r
		LEFT JOIN receipt_allocations a ON a.receipt_id = r.receipt_id
		WHERE r.value_date <= $1
		  AND NOT EXISTS (SELECT 1 FROM run_receipts rr WHERE rr.receipt_id = r.receipt_id)
		  AND NOT EXISTS (SELECT 1 FROM run_held_receipts h WHERE h.run_id = $2 AND h.receipt_id = r.receipt_id)
		ORDER BY r.receipt_id COLLATE "C", a.client_ref COLLATE "C"`

// fetchPlanRows reads the next rows of plan_rows, fetchSize at a time.
var fetchPlanRows = fmt.Sprintf(`FETCH %d FROM plan_rows`, fetchSize)

// declarePlanReceipts opens, just after plan_rows, the cursor over the same receipts (the same
// conditions, the same order) with each one's originator, once a receipt. Its snapshot is later
// than plan_rows', and no other plan can commit meanwhile (the plan lock), so it holds every
// receipt plan_rows holds, and perhaps one loaded between the two, which plan passes over
// (receiptsAside).
const declarePlanReceipts = `
		DECLARE plan_receipts NO SCROLL CURSOR FOR
		SELECT r.receipt_id, r.originator_name, r.originator_account, r.originator_bank, r.originator_address
		FROM receipts r
		WHERE r.value_date <= $1
		  AND NOT EXISTS (SELECT 1 FROM run_receipts rr WHERE rr.receipt_id = r.receipt_id)
		  AND NOT EXISTS (SELECT 1 FROM run_held_receipts h WHERE h.run_id = $2 AND h.receipt_id = r.receipt_id)
		ORDER BY r.receipt_id COLLATE "C"`

// fetchPlanReceipts reads the next rows of plan_receipts, fetchSize at a time.
var fetchPlanReceipts = fmt.Sprintf(`FETCH %d FROM plan_receipts`, fetchSize)

// insertHeldNight holds the night of run $1 for every refused allocations file not released, and
// every waiting one, whose receipt ids cannot be read.
const insertHeldNight = `
		INSERT INTO run_held_receipts (run_id, receipt_id, file, waiting, reason)
		SELECT $1::bigint, '', f.name, false, 'allocations file ' || f.name || ' was refused and the receipts it names cannot be read: nothing is planned until it is released'
		FROM files f
		WHERE f.kind = 'allocations' AND f.status = '` + store.FileRejected + `' AND f.receipts_unread AND f.released_at IS NULL
		UNION ALL
		SELECT $1::bigint, '', s.name, true, 'allocations file ' || s.name || ' is still being written and the receipts it names cannot be read yet: nothing is planned until it is taken'
		FROM drop_scans s
		WHERE s.receipts_unread
		ON CONFLICT DO NOTHING`

// insertHeldReceipts holds, for run $1 of date $2, every receipt a refused allocations file (not
// released) names an allocation of that no loaded file holds, every receipt a waiting file names,
// and every receipt an ambiguous bank reference of an allocation matches (until an allocation with
// its client_ref is loaded for one of them).
const insertHeldReceipts = `
		INSERT INTO run_held_receipts (run_id, receipt_id, file, waiting, reason)
		SELECT $1, h.receipt_id, h.file, h.waiting, h.reason
		FROM (
			SELECT DISTINCT ra.receipt_id, f.name AS file, false AS waiting,
			       'allocations file ' || f.name || ' was refused; it names allocations of this receipt that no loaded file holds' AS reason
			FROM refused_allocations ra
			JOIN files f ON f.id = ra.file_id
			WHERE f.status = '` + store.FileRejected + `' AND f.released_at IS NULL
			  AND receipt_allocation(ra.receipt_id, ra.client_ref) IS NULL
			UNION
			SELECT s.receipt_id, s.name, true, 'allocations file ' || s.name || ' naming this receipt is still being written'
			FROM drop_scan_receipts s
			UNION
			SELECT x.receipt_id, f.name, false,
			       'bank reference ' || x.bank_reference || ' of allocation ' || a.client_ref || ' (' || f.name || ' line ' || a.line ||
			       ') is carried by several receipts, this one among them: held until the allocation names its receipt_id'
			FROM bank_reference_matches x
			JOIN allocations a ON a.id = x.allocation_id
			JOIN files f ON f.id = a.file_id
			WHERE (SELECT count(*) FROM bank_reference_matches o WHERE o.allocation_id = x.allocation_id) > 1
			  AND NOT EXISTS (SELECT 1 FROM bank_reference_matches o
			                  WHERE o.allocation_id = x.allocation_id AND receipt_allocation(o.receipt_id, a.client_ref) IS NOT NULL)
		) h
		JOIN receipts r ON r.receipt_id = h.receipt_id
		WHERE r.value_date <= $2
		  AND NOT EXISTS (SELECT 1 FROM run_receipts rr WHERE rr.receipt_id = h.receipt_id)
		ON CONFLICT DO NOTHING`

// countHeld counts the receipts run $1 holds.
const countHeld = `SELECT count(DISTINCT receipt_id) FROM run_held_receipts WHERE run_id = $1`

// insertRunReceipts records the receipts run $1 took, from arrays.
const insertRunReceipts = `
			INSERT INTO run_receipts (receipt_id, run_id, amount, allocated, unallocated, held, reason)
			SELECT v.id, $1, v.amount, v.allocated, v.unallocated, v.held, v.reason
			FROM unnest($2::text[], $3::numeric[], $4::numeric[], $5::numeric[], $6::bool[], $7::text[])
			  AS v(id, amount, allocated, unallocated, held, reason)`

// insertSkipped records the allocations run $1 skipped, from arrays.
const insertSkipped = `
			INSERT INTO run_skipped_allocations (allocation_id, run_id, reason)
			SELECT v.id, $1, v.reason FROM unnest($2::bigint[], $3::text[]) AS v(id, reason)`

// insertAwaiting records, for run $1 at $3, every allocation whose receipt has not been loaded:
// awaiting it for $2 seconds after its file arrived, then never arrived.
const insertAwaiting = `
		INSERT INTO run_skipped_allocations (allocation_id, run_id, reason, awaiting)
		SELECT a.id, $1,
		       CASE WHEN f.received_at + make_interval(secs => $2) > $3
		            THEN 'awaiting its receipt ' || a.receipt_id || ' until ' ||
		                 to_char((f.received_at + make_interval(secs => $2)) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC'
		            ELSE 'its receipt ' || a.receipt_id || ' never arrived (file received ' ||
		                 to_char(f.received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC)'
		       END,
		       f.received_at + make_interval(secs => $2) > $3
		FROM allocations a JOIN files f ON f.id = a.file_id
		WHERE a.receipt_id IS NOT NULL
		  AND NOT EXISTS (SELECT 1 FROM receipts r WHERE r.receipt_id = a.receipt_id)`

// insertUnresolved records, for run $1 at $3, every allocation by bank reference that ingest has
// not resolved (migration 00020), with how many receipts its reference matches: none (awaiting its
// bank statement for $2 seconds after its file arrived, then unmatched), several (ambiguous; not
// listed once an allocation with its client_ref is loaded for one of them), or one that already
// has its client_ref (the same allocation twice: listed once). One match without that is resolved
// by the next scan and waits meanwhile.
const insertUnresolved = `
		INSERT INTO run_skipped_allocations (allocation_id, run_id, reason, awaiting, reference_matches)
		SELECT a.id, $1,
		       CASE WHEN m.n = 0 AND f.received_at + make_interval(secs => $2) > $3
		            THEN 'no receipt carries bank reference ' || a.bank_reference || ' yet: awaiting its bank statement until ' ||
		                 to_char((f.received_at + make_interval(secs => $2)) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC'
		            WHEN m.n = 0
		            THEN 'no receipt carries bank reference ' || a.bank_reference || ' (file received ' ||
		                 to_char(f.received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC)'
		            WHEN m.n = 1 AND d.id IS NULL
		            THEN 'bank reference ' || a.bank_reference || ' is receipt ' || m.ids || ': it is taken at the next scan of the drop folder'
		            WHEN m.n = 1
		            THEN 'bank reference ' || a.bank_reference || ' is receipt ' || m.ids || ', which already has an allocation with client_ref ' ||
		                 a.client_ref || ' (' || d.file || ' line ' || d.line || '): the same allocation twice is never funded'
		            ELSE 'bank reference ' || a.bank_reference || ' matches ' || m.n || ' receipts (' || m.ids || '): not funded, and they are held'
		       END,
		       (m.n = 0 AND f.received_at + make_interval(secs => $2) > $3) OR (m.n = 1 AND d.id IS NULL),
		       m.n
		FROM allocations a
		JOIN files f ON f.id = a.file_id
		CROSS JOIN LATERAL (
			SELECT count(*)::int AS n, string_agg(x.receipt_id, ', ' ORDER BY x.receipt_id) AS ids
			FROM bank_reference_matches x WHERE x.allocation_id = a.id) m
		LEFT JOIN LATERAL (
			SELECT b.id, bf.name AS file, b.line
			FROM bank_reference_matches x
			JOIN allocations b ON b.id = receipt_allocation(x.receipt_id, a.client_ref)
			JOIN files bf ON bf.id = b.file_id
			WHERE x.allocation_id = a.id ORDER BY b.id LIMIT 1) d ON true
		WHERE a.bank_reference IS NOT NULL
		  AND NOT EXISTS (SELECT 1 FROM allocation_references r WHERE r.allocation_id = a.id)
		  AND NOT (m.n > 1 AND d.id IS NOT NULL)
		  AND NOT (m.n = 1 AND d.id IS NOT NULL AND EXISTS (
			SELECT 1 FROM run_skipped_allocations s WHERE s.allocation_id = a.id AND s.reference_matches = 1 AND NOT s.awaiting))`

// insertLate records, once, the allocations that arrived after an earlier run planned their receipt.
const insertLate = `
		INSERT INTO run_skipped_allocations (allocation_id, run_id, reason)
		SELECT a.id, $1, 'arrived after receipt ' || a.receipt_id || ' was planned by the run of ' || to_char(r.business_date, 'YYYY-MM-DD')
		FROM receipt_allocations a
		JOIN run_receipts rr ON rr.receipt_id = a.receipt_id AND rr.run_id <> $1
		JOIN runs r ON r.id = rr.run_id
		WHERE NOT EXISTS (SELECT 1 FROM journals j WHERE j.allocation_id = a.id)
		  AND NOT EXISTS (SELECT 1 FROM run_skipped_allocations s WHERE s.allocation_id = a.id)`

// selectRewards lists every loaded reward no run planned yet (no journal names it), in reward_id
// byte order, so a night's JNLS batches and their keys are the same however often it is planned.
const selectRewards = `
		SELECT w.reward_id, w.account_id::text AS account_id, w.symbol, w.qty, w.description
		FROM rewards w
		WHERE NOT EXISTS (SELECT 1 FROM journals j WHERE j.reward_id = w.reward_id)
		ORDER BY w.reward_id COLLATE "C"`

package reconcile

// Every statement against sweep_balances and sweep_activities (schema: migration 00021), and the
// report's reads of the sweep account's night across journals, their history and replacements.

import (
	"github.com/lib/pq"

	"github.com/cashpool/cashpool/batch/store"
)

// correct is the status of a journal Alpaca corrected: always executed before.
var correct = pq.QuoteLiteral(store.JournalCorrect)

var (
	// insertOpening stores a night's opening cash once, and only while none of its batches was
	// ever marked sending: a night whose money may already have left has no opening to prove from.
	insertOpening = `
INSERT INTO sweep_balances (run_id, opening_cash, opening_at)
SELECT $1, $2, $3
WHERE NOT EXISTS (SELECT 1 FROM batches b WHERE b.run_id = $1 AND b.sending_at IS NOT NULL)
ON CONFLICT (run_id) DO NOTHING`

	queryHasOpening = `SELECT EXISTS (SELECT 1 FROM sweep_balances WHERE run_id = $1)`

	updateClosing = `UPDATE sweep_balances SET closing_cash = $2, closing_at = $3 WHERE run_id = $1`

	deleteSweepActivities = `DELETE FROM sweep_activities WHERE run_id = $1`

	insertSweepActivities = `
INSERT INTO sweep_activities (run_id, ref_id, journal_id, net_amount, effect, status, at)
SELECT $1, a.ref_id, a.journal_id, a.net_amount, a.effect, a.status, a.at
FROM unnest($2::text[], $3::uuid[], $4::numeric[], $5::numeric[], $6::text[], $7::timestamptz[])
     AS a (ref_id, journal_id, net_amount, effect, status, at)`

	// The night's lines: its receipts; its cash journals (every attempt; a reward's JNLS moves
	// shares, not cash) whose money left the sweep
	// account (funded now, corrected, or seen funded in their history: every applied stream event is there),
	// those of them whose money came back (reversed, canceled, corrected), and the funded
	// replacements Alpaca booked for its corrected journals. A journal taken back before cashpool
	// saw it funded is in neither line: its money went and came back, which nets to nothing.
	querySweep = `
SELECT b.opening_cash, b.opening_at, b.closing_cash, b.closing_at,
       (SELECT COALESCE(sum(rr.amount), 0) FROM run_receipts rr WHERE rr.run_id = $1) AS receipts,
       COALESCE(sum(e.amount), 0) AS funded,
       count(e.id) AS funded_count,
       COALESCE(sum(e.amount) FILTER (WHERE NOT e.funded_now), 0) AS back,
       count(e.id) FILTER (WHERE NOT e.funded_now) AS back_count,
       (SELECT COALESCE(sum(x.amount), 0) FROM journal_replacements x JOIN journals j ON j.id = x.journal_id
        WHERE j.run_id = $1 AND x.status IN (` + funded + `) AND x.amount IS NOT NULL) AS replaced,
       (SELECT count(*) FROM journal_replacements x JOIN journals j ON j.id = x.journal_id
        WHERE j.run_id = $1 AND x.status IN (` + funded + `) AND x.amount IS NOT NULL) AS replaced_count
FROM sweep_balances b
LEFT JOIN (
    SELECT j.id, j.amount, j.status IN (` + funded + `) AS funded_now
    FROM journals j
    WHERE j.run_id = $1 AND j.entry_type = 'JNLC'
      AND (j.status IN (` + funded + `, ` + correct + `)
        OR EXISTS (SELECT 1 FROM journal_history h WHERE h.journal_id = j.id AND h.status_to IN (` + funded + `)))
) e ON TRUE
WHERE b.run_id = $1
GROUP BY b.run_id`

	// The activities that explain a difference: every one but those of this night's own journals
	// (and their replacements) that did to the cash exactly what cashpool's books say. ours_date
	// is the business date of the night whose journal it is, empty for a journal not cashpool's.
	querySweepActivities = `
SELECT a.ref_id, COALESCE(a.journal_id::text, '') AS journal_id, a.net_amount, a.effect, a.status, a.at,
       COALESCE(to_char(r.business_date, 'YYYY-MM-DD'), to_char(rx.business_date, 'YYYY-MM-DD'), '') AS ours_date,
       COALESCE(j.journal_key::text, jx.journal_key::text, '') AS journal_key,
       COALESCE(j.to_account::text, jx.to_account::text, '') AS to_account,
       COALESCE(j.client_ref, jx.client_ref, '') AS client_ref,
       COALESCE(j.receipt_id, jx.receipt_id, '') AS receipt_id
FROM sweep_activities a
LEFT JOIN journal_answers ja ON ja.alpaca_id = a.journal_id
LEFT JOIN journals j ON j.id = ja.journal_id
LEFT JOIN runs r ON r.id = j.run_id
LEFT JOIN journal_replacements x ON x.alpaca_id = a.journal_id
LEFT JOIN journals jx ON jx.id = x.journal_id
LEFT JOIN runs rx ON rx.id = jx.run_id
WHERE a.run_id = $1
  AND NOT COALESCE(j.run_id = $1 AND a.effect = CASE WHEN j.status IN (` + funded + `) THEN -j.amount ELSE 0 END, FALSE)
  AND NOT COALESCE(jx.run_id = $1 AND a.effect = CASE WHEN x.status IN (` + funded + `) THEN -x.amount ELSE 0 END, FALSE)
ORDER BY a.at, a.ref_id`
)

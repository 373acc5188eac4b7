// Package redrive gives the definitively failed journals of a finished run a second chance, once
// operations has fixed the cause (an account activated, the sweep account funded).
//
// Only the highest attempt of each allocation in the run counts, as in the report. It is redriven
// when Alpaca failed it for good (refused, rejected, canceled, deleted): a NEW journal intent is
// written with attempt+1 and therefore a new journal key, never the old one, so a refused journal is
// never re-sent under its key and the allocation gets exactly one new live intent. Everything else
// is refused and listed with its reason: funded, still in flight, never answered (a plain re-run
// resends those with their own key), corrected, or a status nobody knows.
//
// Apply writes the new intents, their batches (sequence r<attempt>-NNNNNN, bodies and
// Idempotency-Keys as plan writes them) and their history in one transaction under a row lock on
// the run, then puts the run back to 'planned' so the Runner submits, tracks and reconciles it
// like any other. The new intents are 'planned', not failed, so applying again creates nothing.
// Preview answers the same question in a read-only transaction.
//
// Config.Journal limits a redrive to one journal (by its key or its Alpaca id), which must be the
// latest attempt of its allocation. Its new attempt may carry a corrected account (a UUID, never
// the sweep account) or description; who and why are then required, and are kept with what was
// corrected on the new attempt's first history row. The failed attempt is left as it was.
package redrive

// Package reconcile writes the reconciliation report of one run: totals that must balance to the
// cent, and one row per exception a person must look at, each with the reason and the next action.
//
// Build reads everything in one read-only, repeatable-read transaction, so the totals and the
// exceptions describe a single moment even while the tracker keeps updating journals. Journals are
// streamed; only the exceptions are held in memory. Write renders the report as CSV (with a
// separate totals.csv), JSON and HTML, each file replaced atomically. Finish records the totals on
// the run and marks it reconciled.
//
// Only the highest attempt of each allocation counts: an earlier attempt that failed and was
// re-driven is history, not an exception. A journal that is not final is always listed, as
// in_flight before the run's track deadline and as stuck from it on, so nothing is silently dropped.
//
// Sweep proves the sweep account's cash over the night: the opening and closing cash Alpaca
// reported, the night's journals funded and taken back between them, and, when the closing is not
// the expected one, the JNLC activities that explain the difference (sweep_difference).
package reconcile

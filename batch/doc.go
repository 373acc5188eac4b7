// Package batch runs the nightly pipeline for one business date and one sweep account:
//
//	ingest → plan → submit → track → reconcile
//
// Each step lives in its own package beside this one (batch/ingest, batch/plan, batch/submit,
// batch/track; the report is package reconcile), commits its progress in PostgreSQL in the same
// transaction as the work it covers, and can be re-run after a crash at any instruction. Runner
// strings them together under a PostgreSQL advisory lock, so exactly one process works on a date.
package batch

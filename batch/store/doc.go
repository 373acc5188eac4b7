// Package store owns the tables the pipeline's steps hand work to each other through. Each of
// journals, batches and runs is a state machine with one owner here: its statuses, their rank,
// which transitions are allowed, which are final or funded, and one guarded function that performs
// a transition set-wise in the caller's transaction. The guard lives in the SQL (the UPDATE only
// touches rows whose current status may move to the wanted one), so callers only say what they
// want and a fix lands in one place. Nothing else writes journals.status, batches.status or
// runs.status.
package store

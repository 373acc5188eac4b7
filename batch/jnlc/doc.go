// Package jnlc is what the steps that write batches share, below all of them: the batch size,
// the exact body of a JNLC batch request or of a JNLS reward's single journal request, and the
// stored batch it becomes. plan writes a night's batches, submit splits a batch Alpaca canceled
// whole, redrive writes new attempts; none of them imports another.
package jnlc

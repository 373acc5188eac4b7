// Package pool holds the domain of pooled cash: receipts (wires into the firm account), allocations
// (which customer gets how much of which receipt), the strict parsing of money text, the exact
// largest-remainder split of weight allocations, and the deterministic keys that make every journal
// and batch identifiable across crashes and retries.
package pool

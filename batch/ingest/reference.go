package ingest

import (
	"context"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/cashpool/cashpool/pool"
)

// An allocations row names its receipt by receipt_id or, where the file has the bank_reference
// column, by the bank's reference for the wire: exactly one of the two per row, loaded as given.
// resolveReferences records the receipt of a row by reference (allocation_references) once exactly
// one receipt carries the reference; plan reports it meanwhile (see batch/plan and README, "Plan
// rules").

// allocationReceipt reads the receipt a row names: its receipt_id, or its bank reference.
func allocationReceipt(c *rowChecker) (id, ref string) {
	id, hasID := c.optional(acReceiptID)
	ref, hasRef := c.optional(acBankReference)
	switch {
	case hasID && hasRef && id != "" && ref != "":
		c.fail(acBankReference, errIDAndReference, false)
		return "", ""
	case hasRef && ref != "":
		v, err := pool.ParseRef(ref)
		if err != nil {
			c.fail(acBankReference, err, true)
		}
		return "", v
	case hasID && hasRef && id == "":
		c.fail(acReceiptID, errNeitherIDNorReference, false)
		return "", ""
	case hasID:
		return c.ref(acReceiptID), ""
	case !hasRef:
		c.bad = true // the header lacks both columns and its problem says so; no cell to blame
		return "", ""
	default:
		c.fail(acBankReference, pool.ErrRequired, true)
		return "", ""
	}
}

var (
	errIDAndReference        = errors.New("both receipt_id and bank_reference are given: name the receipt by one of them")
	errNeitherIDNorReference = errors.New("receipt_id and bank_reference are both empty: name the receipt by one of them")
)

// optional returns the text of columns[i] and whether the header has it, without counting a
// missing column against the row.
func (c *rowChecker) optional(i int) (string, bool) {
	if c.t.col[i] < 0 {
		return "", false
	}
	return c.rec[c.t.col[i]], true
}

// resolveReferences records, for every allocation by bank reference that now names exactly one
// receipt, that receipt, unless the receipt already has an allocation with the same client_ref
// (the same allocation twice is never funded; plan reports it). The allocations row is left as
// loaded. It runs after every scan: a reference resolves once the statement carrying it is loaded,
// whichever file came first.
func (r *runner) resolveReferences(ctx context.Context) error {
	var resolved []struct {
		ReceiptID string `db:"receipt_id"`
		Reference string `db:"bank_reference"`
		File      string `db:"file"`
		Line      int    `db:"line"`
	}
	tx, err := r.db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := jitOff(ctx, tx); err != nil {
		return err
	}
	if err := tx.SelectContext(ctx, &resolved, insertResolveReferences, r.now); err != nil {
		return fmt.Errorf("resolve bank references: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("resolve bank references: %w", err)
	}
	for _, x := range resolved {
		r.log.Info("ingest: allocation by bank reference resolved", "file", pool.Printable(x.File), "line", x.Line,
			"bank_reference", pool.Printable(x.Reference), "receipt_id", pool.Printable(x.ReceiptID))
	}
	return nil
}

// jitOff turns JIT compilation off for the rest of tx. The statements after a load run once over
// tables whose statistics do not know the rows just copied: compiling them cost more than running
// them (1.2 of 1.3 s after a 100,000-row allocations file).
func jitOff(ctx context.Context, tx *sqlx.Tx) error {
	_, err := tx.ExecContext(ctx, `SET LOCAL jit = off`)
	return err
}

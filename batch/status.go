package batch

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/jmoiron/sqlx"

	"github.com/cashpool/cashpool/pool"
)

// WriteStatus prints what the database knows about the runs of a sweep account: the run of date in
// detail (batches and journals by status, exceptions), the last runs in a line each, and the files
// rejected lately.
func WriteStatus(ctx context.Context, w io.Writer, db *sqlx.DB, sweep, date string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	var runs []struct {
		ID       int64   `db:"id"`
		Date     string  `db:"business_date"`
		Status   string  `db:"status"`
		Journals int     `db:"journals"`
		Amount   string  `db:"amount"`
		Totals   *string `db:"totals"`
	}
	if err := db.SelectContext(ctx, &runs, `
		SELECT r.id, to_char(r.business_date, 'YYYY-MM-DD') AS business_date, r.status,
		       count(j.id) AS journals, to_char(coalesce(sum(j.amount), 0), 'FM999999999999990.00') AS amount,
		       r.totals::text AS totals
		FROM runs r LEFT JOIN journals j ON j.run_id = r.id
		WHERE r.sweep_account = $1
		GROUP BY r.id ORDER BY r.business_date DESC LIMIT 10`, sweep); err != nil {
		return err
	}
	fmt.Fprintln(tw, "RUN\tDATE\tSTATUS\tJOURNALS\tAMOUNT")
	var runID int64
	for _, r := range runs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\n", r.ID, r.Date, r.Status, r.Journals, r.Amount)
		if r.Date == date {
			runID = r.ID
		}
	}
	if len(runs) == 0 {
		fmt.Fprintln(tw, "(no runs yet)")
	}
	fmt.Fprintln(tw)
	if runID == 0 {
		fmt.Fprintf(tw, "No run for %s.\n", date)
	} else {
		var batches []struct {
			Status string `db:"status"`
			N      int    `db:"n"`
		}
		if err := db.SelectContext(ctx, &batches, `SELECT status, count(*) AS n FROM batches WHERE run_id = $1 GROUP BY status ORDER BY status`, runID); err != nil {
			return err
		}
		fmt.Fprintf(tw, "Run of %s: batches\n", date)
		for _, b := range batches {
			fmt.Fprintf(tw, "  %s\t%d\n", b.Status, b.N)
		}
		var journals []struct {
			Status  string `db:"status"`
			Unknown bool   `db:"status_unknown"`
			N       int    `db:"n"`
			Amount  string `db:"amount"`
		}
		if err := db.SelectContext(ctx, &journals, `
			SELECT status, status_unknown, count(*) AS n, to_char(sum(amount), 'FM999999999999990.00') AS amount
			FROM journals WHERE run_id = $1 GROUP BY status, status_unknown ORDER BY status`, runID); err != nil {
			return err
		}
		fmt.Fprintf(tw, "Run of %s: journals\n", date)
		for _, j := range journals {
			flag := ""
			if j.Unknown {
				flag = " (unknown status)"
			}
			fmt.Fprintf(tw, "  %s%s\t%d\t%s\n", j.Status, flag, j.N, j.Amount)
		}
		var exc []struct {
			Kind string `db:"kind"`
			N    int    `db:"n"`
		}
		if err := db.SelectContext(ctx, &exc, `
			SELECT 'held receipts' AS kind, count(*) AS n FROM run_receipts WHERE run_id = $1 AND held
			UNION ALL SELECT 'receipts with unallocated remainder', count(*) FROM run_receipts WHERE run_id = $1 AND NOT held AND unallocated > 0
			UNION ALL SELECT 'allocations not planned', count(*) FROM run_skipped_allocations WHERE run_id = $1`, runID); err != nil {
			return err
		}
		fmt.Fprintf(tw, "Run of %s: exceptions\n", date)
		for _, e := range exc {
			fmt.Fprintf(tw, "  %s\t%d\n", e.Kind, e.N)
		}
	}
	var files []struct {
		Name   string `db:"name"`
		Errors int    `db:"errors"`
		Reason string `db:"reason"`
		At     string `db:"at"`
	}
	if err := db.SelectContext(ctx, &files, `
		SELECT name, errors, reason, to_char(received_at, 'YYYY-MM-DD HH24:MI') AS at FROM files
		WHERE status IN ('rejected', 'duplicate') ORDER BY received_at DESC LIMIT 10`); err != nil {
		return err
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "Rejected files (latest 10)")
	if len(files) == 0 {
		fmt.Fprintln(tw, "  none")
	}
	for _, f := range files {
		// Names and reasons come from the drop folder: escaped, as the page may reach a terminal.
		fmt.Fprintf(tw, "  %s\t%s\t%d errors\t%s\n", f.At, pool.Printable(f.Name), f.Errors, pool.Printable(f.Reason))
	}
	return nil
}

package batch

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/batch/ingest"
	"github.com/cashpool/cashpool/batch/store"
	"github.com/cashpool/cashpool/pool"
	"github.com/cashpool/cashpool/reconcile"
)

// statusJournalLines caps the failed and stuck journals status lists one by one; the report has
// them all.
const statusJournalLines = 50

// WriteStatus prints what the database knows about the runs of a sweep account: the run of date in
// detail (batches, journals by status, the report's totals and exceptions as of now, the failed
// and stuck journals), the last runs in a line each, and the files rejected lately. opts are the
// report's options, so status and report agree.
func WriteStatus(ctx context.Context, w io.Writer, db *sqlx.DB, sweep, date string, now time.Time, opts ...reconcile.Option) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	var runs []struct {
		ID       int64  `db:"id"`
		Date     string `db:"business_date"`
		Status   string `db:"status"`
		Journals int    `db:"journals"`
		Amount   string `db:"amount"`
		Rewards  int    `db:"rewards"`
	}
	// Journals and amount are the cash (JNLC) journals'; rewards count each reward's JNLS once.
	if err := db.SelectContext(ctx, &runs, `
		SELECT r.id, to_char(r.business_date, 'YYYY-MM-DD') AS business_date, r.status,
		       t.n AS journals, to_char(t.amount, 'FM999999999999990.00') AS amount, w.n AS rewards
		FROM (SELECT * FROM runs WHERE sweep_account = $1 ORDER BY business_date DESC LIMIT 10) r
		CROSS JOIN LATERAL (
		    SELECT count(*) AS n, coalesce(sum(j.amount), 0) AS amount
		    FROM journals j WHERE j.run_id = r.id AND j.entry_type = 'JNLC' AND `+store.LatestAttemptSQL+`) t
		CROSS JOIN LATERAL (
		    SELECT count(DISTINCT j.reward_id) AS n FROM journals j WHERE j.run_id = r.id AND j.entry_type = 'JNLS') w
		ORDER BY r.business_date DESC`, sweep); err != nil {
		return err
	}
	fmt.Fprintln(tw, "RUN\tDATE\tSTATUS\tJOURNALS\tAMOUNT\tREWARDS")
	var runID int64
	for _, r := range runs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%d\n", r.ID, r.Date, r.Status, r.Journals, r.Amount, r.Rewards)
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
	} else if err := writeRunStatus(ctx, tw, db, runID, date, now, opts); err != nil {
		return err
	}
	var files []struct {
		Name   string `db:"name"`
		Errors int    `db:"errors"`
		Reason string `db:"reason"`
		At     string `db:"at"`
	}
	if err := db.SelectContext(ctx, &files, ingest.LatestRefusedSQL); err != nil {
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

// writeRunStatus prints one run: its batches, its journals by status, and the report's totals and
// exceptions built now, so every figure is the report's to the cent.
func writeRunStatus(ctx context.Context, tw io.Writer, db *sqlx.DB, runID int64, date string, now time.Time, opts []reconcile.Option) error {
	batches, err := store.BatchCounts(ctx, db, runID)
	if err != nil {
		return err
	}
	fmt.Fprintf(tw, "Run of %s: batches\n", date)
	for _, b := range batches {
		fmt.Fprintf(tw, "  %s\t%d\n", b.Status, b.N)
	}
	var journals []struct {
		Status   string `db:"status"`
		Unknown  bool   `db:"status_unknown"`
		Redriven bool   `db:"redriven"`
		N        int    `db:"n"`
		Amount   string `db:"amount"`
	}
	if err := db.SelectContext(ctx, &journals, store.JournalStatusCountsSQL, runID); err != nil {
		return err
	}
	fmt.Fprintf(tw, "Run of %s: cash journals (latest attempt of each allocation)\n", date)
	redriven := false
	for _, j := range journals {
		if j.Redriven && !redriven {
			redriven = true
			fmt.Fprintf(tw, "Run of %s: earlier attempts, redriven (history, not counted)\n", date)
		}
		flag := ""
		if j.Unknown {
			flag = " (unknown status)"
		}
		fmt.Fprintf(tw, "  %s%s\t%d\t%s\n", j.Status, flag, j.N, j.Amount)
	}

	rep, err := reconcile.Build(ctx, db, runID, now, opts...)
	if err != nil {
		return err
	}
	fmt.Fprintf(tw, "Run of %s: totals (as the report has them)\n", date)
	for _, m := range reconcile.TotalsRows(rep) {
		fmt.Fprintf(tw, "  %s\t%s\n", m[0], m[1])
	}
	// A kind sums its cash; a reward kind sums its shares per symbol instead (its amount is none).
	type kindSum struct {
		n      int
		amount decimal.Decimal
		shares map[string]decimal.Decimal
	}
	byKind := map[string]*kindSum{}
	for _, e := range rep.Exceptions {
		k := byKind[e.Kind]
		if k == nil {
			k = &kindSum{shares: map[string]decimal.Decimal{}}
			byKind[e.Kind] = k
		}
		k.n++
		k.amount = k.amount.Add(e.Amount)
		if e.RewardID != "" {
			k.shares[e.Symbol] = k.shares[e.Symbol].Add(e.Qty)
		}
	}
	fmt.Fprintf(tw, "Run of %s: exceptions\n", date)
	if len(rep.Exceptions) == 0 {
		fmt.Fprintln(tw, "  none")
	}
	for _, kind := range reconcile.Kinds {
		k := byKind[kind]
		if k == nil {
			continue
		}
		sum := k.amount.StringFixed(2)
		if len(k.shares) > 0 && k.amount.IsZero() {
			var each []string
			for _, symbol := range slices.Sorted(maps.Keys(k.shares)) {
				each = append(each, k.shares[symbol].String()+" "+symbol)
			}
			sum = strings.Join(each, ", ")
		}
		fmt.Fprintf(tw, "  %s\t%d\t%s\n", kind, k.n, sum)
	}
	// The journals a person must look at, one by one: failed, stuck, not sent, unknown, late news.
	writeExceptionLines(tw, rep, fmt.Sprintf("Run of %s: failed and stuck journals", date),
		"KIND\tRECEIPT\tCLIENT REF\tACCOUNT\tAMOUNT\tSTATUS\tJOURNAL KEY\tALPACA ID\tREASON",
		func(e reconcile.Exception) bool { return e.JournalKey != "" && e.RewardID == "" },
		func(e reconcile.Exception, id string) []string {
			return []string{e.Kind, statusText(e.ReceiptID), statusText(e.ClientRef), e.AccountID, e.Amount.StringFixed(2),
				statusText(e.Status), e.JournalKey, id, statusText(e.Reason)}
		})
	// The rewards a person must look at, one by one, in shares.
	writeExceptionLines(tw, rep, fmt.Sprintf("Run of %s: rewards not delivered", date),
		"KIND\tREWARD\tACCOUNT\tSYMBOL\tQTY\tSTATUS\tJOURNAL KEY\tALPACA ID\tREASON",
		func(e reconcile.Exception) bool { return e.RewardID != "" },
		func(e reconcile.Exception, id string) []string {
			return []string{e.Kind, statusText(e.RewardID), e.AccountID, statusText(e.Symbol), e.Qty.String(),
				statusText(e.Status), statusText(e.JournalKey), id, statusText(e.Reason)}
		})
	return nil
}

// writeExceptionLines lists the first statusJournalLines exceptions keep picks, one a row of
// cells under title and header, then how many more there are; nothing when keep picks none.
func writeExceptionLines(tw io.Writer, rep *reconcile.Report, title, header string,
	keep func(reconcile.Exception) bool, cells func(e reconcile.Exception, alpacaID string) []string) {
	var listed, more int
	for _, e := range rep.Exceptions {
		if !keep(e) {
			continue
		}
		if listed == statusJournalLines {
			more++
			continue
		}
		if listed == 0 {
			fmt.Fprintln(tw, title)
			fmt.Fprintln(tw, "  "+header)
		}
		listed++
		id := e.JournalID
		if id == "" {
			id = "-"
		}
		fmt.Fprintln(tw, "  "+strings.Join(cells(e, id), "\t"))
	}
	if more > 0 {
		fmt.Fprintf(tw, "  ... and %d more: see the report\n", more)
	}
}

// statusText keeps free text (file values, Alpaca's messages) on one line of the table: control
// characters are escaped visibly and runs of space collapse.
func statusText(s string) string {
	return strings.Join(strings.Fields(pool.Printable(s)), " ")
}

package ingest

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/bank/bai2"
	"github.com/cashpool/cashpool/bank/camt"
	"github.com/cashpool/cashpool/pool"
)

// Bank statement formats, taken from the drop folder as receipts files.
const (
	formatBAI2 = "bai2"
	formatCAMT = "camt"

	// BAI2PatternDefault names BAI2 statement files. Defaults to *.bai* (.bai and .bai2).
	BAI2PatternDefault = "*.bai*"
	// CAMTPatternDefault names camt.053 and camt.054 files. Defaults to camt05[34]*.xml.
	CAMTPatternDefault = "camt05[34]*.xml"
)

// statementRow is one receipt a statement holds, with the line it starts on.
type statementRow struct {
	line int
	rc   pool.Receipt
	refs []receiptRef // the statement's references for the receipt, for allocations by reference
}

// receiptRef is one reference a statement gives a receipt (a receipt_references kind and text).
type receiptRef struct{ kind, ref string }

// refsOf reads its arguments as kind, text, kind, text, ... and keeps the references with a text.
func refsOf(pairs ...string) []receiptRef {
	var out []receiptRef
	for i := 0; i+1 < len(pairs); i += 2 {
		if s := strings.TrimSpace(pairs[i+1]); s != "" && s != "NOTPROVIDED" {
			out = append(out, receiptRef{pairs[i], s})
		}
	}
	return out
}

// statementEntry is an entry of a statement that is not a receipt (a debit, a reversal, a pending
// or zero entry): reported, never loaded.
type statementEntry struct {
	line        int
	kind, ref   string
	amount, ccy string
}

// readStatement reads a statement file with its format's reader and maps its credits to receipts.
// Receipt ids are the reader's match key for the payment, prefixed with the format, so the same
// entry reported twice has one id and no id can be taken for a CSV receipt's. Any problem refuses
// the file whole. It also returns the BAI2 days a deletion or correction group restates.
func readStatement(f io.Reader, format, account string, now time.Time, probs *Problems) ([]statementRow, []statementEntry, []restatedDay) {
	var rows []statementRow
	var others []statementEntry
	var days []restatedDay
	switch format {
	case formatBAI2:
		st, ps := bai2.Read(f, bai2.Options{Accounts: []string{account}})
		for _, p := range ps.List {
			probs.add(Problem(p))
		}
		probs.Total += ps.Total - len(ps.List)
		for _, x := range st.Restated {
			days = append(days, restatedDay{line: x.Line, status: x.Status, day: bai2Day(x.Bank, x.Account, x.AsOfDate)})
		}
		for _, e := range st.Receipts {
			if e.GroupStatus == "2" {
				// A deletion withdraws the day's report: its entries are no money.
				others = append(others, statementEntry{line: e.Line, kind: "deleted (group status 2)", ref: e.BankRef,
					amount: e.Amount.StringFixed(2), ccy: e.Currency})
				continue
			}
			key := "ref:" + e.Bank + "/" + e.Account + "/" + e.BankRef
			if e.UETR != "" {
				key = "uetr:" + e.UETR
			}
			rows = append(rows, statementRow{line: e.Line, rc: pool.Receipt{
				ReceiptID: statementReceiptID("bai2", key), ValueDate: e.ValueDate, Amount: e.Amount, Currency: e.Currency,
				OriginatorName: e.Originator.Name, OriginatorAccount: e.Originator.Account,
				OriginatorBank: e.Originator.Bank, OriginatorAddress: e.Originator.Address,
				Reference: firstText(e.Originator.Info, e.CustomerRef),
			}, refs: refsOf("bank_reference", e.BankRef, "end_to_end_id", e.CustomerRef, "uetr", e.UETR, "imad", e.IMAD,
				"bai2_day", bai2Day(e.Bank, e.Account, e.AsOfDate))})
		}
		for _, group := range [][]bai2.Entry{st.Debits, st.Reversals, st.Other} {
			for _, e := range group {
				others = append(others, statementEntry{line: e.Line, kind: string(e.Kind), ref: e.BankRef,
					amount: e.Amount.StringFixed(2), ccy: e.Currency})
			}
		}
	case formatCAMT:
		st, ps := camt.Read(f, camt.Options{Account: account})
		for _, p := range ps.List {
			probs.add(Problem(p))
		}
		probs.Total += ps.Total - len(ps.List)
		for _, t := range st.Receipts {
			rows = append(rows, statementRow{line: t.Line, rc: pool.Receipt{
				ReceiptID: statementReceiptID("camt", t.MatchKey()), ValueDate: t.ValueDate, Amount: t.Amount, Currency: t.Currency,
				OriginatorName: t.OriginatorName, OriginatorAccount: t.OriginatorAccount,
				OriginatorBank: t.OriginatorBank, OriginatorAddress: t.OriginatorAddress,
				Reference: firstText(t.Remittance, t.EndToEndID),
			}, refs: refsOf("bank_reference", t.EntryRef, "bank_reference", t.TxRef, "end_to_end_id", t.EndToEndID,
				"uetr", t.UETR, "imad", t.IMAD())})
		}
		for _, e := range st.Others {
			others = append(others, statementEntry{line: e.Line, kind: e.Why, ref: e.EntryRef,
				amount: e.Amount.StringFixed(2), ccy: e.Currency})
		}
	}
	if probs.Total > 0 {
		return nil, nil, nil
	}
	first := map[string]int{}
	for i := range rows {
		checkStatementRow(&rows[i], now, first, probs)
	}
	for i := range days {
		for _, row := range rows {
			if slices.Contains(row.refs, receiptRef{"bai2_day", days[i].day}) {
				days[i].ids = append(days[i].ids, row.rc.ReceiptID)
			}
		}
	}
	return rows, others, days
}

// restatedDay is a BAI2 account and as-of date that a deletion (status 2) or correction (3) group
// reports again (line: the group's 02 record), with the receipts the group gives it (none for a
// deletion).
type restatedDay struct {
	line        int
	status, day string
	ids         []string
}

// checkStatementRow holds a statement's receipt to the rules of a CSV receipt: the receipts table's
// limits (free text is cut to them, identifiers are not), USD only, a plausible value date.
func checkStatementRow(row *statementRow, now time.Time, first map[string]int, probs *Problems) {
	rc := &row.rc
	bad := func(field, value, msg string) {
		probs.add(Problem{Line: row.line, Field: field, Value: value, Problem: field + " " + msg})
	}
	if _, err := pool.ParseRef(rc.ReceiptID); err != nil {
		bad("receipt_id", rc.ReceiptID, err.Error())
	} else if l, ok := first[rc.ReceiptID]; ok {
		bad("receipt_id", rc.ReceiptID, fmt.Sprintf("appears twice in the file: first at line %d", l))
	} else {
		first[rc.ReceiptID] = row.line
	}
	if rc.Currency != pool.Currency {
		bad("currency", rc.Currency, pool.ErrCurrency.Error())
	}
	if _, err := pool.ParseValueDate(rc.ValueDate.Format(time.DateOnly), now); err != nil {
		bad("value_date", rc.ValueDate.Format(time.DateOnly), err.Error())
	}
	for _, t := range []struct {
		field string
		s     *string
		max   int
	}{
		{"originator_name", &rc.OriginatorName, pool.MaxOriginatorLen},
		{"originator_account", &rc.OriginatorAccount, pool.MaxOriginatorLen},
		{"originator_bank", &rc.OriginatorBank, pool.MaxOriginatorLen},
		{"originator_address", &rc.OriginatorAddress, pool.MaxOriginatorLen},
		{"reference", &rc.Reference, pool.MaxReferenceLen},
	} {
		*t.s = clip(*t.s, t.max)
		if err := pool.CheckText(*t.s, t.max, false); err != nil {
			bad(t.field, *t.s, err.Error())
		}
	}
}

// firstText is the first of its texts that is not blank.
func firstText(texts ...string) string {
	for _, s := range texts {
		if s = strings.TrimSpace(s); s != "" && s != "NOTPROVIDED" {
			return s
		}
	}
	return ""
}

// clip cuts s to at most n bytes on a character boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// statementReceiptID is the receipt id of a statement entry. A UETR names one payment worldwide,
// whichever format reports it, so it is the id as it is (lower case): the same wire in a BAI2 and
// in a camt file is one receipt. Every other key is the bank's reference within one format and
// carries the format's name, so two formats' references can never collide.
func statementReceiptID(format, key string) string {
	if strings.HasPrefix(key, "uetr:") {
		return strings.ToLower(key)
	}
	return format + ":" + key
}

// bai2Day names the (bank, account, as-of date) a BAI2 group reports: a corrected or deleted
// group names the receipts an earlier report of that day gave.
func bai2Day(bank, account string, asOf time.Time) string {
	return bank + "/" + account + "/" + asOf.Format(time.DateOnly)
}

// loadedReceipt is a receipt an earlier file loaded.
type loadedReceipt struct {
	ID     string          `db:"receipt_id"`
	Amount decimal.Decimal `db:"amount"`
	File   string          `db:"name"`
}

// checkAgainstLoaded refuses a statement that would change what earlier files loaded: an entry
// reported again with another amount, and a BAI2 deletion or correction of an account and day
// that drops a receipt already taken. A loaded receipt may already be paid; a file never takes it
// back, a person does.
func (r *runner) checkAgainstLoaded(ctx context.Context, rows []statementRow, days []restatedDay, probs *Problems) error {
	ids := make([]string, len(rows))
	for i, row := range rows {
		ids[i] = row.rc.ReceiptID
	}
	var earlier []loadedReceipt
	if err := r.db.SelectContext(ctx, &earlier, queryReceiptsLoaded, stringArray(ids)); err != nil {
		return fmt.Errorf("look up receipts: %w", err)
	}
	byID := make(map[string]loadedReceipt, len(earlier))
	for _, e := range earlier {
		byID[e.ID] = e
	}
	for _, row := range rows {
		if e, ok := byID[row.rc.ReceiptID]; ok && !e.Amount.Equal(row.rc.Amount) {
			probs.add(Problem{Line: row.line, Field: "amount", Value: row.rc.Amount.StringFixed(2), Problem: fmt.Sprintf(
				"receipt %s was loaded from %s for %s; this statement reports %s: a loaded receipt is never changed by a file, "+
					"ask the bank which is right", row.rc.ReceiptID, e.File, e.Amount.StringFixed(2), row.rc.Amount.StringFixed(2))})
		}
	}
	for _, d := range days {
		var dropped []loadedReceipt
		keep := append([]string{}, d.ids...) // never NULL: a deletion keeps nothing
		if err := r.db.SelectContext(ctx, &dropped, queryReceiptsOfDay, d.day, stringArray(keep)); err != nil {
			return fmt.Errorf("look up receipts of %s: %w", d.day, err)
		}
		what := "correction (group status 3) no longer reports"
		if d.status == "2" {
			what = "deletion (group status 2) withdraws"
		}
		for _, e := range dropped {
			probs.add(Problem{Line: d.line, Column: 4, Field: "group status", Value: d.status, Problem: fmt.Sprintf(
				"this %s receipt %s of %s (loaded from %s for %s): a loaded receipt is never withdrawn by a file; "+
					"ask the bank, and hold its allocations if the wire was withdrawn", what, e.ID, d.day, e.File, e.Amount.StringFixed(2))})
		}
	}
	return nil
}

// insertRefs records the references the statement gives its receipts, loaded now or before.
func insertRefs(ctx context.Context, tx *sqlx.Tx, rows []statementRow) error {
	var ids, kinds, refs []string
	for _, row := range rows {
		for _, x := range row.refs {
			ids, kinds, refs = append(ids, row.rc.ReceiptID), append(kinds, x.kind), append(refs, x.ref)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, insertReceiptReferences, stringArray(ids), stringArray(kinds), stringArray(refs)); err != nil {
		return fmt.Errorf("record receipt references: %w", err)
	}
	return nil
}

package ingest

import (
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

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
// the file whole.
func readStatement(f io.Reader, format, account string, now time.Time, probs *Problems) ([]statementRow, []statementEntry) {
	var rows []statementRow
	var others []statementEntry
	switch format {
	case formatBAI2:
		st, ps := bai2.Read(f, bai2.Options{Accounts: []string{account}})
		for _, p := range ps.List {
			probs.add(Problem(p))
		}
		probs.Total += ps.Total - len(ps.List)
		for _, e := range st.Receipts {
			key := "ref:" + e.Bank + "/" + e.Account + "/" + e.BankRef
			if e.UETR != "" {
				key = "uetr:" + e.UETR
			}
			rows = append(rows, statementRow{line: e.Line, rc: pool.Receipt{
				ReceiptID: statementReceiptID("bai2", key), ValueDate: e.ValueDate, Amount: e.Amount, Currency: e.Currency,
				OriginatorName: e.Originator.Name, OriginatorAccount: e.Originator.Account,
				OriginatorBank: e.Originator.Bank, OriginatorAddress: e.Originator.Address,
				Reference: firstText(e.Originator.Info, e.CustomerRef),
			}})
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
			}})
		}
		for _, e := range st.Others {
			others = append(others, statementEntry{line: e.Line, kind: e.Why, ref: e.EntryRef,
				amount: e.Amount.StringFixed(2), ccy: e.Currency})
		}
	}
	if probs.Total > 0 {
		return nil, nil
	}
	first := map[string]int{}
	for i := range rows {
		checkStatementRow(&rows[i], now, first, probs)
	}
	return rows, others
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

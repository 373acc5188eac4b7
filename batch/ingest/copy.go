package ingest

import (
	"strconv"
	"time"

	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/batch/store"
	"github.com/cashpool/cashpool/pool"
)

// The COPY line of a receipt, an allocation or a reward: its physical line, then its columns in the
// order of the kind's copyStage (copyTarget has file_id before them). Values were validated and are
// sent as the old prepared COPY sent them: amounts and quantities as decimal.String, dates as
// YYYY-MM-DD.

func appendReceipt(b []byte, line int, x pool.Receipt) []byte {
	b = strconv.AppendInt(b, int64(line), 10)
	b = store.AppendCopyText(b, x.ReceiptID)
	b = append(b, '\t')
	b = x.ValueDate.AppendFormat(b, time.DateOnly)
	b = store.AppendCopyText(b, x.Amount.String())
	b = store.AppendCopyText(b, x.Currency)
	b = store.AppendCopyText(b, x.OriginatorName)
	b = store.AppendCopyText(b, x.OriginatorAccount)
	b = store.AppendCopyText(b, x.OriginatorBank)
	b = store.AppendCopyText(b, x.OriginatorAddress)
	return store.AppendCopyText(b, x.Reference)
}

func appendAllocation(b []byte, line int, a pool.Allocation) []byte {
	b = strconv.AppendInt(b, int64(line), 10)
	b = appendNullText(b, a.ReceiptID)
	b = appendNullText(b, a.BankReference)
	b = store.AppendCopyText(b, a.AccountID)
	b = appendDecimal(b, a.Amount)
	b = appendDecimal(b, a.Weight)
	b = store.AppendCopyText(b, a.ClientRef)
	return store.AppendCopyText(b, a.Description)
}

func appendReward(b []byte, line int, w pool.Reward) []byte {
	b = strconv.AppendInt(b, int64(line), 10)
	b = store.AppendCopyText(b, w.RewardID)
	b = store.AppendCopyText(b, w.AccountID)
	b = store.AppendCopyText(b, w.Symbol)
	b = store.AppendCopyText(b, w.Qty.String())
	b = store.AppendCopyText(b, w.Reason)
	return store.AppendCopyText(b, w.Description)
}

// appendNullText appends s, or NULL for "" (the receipt_id or bank_reference a row leaves out).
func appendNullText(b []byte, s string) []byte {
	if s == "" {
		return store.AppendCopyNull(b)
	}
	return store.AppendCopyText(b, s)
}

func appendDecimal(b []byte, d decimal.NullDecimal) []byte {
	if !d.Valid {
		return store.AppendCopyNull(b)
	}
	return store.AppendCopyText(b, d.Decimal.String())
}

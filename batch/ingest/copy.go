package ingest

import (
	"context"
	"database/sql/driver"
	"fmt"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/pool"
)

// copyChunk is how many bytes of COPY lines are handed to the driver at once: one protocol
// message each, instead of a driver call and a value conversion per field of every row.
const copyChunk = 256 << 10

// copyIn is lib/pq's COPY statement: CopyData takes text-format COPY lines as they are, Exec with
// no values ends the COPY and returns the database's answer to all of it.
type copyIn interface {
	CopyData(ctx context.Context, data string) (driver.Result, error)
	Exec(args []driver.Value) (driver.Result, error)
	Close() error
}

// copyStream is one COPY ... FROM STDIN (text format) inside the transaction open on a connection:
// rows are escaped into buf as they are validated and sent a chunk at a time, so a file of any
// size is held one chunk at a time.
type copyStream struct {
	ctx context.Context
	ci  copyIn
	buf []byte
	// err is the database's: the COPY failed. Errors of the caller's reading are returned as they are.
	err error
}

// streamCopy runs query (a COPY ... FROM STDIN) on conn, whose transaction must be open, and calls
// write, which appends each row's line to s.buf and calls s.row. When write fails the COPY is ended
// early and the transaction must be rolled back. The database's refusal is in s.err.
func streamCopy(ctx context.Context, conn *sqlx.Conn, query string, write func(s *copyStream) error) (s *copyStream, err error) {
	s = &copyStream{ctx: ctx, buf: make([]byte, 0, copyChunk+MaxRecordBytes)}
	err = conn.Raw(func(dc any) error {
		prep, ok := dc.(driver.ConnPrepareContext)
		if !ok {
			return fmt.Errorf("copy: driver connection %T cannot prepare", dc)
		}
		st, err := prep.PrepareContext(ctx, query)
		if err != nil {
			return fmt.Errorf("prepare copy: %w", err)
		}
		ci, ok := st.(copyIn)
		if !ok {
			st.Close()
			return fmt.Errorf("copy: driver statement %T takes no COPY data", st)
		}
		s.ci = ci
		// Closing sends what is buffered and ends the COPY; after an error the rollback undoes it.
		defer ci.Close()
		if err := write(s); err != nil {
			return err
		}
		if err := s.send(); err != nil {
			return err
		}
		if _, err := ci.Exec(nil); err != nil {
			s.err = err
			return err
		}
		return nil
	})
	return s, err
}

// row ends the COPY line the caller appended to s.buf and sends the buffer once it holds a chunk.
func (s *copyStream) row() error {
	s.buf = append(s.buf, '\n')
	if len(s.buf) < copyChunk {
		return nil
	}
	return s.send()
}

// send hands the buffered lines to the driver. CopyData ends what it is given with a newline, so
// the last line's own is left off.
func (s *copyStream) send() error {
	if len(s.buf) == 0 {
		return nil
	}
	if _, err := s.ci.CopyData(s.ctx, string(s.buf[:len(s.buf)-1])); err != nil {
		s.err = err
		return err
	}
	s.buf = s.buf[:0]
	return nil
}

// The COPY line of a receipt, an allocation or a reward: its physical line, then its columns in the
// order of the kind's copyStage (copyTarget has file_id before them). Values were validated and are
// sent as the old prepared COPY sent them: amounts and quantities as decimal.String, dates as
// YYYY-MM-DD.

func appendReceipt(b []byte, line int, x pool.Receipt) []byte {
	b = strconv.AppendInt(b, int64(line), 10)
	b = appendText(b, x.ReceiptID)
	b = append(b, '\t')
	b = x.ValueDate.AppendFormat(b, time.DateOnly)
	b = appendText(b, x.Amount.String())
	b = appendText(b, x.Currency)
	b = appendText(b, x.OriginatorName)
	b = appendText(b, x.OriginatorAccount)
	b = appendText(b, x.OriginatorBank)
	b = appendText(b, x.OriginatorAddress)
	return appendText(b, x.Reference)
}

func appendAllocation(b []byte, line int, a pool.Allocation) []byte {
	b = strconv.AppendInt(b, int64(line), 10)
	b = appendNullText(b, a.ReceiptID)
	b = appendNullText(b, a.BankReference)
	b = appendText(b, a.AccountID)
	b = appendDecimal(b, a.Amount)
	b = appendDecimal(b, a.Weight)
	b = appendText(b, a.ClientRef)
	return appendText(b, a.Description)
}

func appendReward(b []byte, line int, w pool.Reward) []byte {
	b = strconv.AppendInt(b, int64(line), 10)
	b = appendText(b, w.RewardID)
	b = appendText(b, w.AccountID)
	b = appendText(b, w.Symbol)
	b = appendText(b, w.Qty.String())
	b = appendText(b, w.Reason)
	return appendText(b, w.Description)
}

// appendNullText appends s, or NULL for "" (the receipt_id or bank_reference a row leaves out).
func appendNullText(b []byte, s string) []byte {
	if s == "" {
		return append(b, '\t', '\\', 'N')
	}
	return appendText(b, s)
}

func appendDecimal(b []byte, d decimal.NullDecimal) []byte {
	if !d.Valid {
		return append(b, '\t', '\\', 'N')
	}
	return appendText(b, d.Decimal.String())
}

// appendText appends a tab and s escaped for COPY's text format: a backslash, tab, newline or
// carriage return in a value would otherwise end the field or the row, or start an escape.
func appendText(b []byte, s string) []byte {
	b = append(b, '\t')
	start := 0
	for i := 0; i < len(s); i++ {
		var esc byte
		switch s[i] {
		case '\\':
			esc = '\\'
		case '\t':
			esc = 't'
		case '\n':
			esc = 'n'
		case '\r':
			esc = 'r'
		default:
			continue
		}
		b = append(b, s[start:i]...)
		b = append(b, '\\', esc)
		start = i + 1
	}
	return append(b, s[start:]...)
}

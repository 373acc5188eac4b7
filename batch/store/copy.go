package store

import (
	"context"
	"database/sql/driver"
	"fmt"
	"sync"

	"github.com/jmoiron/sqlx"
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

// copyBufs keeps the chunk buffers of finished COPYs: plan runs one COPY per batch, and a new
// buffer each time was half a megabyte to clear.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2*copyChunk); return &b }}

// CopyStream is one COPY ... FROM STDIN (text format) inside the transaction open on a connection:
// the caller appends each row's line to Buf and calls Row, and the lines are sent a chunk at a
// time, so any number of rows is held one chunk at a time. Ingest streams files with it, plan a
// night's journals.
type CopyStream struct {
	ctx context.Context
	ci  copyIn
	Buf []byte
	// Err is the database's: the COPY failed. Errors of the caller's own are returned as they are.
	Err error
}

// StreamCopy runs query (a COPY ... FROM STDIN) on conn, whose transaction must be open, and calls
// write, which appends each row's line to s.Buf and calls s.Row. When write fails the COPY is
// ended early and the transaction must be rolled back. The database's refusal is in s.Err.
func StreamCopy(ctx context.Context, conn *sqlx.Conn, query string, write func(s *CopyStream) error) (s *CopyStream, err error) {
	buf := copyBufs.Get().(*[]byte)
	s = &CopyStream{ctx: ctx, Buf: (*buf)[:0]}
	defer func() {
		*buf = s.Buf[:0]
		copyBufs.Put(buf)
	}()
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
			s.Err = err
			return err
		}
		return nil
	})
	return s, err
}

// Row ends the COPY line the caller appended to s.Buf and sends the buffer once it holds a chunk.
func (s *CopyStream) Row() error {
	s.Buf = append(s.Buf, '\n')
	if len(s.Buf) < copyChunk {
		return nil
	}
	return s.send()
}

// Lines appends whole COPY lines (each ending in a newline) and sends the buffer once it holds a chunk.
func (s *CopyStream) Lines(b []byte) error {
	s.Buf = append(s.Buf, b...)
	if len(s.Buf) < copyChunk {
		return nil
	}
	return s.send()
}

// send hands the buffered lines to the driver. CopyData ends what it is given with a newline, so
// the last line's own is left off.
func (s *CopyStream) send() error {
	if len(s.Buf) == 0 {
		return nil
	}
	if _, err := s.ci.CopyData(s.ctx, string(s.Buf[:len(s.Buf)-1])); err != nil {
		s.Err = err
		return err
	}
	s.Buf = s.Buf[:0]
	return nil
}

// AppendCopyNull appends a tab and NULL in COPY's text format.
func AppendCopyNull(b []byte) []byte { return append(b, '\t', '\\', 'N') }

// AppendCopyText appends a tab and s escaped for COPY's text format: a backslash, tab, newline or
// carriage return in a value would otherwise end the field or the row, or start an escape.
func AppendCopyText(b []byte, s string) []byte {
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

package alpaca

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
)

// MaxListElementBytes bounds one journal of a list answer, with the decoder's read-ahead: a
// journal takes at most 2.6 KB, so a larger element is a broken or hostile answer, refused before
// it is held.
const MaxListElementBytes = 1 << 20

// callbackError carries an error of the caller's callback through the retry loop, which returns
// it as is and never retries it.
type callbackError struct{ err error }

func (e *callbackError) Error() string { return e.err.Error() }
func (e *callbackError) Unwrap() error { return e.err }

// undecodable is the error of an answer that is not the JSON expected. It is never retried: the
// same request would get the same answer.
func undecodable(err error) *APIError {
	return &APIError{HTTPStatus: 502, Message: "undecodable answer: " + err.Error()}
}

// answerBuffers are the buffers decodeAll reads answers into: growing a new one for each of a
// night's 2,000 batch answers (250 KB each) cost more CPU than decoding them. Nothing decoded
// keeps a reference into the buffer.
var answerBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledAnswer is the largest buffer kept for the next answer: a batch answer of 500 of the
// largest journals takes 1.4 MB; a rare larger one is left to the garbage collector.
const maxPooledAnswer = 4 << 20

// decodeAll reads a whole answer of at most limit bytes into out (nil: the answer is discarded).
func decodeAll(out any, limit int64) decoder {
	return func(r io.Reader) error {
		buf := answerBuffers.Get().(*bytes.Buffer)
		defer func() {
			if buf.Cap() <= maxPooledAnswer {
				buf.Reset()
				answerBuffers.Put(buf)
			}
		}()
		if _, err := buf.ReadFrom(io.LimitReader(r, limit+1)); err != nil {
			return err
		}
		data := buf.Bytes()
		if int64(len(data)) > limit {
			return fmt.Errorf("%w of %d bytes", ErrAnswerTooLarge, limit)
		}
		if out == nil {
			return nil
		}
		if err := unmarshal(data, out); err != nil {
			return undecodable(err)
		}
		return nil
	}
}

// unmarshal is json.Unmarshal, taking the quick way for a batch answer into an empty list.
func unmarshal(data []byte, out any) error {
	if o, ok := out.(*[]BatchJournal); ok && *o == nil {
		if v, ok := quickBatchAnswer(data); ok {
			*o = v
			return nil
		}
	}
	return json.Unmarshal(data, out)
}

// decodeEach reads a JSON array of journals one element at a time, handing each to fn: memory
// holds one journal and the decoder's buffer, whatever the size of the answer. The whole answer is
// still bounded by MaxListAnswerBytes and each element by MaxListElementBytes. A JSON null is an
// empty list.
func decodeEach(fn func(Journal) error) decoder {
	return func(r io.Reader) error {
		cr := &capReader{r: r, total: MaxListAnswerBytes, element: MaxListElementBytes}
		dec := json.NewDecoder(cr)
		tok, err := dec.Token()
		if err != nil {
			return tokenErr(err)
		}
		if tok == nil {
			return trailing(dec)
		}
		if d, ok := tok.(json.Delim); !ok || d != '[' {
			return undecodable(fmt.Errorf("a list answer is not a JSON array (starts with %v)", tok))
		}
		for dec.More() {
			cr.startElement()
			var j Journal
			if err := dec.Decode(&j); err != nil {
				return tokenErr(err)
			}
			if err := fn(j); err != nil {
				return &callbackError{err}
			}
		}
		if _, err := dec.Token(); err != nil { // the closing bracket
			return tokenErr(err)
		}
		return trailing(dec)
	}
}

// trailing refuses anything but whitespace after the answer's JSON value.
func trailing(dec *json.Decoder) error {
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			err = errors.New("trailing data after the JSON value")
		}
		return tokenErr(err)
	}
	return nil
}

// tokenErr sorts a decoder error: the reader's own errors (a cap, a broken connection, an answer
// cut short) pass through; anything else is an answer that is not the JSON expected.
func tokenErr(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax), errors.As(err, &typ):
		return undecodable(err)
	case errors.Is(err, ErrAnswerTooLarge), errors.Is(err, io.ErrUnexpectedEOF):
		return err
	case errors.Is(err, io.EOF):
		return io.ErrUnexpectedEOF
	}
	var rerr *readErr
	if errors.As(err, &rerr) {
		return rerr.err
	}
	return undecodable(err) // e.g. an amount that is not a decimal
}

// readErr marks an error of the underlying reader, to tell it from a decoding error.
type readErr struct{ err error }

func (e *readErr) Error() string { return e.err.Error() }
func (e *readErr) Unwrap() error { return e.err }

// capReader fails with ErrAnswerTooLarge once more than total bytes were read, or more than
// element bytes since the last startElement.
type capReader struct {
	r              io.Reader
	total, element int64
	read, mark     int64
}

func (c *capReader) startElement() { c.mark = c.read }

func (c *capReader) Read(p []byte) (int, error) {
	left := min(c.total-c.read, c.element-(c.read-c.mark))
	if int64(len(p)) > left+1 {
		p = p[:left+1] // one byte past a cap is enough to know it was passed
	}
	n, err := c.r.Read(p)
	c.read += int64(n)
	switch {
	case c.read > c.total:
		return n, fmt.Errorf("%w of %d bytes", ErrAnswerTooLarge, c.total)
	case c.read-c.mark > c.element:
		return n, fmt.Errorf("%w: a list element over %d bytes", ErrAnswerTooLarge, c.element)
	case err != nil && err != io.EOF:
		return n, &readErr{err}
	}
	return n, err
}

package store

import (
	"database/sql/driver"
	"strings"
)

// TextArray is a text[] statement parameter, written as PostgreSQL's array literal in one buffer:
// every element quoted, a double quote or backslash in it escaped with a backslash. pq.Array
// (StringArray) makes a new byte slice of each element and searches it for both characters; the
// stream's moves and the batches' answers of a million-journal night pass some sixteen million
// elements. A nil TextArray is NULL, as pq's is.
type TextArray []string

// Value implements driver.Valuer.
func (a TextArray) Value() (driver.Value, error) {
	if a == nil {
		return nil, nil
	}
	size := 2 + len(a)*3
	for _, s := range a {
		size += len(s)
	}
	var b strings.Builder // its String is the buffer itself, not a copy
	b.Grow(size)
	b.WriteByte('{')
	for i, s := range a {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		start := 0
		for k := 0; k < len(s); k++ {
			if c := s[k]; c == '"' || c == '\\' {
				b.WriteString(s[start:k])
				b.WriteByte('\\')
				start = k // the character itself goes with the next run
			}
		}
		b.WriteString(s[start:])
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String(), nil
}

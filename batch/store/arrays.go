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
	b := make([]byte, 0, size)
	b = append(b, '{')
	for i, s := range a {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		for {
			j := strings.IndexAny(s, `"\`)
			if j < 0 {
				break
			}
			b = append(b, s[:j]...)
			b = append(b, '\\', s[j])
			s = s[j+1:]
		}
		b = append(b, s...)
		b = append(b, '"')
	}
	b = append(b, '}')
	return string(b), nil
}

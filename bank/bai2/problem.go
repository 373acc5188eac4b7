package bai2

import (
	"fmt"
	"strings"
)

// MaxProblems bounds the problems listed for one file; Total still counts them all.
const MaxProblems = 1000

// MaxLineBytes bounds one physical line. Real records are 80 characters or a few hundred; the bound
// keeps memory flat whatever arrives.
const MaxLineBytes = 64 << 10

// Problem is one thing wrong with a file, in the shape of the CSV readers' problems so that both
// end up in the same errors file.
type Problem struct {
	Line    int    // physical line, 1-based; 0 when the problem is about the whole file
	Column  int    // BAI2 field number in the logical record (record code = 1); 0 when not about one field
	Field   string // the field's name, when known
	Value   string // the offending text, when there is one
	Problem string
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&b, "line %d", p.Line)
		if p.Column > 0 {
			fmt.Fprintf(&b, ", field %d", p.Column)
		}
		if p.Field != "" {
			fmt.Fprintf(&b, " (%s)", p.Field)
		}
		b.WriteString(": ")
	}
	b.WriteString(p.Problem)
	return b.String()
}

// Problems lists what is wrong with a file; any problem refuses the whole file.
type Problems struct {
	Total int
	List  []Problem
}

func (ps *Problems) add(p Problem) {
	ps.Total++
	if len(ps.List) < MaxProblems {
		ps.List = append(ps.List, p)
	}
}

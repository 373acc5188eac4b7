package camt

import (
	"encoding/xml"
	"errors"
	"io"
	"strings"
)

// MaxElementBytes bounds one element read whole (a group header, a balance, one entry with all its
// transaction details). A real entry is a few kilobytes even with a large batch; the bound keeps
// memory flat whatever arrives, since everything else streams.
const MaxElementBytes = 4 << 20

// maxDepth bounds nesting inside one element; the deepest path read here is under ten levels.
const maxDepth = 64

var errElementTooLarge = errors.New("element too large")

// node is one XML element read whole, with the position of its start tag.
type node struct {
	name     string
	line     int
	col      int
	attrs    []xml.Attr
	text     strings.Builder
	children []*node
}

// child returns the first child with the local name, or nil.
func (n *node) child(name string) *node {
	if n == nil {
		return nil
	}
	for _, c := range n.children {
		if c.name == name {
			return c
		}
	}
	return nil
}

// all returns every child with the local name.
func (n *node) all(name string) []*node {
	if n == nil {
		return nil
	}
	var out []*node
	for _, c := range n.children {
		if c.name == name {
			out = append(out, c)
		}
	}
	return out
}

// at walks a slash-separated path of first children.
func (n *node) at(path string) *node {
	for _, part := range strings.Split(path, "/") {
		n = n.child(part)
	}
	return n
}

// value is the trimmed text of the element at path, "" when absent.
func (n *node) value(path string) string {
	if m := n.at(path); m != nil {
		return strings.TrimSpace(m.text.String())
	}
	return ""
}

func (n *node) attr(name string) (string, bool) {
	for _, a := range n.attrs {
		if a.Name.Local == name {
			return a.Value, true
		}
	}
	return "", false
}

// limitReader refuses to hand the decoder more than MaxElementBytes beyond the start of the element
// being read, so one gigantic element or text cannot grow memory.
type limitReader struct {
	r      io.Reader
	handed int64
	start  int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.handed-l.start > MaxElementBytes {
		return 0, errElementTooLarge
	}
	n, err := l.r.Read(p)
	l.handed += int64(n)
	return n, err
}

// scanner walks the document with the position of every start tag: the decoder's position before
// a token is where that token begins, because whitespace between elements is a token of its own.
type scanner struct {
	d   *xml.Decoder
	lim *limitReader
}

func newScanner(r io.Reader) *scanner {
	lim := &limitReader{r: r}
	d := xml.NewDecoder(lim)
	d.Strict = true
	return &scanner{d: d, lim: lim}
}

// next returns the next token (copied) and the line and column where it begins.
func (s *scanner) next() (xml.Token, int, int, error) {
	line, col := s.d.InputPos()
	tok, err := s.d.Token()
	if err != nil {
		return nil, line, col, err
	}
	return xml.CopyToken(tok), line, col, nil
}

// nextElement skips to the next start or end element at the current level.
func (s *scanner) nextElement() (xml.Token, int, int, error) {
	for {
		tok, line, col, err := s.next()
		if err != nil {
			return nil, line, col, err
		}
		switch tok.(type) {
		case xml.StartElement, xml.EndElement:
			return tok, line, col, nil
		}
	}
}

// tree reads the element whose start tag was just returned into a node, bounded in size and depth.
func (s *scanner) tree(start xml.StartElement, line, col int) (*node, error) {
	s.lim.start = s.d.InputOffset()
	root := &node{name: start.Name.Local, line: line, col: col, attrs: start.Attr}
	stack := []*node{root}
	for len(stack) > 0 {
		tok, l, c, err := s.next()
		if err != nil {
			return nil, err
		}
		top := stack[len(stack)-1]
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) >= maxDepth {
				return nil, errElementTooLarge
			}
			n := &node{name: t.Name.Local, line: l, col: c, attrs: t.Attr}
			top.children = append(top.children, n)
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			top.text.Write(t)
		}
	}
	s.lim.start = s.d.InputOffset()
	return root, nil
}

// skip discards the rest of the element whose start tag was just returned.
func (s *scanner) skip() error {
	s.lim.start = s.d.InputOffset()
	err := s.d.Skip()
	s.lim.start = s.d.InputOffset()
	return err
}

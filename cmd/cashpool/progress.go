package main

import (
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/term"
)

// terminalProgress gives, when w is a terminal, the pipeline a progress hook that keeps one status
// line ("track: 812 of 1000 journals final") rewritten in place, and w wrapped so that what the
// command prints replaces that line instead of running into it. Anywhere else (a file, a pipe, a
// log collector) it returns w unchanged and no hook: the command prints its results and no more.
func terminalProgress(w io.Writer) (io.Writer, func(step string, done, total int)) {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return w, nil
	}
	s := &statusLine{f: f}
	return s, s.show
}

// statusLine is a terminal with one status line at the cursor.
type statusLine struct {
	mu    sync.Mutex
	f     *os.File
	shown bool
}

// show writes the status and returns the cursor to the line's start, so that the next output,
// from this command or its logs on the same terminal, overwrites it.
func (s *statusLine) show(step string, done, total int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if total > 0 {
		fmt.Fprintf(s.f, "\033[K%s: %d of %d journals final\r", step, done, total)
	} else {
		fmt.Fprintf(s.f, "\033[K%s: %d rows read\r", step, done)
	}
	s.shown = true
}

// Write erases a shown status line first.
func (s *statusLine) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shown {
		s.f.WriteString("\033[K")
		s.shown = false
	}
	return s.f.Write(p)
}

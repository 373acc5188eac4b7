package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// Printed to a file or a pipe, a command shows no progress: no hook, and its output unwrapped.
func TestProgressQuietOffTerminal(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if w, hook := terminalProgress(&buf); hook != nil || w != &buf {
		t.Error("a buffer got a progress hook or a wrapped writer")
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if w, hook := terminalProgress(f); hook != nil || w != f {
		t.Error("a regular file got a progress hook or a wrapped writer")
	}
	r, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer pw.Close()
	if w, hook := terminalProgress(pw); hook != nil || w != pw {
		t.Error("a pipe got a progress hook or a wrapped writer")
	}
}

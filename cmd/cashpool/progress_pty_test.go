//go:build linux

package main

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal: the program's end (a terminal) and the reader's end.
func openPTY(t *testing.T) (tty, ptm *os.File) {
	t.Helper()
	ptm, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("no pseudo-terminal to test the terminal progress on: %v", err)
	}
	t.Cleanup(func() { ptm.Close() })
	if err := unix.IoctlSetPointerInt(int(ptm.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(ptm.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tty.Close() })
	return tty, ptm
}

// On a terminal the status line is rewritten in place and erased by the next output.
func TestProgressOnTerminal(t *testing.T) {
	t.Parallel()
	tty, ptm := openPTY(t)
	w, hook := terminalProgress(tty)
	if hook == nil {
		t.Fatal("a terminal got no progress hook")
	}
	hook("track", 3, 10)
	fmt.Fprint(w, "done\n")
	want := "\033[Ktrack: 3 of 10 journals final\r\033[Kdone\r\n" // the terminal turns \n into \r\n
	buf := make([]byte, 0, 256)
	for !strings.Contains(string(buf), "done") {
		b := make([]byte, 256)
		n, err := ptm.Read(b)
		if err != nil {
			t.Fatal(err)
		}
		buf = append(buf, b[:n]...)
	}
	if got := string(buf); !strings.HasPrefix(want, got) {
		t.Errorf("terminal got %q, want %q", got, want)
	}
}

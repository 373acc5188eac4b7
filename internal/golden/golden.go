// Package golden compares what a test produced with the expected bytes kept beside its input
// (a corpus file's .want), for tests only. Run a test with -update to rewrite the files from what
// the code answers now, then read the diff before committing it.
package golden

import (
	"bytes"
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the expected (.want) files from what the code answers now")

// Check fails t unless got equals the contents of wantPath; with -update it first writes got there.
func Check(t testing.TB, wantPath string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(wantPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(wantPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs:\n%s\nwant:\n%s", wantPath, got, want)
	}
}

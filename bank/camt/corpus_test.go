package camt_test

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cashpool/cashpool/bank/camt"
	"github.com/cashpool/cashpool/internal/golden"
)

func formatWant(ps []camt.Problem) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"line", "column", "field", "value", "problem"})
	for _, p := range ps {
		w.Write([]string{strconv.Itoa(p.Line), strconv.Itoa(p.Column), p.Field, p.Value, p.Problem})
	}
	w.Flush()
	return buf.Bytes()
}

// TestBadFiles reads every file of testdata/bad and checks that it is refused whole with exactly the
// problems its .want file lists.
func TestBadFiles(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/bad/*.xml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 8 {
		t.Fatalf("%d bad files, want at least 8", len(files))
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			st, probs := readFile(t, path, opts())
			if probs.Total == 0 || probs.Total != len(probs.List) {
				t.Fatalf("%d problems, %d listed", probs.Total, len(probs.List))
			}
			if len(st.Receipts)+len(st.Others) != 0 || st.Kind != "" {
				t.Fatalf("a refused file yielded %+v", st)
			}
			golden.Check(t, strings.TrimSuffix(path, ".xml")+".want", formatWant(probs.List))
		})
	}
}

// TestBadCorpusCovers: the refusals a bank file most often needs each have a corpus file with its
// exact expected problems, checked by TestBadFiles.
func TestBadCorpusCovers(t *testing.T) {
	t.Parallel()
	for what, name := range map[string]string{
		"entry count off":       "totals_count_off",
		"sum off":               "totals_sum_off",
		"balances off":          "balance_off",
		"wrong account":         "wrong_account",
		"duplicate entry":       "duplicate_entry_ref",
		"truncated":             "truncated",
		"first page of several": "paged_first_page",
		"last page of several":  "paged_last_page",
	} {
		for _, ext := range []string{".xml", ".want"} {
			if _, err := os.Stat(filepath.Join("testdata", "bad", name+ext)); err != nil {
				t.Errorf("%s: %v", what, err)
			}
		}
	}
}

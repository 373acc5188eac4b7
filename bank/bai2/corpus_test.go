package bai2_test

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cashpool/cashpool/bank/bai2"
	"github.com/cashpool/cashpool/internal/golden"
)

// TestBadFiles reads every file of testdata/bad and checks that it is refused with exactly the
// problems its .want file lists (line, field number, field name, value, problem).
func TestBadFiles(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/bad/*.bai")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 10 {
		t.Fatalf("%d bad files, want at least 10", len(files))
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			st, probs := readFile(t, path, "987654321")
			if probs.Total == 0 || probs.Total != len(probs.List) {
				t.Fatalf("problems: total %d, listed %d", probs.Total, len(probs.List))
			}
			if len(st.Receipts)+len(st.Debits)+len(st.Reversals)+len(st.Other) != 0 {
				t.Fatalf("a refused file returned entries: %+v", st)
			}
			golden.Check(t, strings.TrimSuffix(path, ".bai")+".want", formatWant(probs.List))
		})
	}
}

func formatWant(ps []bai2.Problem) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"line", "column", "field", "value", "problem"})
	for _, p := range ps {
		w.Write([]string{strconv.Itoa(p.Line), strconv.Itoa(p.Column), p.Field, p.Value, p.Problem})
	}
	w.Flush()
	return buf.Bytes()
}

// TestBadCorpusCovers: the refusals a bank file most often needs each have a corpus file with its
// exact expected problems, checked by TestBadFiles.
func TestBadCorpusCovers(t *testing.T) {
	t.Parallel()
	for what, name := range map[string]string{
		"account total off":     "account-total-off",
		"group total off":       "group-total-off",
		"file record count off": "file-count-off",
		"wrong account":         "wrong-account",
		"duplicate entry":       "duplicate-entry",
		"duplicate UETR":        "duplicate-uetr",
		"truncated (no 99)":     "truncated-no-99",
		"truncated mid-account": "truncated-mid-account",
		"test group (status 4)": "group-status-test",
		"record after the 99":   "text-after-trailer",
	} {
		for _, ext := range []string{".bai", ".want"} {
			if _, err := os.Stat(filepath.Join("testdata", "bad", name+ext)); err != nil {
				t.Errorf("%s: %v", what, err)
			}
		}
	}
}

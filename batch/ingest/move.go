package ingest

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cashpool/cashpool/pool"
)

// ErrorsHeader is the header of the errors file written beside every refused file.
var ErrorsHeader = []string{"line", "column", "field", "value", "problem"}

// maxValueLen bounds the value echoed in an errors file; the whole value is in the file itself.
const maxValueLen = 200

// moveAside moves name from the drop folder into sub (archive or rejected); see place.
func (r *runner) moveAside(sub, name string, probs *Problems) (string, error) {
	return r.place(sub, filepath.Join(r.dir, name), name, probs)
}

// place moves src into sub as name without ever replacing a file already there: a taken name gets
// a ~N suffix before its extension. With probs it first writes <new name>.errors.csv beside the
// file. The marker <name>.ready of the drop folder follows the file, so a name is only used when
// the marker's place is free too. It returns the new path relative to the drop folder, or "" when
// src was already gone (moved by a concurrent scan).
func (r *runner) place(sub, src, name string, probs *Problems) (string, error) {
	dir := filepath.Join(r.dir, sub)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", sub, err)
	}
	marker := filepath.Join(r.dir, name+readySuffix)
	_, err := os.Lstat(marker)
	hasMarker := err == nil
	ext := filepath.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	for n := 0; n < 10000; n++ {
		final := name
		if n > 0 {
			final = fmt.Sprintf("%s~%d%s", stem, n, ext)
		}
		dst := filepath.Join(dir, final)
		if _, err := os.Lstat(dst); err == nil {
			continue
		}
		if _, err := os.Lstat(dst + readySuffix); hasMarker && err == nil {
			continue
		}
		if probs != nil {
			ef := filepath.Join(dir, final+".errors.csv")
			err := writeErrorsFile(ef, probs)
			if errors.Is(err, fs.ErrExist) {
				continue
			}
			if err != nil {
				return "", err
			}
		}
		err := noReplaceRename(src, dst)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf("move to %s: %w", sub, err)
		}
		if hasMarker {
			// The file has moved; a marker that cannot follow (taken by a concurrent move) stays
			// behind and the next scan archives it as stale, rather than this scan stopping here.
			if err := noReplaceRename(marker, dst+readySuffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
				r.log.Warn("ingest: marker left in the drop folder", "marker", name+readySuffix, "err", err)
			}
		}
		return filepath.ToSlash(filepath.Join(sub, final)), nil
	}
	return "", fmt.Errorf("move to %s: no free name for %s", sub, name)
}

// noReplaceRename renames src to dst unless dst exists. A hard link refuses an existing target
// atomically; on file systems without links the check and the rename are two steps.
func noReplaceRename(src, dst string) error {
	err := os.Link(src, dst)
	if err == nil {
		return os.Remove(src)
	}
	if errors.Is(err, fs.ErrExist) || errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if _, err := os.Lstat(dst); err == nil {
		return fs.ErrExist
	}
	return os.Rename(src, dst)
}

func writeErrorsFile(path string, probs *Problems) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if err := WriteErrors(f, probs); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return f.Close()
}

// WriteErrors writes problems as CSV with the ErrorsHeader columns. Line and column are empty when
// the problem is not about one; when problems were left out, a last row says how many. Every text
// column is made safe to show (see displayValue): a header, a value and a file name named in a
// problem all come from outside.
func WriteErrors(w io.Writer, probs *Problems) error {
	cw := csv.NewWriter(w)
	cw.Write(ErrorsHeader)
	for _, p := range probs.List {
		cw.Write([]string{num(p.Line), num(p.Column), displayValue(p.Field), displayValue(truncate(p.Value, maxValueLen)),
			displayValue(p.Problem)})
	}
	if more := probs.Total - len(probs.List); more > 0 {
		cw.Write([]string{"", "", "", "", fmt.Sprintf("%d more errors not listed", more)})
	}
	cw.Flush()
	return cw.Error()
}

func num(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// displayValue makes text safe to show in a terminal and a spreadsheet: control characters and
// invalid UTF-8 escaped, and a leading character a spreadsheet would run as a formula neutralised.
func displayValue(v string) string {
	v = pool.Printable(v)
	if v != "" && strings.ContainsRune("=+-@", rune(v[0])) {
		v = "'" + v
	}
	return v
}

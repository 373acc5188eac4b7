package store_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"pgregory.net/rapid"

	"github.com/cashpool/cashpool/batch/schema/schematest"
	"github.com/cashpool/cashpool/batch/store"
)

// A TextArray reaches PostgreSQL as the strings it holds, in order (PostgreSQL's own reading of
// the literal, element by element, is the oracle): strings of any text, among them what an array
// literal gives meaning to (quotes, backslashes, commas, braces, spaces, NULL, the empty string).
func TestTextArrayReachesPostgreSQLAsItsStrings(t *testing.T) {
	t.Parallel()
	db := schematest.DB(t)
	special := rapid.SampledFrom([]string{"", `"`, `\`, `\\"`, ",", "{", "}", "{}", " ", " x ", "NULL", "null", "a,b", `"a"`, "\t\n", "é", "日本"})
	text := rapid.String().Filter(func(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) })
	rapid.Check(t, func(rt *rapid.T) {
		want := rapid.SliceOfN(rapid.OneOf(special, text), 0, 8).Draw(rt, "strings")
		var n int
		if err := db.Get(&n, `SELECT cardinality($1::text[])`, store.TextArray(want)); err != nil {
			rt.Fatal(err)
		}
		if n != len(want) {
			rt.Fatalf("%d elements reached the server, %d sent", n, len(want))
		}
		var got []string
		if err := db.Select(&got, `SELECT s FROM unnest($1::text[]) WITH ORDINALITY AS u(s, i) ORDER BY i`, store.TextArray(want)); err != nil {
			rt.Fatal(err)
		}
		for i := range want {
			if got[i] != want[i] {
				rt.Fatalf("element %d reached the server as %q, sent %q", i, got[i], want[i])
			}
		}
	})
	var null bool
	if err := db.Get(&null, `SELECT $1::text[] IS NULL`, store.TextArray(nil)); err != nil || !null {
		t.Errorf("a nil TextArray: NULL %v, %v", null, err)
	}
}

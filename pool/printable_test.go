package pool_test

import (
	"testing"

	"github.com/cashpool/cashpool/pool"
)

func TestPrintable(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{"receipts_1.csv", "receipts_1.csv"},
		{"Zoë Müller, 北京 \\ ok", "Zoë Müller, 北京 \\ ok"},
		{"a\x1b[31mred\x1b[0m", `a\x1b[31mred\x1b[0m`},
		{"one\ntwo\r\n\tthree", `one\ntwo\r\n\tthree`},
		{"nul\x00del\x7f", `nul\x00del\x7f`},
		{"c1 \u0085 \u009b", `c1 \u0085 \u009b`},
		{"bidi \u202eabc\u202c \u2066x\u2069 \u200f", `bidi \u202eabc\u202c \u2066x\u2069 \u200f`},
		{"sep \u2028 \u2029", `sep \u2028 \u2029`},
		{"bad \xff\xfe utf8 \xe2\x82", `bad \xff\xfe utf8 \xe2\x82`},
		{"", ""},
	} {
		if got := pool.Printable(c.in); got != c.want {
			t.Errorf("Printable(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

package pool_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cashpool/cashpool/pool"
)

func TestParseValueDate(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 24, 23, 30, 0, 0, time.UTC)
	for in, want := range map[string]error{
		"2026-11-24": nil, "2000-01-01": nil, "2026-12-25": nil,
		"1999-12-31": pool.ErrDateTooEarly, "2026-12-26": pool.ErrDateFuture,
		"2026-02-30": pool.ErrDateSyntax, "2026-1-05": pool.ErrDateSyntax, "24/11/2026": pool.ErrDateSyntax,
		"2026-11-24 ": pool.ErrDateSyntax, "": pool.ErrDateSyntax,
	} {
		d, err := pool.ParseValueDate(in, now)
		if !errors.Is(err, want) || (err == nil && d.Format(time.DateOnly) != in) {
			t.Errorf("ParseValueDate(%q) = %v, %v; want error %v", in, d, err, want)
		}
	}
}

func TestParseRefAndText(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]error{
		"FT24329ABC": nil, "INV 2026/11 #3": nil, "": pool.ErrRequired, " A": pool.ErrRefSpace, "A\u00a0": pool.ErrRefSpace,
		"A\nB": pool.ErrRefChars, strings.Repeat("x", 129): pool.ErrRefTooLong, "\xff": pool.ErrTextEncoding,
	} {
		if _, err := pool.ParseRef(in); !errors.Is(err, want) {
			t.Errorf("ParseRef(%q) error %v, want %v", in, err, want)
		}
	}
	if err := pool.CheckText("a\tb\nc", 10, true); err != nil {
		t.Errorf("tab and newline refused: %v", err)
	}
	if err := pool.CheckText("a\x00", 10, false); !errors.Is(err, pool.ErrTextControl) {
		t.Errorf("NUL: %v", err)
	}
	if err := pool.CheckText(" \n", 10, true); !errors.Is(err, pool.ErrRequired) {
		t.Errorf("blank required text: %v", err)
	}
	if err := pool.CheckText("abc", 2, false); !errors.Is(err, pool.ErrTextTooLong) {
		t.Errorf("long text: %v", err)
	}
}

func TestParseCurrency(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]error{"USD": nil, "usd": pool.ErrCurrencyCase, "EUR": pool.ErrCurrency, "": pool.ErrRequired, "USD ": pool.ErrCurrency} {
		if _, err := pool.ParseCurrency(in); !errors.Is(err, want) {
			t.Errorf("ParseCurrency(%q) error %v, want %v", in, err, want)
		}
	}
}

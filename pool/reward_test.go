package pool_test

import (
	"errors"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/pool"
)

func TestParseQty(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"1": "1", "0.5": "0.5", "0.000000001": "0.000000001", "0.123456789": "0.123456789", "007.10": "7.1", "1000000": "1000000",
	} {
		got, err := pool.ParseQty(in)
		if err != nil || !got.Equal(decimal.RequireFromString(want)) {
			t.Errorf("ParseQty(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	for in, want := range map[string]error{
		"":                                  pool.ErrNumberEmpty,
		"0":                                 pool.ErrQtyZero,
		"0.000000000":                       pool.ErrQtyZero,
		"0.0000000001":                      pool.ErrQtyScale,
		"1.1234567890":                      pool.ErrQtyScale,
		"1000000.1":                         pool.ErrQtyTooLarge,
		"-1":                                pool.ErrNumberSign,
		"+0.5":                              pool.ErrNumberSign,
		"1e-3":                              pool.ErrNumberExponent,
		"5E2":                               pool.ErrNumberExponent,
		".5":                                pool.ErrNumberSyntax,
		"5.":                                pool.ErrNumberSyntax,
		"1,000":                             pool.ErrNumberThousands,
		"1 000":                             pool.ErrNumberSpace,
		" 1":                                pool.ErrNumberSpace,
		"0,5":                               pool.ErrNumberThousands,
		"1.2.3":                             pool.ErrNumberSyntax,
		"NaN":                               pool.ErrNumberCurrency,
		"Infinity":                          pool.ErrNumberCurrency,
		"10 shares":                         pool.ErrNumberCurrency,
		"123456789012345678901234567890123": pool.ErrNumberTooLong,
	} {
		if _, err := pool.ParseQty(in); !errors.Is(err, want) {
			t.Errorf("ParseQty(%q) error %v, want %v", in, err, want)
		}
	}
}

func TestParseSymbol(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"AAPL", "BRK.B", "BF.B", "F", "SPY", "QQQ", "A2Z", "ABCDEFGHIJKL"} {
		if got, err := pool.ParseSymbol(in); err != nil || got != in {
			t.Errorf("ParseSymbol(%q) = %q, %v", in, got, err)
		}
	}
	for in, want := range map[string]error{
		"":              pool.ErrRequired,
		"BTC/USD":       pool.ErrSymbolCrypto,
		"btc/usd":       pool.ErrSymbolCrypto,
		"aapl":          pool.ErrSymbolCase,
		"Brk.b":         pool.ErrSymbolCase,
		" AAPL":         pool.ErrSymbolSpace,
		"AAPL ":         pool.ErrSymbolSpace,
		"BRK B":         pool.ErrSymbolSpace,
		"ABCDEFGHIJKLM": pool.ErrSymbolTooLong,
		".B":            pool.ErrSymbol,
		"BRK.":          pool.ErrSymbol,
		"BRK..B":        pool.ErrSymbol,
		"1ABC":          pool.ErrSymbol,
		"BRK-B":         pool.ErrSymbol,
		"AAPL\n":        pool.ErrSymbol,
		"ÄPFEL":         pool.ErrSymbol,
		"$AAPL":         pool.ErrSymbol,
		"AA\x00":        pool.ErrSymbol,
	} {
		if _, err := pool.ParseSymbol(in); !errors.Is(err, want) {
			t.Errorf("ParseSymbol(%q) error %v, want %v", in, err, want)
		}
	}
}

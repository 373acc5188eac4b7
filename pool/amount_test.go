package pool_test

import (
	"errors"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/pool"
)

func TestParseAmount(t *testing.T) {
	t.Parallel()
	good := map[string]string{
		"1": "1", "0.01": "0.01", "100.5": "100.50", "007.50": "7.5", "1000000000.00": "1000000000",
	}
	for in, want := range good {
		got, err := pool.ParseAmount(in)
		if err != nil || !got.Equal(decimal.RequireFromString(want)) {
			t.Errorf("ParseAmount(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	bad := map[string]error{
		"":                                   pool.ErrNumberEmpty,
		"0":                                  pool.ErrAmountZero,
		"0.00":                               pool.ErrAmountZero,
		"-1.00":                              pool.ErrNumberSign,
		"+1.00":                              pool.ErrNumberSign,
		"\u22121":                            pool.ErrNumberSign,
		"1e3":                                pool.ErrNumberExponent,
		"1E3":                                pool.ErrNumberExponent,
		"1,000.00":                           pool.ErrNumberThousands,
		"1'000.00":                           pool.ErrNumberThousands,
		"1_000":                              pool.ErrNumberThousands,
		"$100":                               pool.ErrNumberCurrency,
		"100 USD":                            pool.ErrNumberCurrency,
		"€5":                                 pool.ErrNumberCurrency,
		" 1":                                 pool.ErrNumberSpace,
		"1 000":                              pool.ErrNumberSpace,
		".5":                                 pool.ErrNumberSyntax,
		"5.":                                 pool.ErrNumberSyntax,
		"1.2.3":                              pool.ErrNumberSyntax,
		"0x10":                               pool.ErrNumberSyntax,
		"NaN":                                pool.ErrNumberCurrency,
		"1.001":                              pool.ErrAmountScale,
		"1000000000.01":                      pool.ErrAmountTooLarge,
		"99999999999999999":                  pool.ErrAmountTooLarge,
		"1234567890123456789012345678901234": pool.ErrNumberTooLong,
	}
	for in, want := range bad {
		if _, err := pool.ParseAmount(in); !errors.Is(err, want) {
			t.Errorf("ParseAmount(%q) error %v, want %v", in, err, want)
		}
	}
}

func TestParseWeight(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"1": "1", "0.0000000001": "0.0000000001", "3.25": "3.25"} {
		got, err := pool.ParseWeight(in)
		if err != nil || !got.Equal(decimal.RequireFromString(want)) {
			t.Errorf("ParseWeight(%q) = %s, %v", in, got, err)
		}
	}
	for in, want := range map[string]error{
		"0": pool.ErrWeightZero, "0.00000000001": pool.ErrWeightScale, "-1": pool.ErrNumberSign,
		"1e-3": pool.ErrNumberExponent, "1000000000001": pool.ErrWeightTooLarge, "": pool.ErrNumberEmpty,
	} {
		if _, err := pool.ParseWeight(in); !errors.Is(err, want) {
			t.Errorf("ParseWeight(%q) error %v, want %v", in, err, want)
		}
	}
}

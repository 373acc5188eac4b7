package pool_test

import (
	"errors"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/pool"
)

func TestParseAccountID(t *testing.T) {
	t.Parallel()
	const id = "0d9f6e2c-3b1a-4c5d-8e7f-123456789abc"
	for in, want := range map[string]string{id: id, "0D9F6E2C-3B1A-4C5D-8E7F-123456789ABC": id} {
		if got, err := pool.ParseAccountID(in); err != nil || got != want {
			t.Errorf("ParseAccountID(%q) = %q, %v", in, got, err)
		}
	}
	for in, want := range map[string]error{
		"": pool.ErrRequired, " " + id: pool.ErrAccountIDSpace, id + " ": pool.ErrAccountIDSpace,
		"0d9f6e2c 3b1a-4c5d-8e7f-123456789abc": pool.ErrAccountIDSpace,
		"0d9f6e2c3b1a4c5d8e7f123456789abc":     pool.ErrAccountID,
		"{" + id + "}":                         pool.ErrAccountID,
		"0d9f6e2c-3b1a-4c5d-8e7f-123456789abg": pool.ErrAccountID,
		"00000000-0000-0000-0000-000000000000": pool.ErrAccountIDNil,
	} {
		if _, err := pool.ParseAccountID(in); !errors.Is(err, want) {
			t.Errorf("ParseAccountID(%q) error %v, want %v", in, err, want)
		}
	}
}

func TestCheckAmountOrWeight(t *testing.T) {
	t.Parallel()
	some := decimal.NullDecimal{Decimal: decimal.NewFromInt(1), Valid: true}
	none := decimal.NullDecimal{}
	if err := pool.CheckAmountOrWeight(some, none); err != nil {
		t.Error(err)
	}
	if err := pool.CheckAmountOrWeight(none, some); err != nil {
		t.Error(err)
	}
	if err := pool.CheckAmountOrWeight(some, some); !errors.Is(err, pool.ErrAmountAndWeight) {
		t.Error(err)
	}
	if err := pool.CheckAmountOrWeight(none, none); !errors.Is(err, pool.ErrAmountOrWeight) {
		t.Error(err)
	}
}

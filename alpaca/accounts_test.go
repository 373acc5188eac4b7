package alpaca_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/cashpool/cashpool/alpaca"
	"github.com/cashpool/cashpool/alpaca/sandbox"
)

func TestClientGetAccount(t *testing.T) {
	t.Parallel()
	sim, c, clk := newSim(t, sandbox.Options{})
	ctx := context.Background()
	a, err := c.GetAccount(ctx, sweep)
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != sweep || a.Status != alpaca.AccountActive || a.Currency != "USD" || a.LastEquity.Decimal.String() != "100000" {
		t.Fatalf("sweep account %+v", a)
	}
	sim.SetAccount(sandbox.Account{ID: sweep, Status: "INACTIVE", Firm: true})
	if a, err := c.GetAccount(ctx, sweep); err != nil || a.Status != "INACTIVE" {
		t.Fatalf("inactive sweep account: %+v, %v", a, err)
	}
	var apiErr *alpaca.APIError
	if _, err := c.GetAccount(ctx, customer("77")); !errors.As(err, &apiErr) || apiErr.HTTPStatus != 404 {
		t.Fatalf("unknown account: %v, want a 404 APIError", err)
	}

	// Wrong credentials answer 401 at once (never retried) and the secret appears nowhere.
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	bad := alpaca.NewClient(alpaca.Options{BaseURL: srv.URL, KeyID: "key", Secret: "not-the-secret", Now: clk.Now,
		Sleep: func(context.Context, time.Duration) error { t.Error("a 401 was retried"); return nil }})
	_, err = bad.GetAccount(ctx, sweep)
	if !errors.As(err, &apiErr) || apiErr.HTTPStatus != 401 {
		t.Fatalf("wrong secret: %v, want a 401 APIError", err)
	}
	if strings.Contains(err.Error(), "not-the-secret") {
		t.Fatalf("error shows the secret: %v", err)
	}
	if bad.Calls() != 1 {
		t.Fatalf("%d calls for a 401, want 1", bad.Calls())
	}
}

func TestClientGetTradingAccount(t *testing.T) {
	t.Parallel()
	sim, c, _ := newSim(t, sandbox.Options{})
	ctx := context.Background()
	if err := sim.SetCash(sweep, decimal.RequireFromString("2500.25")); err != nil {
		t.Fatal(err)
	}
	a, err := c.GetTradingAccount(ctx, sweep)
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != sweep || !a.CashTransferable.Valid || a.CashTransferable.Decimal.String() != "2500.25" || a.Cash.Decimal.String() != "2500.25" {
		t.Fatalf("sweep trading account %+v, want 2500.25 transferable", a)
	}
	var apiErr *alpaca.APIError
	if _, err := c.GetTradingAccount(ctx, customer("77")); !errors.As(err, &apiErr) || apiErr.HTTPStatus != 404 {
		t.Fatalf("unknown account: %v, want a 404 APIError", err)
	}
}

package sandbox_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/cashpool/cashpool/alpaca/sandbox"
)

func TestFaultErrorBeforeProcessing(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *sandbox.Options) { o.Faults = sandbox.Faults{Seed: 1, ErrorRate: 1} })
	r := b.batch(t, 500, batchOf(entry{ToAccount: cust1, Amount: "1.00"}), "k")
	wantError(t, r, 50010000, "injected")
	if n := len(b.sim.Ledger()); n != 0 {
		t.Fatalf("a 5xx before processing created %d journals", n)
	}
	// Faults never touch the admin API.
	b.must(t, 200, "GET", "/sandbox/v1/ledger", nil)
	b.sim.SetFaults(sandbox.Faults{})
	b.batch(t, 200, batchOf(entry{ToAccount: cust1, Amount: "1.00"}), "k") // the key was not used up
}

func TestFaultLostResponse(t *testing.T) {
	t.Parallel()
	for _, as502 := range []bool{false, true} {
		b := setup(t, func(o *sandbox.Options) {
			o.Faults = sandbox.Faults{Seed: 1, LoseResponseRate: 1, LostAs502: as502}
		})
		body := batchOf(entry{ToAccount: cust1, Amount: "10.00"}, entry{ToAccount: cust2, Amount: "20.00"})
		r, err := b.call(t, "POST", "/v1/journals/batch", body, "Idempotency-Key", "lost-key")
		switch {
		case as502 && (err != nil || r.status != 502):
			t.Fatalf("lost as 502: got %v, %v", r, err)
		case !as502 && err == nil:
			t.Fatalf("lost response reached the client: %v", r)
		}
		ledger := b.sim.Ledger()
		if len(ledger) != 2 || ledger[0].IdempotencyKey != "lost-key" {
			t.Fatalf("the lost call must still have created its journals: %+v", ledger)
		}
		// The client retries with the same key and gets the answer it never saw.
		b.sim.SetFaults(sandbox.Faults{})
		got := answered(t, b.batch(t, 200, body, "lost-key"))
		if len(got) != 2 || got[0].ID != ledger[0].ID || got[1].ID != ledger[1].ID {
			t.Fatalf("replay %+v does not carry the created journals %+v", got, ledger)
		}
		if n := len(b.sim.Ledger()); n != 2 {
			t.Fatalf("replay after a lost response created journals: %d", n)
		}
	}
}

func TestFaultConnectionReset(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *sandbox.Options) { o.Faults = sandbox.Faults{Seed: 1, ResetRate: 1} })
	_, err := b.call(t, "POST", "/v1/journals/batch", batchOf(entry{ToAccount: cust1, Amount: "1.00"}), "Idempotency-Key", "k")
	if err == nil {
		t.Fatal("a reset connection answered")
	}
	if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Logf("reset surfaced as %v", err) // the exact error depends on timing; it is an error either way
	}
	if n := len(b.sim.Ledger()); n != 0 {
		t.Fatalf("a reset before processing created %d journals", n)
	}
}

// TestFaultLatency: the injected latency holds up the broker surface and never the admin API. The
// latency is an hour, so neither half depends on how busy the machine is: a call that waited would
// not come back within the test, and one that did not wait comes back at once.
func TestFaultLatency(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *sandbox.Options) {
		o.Faults = sandbox.Faults{Latency: time.Hour}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", b.srv.URL+"/v1/journals", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(keyID, secret)
	if resp, err := b.client.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("a broker call answered %d despite an hour of injected latency", resp.StatusCode)
	} else if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("broker call: %v, want the caller's deadline", err)
	}
	b.must(t, 200, "GET", "/sandbox/v1/ledger", nil) // would block for the hour if the admin API were delayed
}

// TestFaultsReproducible: the same seed gives the same faults to the same sequence of calls.
func TestFaultsReproducible(t *testing.T) {
	t.Parallel()
	pattern := func(seed uint64) []byte {
		b := setup(t, func(o *sandbox.Options) {
			o.Faults = sandbox.Faults{Seed: seed, ErrorRate: 0.3, LoseResponseRate: 0.3, LostAs502: true}
		})
		var out []byte
		for range 40 {
			r := b.must(t, 0, "GET", "/v1/journals", nil)
			out = append(out, byte('0'+r.status/100))
		}
		return out
	}
	a, again, other := pattern(42), pattern(42), pattern(43)
	if !bytes.Equal(a, again) {
		t.Fatalf("same seed, different faults: %s vs %s", a, again)
	}
	if bytes.Equal(a, other) {
		t.Fatalf("different seeds, same faults: %s", a)
	}
	if !bytes.Contains(a, []byte("2")) || !bytes.Contains(a, []byte("5")) {
		t.Fatalf("want a mix of answers at 30%% + 30%% fault rates: %s", a)
	}
}

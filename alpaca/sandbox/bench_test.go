package sandbox_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cashpool/cashpool/alpaca/sandbox"
)

// BenchmarkCallAmongJournals measures one GET while 10 or 100,000 journals are in flight: the due
// heap keeps a call's cost independent of how many journals wait.
func BenchmarkCallAmongJournals(b *testing.B) {
	for _, batches := range []int{0, 10} {
		b.Run(fmt.Sprintf("journals=%d", max(batches*10_000, 10)), func(b *testing.B) { benchCall(b, batches) })
	}
}

func benchCall(b *testing.B, batches int) {
	seed := testSeed()
	seed.SweepCash, seed.DailyLimit = dec("100000000.00"), dec("0")
	sim := sandbox.New(sandbox.Options{Seed: seed, Now: func() time.Time { return base }, StepEvery: time.Hour})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/v1/journals/batch", "application/json", strings.NewReader(
		`{"entry_type":"JNLC","from_account":"`+sweep+`","entries":[`+strings.Repeat(`{"to_account":"`+cust1+`","amount":"1.00"},`, 9)+
			`{"to_account":"`+cust1+`","amount":"1.00"}]}`))
	if err != nil || resp.StatusCode != 200 {
		b.Fatalf("batch: %v %v", resp, err)
	}
	resp.Body.Close()
	for batch := range batches {
		var sb strings.Builder
		fmt.Fprintf(&sb, `{"entry_type":"JNLC","from_account":%q,"entries":[`, sweep)
		for i := range 10_000 {
			if i > 0 {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, `{"to_account":%q,"amount":"1.00"}`, cust1)
		}
		sb.WriteString("]}")
		resp, err := http.Post(srv.URL+"/v1/journals/batch", "application/json", strings.NewReader(sb.String()))
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("batch %d: %v %v", batch, resp, err)
		}
		resp.Body.Close()
	}
	id := sim.Ledger()[0].ID
	b.ResetTimer()
	for b.Loop() {
		resp, err := http.Get(srv.URL + "/v1/journals/" + id)
		if err != nil || resp.StatusCode != 200 {
			b.Fatal(err)
		}
		resp.Body.Close()
	}
}

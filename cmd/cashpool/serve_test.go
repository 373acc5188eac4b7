package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cashpool/cashpool/alpaca/sandbox"
	"github.com/cashpool/cashpool/batch/schema/schematest"
)

func TestMain(m *testing.M) { schematest.Main(m) }

// safeBuffer is written by the server's logger while the test reads it.
type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *safeBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("%s: not reached within %s", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// serve answers health and metrics, leads alone, and scans the drop folder between nights: a bad
// file is refused within a scan, not at the next run.
func TestServeScansTheDropFolderAndAnswersHealth(t *testing.T) {
	seed, err := loadSeed("")
	if err != nil {
		t.Fatal(err)
	}
	sim := httptest.NewServer(sandbox.New(sandbox.Options{Seed: seed, KeyID: "k", Secret: "s"}))
	defer sim.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	drop := t.TempDir()
	bad := "receipt_id,value_date,amount,currency,originator_name,originator_account,originator_bank,originator_address,reference\n" +
		"W1,2026-11-20,\"1,000.00\",USD,A,B,C,D,E\n"
	os.WriteFile(filepath.Join(drop, "receipts-bad.csv"), []byte(bad), 0o644)
	os.WriteFile(filepath.Join(drop, "receipts-bad.csv.ready"), nil, 0o644)
	for k, v := range map[string]string{
		"DATABASE_URL": schematest.URL(t), "APCA_BROKER_URL": sim.URL, "APCA_API_KEY_ID": "k", "APCA_API_SECRET_KEY": "s",
		"CASHPOOL_SWEEP_ACCOUNT": seed.SweepAccount, "CASHPOOL_DROP_DIR": drop, "CASHPOOL_OUT_DIR": t.TempDir(),
		"CASHPOOL_SCAN_EVERY": "50ms", "CASHPOOL_HTTP_ADDR": addr, "CASHPOOL_SCHEDULE": "0 0 1 1 *",
	} {
		t.Setenv(k, v)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var out safeBuffer
	go func() { done <- run(ctx, []string{"serve"}, &out, &out) }()

	get := func(path string) string {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	waitFor(t, 20*time.Second, "healthz ok", func() bool { return strings.TrimSpace(get("/healthz")) == "ok" })
	waitFor(t, 20*time.Second, "the bad file refused", func() bool {
		_, err := os.Stat(filepath.Join(drop, "rejected", "receipts-bad.csv.errors.csv"))
		return err == nil
	})
	if m := get("/metrics"); !strings.Contains(m, "cashpool_leader 1") {
		t.Errorf("metrics: %s", m)
	}
	if s := get("/status"); !strings.Contains(s, "receipts-bad.csv") {
		t.Errorf("status does not list the rejected file: %s", s)
	}
	cancel()
	if code := <-done; code != exitOK {
		t.Fatalf("serve exit %d:\n%s", code, out.String())
	}
}

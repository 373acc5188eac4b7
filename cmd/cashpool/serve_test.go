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
	if r := strings.TrimSpace(get("/readyz")); r != "ready" {
		t.Errorf("readyz: %q, want ready", r)
	}
	waitFor(t, 20*time.Second, "the bad file refused", func() bool {
		_, err := os.Stat(filepath.Join(drop, "rejected", "receipts-bad.csv.errors.csv"))
		return err == nil
	})
	// The scan counts the file once it has returned, a moment after the file moved.
	waitFor(t, 20*time.Second, "the refused file counted", func() bool {
		return textSeries(t, get("/metrics"))["cashpool_files_total{outcome=rejected}"] == 1
	})
	// /metrics answers in Prometheus's text format: cashpool's series, the Go runtime's, the process's.
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("metrics content type %q", ct)
	}
	m := textSeries(t, string(body))
	for key, want := range map[string]float64{"cashpool_leader{}": 1, "cashpool_files_total{outcome=rejected}": 1} {
		if m[key] != want {
			t.Errorf("metrics %s = %v, want %v", key, m[key], want)
		}
	}
	for _, name := range []string{"go_goroutines{}", "process_start_time_seconds{}"} {
		if _, ok := m[name]; !ok {
			t.Errorf("metrics without %s", name)
		}
	}
	if !strings.Contains(string(body), "cashpool_build_info{") {
		t.Error("metrics without cashpool_build_info")
	}
	if s := get("/status"); !strings.Contains(s, "receipts-bad.csv") {
		t.Errorf("status does not list the rejected file: %s", s)
	}
	cancel()
	if code := <-done; code != exitOK {
		t.Fatalf("serve exit %d:\n%s", code, out.String())
	}
}

// serveEnv sets what `cashpool serve` needs, against a simulator, with extra settings on top.
func serveEnv(t *testing.T, extra map[string]string) (drop string) {
	t.Helper()
	env := map[string]string{"CASHPOOL_SCAN_EVERY": "50ms", "CASHPOOL_HTTP_ADDR": "127.0.0.1:0", "CASHPOOL_SCHEDULE": "0 0 1 1 *"}
	for k, v := range extra {
		env[k] = v
	}
	return newSimNight(t, nil, env).drop
}

// serveExit runs `cashpool serve` and returns its exit status and output, or fails the test if it
// is still running after d.
func serveExit(t *testing.T, d time.Duration) (int, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	var out safeBuffer
	go func() { done <- run(ctx, []string{"serve"}, &out, &out) }()
	select {
	case code := <-done:
		return code, out.String()
	case <-time.After(d):
		cancel()
		<-done
		t.Fatalf("serve still running after %s:\n%s", d, out.String())
		return 0, ""
	}
}

// A port already taken stops serve at once with exit 1 and a clear message: it never becomes the
// leader (it would run nights with no health check, metrics or status to show for them).
func TestServeStopsWhenItsPortIsTaken(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	drop := serveEnv(t, map[string]string{"CASHPOOL_HTTP_ADDR": l.Addr().String()})
	bad := filepath.Join(drop, "receipts-bad.csv")
	os.WriteFile(bad, []byte("receipt_id\nW1\n"), 0o644)
	os.WriteFile(bad+".ready", nil, 0o644)

	code, out := serveExit(t, 20*time.Second)
	if code != exitFailure || !strings.Contains(out, "CASHPOOL_HTTP_ADDR "+l.Addr().String()+": cannot listen") {
		t.Errorf("exit %d, want %d with a clear message:\n%s", code, exitFailure, out)
	}
	if _, err := os.Stat(bad); err != nil {
		t.Errorf("the drop folder was scanned: serve led without HTTP (%v)", err)
	}
}

// A schedule the cron library cannot read, or one that never fires, is a usage error, never a
// panic.
func TestServeMalformedScheduleIsUsageError(t *testing.T) {
	serveEnv(t, nil)
	for _, spec := range []string{"CRON_TZ=UTC", "TZ=UTC", "CRON_TZ=", "TZ=", "CRON_TZ=UTC ", "@every", "61 1 * * *",
		"*/0 * * * *", "CRON_TZ=Nowhere/Zone 30 1 * * *", "0 0 31 2 *", "30 1 * * * *"} {
		t.Setenv("CASHPOOL_SCHEDULE", spec)
		code, out := serveExit(t, 20*time.Second)
		if code != exitUsage || !strings.Contains(out, "CASHPOOL_SCHEDULE") {
			t.Errorf("schedule %q: exit %d, want %d naming CASHPOOL_SCHEDULE:\n%s", spec, code, exitUsage, out)
		}
	}
}

func TestParseSchedule(t *testing.T) {
	t.Parallel()
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	for spec, next := range map[string]string{
		"30 1 * * *":                      "2026-11-21T06:30:00Z", // 01:30 in New York
		"CRON_TZ=UTC 30 1 * * *":          "2026-11-21T01:30:00Z",
		"TZ=Europe/Paris 0 2 * * 1-5":     "2026-11-23T01:00:00Z", // Monday 02:00 in Paris
		"@daily":                          "2026-11-21T05:00:00Z",
		"CRON_TZ=Asia/Tokyo 0 3 29 2 *":   "2028-02-28T18:00:00Z", // the next 29 February, 03:00 in Tokyo
		"CRON_TZ=UTC":                     "",
		"TZ=UTC":                          "",
		"CRON_TZ=":                        "",
		"0 0 30 2 *":                      "",
		"1 2 3":                           "",
		"CRON_TZ=UTC CRON_TZ=UTC 0 1 * *": "",
	} {
		s, err := parseSchedule(spec, ny, now)
		got := ""
		if err == nil {
			got = s.Next(now).UTC().Format(time.RFC3339)
		}
		if got != next || (err == nil) != (next != "") {
			t.Errorf("%q: next %q, err %v; want %q", spec, got, err, next)
		}
	}
}

// The HTTP server bounds every phase of a request and idle keep-alive connections.
func TestHTTPServerTimeouts(t *testing.T) {
	t.Parallel()
	s := newHTTPServer(http.NotFoundHandler())
	if s.ReadHeaderTimeout <= 0 || s.ReadTimeout <= 0 || s.WriteTimeout <= 0 || s.IdleTimeout <= 0 || s.MaxHeaderBytes <= 0 {
		t.Errorf("server %+v: want read-header, read, write and idle timeouts and a header limit", s)
	}
}

package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// TestDemoServe is `make console`: after the sample night, serve's console answers from the demo's
// own database, with nothing started by hand, until interrupted.
func TestDemoServe(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	t.Setenv("CASHPOOL_HTTP_ADDR", addr)
	t.Setenv("CASHPOOL_SCHEDULE", "0 0 1 1 *")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	var out safeBuffer
	go func() {
		done <- run(ctx, []string{"demo", "--serve", "--out", t.TempDir(), "--track-for", "2s"}, &out, &out)
	}()

	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0, ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	waitFor(t, 3*time.Minute, "the console answers", func() bool {
		select {
		case code := <-done:
			t.Fatalf("demo --serve stopped by itself with %d:\n%s", code, out.String())
		default:
		}
		code, _ := get("/")
		return code == http.StatusOK
	})
	_, nights := get("/")
	if !strings.Contains(nights, "2026-11-20") {
		t.Errorf("the nights list lacks the sample night:\n%s", nights)
	}
	// Written out by hand from fixtures/: BWP-002 5,000.00 and BWP-003 2,500.00 failed.
	_, night := get("/nights/2026-11-20")
	if !strings.Contains(night, "2 journals failed, 7,500.00 USD") {
		t.Errorf("the sample night's page lacks its headline:\n%s", night)
	}
	// serve leads alone, and every page names it as this process.
	host, _ := os.Hostname()
	want := fmt.Sprintf("leader: %s (pid %d) since ", host, os.Getpid())
	waitFor(t, 20*time.Second, "the console names the leader "+want, func() bool {
		_, page := get("/")
		return strings.Contains(page, want)
	})
	if !strings.Contains(out.String(), "http://"+addr+"/") {
		t.Errorf("the console's address is not printed:\n%s", out.String())
	}
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Fatalf("demo --serve exit %d after interrupt:\n%s", code, out.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("demo --serve did not stop within a minute of the interrupt")
	}
}

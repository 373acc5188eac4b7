package alpaca_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/cashpool/cashpool/alpaca"
)

// Each URL puts hunter2 where a parser would not take it for userinfo: after a '/', '?', '#' or a
// bad escape in the password, or before a bad port.
var urlsWithSecrets = []string{
	"https://key:hunter2@broker.example",
	"https://key:hunter2@broker.example:bad",
	"https://key:pw/hunter2@broker.example",
	"https://key:pw?hunter2@broker.example",
	"https://key:12#hunter2@broker.example",
	"https://key:pw%zzhunter2@broker.example",
	"https://key:pw hunter2@broker.example",
	"ht tp://key:hunter2@broker.example",
	"key:hunter2@broker.example",
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{
		"https://broker-api.alpaca.markets/v1/journals":  "https://broker-api.alpaca.markets/v1/journals",
		"https://key:hunter2@broker.example/v1":          "https://***@broker.example/v1",
		"https://key:pw/hunter2@broker.example:bad":      "https://***@broker.example:bad",
		"https://key:12#hunter2@broker.example":          "https://***@broker.example",
		"key:hunter2@broker.example":                     "***@broker.example",
		"http://127.0.0.1:8090":                          "http://127.0.0.1:8090",
		"https://user@broker.example/x?mail=a@b.example": "https://***@b.example",
	} {
		if got := alpaca.RedactURL(raw); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", raw, got, want)
		}
	}
}

func TestParseBaseURL(t *testing.T) {
	t.Parallel()
	for _, raw := range urlsWithSecrets {
		_, err := alpaca.ParseBaseURL(raw)
		if err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("ParseBaseURL(%q): %v", raw, err)
		}
	}
	for _, raw := range []string{"ftp://broker.example", "https://", "https://broker.example?x=1", "broker.example", "https://broker.example:bad"} {
		if _, err := alpaca.ParseBaseURL(raw); err == nil {
			t.Errorf("ParseBaseURL(%q) took it", raw)
		}
	}
	if got, err := alpaca.ParseBaseURL("https://broker-api.sandbox.alpaca.markets/"); err != nil || got != "https://broker-api.sandbox.alpaca.markets" {
		t.Errorf("a good URL: %q %v", got, err)
	}
}

// However the client gets a URL carrying a password, its errors never show it: a URL that does not
// parse, and a transport error on one that does.
func TestClientErrorsNeverShowTheURLPassword(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := l.Addr().String()
	l.Close() // nothing listens there now: every call is refused
	noSleep := func(context.Context, time.Duration) error { return nil }
	ctx := context.Background()
	for _, raw := range append(urlsWithSecrets, "http://key:hunter2@"+refused, "http://key:pw/hunter2@"+refused) {
		c := alpaca.NewClient(alpaca.Options{BaseURL: raw, KeyID: "k", Secret: "s", Retries: 1, Sleep: noSleep})
		_, getErr := c.GetJournal(ctx, "56f106e5-25a4-4eee-96fa-25bb05dc86bc")
		streamErr := c.StreamJournalEvents(ctx, alpaca.StreamOptions{IdleTimeout: time.Second}, func(alpaca.JournalEvent) error { return nil })
		for op, err := range map[string]error{"GET": getErr, "stream": streamErr} {
			if err == nil || strings.Contains(err.Error(), "hunter2") {
				t.Errorf("%s on %s: %v", op, alpaca.RedactURL(raw), err)
			}
		}
	}
}

// Route names endpoints by their template, never by an id, whatever prefix the base URL has.
func TestRoute(t *testing.T) {
	t.Parallel()
	for path, want := range map[string]string{
		"/v1/journals":               "/v1/journals",
		"/v1/journals/batch":         "/v1/journals/batch",
		"/v1/journals/reverse_batch": "/v1/journals/reverse_batch",
		"/v1/journals/1c7f3a52-0e5b-4d4e-9c1f-2b3c4d5e6f70": "/v1/journals/{id}",
		"/v1/accounts/8f8c8cee-2591-4f83-be12-82c659b5e748": "/v1/accounts/{id}",
		"/proxy/v1/accounts/8f8c8cee":                       "/v1/accounts/{id}",
		"/v2/events/journals/status":                        "/v2/events/journals/status",
		"/v1/events/journals/status":                        "/v1/events/journals/status",
		"/v1/journals/abc/def":                              "other",
		"/sandbox/v1/ledger":                                "other",
		"/":                                                 "other",
	} {
		if got := alpaca.Route(path); got != want {
			t.Errorf("Route(%q) = %q, want %q", path, got, want)
		}
	}
}

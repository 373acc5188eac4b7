package alpaca_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cashpool/cashpool/alpaca"
)

// The activity stream as Alpaca's guide shows it: amounts as strings, every type mixed in, a
// heartbeat between. A bare number is judged like a string; a null amount stops nothing until
// it is read; an event without a ref_id stops the stream.
func TestStreamActivitiesWire(t *testing.T) {
	t.Parallel()
	var query string
	body := strings.Join([]string{
		":heartbeat", "",
		`data: {"account_id":"` + sweep + `","event_id":"01JD0000000000000000000001","ref_id":"r1","activity_type":"JNLC","qty":"0","price":"0","currency":"USD","net_amount":"-4.81","status":"executed","at":"2026-11-20T22:10:00Z","details":{"journal_id":"0b9c3f5e-7a51-4c7e-9d0e-5f1d2c3b4a59"}}`, "",
		`data: {"account_id":"` + sweep + `","event_id":"01JD0000000000000000000002","ref_id":"r2","activity_type":"FEE","net_amount":null,"status":"executed","at":"2026-11-20T22:11:00Z"}`, "",
		`data: {"account_id":"` + sweep + `","event_id":"01JD0000000000000000000003","ref_id":"r3","activity_type":"JNLC","net_amount":12.5,"status":"correct","at":"2026-11-20T22:12:00Z"}`, "",
	}, "\n")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v2beta1/events/activities" {
			http.NotFound(w, r)
			return
		}
		query = r.URL.RawQuery
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, body)
		if r.URL.Query().Get("since") == "2026-11-20T21:00:00Z" {
			fmt.Fprint(w, "\n\ndata: {\"event_id\":\"01JD0000000000000000000004\",\"activity_type\":\"JNLC\"}\n\n")
		}
	}))
	t.Cleanup(srv.Close)
	c := alpaca.NewClient(alpaca.Options{BaseURL: srv.URL, KeyID: "k", Secret: "s"})
	since, until := time.Date(2026, 11, 20, 22, 0, 0, 0, time.UTC), time.Date(2026, 11, 20, 23, 0, 0, 0, time.UTC)
	var got []string
	err := c.StreamActivities(context.Background(), alpaca.ActivityOptions{Since: since, Until: until}, func(a alpaca.Activity) error {
		n, err := a.NetAmount()
		amount := "unreadable"
		if err == nil {
			amount = n.String()
		}
		got = append(got, a.RefID+" "+a.ActivityType+" "+a.Status+" "+amount+" "+a.JournalID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"r1 JNLC executed -4.81 0b9c3f5e-7a51-4c7e-9d0e-5f1d2c3b4a59",
		"r2 FEE executed unreadable ",
		"r3 JNLC correct 12.5 ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("activities\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if query != "since=2026-11-20T22%3A00%3A00Z&until=2026-11-20T23%3A00%3A00Z" {
		t.Errorf("query %q", query)
	}
	err = c.StreamActivities(context.Background(), alpaca.ActivityOptions{Since: since.Add(-time.Hour), Until: until}, func(alpaca.Activity) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "without event or ref id") {
		t.Errorf("an event without ref_id: %v", err)
	}
	if err := c.StreamActivities(context.Background(), alpaca.ActivityOptions{Since: since}, func(alpaca.Activity) error { return nil }); err == nil {
		t.Error("an open-ended read was sent")
	}
}

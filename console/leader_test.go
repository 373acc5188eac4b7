package console_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cashpool/cashpool/batch/schema/schematest"
	"github.com/cashpool/cashpool/console"
)

// Every page names the replica that runs the nights and since when, whichever replica serves it.
func TestPagesNameTheLeader(t *testing.T) {
	t.Parallel()
	db := schematest.DB(t)
	leader := "replica-b (pid 7)"
	srv := httptest.NewServer(console.New(console.Config{DB: db, SweepAccount: sweep, TZ: time.UTC,
		Leader: func() bool { return false },
		CurrentLeader: func(context.Context) (string, time.Time, error) {
			return leader, time.Date(2026, 11, 20, 6, 0, 0, 0, time.UTC), nil
		}}))
	t.Cleanup(srv.Close)
	get := func() string {
		res, err := http.Get(srv.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	if page, want := get(), "leader: replica-b (pid 7) since 2026-11-20 06:00:00 UTC"; !strings.Contains(page, want) {
		t.Errorf("the page lacks %q:\n%s", want, page)
	}
	leader = ""
	if page, want := get(), "no replica leads now"; !strings.Contains(page, want) {
		t.Errorf("the page lacks %q:\n%s", want, page)
	}
}

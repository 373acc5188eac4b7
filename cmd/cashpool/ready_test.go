package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/cashpool/cashpool/batch/schema"
	"github.com/cashpool/cashpool/batch/schema/schematest"
)

// /readyz is 200 while the database answers, and 503 within its timeout when the database refuses
// connections or accepts them and says nothing.
func TestReadyzChecksTheDatabaseWithinATimeout(t *testing.T) {
	t.Parallel()
	db, err := schema.Open(context.Background(), schematest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	refused, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusedAddr := refused.Addr().String()
	refused.Close()
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		var held []net.Conn // accepted, never answered
		for {
			c, err := silent.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()

	const timeout = 200 * time.Millisecond
	for name, c := range map[string]struct {
		db   *sqlx.DB
		code int
	}{
		"answering": {db, http.StatusOK},
		"refusing":  {sqlx.MustOpen("postgres", "postgres://x@"+refusedAddr+"/x?sslmode=disable&connect_timeout=60"), http.StatusServiceUnavailable},
		"silent":    {sqlx.MustOpen("postgres", "postgres://x@"+silent.Addr().String()+"/x?sslmode=disable&connect_timeout=60"), http.StatusServiceUnavailable},
	} {
		rec := httptest.NewRecorder()
		start := time.Now()
		readyHandler(c.db, timeout).ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
		took := time.Since(start)
		if rec.Code != c.code {
			t.Errorf("%s database: %d %q, want %d", name, rec.Code, rec.Body.String(), c.code)
		}
		// The driver would wait a minute (connect_timeout) for the silent server.
		if took > 20*time.Second {
			t.Errorf("%s database: answered after %s, want about its %s timeout", name, took, timeout)
		}
		if c.code != http.StatusOK && !strings.Contains(rec.Body.String(), "database does not answer") {
			t.Errorf("%s database: body %q", name, rec.Body.String())
		}
	}
}

package schema_test

import (
	"context"
	"database/sql"
	"errors"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cashpool/cashpool/batch/schema"
	"github.com/cashpool/cashpool/batch/schema/schematest"
)

func show(t *testing.T, dsn string, names ...string) []string {
	t.Helper()
	db, err := schema.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var out []string
	for _, n := range names {
		var v string
		if err := db.Get(&v, `SHOW `+n); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

// Every connection gets the server-side timeouts and JIT off, in URL and key=value form, unless
// the URL sets its own.
func TestOpenSetsTimeouts(t *testing.T) {
	t.Parallel()
	u := schematest.URL(t)
	if got := strings.Join(show(t, u, "statement_timeout", "idle_in_transaction_session_timeout", "jit"), " "); got != "30min 10min off" {
		t.Errorf("URL: timeouts and jit %s, want 30min 10min off", got)
	}
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	kv := "host=" + pu.Hostname() + " port=" + pu.Port() + " user=" + pu.User.Username() + " dbname=" + strings.TrimPrefix(pu.Path, "/") + " sslmode=disable"
	if got := strings.Join(show(t, kv, "statement_timeout", "idle_in_transaction_session_timeout", "jit"), " "); got != "30min 10min off" {
		t.Errorf("key=value: timeouts and jit %s, want 30min 10min off", got)
	}
	q := pu.Query()
	q.Set("statement_timeout", "0")
	q.Set("idle_in_transaction_session_timeout", "2min")
	q.Set("jit", "on")
	pu.RawQuery = q.Encode()
	if got := strings.Join(show(t, pu.String(), "statement_timeout", "idle_in_transaction_session_timeout", "jit"), " "); got != "0 2min on" {
		t.Errorf("set by the URL: timeouts and jit %s, want 0 2min on", got)
	}
}

// A server that accepts the connection and never answers stops Open after the default connect
// timeout, not never.
func TestOpenConnectTimeout(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			held = append(held, c) // read nothing, answer nothing
		}
	}()
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := schema.Open(context.Background(), "postgres://cashpool@"+l.Addr().String()+"/x?sslmode=disable")
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Open succeeded against a server that never answers")
		}
		if d := time.Since(start); d < schema.DefaultConnectTimeout/2 {
			t.Errorf("gave up after %s: %v", d, err)
		}
	case <-time.After(3 * schema.DefaultConnectTimeout):
		t.Fatalf("Open still waiting after %s: no connect timeout", 3*schema.DefaultConnectTimeout)
	}
}

// No error of Open quotes a password, whatever is wrong with the URL.
func TestOpenNeverPrintsThePassword(t *testing.T) {
	t.Parallel()
	for _, dsn := range []string{
		"postgres://cashpool:Pw0rdLEAK@[::1/x",
		"postgres://cashpool:Pw0rd/LEAK@db.example/x",
		"postgres://cashpool:Pw0rdLEAK@db.example:port/x",
		"postgres://cashpool:Pw0rd%zzLEAK@db.example/x",
		"postgres://cashpool:Pw0rd LEAK@db.example/x\x7f",
		"host=db.example password=Pw0rdLEAK dbname",
		"host=db.example password='Pw0rdLEAK",
		"host=db.example password=Pw0rdLEAK sslmode=nonsense",
		"postgres://cashpool:Pw0rdLEAK@127.0.0.1:1/x?sslmode=disable&connect_timeout=1",
	} {
		_, err := schema.Open(context.Background(), dsn)
		if err == nil {
			t.Errorf("%q: opened", dsn)
			continue
		}
		if strings.Contains(err.Error(), "Pw0rd") || strings.Contains(err.Error(), "LEAK") {
			t.Errorf("error quotes the password: %v", err)
		}
		if strings.HasPrefix(dsn, "postgres://cashpool:Pw0rdLEAK@127") == errors.Is(err, schema.ErrBadURL) {
			t.Errorf("%q: %v", dsn, err)
		}
	}
}

// The pool keeps the connections it opened: a night uses several at once (sending, the stream, the
// claim's lease, progress), and a connection closed on its return is a new server process on the
// next use, with cold caches (database/sql keeps only two idle by default).
func TestOpenKeepsItsConnections(t *testing.T) {
	t.Parallel()
	db, err := schema.Open(context.Background(), schematest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	hold := func() map[int]bool {
		pids := map[int]bool{}
		var conns []*sql.Conn
		for range 8 {
			c, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var pid int
			if err := c.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
				t.Fatal(err)
			}
			pids[pid] = true
			conns = append(conns, c)
		}
		for _, c := range conns {
			c.Close()
		}
		return pids
	}
	first, again := hold(), hold()
	if len(first) != 8 {
		t.Fatalf("8 connections held at once, %d server processes", len(first))
	}
	for pid := range again {
		if !first[pid] {
			t.Errorf("server process %d is new: a connection was closed when returned (%d closed idle)", pid, db.Stats().MaxIdleClosed)
		}
	}
}

// Statements go with their parameters in one round trip (pq's binary_parameters): a []byte
// parameter arrives as its raw bytes, here the four bytes of an int4 in PostgreSQL's binary form,
// where the two-trip text protocol would send them as text.
func TestOpenSendsParametersBinary(t *testing.T) {
	t.Parallel()
	db, err := schema.Open(context.Background(), schematest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.Get(&n, `SELECT $1::int4`, []byte{0, 0, 0, 7}); err != nil {
		t.Fatalf("a binary int4 parameter: %v", err)
	}
	if n != 7 {
		t.Errorf("the binary int4 7 arrived as %d", n)
	}
}

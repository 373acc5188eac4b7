package prepared_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/cashpool/cashpool/batch/prepared"
	"github.com/cashpool/cashpool/batch/schema/schematest"
)

func TestMain(m *testing.M) { schematest.Main(m) }

// Statements of this test only: named for reuse, and not.
var (
	namedSQL   = prepared.Statement(`SELECT $1::bigint + 1 AS n, gen_random_uuid() AS u, $2::text AS t, 100 / $1::bigint AS q`)
	unnamedSQL = `SELECT $1::bigint + 2 AS n, gen_random_uuid() AS u, $2::text AS t, 100 / $1::bigint AS q`
)

// oneConn is one connection of a fresh database, closed when the test ends.
func oneConn(t *testing.T) *sql.Conn {
	t.Helper()
	conn, err := schematest.DB(t).Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// serverStatements counts the statements with text query prepared on conn's server session, and
// how many plans PostgreSQL made or reused for them (pg_prepared_statements: generic and custom plans).
func serverStatements(t *testing.T, conn *sql.Conn, query string) (n, plans int) {
	t.Helper()
	if err := conn.QueryRowContext(context.Background(), `SELECT count(*), COALESCE(sum(generic_plans + custom_plans), 0)
		FROM pg_prepared_statements WHERE statement = $1`, query).Scan(&n, &plans); err != nil {
		t.Fatal(err)
	}
	return n, plans
}

// TestNamedStatementsArePreparedOncePerConnection runs a named and an unnamed statement several
// times on one connection, in and out of transactions and after one failed, and reads the server's
// own list of the session's prepared statements: the named one is there once, executed each time
// without being prepared again; the unnamed one is not there at all.
func TestNamedStatementsArePreparedOncePerConnection(t *testing.T) {
	ctx := context.Background()
	conn := oneConn(t)
	if !prepared.Named(namedSQL) || prepared.Named(unnamedSQL) {
		t.Fatal("Named does not tell the statements apart")
	}

	for i := int64(1); i <= 3; i++ {
		var n int64
		var u, s string
		var q int64
		if err := conn.QueryRowContext(ctx, namedSQL, i, "x").Scan(&n, &u, &s, &q); err != nil {
			t.Fatal(err)
		}
		if n != i+1 || s != "x" || q != 100/i {
			t.Fatalf("call %d: got %d %q %d", i, n, s, q)
		}
		// Results come as text, as an unprepared statement's do: a uuid in its hyphenated form.
		if len(u) != 36 || strings.Count(u, "-") != 4 {
			t.Fatalf("call %d: uuid read as %q, not its text", i, u)
		}
		if _, err := conn.ExecContext(ctx, unnamedSQL, i, "y"); err != nil {
			t.Fatal(err)
		}
	}
	if n, plans := serverStatements(t, conn, namedSQL); n != 1 || plans != 3 {
		t.Fatalf("named statement: %d on the session, executed %d times; want 1 and 3", n, plans)
	}
	if n, _ := serverStatements(t, conn, unnamedSQL); n != 0 {
		t.Fatalf("unnamed statement: %d prepared on the session, want 0", n)
	}

	// In a transaction, a failure of the prepared statement (division by zero) rolls the
	// transaction back and leaves the statement to the next one.
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, namedSQL, 0, "z"); err == nil || !strings.Contains(err.Error(), "division by zero") {
		t.Fatalf("dividing by zero: got %v", err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	tx, err = conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := tx.QueryRowContext(ctx, namedSQL, 4, "w").Scan(&n, new(string), new(string), new(int64)); err != nil || n != 5 {
		t.Fatalf("after the failed transaction: %d, %v", n, err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	// The failed call may have ended in planning (its division folded as a constant), unplanned.
	if n, plans := serverStatements(t, conn, namedSQL); n != 1 || plans < 4 {
		t.Fatalf("named statement after the transactions: %d on the session, planned %d times; want 1 and at least 4", n, plans)
	}
}

// TestStatementWithoutParametersIsNotPrepared: lib/pq sends a statement without parameters as a
// simple query, and so does the connector, named or not.
func TestStatementWithoutParametersIsNotPrepared(t *testing.T) {
	ctx := context.Background()
	conn := oneConn(t)
	q := prepared.Statement(`SELECT 42`)
	var v int
	if err := conn.QueryRowContext(ctx, q).Scan(&v); err != nil || v != 42 {
		t.Fatalf("got %d, %v", v, err)
	}
	if n, _ := serverStatements(t, conn, q); n != 0 {
		t.Fatalf("%d prepared, want 0", n)
	}
}

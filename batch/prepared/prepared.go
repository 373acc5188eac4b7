// Package prepared keeps the night's hottest statements prepared on every database connection, so
// PostgreSQL parses and plans each of them once a connection instead of once a call.
//
// A statement is named for reuse with Statement when its text is built (the store does it for the
// handful it runs thousands of times a night: the stream's moves, the batches' answers, plan's
// batch inserts, the claims). Connector wraps lib/pq's connector: on each connection, the first
// call of a named statement prepares it (a server-side named statement, lasting as long as the
// connection) and every later call only binds and executes it. Every other statement goes to
// lib/pq as before, planned afresh each time.
//
// PostgreSQL plans the first five executions of a prepared statement with their parameter values,
// as it does an unprepared one, and then keeps one generic plan if that plan is estimated no
// dearer. TestGenericPlansReadByIndex (./batch/store) holds that each named statement's generic
// plan reads the night's tables through their indexes. schema.Open asks lib/pq for the results of
// prepared statements as text (disable_prepared_binary_result), as every other statement's come:
// in binary, lib/pq would hand back a uuid column as its 16 bytes.
package prepared

import (
	"context"
	"database/sql/driver"
	"fmt"
	"sync"
)

var (
	mu    sync.RWMutex
	named = map[string]bool{}
)

// Statement names query for reuse on every connection and returns it unchanged.
func Statement(query string) string {
	mu.Lock()
	defer mu.Unlock()
	named[query] = true
	return query
}

// Named reports whether query was named for reuse.
func Named(query string) bool {
	mu.RLock()
	defer mu.RUnlock()
	return named[query]
}

// Statements lists every statement named for reuse, for the tests of their plans.
func Statements() []string {
	mu.RLock()
	defer mu.RUnlock()
	qs := make([]string, 0, len(named))
	for q := range named {
		qs = append(qs, q)
	}
	return qs
}

// Connector wraps a lib/pq connector so each of its connections keeps the named statements
// prepared.
func Connector(inner driver.Connector) driver.Connector { return connector{inner} }

type connector struct{ inner driver.Connector }

func (c connector) Driver() driver.Driver { return c.inner.Driver() }

func (c connector) Connect(ctx context.Context) (driver.Conn, error) {
	dc, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	pc, ok := dc.(pqConn)
	if !ok {
		dc.Close()
		return nil, fmt.Errorf("prepared: driver connection %T lacks a method database/sql uses", dc)
	}
	return &conn{pqConn: pc, stmts: map[string]driver.Stmt{}}, nil
}

// pqConn is what database/sql uses of a lib/pq connection: every optional interface lib/pq
// implements, forwarded as they are.
type pqConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.QueryerContext
	driver.ExecerContext
	driver.NamedValueChecker
	driver.SessionResetter
	driver.Validator
	driver.Pinger
}

// conn is one connection with the named statements it has prepared so far. database/sql uses a
// connection from one goroutine at a time, so stmts needs no lock.
type conn struct {
	pqConn
	stmts map[string]driver.Stmt
}

type stmtCtx interface {
	driver.Stmt
	driver.StmtQueryContext
	driver.StmtExecContext
}

// stmt returns query's prepared statement on this connection, preparing it on first use; nil
// when query is not named for reuse or has no parameters (lib/pq sends those as simple queries).
func (c *conn) stmt(ctx context.Context, query string, args int) (stmtCtx, error) {
	if args == 0 || !Named(query) {
		return nil, nil
	}
	if st, ok := c.stmts[query]; ok {
		return st.(stmtCtx), nil
	}
	st, err := c.pqConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	sc, ok := st.(stmtCtx)
	if !ok {
		st.Close()
		return nil, fmt.Errorf("prepared: driver statement %T cannot take a context", st)
	}
	c.stmts[query] = sc
	return sc, nil
}

func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	st, err := c.stmt(ctx, query, len(args))
	if err != nil {
		return nil, err
	}
	if st == nil {
		return c.pqConn.QueryContext(ctx, query, args)
	}
	return st.QueryContext(ctx, args)
}

func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	st, err := c.stmt(ctx, query, len(args))
	if err != nil {
		return nil, err
	}
	if st == nil {
		return c.pqConn.ExecContext(ctx, query, args)
	}
	return st.ExecContext(ctx, args)
}

// Close closes the connection; its server-side statements end with it.
func (c *conn) Close() error {
	c.stmts = nil
	return c.pqConn.Close()
}

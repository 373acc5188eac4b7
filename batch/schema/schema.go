// Package schema owns cashpool's PostgreSQL schema: the embedded, numbered migrations and the
// one way to open a database handle the rest of the program uses.
package schema

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq" // the PostgreSQL driver
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/cashpool/cashpool/batch/prepared"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Timeouts every connection gets unless the database URL sets its own (a URL's 0 turns the
// server-side ones off). A statement gets half an hour: the longest legitimate one is the COPY of
// a big drop-folder file, and tracking never holds a statement or a transaction open while it
// waits for Alpaca. A transaction left idle (a process stuck between two statements) is ended
// after ten minutes, releasing its row locks.
const (
	DefaultConnectTimeout        = 10 * time.Second
	DefaultStatementTimeout      = "30min"
	DefaultIdleInTransactionTime = "10min"
)

// ErrBadURL means the database URL could not be read. Its text is never part of an error: it may
// hold a password.
var ErrBadURL = errors.New("DATABASE_URL cannot be read (its text is not shown: it may hold a password); " +
	"want postgres://user:password@host:port/dbname?sslmode=require with any @ : / ? # % in the user or password percent-encoded, or key=value pairs")

// Open connects to the database at url and checks that it answers. Every connection has a connect
// timeout, a statement timeout and an idle-in-transaction timeout (see DefaultStatementTimeout).
// No error it returns carries the URL's password.
func Open(ctx context.Context, url string) (*sqlx.DB, error) {
	cfg, err := pq.NewConfig(url)
	if err != nil {
		// pq's message quotes the URL, password included.
		return nil, ErrBadURL
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.Runtime == nil {
		cfg.Runtime = map[string]string{}
	}
	if _, ok := cfg.Runtime["statement_timeout"]; !ok {
		cfg.Runtime["statement_timeout"] = DefaultStatementTimeout
	}
	if _, ok := cfg.Runtime["idle_in_transaction_session_timeout"]; !ok {
		cfg.Runtime["idle_in_transaction_session_timeout"] = DefaultIdleInTransactionTime
	}
	// No JIT compilation unless the URL asks for it: cashpool's statements are short or run once
	// over a night, and a scan of a night's journals that the planner costs high enough paid
	// ~0.4 s of compiling each time to save less than that.
	if _, ok := cfg.Runtime["jit"]; !ok {
		cfg.Runtime["jit"] = "off"
	}
	// One round trip a statement instead of two: with binary parameters pq sends the statement, its
	// parameters and its execution at once, where otherwise it first asks the server for the
	// parameter types. []byte parameters (batch bodies) then go as raw bytes, not hex text.
	cfg.BinaryParameters = true
	// Results of prepared statements (package prepared) come as text, as every other statement's.
	cfg.DisablePreparedBinaryResult = true
	connector, err := pq.NewConnectorConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", redact(err, cfg.Password))
	}
	db := sqlx.NewDb(sql.OpenDB(prepared.Connector(connector)), "postgres")
	// Every connection opened stays for the next use: database/sql keeps only two idle by default,
	// and a night's steps use more at once, so the rest were closed on their return and a new
	// server process (cold caches, its shared memory faulted in again) started for the next
	// statement: over 500 a 1M night, a third of PostgreSQL's CPU.
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to database: %w", redact(err, cfg.Password))
	}
	return db, nil
}

// redact keeps a password out of an error's text, should a driver or server ever quote it.
func redact(err error, password string) error {
	if password == "" || !strings.Contains(err.Error(), password) {
		return err
	}
	return redacted{msg: strings.ReplaceAll(err.Error(), password, "xxxxx"), err: err}
}

type redacted struct {
	msg string
	err error
}

func (r redacted) Error() string { return r.msg }
func (r redacted) Unwrap() error { return r.err }

// Migrate applies every pending migration. Concurrent callers are serialised by a PostgreSQL
// session lock, so several replicas may start at once.
func Migrate(ctx context.Context, db *sql.DB) (applied int, err error) {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return 0, err
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return 0, err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub, goose.WithSessionLocker(locker))
	if err != nil {
		return 0, fmt.Errorf("migrations: %w", err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return len(res), fmt.Errorf("migrate: %w", err)
	}
	return len(res), nil
}

// LockKey is the PostgreSQL advisory lock key of a named lock ("run:<sweep>:<date>", "ingest",
// "serve:<sweep>"). Every process derives it the same way, so the same name excludes across them.
func LockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("cashpool:" + name))
	return int64(h.Sum64())
}

// RunLockName names the lock a process holds while it works on one run.
func RunLockName(sweep, date string) string { return "run:" + sweep + ":" + date }

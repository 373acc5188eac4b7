// Package schema owns cashpool's PostgreSQL schema: the embedded, numbered migrations and the
// one way to open a database handle the rest of the program uses.
package schema

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"hash/fnv"
	"io/fs"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // the PostgreSQL driver
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Open connects to the database at url and checks that it answers.
func Open(ctx context.Context, url string) (*sqlx.DB, error) {
	db, err := sqlx.Open("postgres", url)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	db.SetMaxOpenConns(16)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	return db, nil
}

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

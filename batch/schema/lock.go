package schema

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ErrBusy means another process holds the lock a call needs.
var ErrBusy = errors.New("another cashpool process is working on this")

// TryLock takes the session advisory lock name (see LockKey) on a connection of its own, since
// the pool would hand its release to another session, and returns that connection and the
// release. It fails with ErrBusy, at once, when another session holds the lock.
func TryLock(ctx context.Context, db *sql.DB, name string) (*sql.Conn, func(), error) {
	return advisoryLock(ctx, db, name, `SELECT pg_try_advisory_lock($1)`)
}

// Lock is TryLock for work that only needs to take turns (ingest): it waits, until ctx ends, for
// another session to release the lock instead of failing.
func Lock(ctx context.Context, db *sql.DB, name string) (*sql.Conn, func(), error) {
	return advisoryLock(ctx, db, name, `SELECT true FROM (SELECT pg_advisory_lock($1)) AS taken`)
}

func advisoryLock(ctx context.Context, db *sql.DB, name, take string) (*sql.Conn, func(), error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, nil, err
	}
	key := LockKey(name)
	var ok bool
	if err := conn.QueryRowContext(ctx, take, key).Scan(&ok); err != nil {
		conn.Close()
		return nil, nil, err
	}
	if !ok {
		conn.Close()
		return nil, nil, fmt.Errorf("%w (lock %q)", ErrBusy, name)
	}
	return conn, func() {
		// A session that no longer answers has lost the lock anyway: do not wait on it for long.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn.ExecContext(ctx, `SELECT pg_advisory_unlock($1)`, key)
		conn.Close()
	}, nil
}

// LockHeld says whether some session of this database holds the session advisory lock name now
// (without taking it): a look for people and for work that only helps the holder.
func LockHeld(ctx context.Context, db *sql.DB, name string) (bool, error) {
	key := uint64(LockKey(name))
	var held bool
	// A bigint key is held as two oids: its high half in classid, its low half in objid.
	err := db.QueryRowContext(ctx, `SELECT EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND granted
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 1)`, int64(key>>32), int64(key&0xffffffff)).Scan(&held)
	return held, err
}

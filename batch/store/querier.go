package store

import (
	"context"

	"github.com/jmoiron/sqlx"
)

// Querier is a transaction or a database: every function here runs in the caller's transaction
// when given one.
type Querier interface {
	sqlx.ExtContext
	SelectContext(ctx context.Context, dest any, query string, args ...any) error
	GetContext(ctx context.Context, dest any, query string, args ...any) error
}

// PostgreSQL's codes for a lock not granted within lock_timeout and for a deadlock it broke.
const (
	CodeLockNotAvailable = "55P03"
	CodeDeadlockDetected = "40P01"
)

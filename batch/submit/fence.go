package submit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/cashpool/cashpool/batch/store"
)

// ErrLostLock means this process no longer holds the run lock it started with: its session ended
// (a database restart, a killed connection) or another process has taken the lock since.
var ErrLostLock = errors.New("lost the run lock")

// Fence is the fencing token of a run lock: the lock's name and the epoch this process got when
// it took the lock. A batch is marked 'sending' only while the epoch is still this process's.
type Fence struct {
	Name  string
	Epoch int64
	// Held, when set, checks that the lock's own session is still alive; it runs before each
	// batch is marked 'sending', so a run that lost its lock stops even when nobody took it yet.
	Held func(ctx context.Context) error
}

// TakeFence bumps the epoch of the lock name; call it right after taking the lock, on its session.
func TakeFence(ctx context.Context, q interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}, name string, now time.Time) (Fence, error) {
	f := Fence{Name: name}
	err := q.QueryRowContext(ctx, store.TakeFenceSQL, name, now.UTC()).Scan(&f.Epoch)
	if err != nil {
		return Fence{}, fmt.Errorf("take the fencing token of %q: %w", name, err)
	}
	return f, nil
}

// checkFence fails unless the fence's epoch is still the current one. The row stays share-locked
// until tx ends, so a new holder's bump waits for this transaction: either this batch is marked
// 'sending' before the lock changed hands (and the new holder resends it under the same key), or
// it is not marked at all.
func checkFence(ctx context.Context, tx *sqlx.Tx, f Fence) error {
	var epoch int64
	err := tx.QueryRowContext(ctx, store.CheckFenceSQL, f.Name).Scan(&epoch)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: no fencing token for %q", ErrLostLock, f.Name)
	}
	if err != nil {
		return err
	}
	if epoch != f.Epoch {
		return fmt.Errorf("%w; another runner took over (epoch %d, this run's %d)", ErrLostLock, epoch, f.Epoch)
	}
	return nil
}

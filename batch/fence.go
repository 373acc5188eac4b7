package batch

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cashpool/cashpool/batch/schema"
	"github.com/cashpool/cashpool/batch/store"
	"github.com/cashpool/cashpool/batch/submit"
)

// lockCheckTimeout bounds one look at the run lock's session: a session that does not answer is lost.
const lockCheckTimeout = 10 * time.Second

// lockRun takes the run lock of date and its fencing token, and watches the lock's session every
// Config.LockCheckEvery: the returned context ends, with the lost lock as its cause, when the
// session fails (a database restart) or another process took the lock, so a run never goes on
// without it. The fence stops any batch from being marked 'sending' in between.
func (r *Runner) lockRun(ctx context.Context, date string) (context.Context, submit.Fence, func(), error) {
	c := r.cfg()
	name := schema.RunLockName(c.SweepAccount, date)
	conn, unlock, err := schema.TryLock(ctx, r.DB.DB, name)
	if err != nil {
		return ctx, submit.Fence{}, nil, err
	}
	fence, err := submit.TakeFence(ctx, conn, name, c.Now())
	if err != nil {
		unlock()
		return ctx, submit.Fence{}, nil, err
	}
	// One session answers one query at a time: the submit workers and the watcher take turns.
	var mu sync.Mutex
	fence.Held = func(ctx context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		return lockHeld(ctx, conn, fence)
	}
	every := c.LockCheckEvery
	ctx, cancel := context.WithCancelCause(ctx)
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if err := fence.Held(ctx); err != nil && ctx.Err() == nil {
					c.Logger.Error("stopping the run", "date", date, "err", err)
					cancel(err)
					return
				}
			}
		}
	}()
	return ctx, fence, func() {
		close(stop)
		<-stopped
		cancel(nil)
		unlock()
	}, nil
}

// lockHeld checks, on the lock's own session, that the session is alive and the fence still ours.
func lockHeld(ctx context.Context, conn *sql.Conn, f submit.Fence) error {
	ctx, cancel := context.WithTimeout(ctx, lockCheckTimeout)
	defer cancel()
	var epoch int64
	if err := conn.QueryRowContext(ctx, store.FenceEpochSQL, f.Name).Scan(&epoch); err != nil {
		if errors.Is(ctx.Err(), context.Canceled) {
			return ctx.Err() // the run is ending anyway
		}
		return fmt.Errorf("%w: its database session failed: %v", submit.ErrLostLock, err)
	}
	if epoch != f.Epoch {
		return fmt.Errorf("%w; another runner took over (epoch %d, this run's %d)", submit.ErrLostLock, epoch, f.Epoch)
	}
	return nil
}

// withLostLock names the lost run lock as the reason of err when the run stopped for it.
func withLostLock(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); err != nil && errors.Is(cause, submit.ErrLostLock) && !errors.Is(err, submit.ErrLostLock) {
		return fmt.Errorf("%w (stopped: %v)", cause, err)
	}
	return err
}

package alpaca

import (
	"context"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// Sleep waits d, or until ctx ends (then it returns ctx's error). It is the program's one pause:
// the client's between attempts, tracking's between passes and reconnects, ingest's and the
// scheduler's.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// NewBackOff is the program's one retry backoff: 100ms doubling up to ceiling, each pause jittered
// by half either way so that many clients do not retry in step.
func NewBackOff(ceiling time.Duration) *backoff.ExponentialBackOff {
	return &backoff.ExponentialBackOff{InitialInterval: 100 * time.Millisecond, RandomizationFactor: 0.5,
		Multiplier: 2, MaxInterval: ceiling}
}

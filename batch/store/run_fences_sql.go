package store

// Every statement against run_fences (schema: migration 00007): the fencing token (epoch) of each
// run lock. The callers run them on the lock's own session or in the transaction that marks a
// batch sending, so they are statements here rather than functions over a Querier.

import "github.com/cashpool/cashpool/batch/prepared"

// TakeFenceSQL bumps the epoch of lock $1 at time $2 and returns it.
const TakeFenceSQL = `
		INSERT INTO run_fences (name, epoch, taken_at) VALUES ($1, 1, $2)
		ON CONFLICT (name) DO UPDATE SET epoch = run_fences.epoch + 1, taken_at = EXCLUDED.taken_at
		RETURNING epoch`

// CheckFenceSQL reads the epoch of lock $1 and share-locks its row until the transaction ends, so
// a new holder's bump waits for it.
var CheckFenceSQL = prepared.Statement(`SELECT epoch FROM run_fences WHERE name = $1 FOR SHARE`)

// FenceEpochSQL reads the epoch of lock $1.
var FenceEpochSQL = prepared.Statement(`SELECT epoch FROM run_fences WHERE name = $1`)

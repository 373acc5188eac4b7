package batch

// Every statement against schedule_state (schema: migration 00001): the last business date
// serve's schedule completed for a sweep account, which only moves forward.
const (
	queryLastCompleted = `SELECT last_completed FROM schedule_state WHERE sweep_account = $1`
	recordCompleted    = `
		INSERT INTO schedule_state (sweep_account, last_completed, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (sweep_account) DO UPDATE SET last_completed = GREATEST(schedule_state.last_completed, EXCLUDED.last_completed),
		    updated_at = EXCLUDED.updated_at`
)

// Every statement against serve_leaders (schema: migration 00015): the replica holding a sweep
// account's leader lock, and since when.
const (
	recordLeader = `
		INSERT INTO serve_leaders (sweep_account, holder, since) VALUES ($1, $2, $3)
		ON CONFLICT (sweep_account) DO UPDATE SET holder = EXCLUDED.holder, since = EXCLUDED.since`
	clearLeader = `DELETE FROM serve_leaders WHERE sweep_account = $1 AND holder = $2`
	queryLeader = `SELECT holder, since FROM serve_leaders WHERE sweep_account = $1`
)

package track

// Every statement against event_cursors (schema: migration 00003): the sweep account's stream
// cursor, advanced only in the transaction that applied the events (and never backwards). The
// events themselves are the history rows of the changes they made (store.MoveJournals).
const (
	queryCursor   = `SELECT last_event_id FROM event_cursors WHERE sweep_account = $1`
	advanceCursor = `
			INSERT INTO event_cursors (sweep_account, last_event_id, updated_at) VALUES ($1, $2, $3)
			ON CONFLICT (sweep_account) DO UPDATE
			SET last_event_id = greatest(event_cursors.last_event_id, excluded.last_event_id), updated_at = excluded.updated_at`
)

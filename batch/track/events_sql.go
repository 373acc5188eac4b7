package track

// Every statement against journal_events and event_cursors (schema: migration 00003): the
// stream's events, each recorded once by id, and the sweep account's cursor, advanced only in the
// transaction that applied the events (and never backwards).
const (
	queryCursor     = `SELECT last_event_id FROM event_cursors WHERE sweep_account = $1`
	querySeenEvents = `SELECT event_id FROM journal_events WHERE event_id = ANY($1::text[])`
	insertEvents    = `
			INSERT INTO journal_events (event_id, journal_id, status_from, status_to, at, applied, received_at)
			SELECT * , $7::timestamptz FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::timestamptz[], $6::bool[])
			ON CONFLICT (event_id) DO NOTHING`
	advanceCursor = `
			INSERT INTO event_cursors (sweep_account, last_event_id, updated_at) VALUES ($1, $2, $3)
			ON CONFLICT (sweep_account) DO UPDATE
			SET last_event_id = greatest(event_cursors.last_event_id, excluded.last_event_id), updated_at = excluded.updated_at`
)

package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/shopspring/decimal"
)

// Every statement against track_parts (schema: migration 00034): the parts a run's tracking is
// split into, each applied by the process holding its lease. Leases are compared with the
// database's clock (now()), never a process's. Statements that lock several parts lock them in
// part order, so that a renewal and an applier's transaction never wait on each other in a cycle.

// OpenTrackParts creates the run's n parts, or opens them again after an earlier tracking of the
// run closed them (a run tracked again after a crash).
func OpenTrackParts(ctx context.Context, q Querier, runID int64, n int) error {
	_, err := q.ExecContext(ctx, `
		INSERT INTO track_parts (run_id, part) SELECT $1, generate_series(0, $2::int - 1)
		ON CONFLICT (run_id, part) DO UPDATE SET closed = false WHERE track_parts.closed`, runID, n)
	if err != nil {
		return fmt.Errorf("open track parts: %w", err)
	}
	return nil
}

// TrackClaim is what ClaimTrackParts found: the parts holder holds now, in order, and whether the
// run's tracking has ended (its parts closed) or not begun (no parts yet).
type TrackClaim struct {
	Mine    []int
	Closed  bool
	Started bool
}

// ClaimTrackParts renews holder's leases on the run's parts and claims more, each for lease. A
// part is free when nobody holds it or its lease ran out. holder's fair share is ceil(parts / live
// trackers), the live trackers being the other holders with a lease not run out and holder itself.
// all (the run's holder): every free part is claimed; otherwise free parts up to the share. Then,
// below its share, holder takes parts of trackers holding more than the share. A part taken from
// its holder makes that holder's next transaction on it fail; one locked by such a transaction is
// skipped.
func ClaimTrackParts(ctx context.Context, db *sqlx.DB, runID int64, holder string, lease time.Duration, all bool) (TrackClaim, error) {
	var c TrackClaim
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return c, err
	}
	defer tx.Rollback()
	ms := lease.Milliseconds()
	if err := tx.SelectContext(ctx, &c.Mine, `
		UPDATE track_parts SET lease_until = now() + $3 * interval '1 millisecond'
		WHERE run_id = $1 AND part IN (
		    SELECT part FROM track_parts WHERE run_id = $1 AND holder = $2 AND NOT closed ORDER BY part FOR UPDATE)
		RETURNING part`, runID, holder, ms); err != nil {
		return c, fmt.Errorf("renew track parts: %w", err)
	}
	var rows []struct {
		Part   int    `db:"part"`
		Holder string `db:"holder"`
		Live   bool   `db:"live"`
		Closed bool   `db:"closed"`
	}
	if err := tx.SelectContext(ctx, &rows, `
		SELECT part, coalesce(holder, '') AS holder, coalesce(lease_until > now(), false) AS live, closed
		FROM track_parts WHERE run_id = $1 ORDER BY part`, runID); err != nil {
		return c, fmt.Errorf("read track parts: %w", err)
	}
	c.Started = len(rows) > 0
	others := map[string][]int{} // live holders but this one, and their parts
	var free []int
	for _, r := range rows {
		c.Closed = c.Closed || r.Closed
		switch {
		case r.Holder == holder:
		case r.Holder == "" || !r.Live:
			free = append(free, r.Part)
		default:
			others[r.Holder] = append(others[r.Holder], r.Part)
		}
	}
	if c.Closed || !c.Started {
		return c, tx.Commit()
	}
	share := (len(rows) + len(others)) / (len(others) + 1) // ceil(parts / live trackers)
	want, victims := free, []string{}
	if !all {
		// A joining process takes the highest parts, the run's holder claims from the lowest: each
		// keeps a run of parts, split evenly over its appliers.
		slices.Reverse(free)
		want = free[:min(max(share-len(c.Mine), 0), len(free))]
	}
	for need := share - len(c.Mine) - len(want); need > 0; need-- {
		most := ""
		for h, ps := range others {
			if len(ps) > share && (most == "" || len(ps) > len(others[most])) {
				most = h
			}
		}
		if most == "" {
			break
		}
		ps := others[most]
		want, others[most] = append(want, ps[len(ps)-1]), ps[:len(ps)-1]
		victims = append(victims, most)
	}
	if len(want) > 0 {
		var got []int
		if err := tx.SelectContext(ctx, &got, `
			UPDATE track_parts SET holder = $2, lease_until = now() + $3 * interval '1 millisecond'
			WHERE run_id = $1 AND part IN (
			    SELECT part FROM track_parts WHERE run_id = $1 AND part = ANY($4) AND NOT closed
			        AND (holder IS NULL OR lease_until <= now() OR holder = ANY($5))
			    ORDER BY part FOR UPDATE SKIP LOCKED)
			RETURNING part`, runID, holder, ms, pq.Array(want), pq.Array(victims)); err != nil {
			return c, fmt.Errorf("claim track parts: %w", err)
		}
		c.Mine = append(c.Mine, got...)
	}
	slices.Sort(c.Mine)
	return c, tx.Commit()
}

// AdvanceTrackParts records, in the transaction that applied a share of the events of parts,
// that every event of those parts up to cursor is committed ("" moves no cursor) and what the
// moves did to the run's open count and funded amount (added to the first part's row: only the
// run's sums are read). It returns the parts still holder's, under a lease not run out; the
// caller commits only when that is every one of parts. A part's row stays locked until the
// transaction ends: closing the parts waits for it, a claim passes the part by.
func AdvanceTrackParts(ctx context.Context, q Querier, runID int64, holder string, parts []int, cursor string, openDelta int, funded decimal.Decimal) ([]int, error) {
	var kept []int
	err := q.SelectContext(ctx, &kept, `
		UPDATE track_parts t SET cursor = CASE WHEN $4 = '' THEN t.cursor ELSE greatest(t.cursor, $4) END,
		    open_delta = t.open_delta + CASE WHEN t.part = $5 THEN $6::bigint ELSE 0 END,
		    funded_delta = t.funded_delta + CASE WHEN t.part = $5 THEN $7::numeric ELSE 0 END
		WHERE t.run_id = $1 AND t.part IN (
		    SELECT part FROM track_parts WHERE run_id = $1 AND part = ANY($3) ORDER BY part FOR UPDATE)
		  AND t.holder = $2 AND t.lease_until > now() AND NOT t.closed
		RETURNING t.part`, runID, holder, pq.Array(parts), cursor, slices.Min(parts), openDelta, funded)
	if err != nil {
		return nil, fmt.Errorf("track parts: %w", err)
	}
	return kept, nil
}

// ReleaseTrackParts gives up holder's parts of the run, for another tracker to take at once.
func ReleaseTrackParts(ctx context.Context, q Querier, runID int64, holder string) error {
	_, err := q.ExecContext(ctx, `
		UPDATE track_parts SET holder = NULL, lease_until = NULL
		WHERE run_id = $1 AND part IN (
		    SELECT part FROM track_parts WHERE run_id = $1 AND holder = $2 ORDER BY part FOR UPDATE)`, runID, holder)
	if err != nil {
		return fmt.Errorf("release track parts: %w", err)
	}
	return nil
}

// CloseTrackParts ends the run's tracking for every tracker: it waits for the transactions
// applying a part to end, and no later one commits (AdvanceTrackParts finds the part closed).
func CloseTrackParts(ctx context.Context, q Querier, runID int64) error {
	_, err := q.ExecContext(ctx, `
		UPDATE track_parts SET closed = true, holder = NULL, lease_until = NULL
		WHERE run_id = $1 AND part IN (SELECT part FROM track_parts WHERE run_id = $1 ORDER BY part FOR UPDATE)`, runID)
	if err != nil {
		return fmt.Errorf("close track parts: %w", err)
	}
	return nil
}

// TrackPartSums adds up what every part's moves did to the run's open count and funded amount.
func TrackPartSums(ctx context.Context, q Querier, runID int64) (open int64, funded decimal.Decimal, err error) {
	err = q.QueryRowxContext(ctx, `SELECT coalesce(sum(open_delta), 0), coalesce(sum(funded_delta), 0)
		FROM track_parts WHERE run_id = $1`, runID).Scan(&open, &funded)
	if err != nil {
		return 0, decimal.Zero, fmt.Errorf("track part sums: %w", err)
	}
	return open, funded, nil
}

// TrackPartsCursor is the smallest cursor of the run's parts (of parts, when given): every event
// of those parts up to it is committed. "" when one of them has none yet.
func TrackPartsCursor(ctx context.Context, q Querier, runID int64, parts []int) (string, error) {
	var c string
	err := q.GetContext(ctx, &c, `
		SELECT CASE WHEN count(*) > 0 AND count(cursor) = count(*) THEN min(cursor) ELSE '' END
		FROM track_parts WHERE run_id = $1 AND ($2::int[] IS NULL OR part = ANY($2))`, runID, pq.Array(parts))
	if err != nil {
		return "", fmt.Errorf("track parts cursor: %w", err)
	}
	return c, nil
}

package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/cashpool/cashpool/batch/prepared"
	"github.com/cashpool/cashpool/batch/store"
)

// TestGenericPlansReadByIndex holds every statement the store keeps prepared (package prepared) to
// a generic plan, the one PostgreSQL settles on after five calls of a statement that is, that
// reaches the night's tables by their indexes: on 50,000 journals in 5,000 batches,
// answered and analyzed, no such plan reads journals, journal_answers, journal_history or batches
// whole. A generic plan knows none of its parameters (not an array's length, not a run), so it is
// checked here as PostgreSQL itself makes it (plan_cache_mode=force_generic_plan, EXPLAIN EXECUTE).
func TestGenericPlansReadByIndex(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	const journals, perBatch = 50_000, 10
	for _, s := range []struct {
		q    string
		args []any
	}{
		{`INSERT INTO batches (run_id, seq, idempotency_key, body, entries, status)
		  SELECT $1, lpad(b::text, 6, '0'), gen_random_uuid(), '{}', $2, CASE WHEN b % 2 = 0 THEN 'sent' ELSE 'planned' END
		  FROM generate_series(1, $3) AS b`, []any{f.runID, perBatch, journals / perBatch}},
		{`INSERT INTO allocations (file_id, line, receipt_id, account_id, amount, client_ref, description)
		  SELECT $1, g, 'W1', gen_random_uuid(), 10, 'c' || g, '' FROM generate_series(1, $2) AS g`, []any{f.file, journals}},
		{`INSERT INTO journals (run_id, batch_id, journal_key, allocation_id, receipt_id, client_ref, to_account,
			amount, description, status, updated_at, alpaca_id)
		  SELECT $1, b.id, gen_random_uuid(), a.id, 'W1', a.client_ref, a.account_id, 10, '', 'queued', now(), gen_random_uuid()
		  FROM allocations a JOIN batches b ON b.run_id = $1 AND b.seq = lpad(((a.line - 1) / $2 + 1)::text, 6, '0')
		  WHERE a.file_id = $3`, []any{f.runID, perBatch, f.file}},
		{`INSERT INTO journal_answers (alpaca_id, journal_id) SELECT alpaca_id, id FROM journals WHERE run_id = $1`, []any{f.runID}},
		{`INSERT INTO journal_history (journal_id, status_from, status_to, source, at)
		  SELECT id, 'queued', 'queued', 'test', now() FROM journals WHERE run_id = $1`, []any{f.runID}},
	} {
		if _, err := f.db.Exec(s.q, s.args...); err != nil {
			t.Fatalf("%v\n%s", err, s.q)
		}
	}
	if _, err := f.db.Exec(`ANALYZE`); err != nil {
		t.Fatal(err)
	}

	conn, err := f.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SET plan_cache_mode = force_generic_plan`); err != nil {
		t.Fatal(err)
	}
	whole := map[string]bool{"journals": true, "journal_answers": true, "journal_history": true, "batches": true}
	statements := prepared.Statements()
	// The statements the night runs most must be among them (names as the store's functions say).
	for _, want := range []string{"unnest($1::uuid[], $9::text[]", "unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])",
		"UPDATE batches SET claimed_by", "convert_from(body", "INSERT INTO batches", store.CheckFenceSQL} {
		if !containsAny(statements, want) {
			t.Errorf("no statement kept prepared holds %q", want)
		}
	}
	for i, q := range statements {
		name := fmt.Sprintf("generic_%d", i)
		if _, err := conn.ExecContext(ctx, `PREPARE `+name+` AS `+q); err != nil {
			t.Fatalf("prepare: %v\n%s", err, q)
		}
		var params int
		if err := conn.QueryRowContext(ctx, `SELECT cardinality(parameter_types) FROM pg_prepared_statements WHERE name = $1`, name).Scan(&params); err != nil {
			t.Fatal(err)
		}
		args := strings.TrimSuffix(strings.Repeat("NULL, ", params), ", ")
		var plan string
		if err := conn.QueryRowContext(ctx, `EXPLAIN (FORMAT JSON) EXECUTE `+name+`(`+args+`)`).Scan(&plan); err != nil {
			t.Fatalf("explain: %v\n%s", err, q)
		}
		var nodes []struct{ Plan planNode }
		if err := json.Unmarshal([]byte(plan), &nodes); err != nil || len(nodes) != 1 {
			t.Fatalf("plan of %s: %v", q, err)
		}
		nodes[0].Plan.walk(func(n planNode) {
			if n.NodeType == "Seq Scan" && whole[n.Relation] {
				t.Errorf("the generic plan reads %s whole:\n%s\n%s", n.Relation, q, plan)
			}
		})
	}
}

type planNode struct {
	NodeType string     `json:"Node Type"`
	Relation string     `json:"Relation Name"`
	Plans    []planNode `json:"Plans"`
}

func (n planNode) walk(f func(planNode)) {
	f(n)
	for _, c := range n.Plans {
		c.walk(f)
	}
}

func containsAny(qs []string, part string) bool {
	for _, q := range qs {
		if strings.Contains(q, part) {
			return true
		}
	}
	return false
}

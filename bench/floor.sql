-- The floor: the least database work a night of :n journals needs, in one psql session, for the
-- night benchmark to hold cashpool's whole night against. Run it with the night's allocations file
-- on standard input:
--
--   psql -X -v ON_ERROR_STOP=1 -v n=100000 -f bench/floor.sql DATABASE_URL < allocations.csv
--
-- The work, each step committed on its own as a durable night commits it:
--   1. COPY the allocations file with the (receipt_id, client_ref) unique constraint;
--   2. insert one journal per allocation (the intent), in one statement;
--   3. record Alpaca's answer (its journal id and status) per 500-journal batch, one statement
--      per batch, matched by the journal's key as answers are, with a history row per journal;
--   4. two more status changes per journal (sent_to_clearing, executed), looked up by Alpaca's id
--      as its events name them, a statement per batch each, with a history row per change.
-- What it leaves out is not database work: the split of weights (the application's arithmetic:
-- a weight row's journal gets a placeholder amount), HTTP, and parsing.
-- It prints the executed journals and history rows, which the benchmark checks against :n.

\set ON_ERROR_STOP on
\set batch 500
DROP SCHEMA IF EXISTS floor CASCADE;
CREATE SCHEMA floor;
SET search_path = floor;

CREATE TABLE allocations (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    receipt_id  TEXT           NOT NULL,
    account_id  UUID           NOT NULL,
    amount      NUMERIC(20,2)  CHECK (amount > 0),
    weight      NUMERIC(30,10) CHECK (weight > 0),
    client_ref  TEXT           NOT NULL,
    description TEXT           NOT NULL,
    CHECK ((amount IS NULL) <> (weight IS NULL)),
    UNIQUE (receipt_id, client_ref)
);

-- A journal's id is its allocation's; its batch is a range of ids. Its key (cashpool's, derived
-- from the allocation's id under the night's prefix, so in order; in the description Alpaca echoes)
-- is how an answer finds it. Room on each
-- page (fillfactor) keeps the status changes HOT: status is in no index.
CREATE TABLE journals (
    id          BIGINT        PRIMARY KEY,
    key         UUID          NOT NULL UNIQUE,
    to_account  UUID          NOT NULL,
    amount      NUMERIC(20,2) NOT NULL CHECK (amount > 0),
    description TEXT          NOT NULL,
    alpaca_id   UUID          UNIQUE,
    status      TEXT          NOT NULL
) WITH (fillfactor = 60);

CREATE TABLE journal_history (
    journal_id BIGINT      NOT NULL,
    status     TEXT        NOT NULL,
    at         TIMESTAMPTZ NOT NULL DEFAULT now()
);

\copy allocations (receipt_id, account_id, amount, weight, client_ref, description) from pstdin with (format csv, header true)

INSERT INTO journals (id, key, to_account, amount, description, status)
SELECT id, ('00000000-0000-8000-8000-' || lpad(to_hex(id), 12, '0'))::uuid, account_id, coalesce(amount, 1.00), description, 'planned'
FROM allocations ORDER BY id;

-- Alpaca's answer to each batch: its ids and status, one statement per batch.
SELECT format($$WITH answered AS (
        UPDATE journals SET alpaca_id = gen_random_uuid(), status = 'queued'
        WHERE key IN (SELECT key FROM journals WHERE id BETWEEN %s AND %s) RETURNING id, status)
    INSERT INTO journal_history (journal_id, status) SELECT id, status FROM answered$$,
    b * :batch + 1, (b + 1) * :batch)
FROM generate_series(0, (:n - 1) / :batch) AS b \gexec

-- Two more changes each, found by Alpaca's id as its events name them.
SELECT format($$WITH moved AS (
        UPDATE journals SET status = %L
        WHERE alpaca_id IN (SELECT alpaca_id FROM journals WHERE id BETWEEN %s AND %s) RETURNING id, status)
    INSERT INTO journal_history (journal_id, status) SELECT id, status FROM moved$$,
    s, b * :batch + 1, (b + 1) * :batch)
FROM unnest(ARRAY['sent_to_clearing', 'executed']) WITH ORDINALITY AS st (s, o),
    generate_series(0, (:n - 1) / :batch) AS b
ORDER BY o, b \gexec

\pset tuples_only on
\pset format unaligned
SELECT 'floor executed=' || (SELECT count(*) FROM journals WHERE status = 'executed')
    || ' history=' || (SELECT count(*) FROM journal_history);

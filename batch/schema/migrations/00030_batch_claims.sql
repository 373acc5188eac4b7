-- +goose Up

-- Several processes share a night's submit: a worker claims a batch (claimed_by, its token) until
-- claimed_until, renews the claim while it works, and may mark the batch sending only while the
-- claim is still its own and current. A claim that ran out (a worker killed, paused or cut off)
-- is taken by the next worker, which treats a 'sending' batch as after a crash.
ALTER TABLE batches
    ADD COLUMN claimed_by    TEXT,
    ADD COLUMN claimed_until TIMESTAMPTZ,
    ADD CONSTRAINT batches_claim CHECK ((claimed_by IS NULL) = (claimed_until IS NULL));

-- The claim's scan: only a night's batches still to send, in seq order; sent batches leave it, so
-- a claim never walks past the night's finished ones. Batches are a few thousand rows a night.
CREATE INDEX batches_to_send ON batches (run_id, seq) WHERE status IN ('planned', 'sending');

-- The fencing epoch of the run lock under which the run's cash was checked: workers that join the
-- night send only while that epoch is still the lock's (the holder that checked the cash still
-- holds it, or died without another taking over).
ALTER TABLE runs ADD COLUMN send_epoch BIGINT;

-- +goose Down
ALTER TABLE runs DROP COLUMN send_epoch;
DROP INDEX batches_to_send;
ALTER TABLE batches DROP CONSTRAINT batches_claim, DROP COLUMN claimed_until, DROP COLUMN claimed_by;

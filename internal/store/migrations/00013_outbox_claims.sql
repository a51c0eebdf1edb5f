-- Dispatch that costs the same whatever is pending. A row's head flag says
-- it is the first pending row of its (consumer, ordering_key): only heads
-- are ever candidates, so finding the next deliveries is a range read of
-- one index instead of a walk of the backlog. A claimed row's
-- next_attempt_at is moved to the end of its lease, so a claim is a write
-- every process sees (and a dead process's claim simply runs out), and
-- lease_owner says which dispatcher holds it.

-- +goose Up
ALTER TABLE outbox ADD COLUMN head INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
UPDATE outbox SET head = 1 WHERE state = 'pending' AND id IN (
    SELECT MIN(id) FROM outbox WHERE state = 'pending' GROUP BY consumer, ordering_key);
CREATE INDEX outbox_ready ON outbox (consumer, priority, next_attempt_at, id) WHERE state = 'pending' AND head = 1;
DROP INDEX outbox_due;

-- +goose Down
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE state = 'pending';
DROP INDEX outbox_ready;
ALTER TABLE outbox DROP COLUMN lease_owner;
ALTER TABLE outbox DROP COLUMN head;

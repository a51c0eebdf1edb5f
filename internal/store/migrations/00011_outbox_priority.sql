-- Urgent messages (a new incident's first word, a page to a person) go out
-- before routine ones queued earlier; order within a key is unchanged.

-- +goose Up
ALTER TABLE outbox ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE outbox DROP COLUMN priority;

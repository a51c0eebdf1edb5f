-- Storm mode: incidents opened past a route's storm threshold join one
-- storm incident (their parent), which has the room and does the paging.
-- The parent counts its children, and how many of them are still open, so
-- neither a storm's joins nor its resolves count rows.

-- +goose Up
ALTER TABLE incidents ADD COLUMN parent_id INTEGER REFERENCES incidents (id);
ALTER TABLE incidents ADD COLUMN children INTEGER NOT NULL DEFAULT 0;
ALTER TABLE incidents ADD COLUMN open_children INTEGER NOT NULL DEFAULT 0;
CREATE INDEX incidents_parent ON incidents (parent_id, id) WHERE parent_id IS NOT NULL;
CREATE INDEX incidents_team_created ON incidents (team, created_at);

-- +goose Down
DROP INDEX incidents_team_created;
DROP INDEX incidents_parent;
ALTER TABLE incidents DROP COLUMN open_children;
ALTER TABLE incidents DROP COLUMN children;
ALTER TABLE incidents DROP COLUMN parent_id;

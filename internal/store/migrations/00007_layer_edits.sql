-- Rotation edits made at run time (a lead adding a member from chat):
-- each row is the whole new state of one layer, the latest row wins over
-- the config, and the rows before it are the history.

-- +goose Up
CREATE TABLE layer_edits (
    id           INTEGER PRIMARY KEY,
    schedule     TEXT    NOT NULL,
    layer        TEXT    NOT NULL,
    participants TEXT    NOT NULL, -- JSON array of names
    start_wall   TEXT    NOT NULL, -- "2006-01-02 15:04" in the schedule's zone
    created_at   INTEGER NOT NULL,
    created_by   TEXT    NOT NULL,
    what         TEXT    NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX layer_edits_latest ON layer_edits (schedule, layer, id);

-- +goose Down
DROP TABLE layer_edits;

-- On-call changes made at run time (from chat or the API) live here, so
-- they survive restarts and config reloads; the config defines the rest.

-- +goose Up
CREATE TABLE schedule_overrides (
    id          INTEGER PRIMARY KEY,
    schedule    TEXT    NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('add', 'remove', 'replace')),
    user_name   TEXT    NOT NULL,
    replaces    TEXT    NOT NULL DEFAULT '',
    start_at    INTEGER NOT NULL,
    end_at      INTEGER NOT NULL CHECK (end_at > start_at),
    created_at  INTEGER NOT NULL,
    created_by  TEXT    NOT NULL,
    note        TEXT    NOT NULL DEFAULT '',
    deleted_at  INTEGER,
    deleted_by  TEXT
) STRICT;

CREATE INDEX schedule_overrides_live ON schedule_overrides (schedule, end_at) WHERE deleted_at IS NULL;

-- +goose Down
DROP TABLE schedule_overrides;

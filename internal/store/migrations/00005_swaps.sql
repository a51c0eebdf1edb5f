-- Shift swaps: a person asks for cover of a time range; the first teammate
-- to accept takes it, which creates the override.

-- +goose Up
CREATE TABLE swaps (
    id          INTEGER PRIMARY KEY,
    schedule    TEXT    NOT NULL,
    requester   TEXT    NOT NULL,
    start_at    INTEGER NOT NULL,
    end_at      INTEGER NOT NULL CHECK (end_at > start_at),
    state       TEXT    NOT NULL CHECK (state IN ('open', 'taken', 'cancelled')),
    taken_by    TEXT    NOT NULL DEFAULT '',
    override_id INTEGER REFERENCES schedule_overrides (id),
    note        TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;

CREATE INDEX swaps_schedule ON swaps (schedule, id);

-- +goose Down
DROP TABLE swaps;

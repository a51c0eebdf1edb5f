-- The applied configuration (issue 10, docs/adr/0003): every object the
-- files defined at the last apply, the secrets they carry, and a record of
-- each apply. Owned by internal/plan.

-- +goose Up
CREATE TABLE config_objects (
    kind       TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    spec       TEXT    NOT NULL, -- canonical JSON; secrets as digests
    position   INTEGER NOT NULL DEFAULT 0, -- routes are tried in order
    source     TEXT    NOT NULL DEFAULT '', -- file:line it was applied from
    -- start_digest is the spec's digest as the file the bot started with
    -- last defined it, so a restart applies only what that file changed.
    start_digest TEXT  NOT NULL DEFAULT '',
    applied_at INTEGER NOT NULL,
    applied_by TEXT    NOT NULL,
    PRIMARY KEY (kind, name)
) STRICT;

CREATE TABLE config_secrets (
    kind  TEXT NOT NULL,
    name  TEXT NOT NULL,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    ref   TEXT NOT NULL DEFAULT '', -- the ${NAME} it came from
    PRIMARY KEY (kind, name, field)
) STRICT;

CREATE TABLE config_applies (
    id      INTEGER PRIMARY KEY,
    at      INTEGER NOT NULL,
    actor   TEXT    NOT NULL,
    summary TEXT    NOT NULL -- JSON: the changes, as the plan printed them
) STRICT;

-- +goose Down
DROP TABLE config_applies;
DROP TABLE config_secrets;
DROP TABLE config_objects;

-- The escalation engine's state: where each incident's policy stands, and
-- every notification it decided to send, keyed so a replay after a crash
-- finds it already there instead of paging twice.

-- +goose Up
CREATE TABLE escalations (
    incident_id INTEGER PRIMARY KEY REFERENCES incidents (id),
    policy      TEXT    NOT NULL,
    cycle       INTEGER NOT NULL,
    step        INTEGER NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('running', 'exhausted')),
    started_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE notifications (
    id              INTEGER PRIMARY KEY,
    incident_id     INTEGER NOT NULL REFERENCES incidents (id),
    -- incident, policy cycle, step, person, method
    idempotency_key TEXT    NOT NULL UNIQUE,
    person          TEXT    NOT NULL,
    method          TEXT    NOT NULL,
    cycle           INTEGER NOT NULL,
    step            INTEGER NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('queued', 'sent', 'delivered', 'failed', 'undeliverable')),
    detail          TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;

CREATE INDEX notifications_incident ON notifications (incident_id, id);

-- +goose Down
DROP TABLE notifications;
DROP TABLE escalations;

-- The core schema: alerts grouped into incidents, their timeline, durable
-- timers and the outbox. Times are Unix milliseconds (UTC).

-- +goose Up
CREATE TABLE incidents (
    id              INTEGER PRIMARY KEY,
    -- route name plus the group_by label values: alerts with the same key
    -- join one open incident.
    group_key       TEXT    NOT NULL,
    route           TEXT    NOT NULL,
    team            TEXT    NOT NULL,
    policy          TEXT    NOT NULL,
    title           TEXT    NOT NULL,
    severity        INTEGER NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('triggered', 'acknowledged', 'resolved')),
    alert_count     INTEGER NOT NULL DEFAULT 0,
    firing_count    INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    -- no page before this time (the route's alert_delay).
    page_at         INTEGER NOT NULL,
    acknowledged_at INTEGER,
    acknowledged_by TEXT,
    resolved_at     INTEGER,
    resolved_by     TEXT
) STRICT;

-- At most one open incident per group: the database enforces grouping.
CREATE UNIQUE INDEX incidents_open_group ON incidents (group_key) WHERE status != 'resolved';
CREATE INDEX incidents_group_resolved ON incidents (group_key, resolved_at) WHERE status = 'resolved';
CREATE INDEX incidents_status ON incidents (status, id);
CREATE INDEX incidents_team ON incidents (team, id);

-- One row per fingerprint per incident: a fingerprint that fires again
-- after its incident is over gets a new row in the new incident, so each
-- incident keeps the history of its own alerts.
CREATE TABLE alerts (
    id            INTEGER PRIMARY KEY,
    incident_id   INTEGER NOT NULL REFERENCES incidents (id),
    integration   TEXT    NOT NULL,
    fingerprint   TEXT    NOT NULL,
    status        TEXT    NOT NULL CHECK (status IN ('firing', 'resolved')),
    severity      INTEGER NOT NULL,
    summary       TEXT    NOT NULL,
    labels        TEXT    NOT NULL, -- JSON object
    annotations   TEXT    NOT NULL, -- JSON object
    source_url    TEXT    NOT NULL DEFAULT '',
    starts_at     INTEGER NOT NULL,
    ends_at       INTEGER,
    first_seen_at INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    UNIQUE (incident_id, integration, fingerprint)
) STRICT;

CREATE INDEX alerts_fingerprint ON alerts (integration, fingerprint, id);

CREATE TABLE timeline (
    id          INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    at          INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    actor       TEXT    NOT NULL,
    alert_id    INTEGER,
    detail      TEXT    NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX timeline_incident ON timeline (incident_id, id);

-- Timers are rows, not goroutines: a restart re-arms them by reading this
-- table, and a timer that fell due while the process was down runs at once.
CREATE TABLE timers (
    id          INTEGER PRIMARY KEY,
    kind        TEXT    NOT NULL,
    incident_id INTEGER REFERENCES incidents (id),
    due_at      INTEGER NOT NULL,
    payload     TEXT    NOT NULL DEFAULT '{}',
    created_at  INTEGER NOT NULL
) STRICT;

CREATE INDEX timers_due ON timers (due_at);
CREATE INDEX timers_incident ON timers (incident_id, kind);

-- Side effects leave through the outbox, at least once. Rows with the same
-- consumer and ordering_key are delivered one at a time, in id order.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    consumer        TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    ordering_key    TEXT    NOT NULL,
    -- the idempotency key the consumer hands to the receiver, so a retry
    -- after a crash is recognisable as a repeat.
    idempotency_key TEXT    NOT NULL,
    payload         BLOB    NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    delivered_at    INTEGER,
    last_error      TEXT    NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX outbox_order ON outbox (consumer, ordering_key, id) WHERE state = 'pending';
CREATE UNIQUE INDEX outbox_idempotency ON outbox (consumer, idempotency_key);

-- One row the readiness probe writes to prove the database takes writes.
CREATE TABLE health (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    checks INTEGER NOT NULL DEFAULT 0
) STRICT;
INSERT INTO health (id) VALUES (1);

-- +goose Down
DROP TABLE health;
DROP TABLE outbox;
DROP TABLE timers;
DROP TABLE timeline;
DROP TABLE alerts;
DROP TABLE incidents;

-- Each incident's triage (issue 12): the evidence its sources found and
-- the summary, as the room and the API show it. Owned by internal/triage.

-- +goose Up
CREATE TABLE triage_reports (
    incident_id INTEGER PRIMARY KEY REFERENCES incidents (id),
    status      TEXT    NOT NULL,
    report      TEXT    NOT NULL, -- JSON
    updated_at  INTEGER NOT NULL
) STRICT;

-- +goose Down
DROP TABLE triage_reports;

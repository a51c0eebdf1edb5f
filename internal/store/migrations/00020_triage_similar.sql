-- The triage's index of past incidents by team and category (issue 12),
-- so the similar-incident search reads the few that match instead of a
-- team's whole history; and each triage's card additions (the value now,
-- the links) apart from its report, so a room's card reads a few bytes.
-- Owned by internal/triage.

-- +goose Up
CREATE TABLE triage_similar (
    incident_id INTEGER PRIMARY KEY REFERENCES incidents (id),
    team        TEXT    NOT NULL,
    category    TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX triage_similar_find ON triage_similar (team, category, created_at);
ALTER TABLE triage_reports ADD COLUMN card TEXT NOT NULL DEFAULT '{}';

-- +goose Down
ALTER TABLE triage_reports DROP COLUMN card;
DROP TABLE triage_similar;

-- The tokens the triage's AI analysis spent each UTC day (issue 12), so
-- the daily budget holds across restarts. Owned by internal/triage.

-- +goose Up
CREATE TABLE triage_ai_usage (
    day    TEXT    PRIMARY KEY, -- YYYY-MM-DD, UTC
    tokens INTEGER NOT NULL
) STRICT;

-- +goose Down
DROP TABLE triage_ai_usage;

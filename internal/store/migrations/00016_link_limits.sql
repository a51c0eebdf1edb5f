-- Limits on /oncall link, which anyone in a team's room may run. Each
-- request is kept for an hour, so an account cannot ask for code after
-- code (nor probe names) and a person cannot be flooded with codes by
-- many accounts; each wrong code is kept for a day, counted per
-- (platform account, person) whatever code it was meant for, so asking
-- for a new code never buys more guesses. Rows older than their window
-- are deleted as new ones come.

-- +goose Up
CREATE TABLE link_requests (
    id            INTEGER PRIMARY KEY,
    platform      TEXT    NOT NULL,
    platform_user TEXT    NOT NULL,
    -- person is the person a code was sent to, '' when none was (an
    -- unknown name, no way to reach them).
    person        TEXT    NOT NULL,
    at            INTEGER NOT NULL
) STRICT;
CREATE INDEX link_requests_user ON link_requests (platform, platform_user, at);
CREATE INDEX link_requests_person ON link_requests (person, at);
CREATE INDEX link_requests_at ON link_requests (at);

CREATE TABLE link_failures (
    id            INTEGER PRIMARY KEY,
    platform      TEXT    NOT NULL,
    platform_user TEXT    NOT NULL,
    person        TEXT    NOT NULL,
    at            INTEGER NOT NULL
) STRICT;
CREATE INDEX link_failures_pair ON link_failures (platform, platform_user, person, at);
CREATE INDEX link_failures_at ON link_failures (at);

-- +goose Down
DROP TABLE link_failures;
DROP TABLE link_requests;

-- Chat identities people linked themselves with /oncall link, beside the
-- ones in the config, and the one-time codes that prove them.

-- +goose Up
CREATE TABLE platform_links (
    platform      TEXT    NOT NULL,
    platform_user TEXT    NOT NULL,
    person        TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (platform, platform_user)
) STRICT;

CREATE TABLE link_codes (
    platform      TEXT    NOT NULL,
    platform_user TEXT    NOT NULL,
    person        TEXT    NOT NULL,
    code          TEXT    NOT NULL,
    expires_at    INTEGER NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (platform, platform_user)
) STRICT;

-- +goose Down
DROP TABLE link_codes;
DROP TABLE platform_links;

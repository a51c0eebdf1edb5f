-- Values the bot makes for itself once and keeps, such as the key that
-- signs calendar-feed URLs.

-- +goose Up
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

-- +goose Down
DROP TABLE settings;

-- Where each incident is shown on each chat platform: its room and its
-- card message, so later changes update the card in place.

-- +goose Up
CREATE TABLE chat_refs (
    platform    TEXT    NOT NULL,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    room_id     TEXT    NOT NULL,
    thread_id   TEXT    NOT NULL DEFAULT '',
    message_id  TEXT    NOT NULL DEFAULT '',
    digest      TEXT    NOT NULL DEFAULT '',
    closed      INTEGER NOT NULL DEFAULT 0,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (platform, incident_id)
) STRICT;

-- +goose Down
DROP TABLE chat_refs;

-- Cards sent in private pages, so they follow the incident as the room's
-- card does: an acknowledged incident's page no longer offers Acknowledge.

-- +goose Up
CREATE TABLE chat_direct_cards (
    platform    TEXT    NOT NULL,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    room_id     TEXT    NOT NULL,
    message_id  TEXT    NOT NULL,
    digest      TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (platform, room_id, message_id)
);
CREATE INDEX chat_direct_cards_incident ON chat_direct_cards (platform, incident_id);

-- +goose Down
DROP TABLE chat_direct_cards;

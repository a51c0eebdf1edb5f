-- The provider's id of what was sent (a Twilio message or call SID), so
-- delivery reports find their notification.

-- +goose Up
ALTER TABLE notifications ADD COLUMN provider_id TEXT NOT NULL DEFAULT '';
CREATE INDEX notifications_provider ON notifications (provider_id) WHERE provider_id != '';

-- +goose Down
DROP INDEX notifications_provider;
ALTER TABLE notifications DROP COLUMN provider_id;

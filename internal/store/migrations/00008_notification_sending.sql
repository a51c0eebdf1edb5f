-- A notification being handed to its provider is marked first, durably:
-- if the process dies before the provider's answer is recorded, the next
-- attempt finds the mark and does not send a second time.

-- +goose Up
ALTER TABLE notifications ADD COLUMN sending_since INTEGER;

-- +goose Down
ALTER TABLE notifications DROP COLUMN sending_since;

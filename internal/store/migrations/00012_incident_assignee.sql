-- The person an incident is assigned to ("" when nobody is): set by
-- /oncall assign or the API, shown on every card.

-- +goose Up
ALTER TABLE incidents ADD COLUMN assignee TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE incidents DROP COLUMN assignee;

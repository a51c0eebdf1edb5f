-- Twilio's webhooks carry a signature but no timestamp, so a captured SMS
-- reply or keypress could be sent again at any time. The ids of those
-- already handled (sms:<MessageSid>, voice:<CallSid>:<Digits>) are kept,
-- and a repeat is answered without acting. Rows are a few per phone
-- command and are kept for good: pruning them would reopen the replay.

-- +goose Up
CREATE TABLE twilio_handled (
    key        TEXT PRIMARY KEY,
    handled_at INTEGER NOT NULL
) WITHOUT ROWID;

-- +goose Down
DROP TABLE twilio_handled;

package triage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/oncallbot/bot/internal/store"
)

// Save keeps incident id's triage, replacing an earlier one, in tx.
func Save(tx *store.Tx, id int64, r Report) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(`INSERT INTO triage_reports (incident_id, status, report, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (incident_id) DO UPDATE SET status = excluded.status, report = excluded.report, updated_at = excluded.updated_at`,
		id, r.Status, string(b), r.At.UnixMilli()); err != nil {
		return fmt.Errorf("save the triage of incident %d: %w", id, err)
	}
	return nil
}

// Load returns incident id's triage, nil when it has none (yet).
func Load(ctx context.Context, db *sql.DB, id int64) (*Report, error) {
	var raw string
	err := db.QueryRowContext(ctx, `SELECT report FROM triage_reports WHERE incident_id = ?`, id).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load the triage of incident %d: %w", id, err)
	}
	var r Report
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		return nil, fmt.Errorf("the triage of incident %d: %w", id, err)
	}
	return &r, nil
}

// Ledger keeps the AI's token spending per UTC day in the store, so the
// daily budget holds across restarts.
type Ledger struct{ Store *store.Store }

// Spent returns the tokens spent on day (YYYY-MM-DD).
func (l Ledger) Spent(ctx context.Context, day string) (int64, error) {
	var n int64
	err := l.Store.Read().QueryRowContext(ctx, `SELECT tokens FROM triage_ai_usage WHERE day = ?`, day).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read the AI's spending of %s: %w", day, err)
	}
	return n, nil
}

// Spend adds tokens to day's spending.
func (l Ledger) Spend(ctx context.Context, day string, tokens int64) error {
	return l.Store.Write(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(`INSERT INTO triage_ai_usage (day, tokens) VALUES (?, ?)
			ON CONFLICT (day) DO UPDATE SET tokens = tokens + excluded.tokens`, day, tokens); err != nil {
			return fmt.Errorf("record the AI's spending of %s: %w", day, err)
		}
		return nil
	})
}

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

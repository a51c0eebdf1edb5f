package triage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/store"
)

// Save keeps incident id's triage, replacing an earlier one, in tx.
func Save(tx *store.Tx, id int64, r Report) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	card, err := json.Marshal(Card{Value: r.Value, Links: r.Links})
	if err != nil {
		return err
	}
	if _, err := tx.Exec(`INSERT INTO triage_reports (incident_id, status, report, card, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (incident_id) DO UPDATE SET status = excluded.status, report = excluded.report, card = excluded.card,
		updated_at = excluded.updated_at`,
		id, r.Status, string(b), string(card), r.At.UnixMilli()); err != nil {
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

// Index files incident inc under its team and category for the
// similar-incident search, in tx; filing it again changes nothing.
func Index(tx *store.Tx, inc incident.Incident) error {
	if _, err := tx.Exec(`INSERT INTO triage_similar (incident_id, team, category, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (incident_id) DO NOTHING`, inc.ID, inc.Team, categoryOf(inc.Title), inc.CreatedAt.UnixMilli()); err != nil {
		return fmt.Errorf("index incident %d for triage: %w", inc.ID, err)
	}
	return nil
}

// Backfill files every incident created since from, in one transaction:
// the history from before triage was on, or from routes that skip it.
func Backfill(ctx context.Context, st *store.Store, from, to time.Time) (int, error) {
	incs, err := incident.Between(ctx, st.Read(), "", from, to)
	if err != nil {
		return 0, err
	}
	err = st.Write(ctx, func(tx *store.Tx) error {
		for _, inc := range incs {
			if err := Index(tx, inc); err != nil {
				return err
			}
		}
		return nil
	})
	return len(incs), err
}

// candidates returns the ids of team's incidents of category created in
// [from, to), newest first, at most limit.
func candidates(ctx context.Context, db *sql.DB, team, category string, from, to time.Time, limit int) ([]int64, error) {
	rows, err := db.QueryContext(ctx, `SELECT incident_id FROM triage_similar
		WHERE team = ? AND category = ? AND created_at >= ? AND created_at < ? ORDER BY created_at DESC LIMIT ?`,
		team, category, from.UnixMilli(), to.UnixMilli(), limit)
	if err != nil {
		return nil, fmt.Errorf("find similar incidents: %w", err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("find similar incidents: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// Card is what an incident's card shows of its triage: the expression's
// value now and the links. It is kept apart from the report, so every
// card a room draws reads a few bytes, not the whole report.
type Card struct {
	Value string `json:"value,omitempty"`
	Links []Link `json:"links,omitempty"`
}

// LoadCard returns incident id's triage card, nil when it has no triage.
func LoadCard(ctx context.Context, db *sql.DB, id int64) (*Card, error) {
	var raw string
	err := db.QueryRowContext(ctx, `SELECT card FROM triage_reports WHERE incident_id = ?`, id).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load the triage card of incident %d: %w", id, err)
	}
	var c Card
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		return nil, fmt.Errorf("the triage card of incident %d: %w", id, err)
	}
	return &c, nil
}

package oncall

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/oncallbot/bot/internal/store"
)

// LayerState is a rotation layer's run-time state: the latest layer_edits
// row of it, which wins over the configuration.
type LayerState struct {
	Participants []string
	// Start is the layer's anchor, "2006-01-02 15:04" in the schedule's
	// zone, as the configuration writes it.
	Start string
	By    string
	At    time.Time
}

// LayerStates returns every edited layer's latest state, by schedule and
// layer name, for a plan to fold into the applied configuration (what is
// live) and to tell drift.
func LayerStates(ctx context.Context, db *sql.DB) (map[string]map[string]LayerState, error) {
	rows, err := db.QueryContext(ctx, `SELECT schedule, layer, participants, start_wall, created_by, created_at FROM layer_edits
		WHERE id IN (SELECT MAX(id) FROM layer_edits GROUP BY schedule, layer)`)
	if err != nil {
		return nil, fmt.Errorf("load layer edits: %w", err)
	}
	defer rows.Close()
	out := map[string]map[string]LayerState{}
	for rows.Next() {
		var schedule, layer, people, start, by string
		var at int64
		if err := rows.Scan(&schedule, &layer, &people, &start, &by, &at); err != nil {
			return nil, fmt.Errorf("load layer edits: %w", err)
		}
		var st LayerState
		if err := json.Unmarshal([]byte(people), &st.Participants); err != nil {
			return nil, fmt.Errorf("layer edit of %s/%s: %w", schedule, layer, err)
		}
		st.Start, st.By, st.At = start, by, time.UnixMilli(at)
		if out[schedule] == nil {
			out[schedule] = map[string]LayerState{}
		}
		out[schedule][layer] = st
	}
	return out, rows.Err()
}

// SetLayerState records a layer's state as applied from configuration,
// in tx: a new latest row, so the applied state wins over earlier run-time
// edits and the history keeps them.
func SetLayerState(tx *store.Tx, schedule, layer string, participants []string, start, actor, what string, at time.Time) error {
	if _, err := ParseWall(start); err != nil {
		return fmt.Errorf("layer %s/%s: %w", schedule, layer, err)
	}
	b, err := json.Marshal(participants)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(`INSERT INTO layer_edits (schedule, layer, participants, start_wall, created_at, created_by, what)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, schedule, layer, string(b), start, at.UnixMilli(), actor, what); err != nil {
		return fmt.Errorf("record layer %s/%s: %w", schedule, layer, err)
	}
	return nil
}

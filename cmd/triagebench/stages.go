package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // the driver the bot's store uses

	"github.com/oncallbot/bot/internal/benchutil"
)

// stages is where one incident's triage spent its time, from the bot's
// own record (read from its database once it stopped) and the times
// this process saw: its 202 to the triage's start (the outbox handing
// the incident.triggered row to the triage consumer, and the incident
// read), the sources (the slowest, and the history lookup alone), the
// start to the summary's timeline line (sources, the AI, the summary,
// the writer), and that line to its message in the room (the chat
// outbox and the Slack call).
type stages struct {
	toStart, slowest, history, toRecord, toRoom time.Duration
}

// readStages reads the triage of each incident from a stopped bot's
// database in dir; accepted are the incidents' 202s, inRoom their triage
// messages' arrivals.
func readStages(ctx context.Context, dir string, accepted map[int64]time.Time, inRoom func(int64) (time.Time, bool)) ([]stages, error) {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "bot.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, fmt.Errorf("read the triages: %w", err)
	}
	defer db.Close()
	var out []stages
	for id, at := range accepted {
		var raw string
		var recorded int64
		err := db.QueryRowContext(ctx, `SELECT report FROM triage_reports WHERE incident_id = ?`, id).Scan(&raw)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read the triage of incident %d: %w", id, err)
		}
		if err := db.QueryRowContext(ctx, `SELECT at FROM timeline WHERE incident_id = ? AND kind = 'incident.triaged' ORDER BY id LIMIT 1`, id).Scan(&recorded); err != nil {
			return nil, fmt.Errorf("read the triage line of incident %d: %w", id, err)
		}
		var rep struct {
			At      time.Time `json:"at"`
			Sources []struct {
				Name       string `json:"name"`
				DurationMS int64  `json:"duration_ms"`
			} `json:"sources"`
		}
		if err := json.Unmarshal([]byte(raw), &rep); err != nil {
			return nil, fmt.Errorf("the triage of incident %d: %w", id, err)
		}
		s := stages{toStart: rep.At.Sub(at), toRecord: time.UnixMilli(recorded).Sub(rep.At), toRoom: benchutil.Missing}
		for _, src := range rep.Sources {
			d := time.Duration(src.DurationMS) * time.Millisecond
			if src.Name != "ai" {
				s.slowest = max(s.slowest, d)
			}
			if src.Name == "history" {
				s.history = d
			}
		}
		if t, ok := inRoom(id); ok {
			s.toRoom = t.Sub(time.UnixMilli(recorded))
		}
		out = append(out, s)
	}
	return out, nil
}

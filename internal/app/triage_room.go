package app

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/oncallbot/bot/internal/chat"
	"github.com/oncallbot/bot/internal/triage"
)

// roomTriages is what the rooms show of a triage beyond its line (see
// chat.Triages), read from the triage the store keeps.
type roomTriages struct{ db *sql.DB }

// Links on a card: a few, and short enough for every platform (Discord
// takes 512 characters in a link button's URL).
const (
	maxCardLinks  = 3
	maxLinkLength = 512
)

// TriageCard gives the card the expression's value now and the runbook
// and dashboard links, as link buttons. An alert's annotation is anyone's
// text: only absolute http(s) URLs become buttons.
func (r roomTriages) TriageCard(ctx context.Context, id int64) ([]chat.Field, []chat.Button, error) {
	rep, err := triage.LoadCard(ctx, r.db, id)
	if err != nil || rep == nil {
		return nil, nil, err
	}
	var fields []chat.Field
	if rep.Value != "" {
		fields = append(fields, chat.Field{Label: "Now", Value: rep.Value})
	}
	var links []chat.Button
	for _, l := range rep.Links {
		if len(links) == maxCardLinks {
			break
		}
		if u, err := url.Parse(l.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(l.URL) > maxLinkLength {
			continue
		}
		links = append(links, chat.Button{Label: l.Label, URL: l.URL})
	}
	return fields, links, nil
}

// TriageChart draws the triage's series as the PNG the room gets.
func (r roomTriages) TriageChart(ctx context.Context, id int64) (*chat.Image, error) {
	rep, err := triage.Load(ctx, r.db, id)
	if err != nil || rep == nil {
		return nil, err
	}
	data, err := rep.Chart(triage.PNG, 720, 320)
	if errors.Is(err, triage.ErrNoSeries) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("chart incident %d's triage: %w", id, err)
	}
	names := make([]string, len(rep.Series))
	for i, s := range rep.Series {
		names[i] = s.Name
	}
	return &chat.Image{Name: fmt.Sprintf("triage-%d.png", id), Data: data,
		Alt: fmt.Sprintf("#%d: %s, from an hour before it fired", id, strings.Join(names, ", "))}, nil
}

package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/outbox"
	"github.com/oncallbot/bot/internal/store"
)

// ChartConsumerName is the outbox consumer that posts the triage's chart
// into an incident's room on a platform.
func ChartConsumerName(platform string) string { return "chat:" + platform + ":chart" }

// ChartPoster posts each triage's chart under its line in the incident's
// room, where the platform takes pictures. It is a consumer of its own,
// apart from the room's: drawing a chart costs CPU, and with a small
// limit of its own a burst's charts trickle in after their words without
// holding back a room, a card or a page.
type ChartPoster struct {
	platform Platform
	images   ImagePoster
	store    *store.Store
	triages  Triages
}

// NewChartPoster returns the ChartConsumerName consumer of p, nil when p
// takes no pictures.
func NewChartPoster(p Platform, st *store.Store, t Triages) *ChartPoster {
	ip, ok := p.(ImagePoster)
	if !ok {
		return nil
	}
	return &ChartPoster{platform: p, images: ip, store: st, triages: t}
}

// errRoomNotYet is a chart that came before its room: it is tried again.
var errRoomNotYet = errors.New("the incident's room is not open yet")

// Deliver posts the chart of the triage an event tells. A room not open
// yet is waited for; a closed one (a resolved incident) gets no chart.
func (c *ChartPoster) Deliver(ctx context.Context, m outbox.Message) error {
	var ev incident.EventPayload
	if err := json.Unmarshal(m.Payload, &ev); err != nil {
		return outbox.Permanent(fmt.Errorf("decode event %d: %w", m.ID, err))
	}
	if ev.Event != incident.KindTriaged || ev.Incident.ParentID != 0 {
		return nil
	}
	id := ev.Incident.ID
	d := Deliverer{platform: c.platform, store: c.store}
	r, ok, err := d.loadRef(ctx, id)
	switch {
	case err != nil:
		return fmt.Errorf("load chat ref: %w", err)
	case !ok || r.messageID == "":
		return fmt.Errorf("chart of incident %d: %w", id, errRoomNotYet)
	case r.closed:
		return nil
	}
	img, err := c.triages.TriageChart(ctx, id)
	if err != nil || img == nil {
		return err
	}
	if err := c.images.PostImage(ctx, r.room, *img); err != nil {
		return fmt.Errorf("post the chart of incident %d: %w", id, err)
	}
	return nil
}

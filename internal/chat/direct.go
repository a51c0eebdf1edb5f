package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/oncallbot/bot/internal/oncall"
	"github.com/oncallbot/bot/internal/outbox"
	"github.com/oncallbot/bot/internal/store"
)

// DirectPager is the consumer of the chat contact method: it sends the
// page as a direct message, with the incident's card and its buttons, on
// every platform where the person has an identity.
type DirectPager struct {
	platforms []Platform
	store     *store.Store
	loc       *time.Location
	now       func() time.Time
	log       *slog.Logger
}

// NewDirectPager returns the notify:chat consumer. st holds the accounts
// linked with /oncall link and where each page's card went (nil: the
// config's accounts only, cards left as sent).
func NewDirectPager(platforms []Platform, st *store.Store, now func() time.Time, log *slog.Logger) *DirectPager {
	return &DirectPager{platforms: platforms, store: st, loc: time.UTC, now: now, log: log}
}

// Deliver sends one page. A person with no identity on any platform is a
// permanent failure, which the incident's timeline then shows.
func (d *DirectPager) Deliver(ctx context.Context, m outbox.Message) error {
	var p oncall.Page
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		return outbox.Permanent(fmt.Errorf("decode page %d: %w", m.ID, err))
	}
	card := NewCard(p.Incident, d.loc)
	sent := 0
	var errs []error
	for _, pl := range d.platforms {
		id, err := Account(ctx, d.store, p.Person, pl.Name())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if id == "" {
			continue
		}
		to := Member{Name: p.Person.Name, PlatformID: id}
		dc, editable := pl.(DirectCards)
		if !editable {
			if err := pl.Direct(ctx, to, p.Text, card); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", pl.Name(), err))
				continue
			}
			sent++
			continue
		}
		room, msg, err := dc.DirectCard(ctx, to, p.Text, card)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", pl.Name(), err))
			continue
		}
		sent++
		d.remember(ctx, pl.Name(), p.Incident.ID, room, msg, card)
	}
	switch {
	case sent > 0:
		return nil // reached somewhere; a retry would page twice where it worked
	case len(errs) > 0:
		return errors.Join(errs...)
	}
	return outbox.Permanent(fmt.Errorf("%s has no identity on any configured chat platform", p.Person.Name))
}

// remember records where a page's card went, for the deliverer to keep
// it up to date. The page is out: failing here must not send it again,
// so a failure is logged and the card merely stays as sent.
func (d *DirectPager) remember(ctx context.Context, platform string, incidentID int64, room Room, msg string, card Card) {
	if d.store == nil || msg == "" {
		return
	}
	err := d.store.Write(ctx, func(tx *store.Tx) error {
		_, err := tx.Exec(`INSERT INTO chat_direct_cards (platform, incident_id, room_id, message_id, digest, created_at)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (platform, room_id, message_id) DO NOTHING`,
			platform, incidentID, room.ID, msg, card.Digest(), d.now().UnixMilli())
		return err
	})
	if err != nil {
		d.log.Warn("remember a page's card; it will not follow the incident", "platform", platform, "incident", incidentID, "err", err)
	}
}

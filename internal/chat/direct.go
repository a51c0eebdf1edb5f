package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
}

// NewDirectPager returns the notify:chat consumer; st holds the accounts
// linked with /oncall link (nil: the config's accounts only).
func NewDirectPager(platforms []Platform, st *store.Store) *DirectPager {
	return &DirectPager{platforms: platforms, store: st, loc: time.UTC}
}

// DirectRef is where a page's card went: the private conversation and
// the message on a platform, for the deliverer to edit it later.
type DirectRef struct {
	Platform string `json:"p"`
	Room     string `json:"r"`
	Message  string `json:"m"`
}

// Deliver sends one page. A person with no identity on any platform is a
// permanent failure, which the incident's timeline then shows.
func (d *DirectPager) Deliver(ctx context.Context, m outbox.Message) error {
	_, err := d.DeliverReceipt(ctx, m)
	return err
}

// DeliverReceipt is Deliver that also returns where the cards went, as
// the notification's provider id: the notification log keeps them with
// the page, in the write that marks it sent, at no extra cost.
func (d *DirectPager) DeliverReceipt(ctx context.Context, m outbox.Message) (string, error) {
	var p oncall.Page
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		return "", outbox.Permanent(fmt.Errorf("decode page %d: %w", m.ID, err))
	}
	card := NewCard(p.Incident, d.loc)
	sent := 0
	var refs []DirectRef
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
		if msg != "" {
			refs = append(refs, DirectRef{Platform: pl.Name(), Room: room.ID, Message: msg})
		}
	}
	switch {
	case sent > 0:
		// Reached somewhere; a retry would page twice where it worked.
		if len(refs) == 0 {
			return "", nil
		}
		b, err := json.Marshal(refs)
		if err != nil {
			return "", nil // plain strings: cannot fail; the cards stay as sent
		}
		return string(b), nil
	case len(errs) > 0:
		return "", errors.Join(errs...)
	}
	return "", outbox.Permanent(fmt.Errorf("%s has no identity on any configured chat platform", p.Person.Name))
}

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
// linked with /oncall link (nil: the config's only).
func NewDirectPager(platforms []Platform, st *store.Store) *DirectPager {
	return &DirectPager{platforms: platforms, store: st, loc: time.UTC}
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
		if err := pl.Direct(ctx, Member{Name: p.Person.Name, PlatformID: id}, p.Text, card); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", pl.Name(), err))
			continue
		}
		sent++
	}
	switch {
	case sent > 0:
		return nil // reached somewhere; a retry would page twice where it worked
	case len(errs) > 0:
		return errors.Join(errs...)
	}
	return outbox.Permanent(fmt.Errorf("%s has no identity on any configured chat platform", p.Person.Name))
}

package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/oncall"
	"github.com/oncallbot/bot/internal/outbox"
	"github.com/oncallbot/bot/internal/store"
)

// DigestWindow is how long a digest keeps taking in the pages that
// follow it, edited in place, counted from when it was posted. Past it
// the next pages post a new message, which notifies the person again
// (an edit does not).
const DigestWindow = 15 * time.Minute

// DirectPager is the consumer of the chat contact method: it sends the
// page as a direct message, with the incident's card and its buttons, on
// every platform where the person has an identity. Pages waiting
// together for one person (a storm) go as one digest instead: a card
// listing the incidents with Acknowledge all, edited in place as more
// pages come within DigestWindow, so a storm is one message a person,
// not one per incident, whatever the platform's rate limits.
type DirectPager struct {
	platforms []Platform
	store     *store.Store
	loc       *time.Location
	now       func() time.Time

	mu sync.Mutex
	// digests is the last digest posted to each person on each platform
	// that can edit it. It is kept in memory only: after a restart the
	// next pages post a new digest (the old message stays as it was).
	digests map[digestKey]*digest
}

// NewDirectPager returns the notify:chat consumer; st holds the accounts
// linked with /oncall link (nil: the config's accounts only); now is the
// clock of the digests' window (nil: the wall clock).
func NewDirectPager(platforms []Platform, st *store.Store, now func() time.Time) *DirectPager {
	if now == nil {
		now = time.Now
	}
	return &DirectPager{platforms: platforms, store: st, loc: time.UTC, now: now, digests: map[digestKey]*digest{}}
}

var _ outbox.BatchConsumer = (*DirectPager)(nil)

// DirectRef is where a page's card went: the private conversation and
// the message on a platform, for the deliverer to edit it later. Only an
// incident's own card has one: a digest is never in a page's receipt, so
// the deliverer never overwrites it with one incident's card.
type DirectRef struct {
	Platform string `json:"p"`
	Room     string `json:"r"`
	Message  string `json:"m"`
}

type digestKey struct{ person, platform string }

// digest is a digest message and what it shows.
type digest struct {
	room    Room
	message string
	posted  time.Time
	// seen holds every incident it counts; top the ones it lists (the
	// most severe and oldest, at most digestListed), so a long storm
	// costs a number per incident, not a copy of each.
	seen map[int64]bool
	top  []incident.Incident
}

// with is what the digest shows once incs join it: how many incidents it
// counts, the incidents to list, and which of incs are new to it. The
// digest itself is unchanged until the edit has gone out (see add).
func (g *digest) with(incs []incident.Incident) (int, []incident.Incident, []int64) {
	top := slices.Clone(g.top)
	var fresh []int64
	for _, inc := range incs {
		if i := slices.IndexFunc(top, func(x incident.Incident) bool { return x.ID == inc.ID }); i >= 0 {
			top[i] = inc // a newer snapshot of one it lists
			continue
		}
		if g.seen[inc.ID] || slices.Contains(fresh, inc.ID) {
			continue
		}
		fresh = append(fresh, inc.ID)
		top = append(top, inc)
	}
	slices.SortStableFunc(top, digestFirst)
	if len(top) > digestListed {
		top = top[:digestListed]
	}
	return len(g.seen) + len(fresh), top, fresh
}

// add records what with computed, once the edit went out.
func (g *digest) add(top []incident.Incident, fresh []int64) {
	for _, id := range fresh {
		g.seen[id] = true
	}
	g.top = top
}

// open returns the person's digest on a platform while it takes pages.
func (d *DirectPager) open(k digestKey) *digest {
	d.mu.Lock()
	defer d.mu.Unlock()
	g := d.digests[k]
	if g == nil || d.now().Sub(g.posted) >= DigestWindow {
		return nil
	}
	return g
}

func (d *DirectPager) keep(k digestKey, g *digest) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if g == nil {
		delete(d.digests, k)
		return
	}
	d.digests[k] = g
}

func decodePage(m outbox.Message) (oncall.Page, error) {
	var p oncall.Page
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		return p, outbox.Permanent(fmt.Errorf("decode page %d: %w", m.ID, err))
	}
	return p, nil
}

// joins says whether a message is a page of an incident, which a digest
// may carry; anything else (a gap warning, a lead told that someone
// could not be reached) goes as a message of its own.
func joins(m outbox.Message, p oncall.Page) bool {
	return m.Kind == oncall.EventPage && p.Incident.ID != 0 && p.Subject == ""
}

// Deliver sends one page. A person with no identity on any platform is a
// permanent failure, which the incident's timeline then shows.
func (d *DirectPager) Deliver(ctx context.Context, m outbox.Message) error {
	_, err := d.DeliverReceipt(ctx, m)
	return err
}

// DeliverReceipt is Deliver that also returns where the cards went, as
// the notification's provider id: the notification log keeps them with
// the page, in the write that marks it sent, at no extra cost. A page
// that joins a digest still open has no receipt there.
func (d *DirectPager) DeliverReceipt(ctx context.Context, m outbox.Message) (string, error) {
	p, err := decodePage(m)
	if err != nil {
		return "", err
	}
	refs, err := d.deliver(ctx, []oncall.Page{p}, joins(m, p))
	if err != nil || len(refs) == 0 {
		return "", err
	}
	b, err := json.Marshal(refs)
	if err != nil {
		return "", nil // plain strings: cannot fail; the cards stay as sent
	}
	return string(b), nil
}

// DeliverBatch sends the pages waiting for one person (one ordering key:
// one person) at once: one page as Deliver does; several as one digest
// on each platform, or an edit of the digest still open there. Messages
// that are not pages of an incident go one by one before it. As for one
// page on several platforms, the digest counts as sent when it reached
// the person somewhere: a retry would repeat what went out. A failure
// fails the batch before its pages are sent or when none went out, so
// its retry never loses a page; it may tell again what went out before
// it (a lead told twice that someone could not be reached).
func (d *DirectPager) DeliverBatch(ctx context.Context, ms []outbox.Message) error {
	if len(ms) == 1 {
		return d.Deliver(ctx, ms[0])
	}
	var pages []oncall.Page
	var others []outbox.Message
	for _, m := range ms {
		p, err := decodePage(m)
		if err != nil {
			return err
		}
		if joins(m, p) {
			pages = append(pages, p)
		} else {
			others = append(others, m)
		}
	}
	for _, m := range others {
		if err := d.Deliver(ctx, m); err != nil {
			return err
		}
	}
	if len(pages) == 0 {
		return nil
	}
	_, err := d.deliver(ctx, pages, true)
	return err
}

// deliver sends pages of one person on every platform where they have an
// identity, as a digest when join allows it and there is more than one
// incident or a digest open; it returns where incident cards went.
func (d *DirectPager) deliver(ctx context.Context, pages []oncall.Page, join bool) ([]DirectRef, error) {
	person := pages[0].Person
	var incs []incident.Incident
	for _, p := range pages {
		if !slices.ContainsFunc(incs, func(x incident.Incident) bool { return x.ID == p.Incident.ID }) {
			incs = append(incs, p.Incident)
		}
	}
	sent := 0
	var refs []DirectRef
	var errs []error
	for _, pl := range d.platforms {
		id, err := Account(ctx, d.store, person, pl.Name())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if id == "" {
			continue
		}
		to := Member{Name: person.Name, PlatformID: id}
		ref, err := d.deliverTo(ctx, pl, to, pages[0].Text, incs, join)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", pl.Name(), err))
			continue
		}
		sent++
		if ref != nil {
			refs = append(refs, *ref)
		}
	}
	switch {
	case sent > 0:
		// Reached somewhere; a retry would page twice where it worked.
		return refs, nil
	case len(errs) > 0:
		return nil, errors.Join(errs...)
	}
	return nil, outbox.Permanent(fmt.Errorf("%s has no identity on any configured chat platform", person.Name))
}

// deliverTo sends to one person on one platform: an edit of the open
// digest, a new digest, or the incident's card (text is the page's, for
// a single page).
func (d *DirectPager) deliverTo(ctx context.Context, pl Platform, to Member, text string, incs []incident.Incident, join bool) (*DirectRef, error) {
	key := digestKey{to.Name, pl.Name()}
	dc, editable := pl.(DirectCards)
	if join && editable {
		if g := d.open(key); g != nil {
			d.mu.Lock()
			total, top, fresh := g.with(incs)
			d.mu.Unlock()
			err := pl.UpdateCard(ctx, g.room, g.message, NewDigestCard(total, top))
			switch {
			case err == nil:
				d.mu.Lock()
				g.add(top, fresh)
				d.mu.Unlock()
				return nil, nil
			case !outbox.IsPermanent(err):
				// A platform down or a rate limit: the digest stays, for
				// the retry to edit it.
				return nil, fmt.Errorf("edit the digest: %w", err)
			}
			// Not editable any more (deleted, say): the pages go out
			// anew below, and a new digest takes its place.
			d.keep(key, nil)
		}
	}
	if !join || len(incs) == 1 {
		card := NewCard(incs[0], d.loc)
		if !editable {
			return nil, pl.Direct(ctx, to, text, card)
		}
		room, msg, err := dc.DirectCard(ctx, to, text, card)
		if err != nil || msg == "" {
			return nil, err
		}
		return &DirectRef{Platform: pl.Name(), Room: room.ID, Message: msg}, nil
	}
	card := NewDigestCard(len(incs), incs)
	text = card.Title + " (one message, kept up to date as more arrive)"
	if !editable {
		return nil, pl.Direct(ctx, to, text, card)
	}
	room, msg, err := dc.DirectCard(ctx, to, text, card)
	if err != nil {
		return nil, err
	}
	if msg != "" {
		g := &digest{room: room, message: msg, posted: d.now(), seen: map[int64]bool{}}
		_, top, fresh := g.with(incs)
		g.add(top, fresh)
		d.keep(key, g)
	}
	return nil, nil
}

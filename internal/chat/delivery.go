package chat

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/outbox"
	"github.com/oncallbot/bot/internal/store"
)

// Room is an incident's room on a platform.
type Room struct {
	ID string
	// Thread is where updates go when the platform threads them (a Slack
	// message thread, a Telegram topic); "" when updates go to the room.
	Thread string
}

// Member is someone to bring into a room, with their platform identity.
type Member struct{ Name, PlatformID string }

// Platform is what the deliverer needs of a chat adapter.
type Platform interface {
	// Name is the platform's name: slack, telegram, discord, web.
	Name() string
	// OpenRoom opens the room of an incident with the members in it. It
	// must find, not duplicate, a room an earlier attempt already made
	// (delivery is at least once).
	OpenRoom(ctx context.Context, inc incident.Incident, team config.Team, members []Member) (Room, error)
	PostCard(ctx context.Context, room Room, card Card) (messageID string, err error)
	UpdateCard(ctx context.Context, room Room, messageID string, card Card) error
	Post(ctx context.Context, room Room, text string) error
	// CloseRoom ends the room when the incident resolves, where the
	// platform has such a thing (a Telegram topic closes).
	CloseRoom(ctx context.Context, room Room) error
	// ReopenRoom opens a closed room again when its incident reopens.
	ReopenRoom(ctx context.Context, room Room) error
	// Direct sends a person a private message with the incident's card,
	// for the chat contact method of their notification rule.
	Direct(ctx context.Context, to Member, text string, card Card) error
}

// DirectCards is a platform whose private pages can be edited later, so
// a page's card follows the incident as the room's does: once someone
// has acknowledged, the page stops offering Acknowledge.
type DirectCards interface {
	// DirectCard is Direct that also says where the card went: the
	// private conversation and the message.
	DirectCard(ctx context.Context, to Member, text string, card Card) (Room, string, error)
}

// Summoner is a platform that can call paged people into an incident's
// room, where the team works on it: Slack invites and mentions them,
// Discord adds them to the thread and mentions them, Telegram (whose
// bots cannot add anyone to a group) mentions them in the topic. On
// platforms without it the step is only told, as any other update.
type Summoner interface {
	// Summon brings people into room and posts text there calling them.
	// It may be repeated after a failure: bringing in someone already
	// there is not an error.
	Summon(ctx context.Context, room Room, people []Member, text string) error
}

// RoomAlerter is a platform that can wake a whole room, for an escalation
// step that pages a team's room: Post keeps content from mentioning
// anyone, so a page posted with it would notify no one there. Slack
// mentions @here, Discord @here with only that mention allowed. On
// platforms without it (Telegram, where a message to a group already
// notifies its members) the page is a Post.
type RoomAlerter interface {
	// AlertRoom posts text into a team's room so that everyone there is
	// notified. text is content, escaped as Post escapes it: the
	// mention is the platform's own markup, never the text's.
	AlertRoom(ctx context.Context, room Room, text string) error
}

// ImagePoster is a platform that can post a picture into a room (the
// triage's chart): Slack uploads a file, Telegram sends a photo, Discord
// attaches it. Elsewhere the room has the words alone.
type ImagePoster interface {
	PostImage(ctx context.Context, room Room, img Image) error
}

// Triages is what a room shows of its incident's triage beyond the line
// the timeline gives every room: the card's additions (the alert's value
// now, runbook and dashboard links as buttons) and the chart posted under
// the triage's line.
type Triages interface {
	// TriageCard returns the fields and link buttons the incident's card
	// gains from its triage; none before the triage has run.
	TriageCard(ctx context.Context, id int64) ([]Field, []Button, error)
	// TriageChart returns the triage's chart, nil when it has none.
	TriageChart(ctx context.Context, id int64) (*Image, error)
}

// PlatformID returns a person's identity on a platform, "" when none.
func PlatformID(p config.Person, platform string) string {
	switch platform {
	case "slack":
		return p.Slack
	case "telegram":
		return p.Telegram
	case "discord":
		return p.Discord
	case "web", "mem":
		// The bot's own console knows people by name (as does the
		// in-memory platform of the tests).
		return p.Name
	}
	return ""
}

// Account returns a person's account on a platform: the one the config
// names, else the newest made with /oncall link; "" when neither. Pages,
// invitations and mentions all go through it, so a linked account is
// reached as well as it is heard.
func Account(ctx context.Context, st *store.Store, p config.Person, platform string) (string, error) {
	if id := PlatformID(p, platform); id != "" || st == nil || p.Name == "" {
		return id, nil
	}
	var user string
	err := st.Read().QueryRowContext(ctx, `SELECT platform_user FROM platform_links WHERE platform = ? AND person = ?
		ORDER BY created_at DESC LIMIT 1`, platform, p.Name).Scan(&user)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("look up %s's %s link: %w", p.Name, platform, err)
	}
	return user, nil
}

// Deliverer is the outbox consumer that shows incidents on one platform:
// it opens the room on the first event, posts the card, and keeps the
// card up to date and the thread told as the incident changes.
type Deliverer struct {
	platform Platform
	store    *store.Store
	// dir is who is in which team and how to reach them, swapped whole by
	// Reload: a delivery loads it once, so the room it opens and the
	// people it calls in come from one configuration.
	dir atomic.Pointer[directory]
	loc *time.Location
	now func() time.Time
	// pacer keeps to the platform's rate limits, when it has some.
	pacer *pacer
	// triages, when set, adds the triage's value and links to the card
	// (see SetTriages).
	triages Triages
}

// SetTriages has the rooms' cards show what triage found (see Triages).
// Call it before the outbox runs.
func (d *Deliverer) SetTriages(t Triages) { d.triages = t }

// directory is the teams and people of one configuration, by name.
type directory struct {
	teams  map[string]config.Team
	people map[string]config.Person
}

func newDirectory(cfg *config.Config) *directory {
	d := &directory{teams: make(map[string]config.Team, len(cfg.Teams)), people: make(map[string]config.Person, len(cfg.People))}
	for _, t := range cfg.Teams {
		d.teams[t.Name] = t
	}
	for _, p := range cfg.People {
		d.people[p.Name] = p
	}
	return d
}

// NewDeliverer returns the consumer for platform, named ConsumerName.
func NewDeliverer(p Platform, st *store.Store, cfg *config.Config, now func() time.Time) *Deliverer {
	d := &Deliverer{platform: p, store: st, loc: time.UTC, now: now}
	if pc, ok := p.(Paced); ok {
		d.pacer = newPacer(pc.Pace())
	}
	d.dir.Store(newDirectory(cfg))
	return d
}

// Reload puts cfg's teams and people in force for the deliveries that
// start from now: a new incident's room opens with its team's members and
// leads of cfg, and the people a step pages are called in by their
// accounts of cfg. A room already open keeps whom it has (nobody is
// removed from it). The platform, the store, the rate limits and the
// rooms already recorded are kept.
func (d *Deliverer) Reload(cfg *config.Config) { d.dir.Store(newDirectory(cfg)) }

// ConsumerName is the outbox consumer of a platform.
func ConsumerName(platform string) string { return "chat:" + platform }

type ref struct {
	room      Room
	messageID string
	digest    string
	closed    bool
}

func (d *Deliverer) loadRef(ctx context.Context, id int64) (ref, bool, error) {
	var r ref
	var closed int
	err := d.store.Read().QueryRowContext(ctx, `SELECT room_id, thread_id, message_id, digest, closed FROM chat_refs
		WHERE platform = ? AND incident_id = ?`, d.platform.Name(), id).Scan(&r.room.ID, &r.room.Thread, &r.messageID, &r.digest, &closed)
	if errors.Is(err, sql.ErrNoRows) {
		return ref{}, false, nil
	}
	r.closed = closed != 0
	return r, err == nil, err
}

func (d *Deliverer) saveRef(ctx context.Context, id int64, r ref) error {
	closed := 0
	if r.closed {
		closed = 1
	}
	return d.store.Write(ctx, func(tx *store.Tx) error {
		_, err := tx.Exec(`INSERT INTO chat_refs (platform, incident_id, room_id, thread_id, message_id, digest, closed, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (platform, incident_id) DO UPDATE SET room_id = excluded.room_id, thread_id = excluded.thread_id,
			message_id = excluded.message_id, digest = excluded.digest, closed = excluded.closed, updated_at = excluded.updated_at`,
			d.platform.Name(), id, r.room.ID, r.room.Thread, r.messageID, r.digest, closed, d.now().UnixMilli())
		return err
	})
}

// accounts returns the accounts on this platform of the people named,
// once each, skipping those with none.
func (d *Deliverer) accounts(ctx context.Context, dir *directory, names ...[]string) ([]Member, error) {
	var out []Member
	seen := map[string]bool{}
	for _, list := range names {
		for _, n := range list {
			if seen[n] {
				continue
			}
			seen[n] = true
			p, ok := dir.people[n]
			if !ok {
				p = config.Person{Name: n}
			}
			id, err := Account(ctx, d.store, p, d.platform.Name())
			if err != nil {
				return nil, err
			}
			if id != "" {
				out = append(out, Member{Name: n, PlatformID: id})
			}
		}
	}
	return out, nil
}

// Deliver shows one incident event.
func (d *Deliverer) Deliver(ctx context.Context, m outbox.Message) error {
	return d.DeliverBatch(ctx, []outbox.Message{m})
}

// DeliverBatch shows a run of one incident's events, oldest first, as one
// update: the room opened if it is new, the card edited once to the
// latest state, and the run's lines told in one message (a storm's
// thousands of alerts joining an incident are a few lines and a count,
// not thousands of messages). Each step is recorded as it is done, so a
// retry after a failure resumes where it stopped.
func (d *Deliverer) DeliverBatch(ctx context.Context, ms []outbox.Message) error {
	evs := make([]incident.EventPayload, 0, len(ms))
	for _, m := range ms {
		var ev incident.EventPayload
		if err := json.Unmarshal(m.Payload, &ev); err != nil {
			if len(ms) == 1 {
				return outbox.Permanent(fmt.Errorf("decode event %d: %w", m.ID, err))
			}
			continue // one bad row must not hold back the run; it is lost alone
		}
		evs = append(evs, ev)
	}
	if len(evs) == 0 {
		return outbox.Permanent(fmt.Errorf("decode events %d to %d", ms[0].ID, ms[len(ms)-1].ID))
	}
	// Every event carries a snapshot of the incident; the last is the
	// state to show.
	inc := evs[len(evs)-1].Incident
	if inc.ParentID != 0 {
		// In a storm: the storm's room and card show this incident.
		return nil
	}
	dir := d.dir.Load()
	r, ok, err := d.loadRef(ctx, inc.ID)
	if err != nil {
		return fmt.Errorf("load chat ref: %w", err)
	}
	if !ok {
		team := dir.teams[inc.Team]
		members, err := d.accounts(ctx, dir, team.Members, team.Leads)
		if err != nil {
			return err
		}
		room, err := d.platform.OpenRoom(ctx, inc, team, members)
		if err != nil {
			return fmt.Errorf("open %s room for incident %d: %w", d.platform.Name(), inc.ID, err)
		}
		r = ref{room: room}
		if err := d.saveRef(ctx, inc.ID, r); err != nil {
			return err
		}
	}
	card := NewCard(inc, d.loc)
	if d.triages != nil {
		fields, links, err := d.triages.TriageCard(ctx, inc.ID)
		if err != nil {
			return fmt.Errorf("read incident %d's triage: %w", inc.ID, err)
		}
		card.Fields = append(card.Fields, fields...)
		card.Buttons = append(card.Buttons, links...)
	}
	switch {
	case r.messageID == "":
		if err := d.pace(r.room); err != nil {
			return err
		}
		id, err := d.platform.PostCard(ctx, r.room, card)
		if err != nil {
			return fmt.Errorf("post card of incident %d: %w", inc.ID, err)
		}
		r.messageID, r.digest = id, card.Digest()
		if r.room.Thread == "" {
			r.room.Thread = id // updates go under the card, where threads exist
		}
		if err := d.saveRef(ctx, inc.ID, r); err != nil {
			return err
		}
	case r.digest != card.Digest():
		// Edits are not paced: they carry the state everyone must see, and
		// platforms count them apart from new messages (Slack's
		// chat.update, Discord's edit bucket); a 429 is still waited out.
		if err := d.platform.UpdateCard(ctx, r.room, r.messageID, card); err != nil {
			return fmt.Errorf("update card of incident %d: %w", inc.ID, err)
		}
		// The pages' cards change when the room's does, and before the
		// room's new digest is saved: a retry after a failure here edits
		// every card again (harmless: an edit to the same card) and gets
		// to them all. Looking them up on every event would cost a query
		// per event.
		if err := d.updateDirectCards(ctx, inc.ID, card); err != nil {
			return err
		}
		r.digest = card.Digest()
		if err := d.saveRef(ctx, inc.ID, r); err != nil {
			return err
		}
	}
	// A reopened incident opens its room before anything is said there; a
	// resolved one closes it after the last word.
	if inc.Status != incident.StatusResolved && r.closed {
		if err := d.platform.ReopenRoom(ctx, r.room); err != nil {
			return fmt.Errorf("reopen incident %d's room: %w", inc.ID, err)
		}
		r.closed = false
		if err := d.saveRef(ctx, inc.ID, r); err != nil {
			return err
		}
	}
	// A closed room (a resolved incident's) hears nothing more; its card
	// still shows the state.
	if text, paging := runText(evs); text != "" && !r.closed {
		if err := d.pace(r.room); err != nil {
			return err
		}
		if err := d.say(ctx, dir, r.room, text, paging); err != nil {
			return fmt.Errorf("post to incident %d's room: %w", inc.ID, err)
		}
	}
	if inc.Status == incident.StatusResolved && !r.closed {
		if err := d.platform.CloseRoom(ctx, r.room); err != nil {
			return fmt.Errorf("close incident %d's room: %w", inc.ID, err)
		}
		r.closed = true
		return d.saveRef(ctx, inc.ID, r)
	}
	return nil
}

var _ outbox.BatchConsumer = (*Deliverer)(nil)

// updateDirectCards edits the cards of the incident's private pages on
// this platform, found in the receipts the notification log keeps. A
// card that can no longer be edited (deleted, say) is left as it is.
func (d *Deliverer) updateDirectCards(ctx context.Context, id int64, card Card) error {
	rows, err := d.store.Read().QueryContext(ctx, `SELECT provider_id FROM notifications
		WHERE incident_id = ? AND method = 'chat' AND provider_id != ''`, id)
	if err != nil {
		return fmt.Errorf("look up the pages of incident %d: %w", id, err)
	}
	var refs []DirectRef
	for rows.Next() {
		var receipt string
		if err := rows.Scan(&receipt); err != nil {
			rows.Close()
			return fmt.Errorf("look up the pages of incident %d: %w", id, err)
		}
		var rs []DirectRef
		if json.Unmarshal([]byte(receipt), &rs) != nil {
			continue // not a chat receipt: nothing to edit
		}
		for _, r := range rs {
			if r.Platform == d.platform.Name() {
				refs = append(refs, r)
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("look up the pages of incident %d: %w", id, err)
	}
	for _, r := range refs {
		err := d.platform.UpdateCard(ctx, Room{ID: r.Room}, r.Message, card)
		if err != nil && !outbox.IsPermanent(err) {
			return fmt.Errorf("update a page's card of incident %d: %w", id, err)
		}
	}
	return nil
}

// pace spends one message of room's rate limit, or defers the delivery
// until there is one: nothing has been sent, so nothing is repeated.
func (d *Deliverer) pace(room Room) error {
	if d.pacer == nil {
		return nil
	}
	key := d.platform.(Paced).PaceKey(room)
	if wait := d.pacer.take(key, d.now()); wait > 0 {
		return &outbox.DeferError{After: wait, Why: d.platform.Name() + " rate limit of " + key}
	}
	return nil
}

// say posts line into room, calling in the people it pages where the
// platform can.
func (d *Deliverer) say(ctx context.Context, dir *directory, room Room, line string, paging []string) error {
	s, ok := d.platform.(Summoner)
	if !ok || len(paging) == 0 {
		return d.platform.Post(ctx, room, line)
	}
	people, err := d.accounts(ctx, dir, paging)
	if err != nil {
		return err
	}
	if len(people) == 0 {
		return d.platform.Post(ctx, room, line)
	}
	return s.Summon(ctx, room, people, line)
}

// IncidentOfRoom finds the incident whose room on platform is roomID, so
// a command typed in that room implies it.
func IncidentOfRoom(ctx context.Context, st *store.Store, platform, roomID string) (int64, bool) {
	var id int64
	err := st.Read().QueryRowContext(ctx, `SELECT incident_id FROM chat_refs WHERE platform = ? AND room_id = ?`, platform, roomID).Scan(&id)
	return id, err == nil
}

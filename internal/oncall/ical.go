package oncall

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/emersion/go-ical"

	"github.com/oncallbot/bot/internal/store"
)

// Calendar feeds are subscribable URLs, so they carry their own token: an
// HMAC of what the feed shows under a key the bot keeps. Rotating the key
// (deleting the setting) revokes every feed URL at once.

const feedKeySetting = "ical_feed_key"

// feedKey returns the key that signs feed URLs, making it on first use.
func (s *Service) feedKey(ctx context.Context) ([]byte, error) {
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	if s.key != nil {
		return s.key, nil
	}
	var hexKey string
	err := s.store.Read().QueryRowContext(ctx, `SELECT value FROM settings WHERE name = ?`, feedKeySetting).Scan(&hexKey)
	if errors.Is(err, sql.ErrNoRows) {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		hexKey = hex.EncodeToString(b)
		err = s.store.Write(ctx, func(tx *store.Tx) error {
			// Insert unless present, then re-read: a concurrent first use
			// keeps one key.
			if _, err := tx.Exec(`INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`, feedKeySetting, hexKey); err != nil {
				return err
			}
			return tx.QueryRow(`SELECT value FROM settings WHERE name = ?`, feedKeySetting).Scan(&hexKey)
		})
	}
	if err != nil {
		return nil, fmt.Errorf("calendar feed key: %w", err)
	}
	key, err := hex.DecodeString(hexKey)
	if err != nil {
		return nil, fmt.Errorf("calendar feed key: %w", err)
	}
	s.key = key
	return key, nil
}

// FeedToken is the token of the feed of kind ("schedule" or "user") name.
func (s *Service) FeedToken(ctx context.Context, kind, name string) (string, error) {
	key, err := s.feedKey(ctx)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(kind + "\x00" + name))
	return hex.EncodeToString(mac.Sum(nil)[:16]), nil
}

// ValidFeedToken checks a feed token in constant time.
func (s *Service) ValidFeedToken(ctx context.Context, kind, name, token string) bool {
	want, err := s.FeedToken(ctx, kind, name)
	return err == nil && hmac.Equal([]byte(want), []byte(token))
}

// FeedURL is the subscribable URL of a feed.
func (s *Service) FeedURL(ctx context.Context, baseURL, kind, name string) (string, error) {
	tok, err := s.FeedToken(ctx, kind, name)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s/ical/%ss/%s.ics?token=%s", baseURL, kind, url.PathEscape(name), tok), nil
}

// Feed range: a week back, so a calendar shows the recent past, and two
// months ahead.
const (
	feedBack  = 7 * 24 * time.Hour
	feedAhead = 62 * 24 * time.Hour
)

type feedEvent struct {
	schedule, user string
	start, end     time.Time
}

func (s *Service) encodeFeed(name string, events []feedEvent, now time.Time) ([]byte, error) {
	cal := ical.NewCalendar()
	cal.Props.SetText(ical.PropVersion, "2.0")
	cal.Props.SetText(ical.PropProductID, "-//oncall-bot//schedules//EN")
	cal.Props.SetText("X-WR-CALNAME", name)
	cal.Props.SetText("REFRESH-INTERVAL;VALUE=DURATION", "PT15M")
	for _, e := range events {
		ev := ical.NewEvent()
		// A stable UID per shift, so a refreshed feed updates events in
		// place instead of duplicating them.
		ev.Props.SetText(ical.PropUID, fmt.Sprintf("%s-%s-%d@oncall-bot", e.schedule, e.user, e.start.Unix()))
		ev.Props.SetDateTime(ical.PropDateTimeStamp, now.UTC())
		ev.Props.SetDateTime(ical.PropDateTimeStart, e.start.UTC())
		ev.Props.SetDateTime(ical.PropDateTimeEnd, e.end.UTC())
		ev.Props.SetText(ical.PropSummary, fmt.Sprintf("On call: %s (%s)", e.user, e.schedule))
		cal.Children = append(cal.Children, ev.Component)
	}
	var buf bytes.Buffer
	if err := ical.NewEncoder(&buf).Encode(cal); err != nil {
		return nil, fmt.Errorf("encode calendar: %w", err)
	}
	return buf.Bytes(), nil
}

// ScheduleFeed renders a schedule's final schedule as iCalendar: one event
// per person per on-call stretch.
func (s *Service) ScheduleFeed(name string) ([]byte, error) {
	sc, ok := s.Schedule(name)
	if !ok {
		return nil, fmt.Errorf("schedule %q: %w", name, ErrUnknown)
	}
	now := s.clock.Now()
	var events []feedEvent
	for _, u := range s.peopleOf(sc) {
		for _, seg := range sc.NextShifts(u, now.Add(-feedBack), feedBack+feedAhead, 1000) {
			events = append(events, feedEvent{name, u, seg.Start, seg.End})
		}
	}
	slices.SortFunc(events, func(a, b feedEvent) int { return a.start.Compare(b.start) })
	return s.encodeFeed(name+" on call", events, now)
}

// UserFeed renders one person's shifts on every schedule.
func (s *Service) UserFeed(user string) ([]byte, error) {
	if _, ok := s.d().people[user]; !ok {
		return nil, fmt.Errorf("person %q: %w", user, ErrUnknown)
	}
	now := s.clock.Now()
	var events []feedEvent
	for _, sc := range s.Schedules() {
		for _, seg := range sc.NextShifts(user, now.Add(-feedBack), feedBack+feedAhead, 1000) {
			events = append(events, feedEvent{sc.Name, user, seg.Start, seg.End})
		}
	}
	slices.SortFunc(events, func(a, b feedEvent) int { return a.start.Compare(b.start) })
	return s.encodeFeed(user+" on call", events, now)
}

// peopleOf lists everyone who may appear on a schedule: its participants
// and the people of its overrides.
func (s *Service) peopleOf(sc *Schedule) []string {
	var out []string
	add := func(u string) {
		if u != "" && !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	for _, l := range sc.Layers {
		for _, p := range l.Participants {
			add(p)
		}
	}
	for _, o := range sc.Overrides() {
		add(o.User)
	}
	slices.Sort(out)
	return out
}

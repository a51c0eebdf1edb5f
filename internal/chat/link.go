package chat

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"time"

	"github.com/oncallbot/bot/internal/oncall"
	"github.com/oncallbot/bot/internal/outbox"
	"github.com/oncallbot/bot/internal/store"
)

// Linking proves that a chat account belongs to a person of the bot: the
// bot sends a one-time code by a way it already knows reaches the person
// (email, SMS, the console), and the code typed back in the chat makes the
// link.

const (
	linkCodeTTL      = 15 * time.Minute
	linkCodeAttempts = 5

	// linkRequestWindow is what the request limits count over: long
	// enough to outlast a code (15 minutes) several times over, short
	// enough that someone who got their name wrong is not kept waiting
	// for long.
	linkRequestWindow = time.Hour
	// linkCodesPerPerson is how many codes one person is sent in a
	// window, whoever asks. Someone who mistyped or lost a mail asks a
	// second or a third time; more is another account flooding their
	// mail or phone (and an SMS costs money).
	linkCodesPerPerson = 3
	// linkRequestsPerUser is how many link requests one platform account
	// may make in a window, whether a code went out or not: room for a
	// name got wrong twice, and a bound on how fast one account probes
	// names or spreads codes over many people.
	linkRequestsPerUser = 5
	// linkFailureWindow and linkFailuresPerPair: one platform account
	// may enter this many wrong codes for one person in a day, over all
	// the codes it is sent (a new code does not reset the count). A
	// person typing their own code misses once or twice; five guesses a
	// day at a million codes leave a guesser 1 chance in 200,000 a day.
	linkFailureWindow   = 24 * time.Hour
	linkFailuresPerPair = 5
)

// Linker keeps and checks links. Methods are the contact methods a code
// may travel by, in order of preference.
type Linker struct {
	Store  *store.Store
	Sender interface {
		Send(*store.Tx, string, outbox.Event) error
	}
	OnCall  *oncall.Service
	Methods []string
	Clock   interface{ Now() time.Time }
	// Log hears of refused link requests and codes (the limits at
	// work); nil logs to slog.Default().
	Log *slog.Logger
}

func (l *Linker) log() *slog.Logger {
	if l.Log != nil {
		return l.Log
	}
	return slog.Default()
}

// linkRefusal is a link request or code the bot turns down; its text is
// for the asker.
type linkRefusal struct{ msg string }

func (e *linkRefusal) Error() string { return e.msg }

func refuseLink(format string, a ...any) *linkRefusal {
	return &linkRefusal{msg: fmt.Sprintf(format, a...)}
}

// retryAt words an instant to try again at: in UTC (the asker's zone is
// not known yet) and rounded up to the minute, so that "after" holds.
func retryAt(t time.Time) string {
	t = t.UTC()
	if r := t.Truncate(time.Minute); !r.Equal(t) {
		t = r.Add(time.Minute)
	}
	return t.Format("Mon 2 Jan 15:04 MST")
}

// full reports whether the rows query selects within window of now are
// limit or more, and then when enough leave the window for one more.
// query selects at, newest first, with the window's start and an offset
// as its last two parameters.
func full(tx *store.Tx, query string, limit int, window time.Duration, now time.Time, args ...any) (bool, time.Time, error) {
	var at int64
	err := tx.QueryRow(query, append(args, now.Add(-window).UnixMilli(), limit-1)...).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return false, time.Time{}, nil
	}
	if err != nil {
		return false, time.Time{}, err
	}
	// The limit-th newest row leaving the window leaves room for one.
	return true, time.UnixMilli(at).Add(window), nil
}

// prune forgets requests and failures past their windows, so the tables
// hold at most a day of them.
func prune(tx *store.Tx, now time.Time) error {
	if _, err := tx.Exec(`DELETE FROM link_requests WHERE at <= ?`, now.Add(-linkRequestWindow).UnixMilli()); err != nil {
		return fmt.Errorf("prune link requests: %w", err)
	}
	if _, err := tx.Exec(`DELETE FROM link_failures WHERE at <= ?`, now.Add(-linkFailureWindow).UnixMilli()); err != nil {
		return fmt.Errorf("prune link failures: %w", err)
	}
	return nil
}

// lockedOut reports whether platform's user entered too many wrong codes
// for person lately, and until when.
func lockedOut(tx *store.Tx, platform, user, person string, now time.Time) (bool, time.Time, error) {
	return full(tx, `SELECT at FROM link_failures WHERE platform = ? AND platform_user = ? AND person = ? AND at > ?
		ORDER BY at DESC LIMIT 1 OFFSET ?`, linkFailuresPerPair, linkFailureWindow, now, platform, user, person)
}

func lockedOutRefusal(person string, until time.Time) *linkRefusal {
	return refuseLink("this account entered %d codes for %s that were wrong or expired in the last day, the most the bot takes; try again after %s",
		linkFailuresPerPair, person, retryAt(until))
}

// Person returns who a platform account is linked to, if anyone.
func (l *Linker) Person(ctx context.Context, platform, user string) (string, bool) {
	if l == nil || user == "" {
		return "", false
	}
	var person string
	err := l.Store.Read().QueryRowContext(ctx, `SELECT person FROM platform_links WHERE platform = ? AND platform_user = ?`,
		platform, user).Scan(&person)
	return person, err == nil
}

// methodFor picks how a code reaches a person, or "".
func (l *Linker) methodFor(person string) string {
	p, ok := l.OnCall.Person(person)
	if !ok {
		return ""
	}
	for _, m := range l.Methods {
		switch {
		case m == "email" && p.Email != "", m == "sms" && p.Phone != "", m == "webhook" && p.Webhook != "":
			return m
		case m == "web":
			return "chat" // the console (a DM there) is reached through the chat method
		}
	}
	return ""
}

// Start sends a code to person for linking platform's user, within the
// limits: requests per account, codes per person, and no new code for a
// person while the account is locked out of them. A request the bot turns
// down is a *linkRefusal saying when to try again; it still counts
// against the account unless the account's own limit refused it.
func (l *Linker) Start(ctx context.Context, platform, user, person string) (string, error) {
	p, known := l.OnCall.Person(person)
	method := ""
	if known {
		method = l.methodFor(person)
	}
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", fmt.Errorf("make a link code: %w", err)
	}
	code := fmt.Sprintf("%06d", n.Int64())
	now := l.Clock.Now()
	text := fmt.Sprintf("Your code to link your %s account to the on-call bot is %s. It expires in 15 minutes. If you did not ask for it, ignore this message.", platform, code)
	payload, err := json.Marshal(oncall.Page{Key: "link/" + platform + "/" + user + "/" + code, Method: method, Person: p, Text: text,
		Subject: "Your on-call bot link code"})
	if err != nil {
		return "", fmt.Errorf("encode link code: %w", err)
	}
	var refused *linkRefusal
	var reason string
	err = l.Store.Write(ctx, func(tx *store.Tx) error {
		refused, reason = nil, "" // fn may run again
		if err := prune(tx, now); err != nil {
			return err
		}
		busy, until, err := full(tx, `SELECT at FROM link_requests WHERE platform = ? AND platform_user = ? AND at > ?
			ORDER BY at DESC LIMIT 1 OFFSET ?`, linkRequestsPerUser, linkRequestWindow, now, platform, user)
		if err != nil {
			return fmt.Errorf("count link requests: %w", err)
		}
		if busy {
			// Not recorded: an account that keeps asking is not kept out
			// for longer than its window.
			refused, reason = refuseLink("this account asked for %d link codes in the last hour, the most the bot takes; try again after %s",
				linkRequestsPerUser, retryAt(until)), "requests per account"
			return nil
		}
		// Locked out of person: checked whether person exists or not,
		// so the answer says no more than "there is no" would.
		locked, until, err := lockedOut(tx, platform, user, person, now)
		if err != nil {
			return fmt.Errorf("count wrong link codes: %w", err)
		}
		sentTo := ""
		switch {
		case locked:
			refused, reason = lockedOutRefusal(person, until), "wrong codes"
		case !known:
			refused = refuseLink("there is no %q in the bot; ask a lead for your name", person)
		case method == "":
			refused = refuseLink("the bot has no way to send %s a code (no email, phone or console); ask a lead to add your %s ID to the config", person, platform)
		default:
			flooded, until, err := full(tx, `SELECT at FROM link_requests WHERE person = ? AND at > ?
				ORDER BY at DESC LIMIT 1 OFFSET ?`, linkCodesPerPerson, linkRequestWindow, now, person)
			if err != nil {
				return fmt.Errorf("count link codes sent: %w", err)
			}
			if flooded {
				refused, reason = refuseLink("%s was sent %d link codes in the last hour, the most the bot sends; try again after %s",
					person, linkCodesPerPerson, retryAt(until)), "codes per person"
			} else {
				sentTo = person
			}
		}
		if _, err := tx.Exec(`INSERT INTO link_requests (platform, platform_user, person, at) VALUES (?, ?, ?, ?)`,
			platform, user, sentTo, now.UnixMilli()); err != nil {
			return fmt.Errorf("record link request: %w", err)
		}
		if sentTo == "" {
			return nil
		}
		if _, err := tx.Exec(`INSERT INTO link_codes (platform, platform_user, person, code, expires_at, attempts) VALUES (?, ?, ?, ?, ?, 0)
			ON CONFLICT (platform, platform_user) DO UPDATE SET person = excluded.person, code = excluded.code,
			expires_at = excluded.expires_at, attempts = 0`, platform, user, person, code, now.Add(linkCodeTTL).UnixMilli()); err != nil {
			return fmt.Errorf("keep link code: %w", err)
		}
		return l.Sender.Send(tx, oncall.NotifyConsumer(method), outbox.Event{Kind: "link.code", OrderingKey: "person/" + person + "/" + method,
			IdempotencyKey: "link/" + platform + "/" + user + "/" + code, Payload: payload})
	})
	if err != nil {
		return "", fmt.Errorf("send link code: %w", err)
	}
	if refused != nil {
		if reason != "" {
			l.log().Info("link code refused", "platform", platform, "platform_user", user, "person", person, "limit", reason)
		}
		return "", refused
	}
	return method, nil
}

// errBadCode is the refusal of a code that does not link.
var errBadCode = &linkRefusal{msg: "that code is wrong or expired; run /oncall link <name> again for a new one"}

// Finish checks a code and makes the link. Every code that does not link
// counts against platform's user for person, whichever code it was
// meant to be; past the limit no code is taken, not even the right one,
// until the oldest failures leave the window.
func (l *Linker) Finish(ctx context.Context, platform, user, person, code string) error {
	now := l.Clock.Now()
	var refused *linkRefusal
	var reason string
	err := l.Store.Write(ctx, func(tx *store.Tx) error {
		refused, reason = nil, "" // fn may run again
		if err := prune(tx, now); err != nil {
			return err
		}
		locked, until, err := lockedOut(tx, platform, user, person, now)
		if err != nil {
			return fmt.Errorf("count wrong link codes: %w", err)
		}
		if locked {
			// Not counted: the lockout ends when the window says, however
			// often the account tries meanwhile.
			refused, reason = lockedOutRefusal(person, until), "wrong codes"
			return nil
		}
		var want, who string
		var expires int64
		var attempts int
		err = tx.QueryRow(`SELECT code, person, expires_at, attempts FROM link_codes WHERE platform = ? AND platform_user = ?`,
			platform, user).Scan(&want, &who, &expires, &attempts)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("read link code: %w", err)
		}
		if err != nil || who != person || now.UnixMilli() > expires || attempts >= linkCodeAttempts ||
			subtle.ConstantTimeCompare([]byte(want), []byte(code)) != 1 {
			if _, err := tx.Exec(`UPDATE link_codes SET attempts = attempts + 1 WHERE platform = ? AND platform_user = ?`, platform, user); err != nil {
				return fmt.Errorf("count a link code attempt: %w", err)
			}
			if _, err := tx.Exec(`INSERT INTO link_failures (platform, platform_user, person, at) VALUES (?, ?, ?, ?)`,
				platform, user, person, now.UnixMilli()); err != nil {
				return fmt.Errorf("record a wrong link code: %w", err)
			}
			refused = errBadCode
			if locked, until, err := lockedOut(tx, platform, user, person, now); err != nil {
				return fmt.Errorf("count wrong link codes: %w", err)
			} else if locked {
				refused, reason = refuseLink("that code is wrong or expired, and it was the last of the %d such codes this account may enter for %s in a day; try again after %s",
					linkFailuresPerPair, person, retryAt(until)), "wrong codes, now locked out"
			}
			return nil // the attempt is counted; the refusal comes after the commit
		}
		if _, err := tx.Exec(`INSERT INTO platform_links (platform, platform_user, person, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (platform, platform_user) DO UPDATE SET person = excluded.person, created_at = excluded.created_at`,
			platform, user, person, now.UnixMilli()); err != nil {
			return fmt.Errorf("make the link: %w", err)
		}
		if _, err := tx.Exec(`DELETE FROM link_codes WHERE platform = ? AND platform_user = ?`, platform, user); err != nil {
			return fmt.Errorf("forget the link code: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("check link code: %w", err)
	}
	if refused != nil {
		if reason != "" {
			l.log().Info("link code refused", "platform", platform, "platform_user", user, "person", person, "limit", reason)
		}
		return refused
	}
	return nil
}

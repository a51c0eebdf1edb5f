package chat

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
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

// Start sends a code to person for linking platform's user.
func (l *Linker) Start(ctx context.Context, platform, user, person string) (string, error) {
	p, ok := l.OnCall.Person(person)
	if !ok {
		return "", fmt.Errorf("there is no %q in the bot; ask a lead for your name", person)
	}
	method := l.methodFor(person)
	if method == "" {
		return "", fmt.Errorf("the bot has no way to send %s a code (no email, phone or console); ask a lead to add your %s ID to the config", person, platform)
	}
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", err
	}
	code := fmt.Sprintf("%06d", n.Int64())
	now := l.Clock.Now()
	text := fmt.Sprintf("Your code to link your %s account to the on-call bot is %s. It expires in 15 minutes. If you did not ask for it, ignore this message.", platform, code)
	payload, err := json.Marshal(oncall.Page{Key: "link/" + platform + "/" + user + "/" + code, Method: method, Person: p, Text: text,
		Subject: "Your on-call bot link code"})
	if err != nil {
		return "", err
	}
	err = l.Store.Write(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(`INSERT INTO link_codes (platform, platform_user, person, code, expires_at, attempts) VALUES (?, ?, ?, ?, ?, 0)
			ON CONFLICT (platform, platform_user) DO UPDATE SET person = excluded.person, code = excluded.code,
			expires_at = excluded.expires_at, attempts = 0`, platform, user, person, code, now.Add(linkCodeTTL).UnixMilli()); err != nil {
			return err
		}
		return l.Sender.Send(tx, oncall.NotifyConsumer(method), outbox.Event{Kind: "link.code", OrderingKey: "person/" + person + "/" + method,
			IdempotencyKey: "link/" + platform + "/" + user + "/" + code, Payload: payload})
	})
	if err != nil {
		return "", fmt.Errorf("send link code: %w", err)
	}
	return method, nil
}

var errBadCode = errors.New("that code is wrong or expired; run /oncall link <name> again for a new one")

// Finish checks a code and makes the link. A wrong code counts against
// the few attempts a code allows.
func (l *Linker) Finish(ctx context.Context, platform, user, person, code string) error {
	linked := false
	err := l.Store.Write(ctx, func(tx *store.Tx) error {
		linked = false
		var want, who string
		var expires int64
		var attempts int
		err := tx.QueryRow(`SELECT code, person, expires_at, attempts FROM link_codes WHERE platform = ? AND platform_user = ?`,
			platform, user).Scan(&want, &who, &expires, &attempts)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		now := l.Clock.Now()
		if who != person || now.UnixMilli() > expires || attempts >= linkCodeAttempts ||
			subtle.ConstantTimeCompare([]byte(want), []byte(code)) != 1 {
			if _, err := tx.Exec(`UPDATE link_codes SET attempts = attempts + 1 WHERE platform = ? AND platform_user = ?`, platform, user); err != nil {
				return err
			}
			return nil // the attempt is counted; the refusal comes after the commit
		}
		if _, err := tx.Exec(`INSERT INTO platform_links (platform, platform_user, person, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (platform, platform_user) DO UPDATE SET person = excluded.person, created_at = excluded.created_at`,
			platform, user, person, now.UnixMilli()); err != nil {
			return err
		}
		_, err = tx.Exec(`DELETE FROM link_codes WHERE platform = ? AND platform_user = ?`, platform, user)
		linked = err == nil
		return err
	})
	if err != nil {
		return err
	}
	if !linked {
		return errBadCode
	}
	return nil
}

// Package outbox carries the bot's side effects out of the database: a
// state change writes outbox rows in its own transaction, and the
// Dispatcher delivers them afterwards, at least once, retrying with backoff
// and honouring Retry-After. A platform that is down delays its messages;
// it never loses them and never blocks ingest.
package outbox

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oncallbot/bot/internal/store"
)

// Event is something that happened, to be delivered to every subscribed
// consumer.
type Event struct {
	// Kind names the event, such as "incident.triggered".
	Kind string
	// Team owns the event's subject; subscriptions may filter on it.
	Team string
	// OrderingKey serializes delivery: one consumer gets the events of one
	// key one at a time, in the order they were published (an incident's
	// events, say, so a card never goes from resolved back to triggered).
	OrderingKey string
	// IdempotencyKey is unique per event; consumers pass it on so the
	// receiver can drop a repeat after a crash between send and record.
	IdempotencyKey string
	// Payload is the body, JSON by convention.
	Payload []byte
	// Urgent messages are delivered before routine ones that were queued
	// earlier (a new incident's room, a page); a key's order still holds.
	Urgent bool
	// Prompt messages are routine in priority but never held back to be
	// gathered (Subscription.Gather): what someone is waiting to read,
	// such as a new incident's triage.
	Prompt bool
}

func (e Event) priority() int {
	if e.Urgent {
		return 1
	}
	return 0
}

// Subscription routes events to a consumer.
type Subscription struct {
	Consumer string
	// Kinds and Teams filter; empty means all. A kind ending in "*"
	// matches every kind it prefixes ("incident.*").
	Kinds []string
	Teams []string
	// Gather holds the consumer's routine (not urgent) events this long
	// before they fall due, so a burst of them (a storm's alerts joining
	// an incident) reaches a consumer that shows only the latest state, a
	// chat room, as one run of its batch. Zero delivers at once.
	Gather time.Duration
	// Latest says the consumer shows the latest state of things (a chat
	// room's card and a few lines): a run of like events published in one
	// transaction may reach it as one event that stands for them all (see
	// PublishLatest). Other consumers (webhooks) get every event.
	Latest bool
}

func kindMatches(kinds []string, kind string) bool {
	if len(kinds) == 0 {
		return true
	}
	for _, k := range kinds {
		if k == kind || (strings.HasSuffix(k, "*") && strings.HasPrefix(kind, strings.TrimSuffix(k, "*"))) {
			return true
		}
	}
	return false
}

func (s Subscription) wants(e Event) bool {
	return kindMatches(s.Kinds, e.Kind) && (len(s.Teams) == 0 || slices.Contains(s.Teams, e.Team))
}

// Publisher writes one outbox row per subscribed consumer.
type Publisher struct {
	// subs is the subscriptions in force; Subscribe and Replace swap in a
	// new slice, so a transaction publishing meanwhile reads one version.
	subs   atomic.Pointer[[]Subscription]
	subsMu sync.Mutex // serializes Subscribe and Replace
	clock  interface{ Now() time.Time }
	// onCommit wakes the dispatcher after the publishing transaction
	// commits.
	onCommit func()
	// DueAt, if set, hears after the commit when a row held back to be
	// gathered falls due (Dispatcher.DueAt).
	DueAt func(time.Time)
}

// NewPublisher returns a publisher for the given subscriptions. wake, if
// not nil, is called after each transaction that published anything.
func NewPublisher(subs []Subscription, clock interface{ Now() time.Time }, wake func()) *Publisher {
	p := &Publisher{clock: clock, onCommit: wake}
	subs = slices.Clone(subs)
	p.subs.Store(&subs)
	return p
}

// Subscribe adds subscriptions.
func (p *Publisher) Subscribe(subs ...Subscription) {
	p.subsMu.Lock()
	defer p.subsMu.Unlock()
	next := append(slices.Clone(p.current()), subs...)
	p.subs.Store(&next)
}

// Replace puts subs in place of every subscription whose consumer's name
// starts with prefix ("webhook:"), as a configuration reload does: events
// published after it returns go to the new set.
func (p *Publisher) Replace(prefix string, subs []Subscription) {
	p.subsMu.Lock()
	defer p.subsMu.Unlock()
	var next []Subscription
	for _, s := range p.current() {
		if !strings.HasPrefix(s.Consumer, prefix) {
			next = append(next, s)
		}
	}
	next = append(next, subs...)
	p.subs.Store(&next)
}

func (p *Publisher) current() []Subscription { return *p.subs.Load() }

// Wants reports whether any subscription may want events of kind, so a
// publisher can skip building a payload nobody will receive.
func (p *Publisher) Wants(kind string) bool {
	for _, s := range p.current() {
		if kindMatches(s.Kinds, kind) {
			return true
		}
	}
	return false
}

// Send enqueues e for one named consumer, whatever the subscriptions say:
// a page for one person's phone goes to the SMS consumer only.
func (p *Publisher) Send(tx *store.Tx, consumer string, e Event) error {
	if e.Kind == "" || e.IdempotencyKey == "" {
		return errors.New("outbox: event needs a kind and an idempotency key")
	}
	if err := p.insert(tx, consumer, e, 0); err != nil {
		return err
	}
	if p.onCommit != nil {
		tx.AfterCommit(p.onCommit)
	}
	return nil
}

// Publish enqueues e for every subscription that wants it, inside tx.
func (p *Publisher) Publish(tx *store.Tx, e Event) error { return p.publish(tx, e, allSubs) }

// PublishEach enqueues e for the subscriptions that want every event (not
// Latest); with PublishLatest it splits one event stream in two: each of
// a burst's events to webhooks, one standing for them all to chat rooms.
func (p *Publisher) PublishEach(tx *store.Tx, e Event) error { return p.publish(tx, e, eachSubs) }

// PublishLatest enqueues e for the Latest subscriptions only.
func (p *Publisher) PublishLatest(tx *store.Tx, e Event) error { return p.publish(tx, e, latestSubs) }

// WantsEach reports whether a subscription that takes every event may
// want events of kind: when none does, a publisher can skip building each
// one's payload.
func (p *Publisher) WantsEach(kind string) bool {
	for _, s := range p.current() {
		if !s.Latest && kindMatches(s.Kinds, kind) {
			return true
		}
	}
	return false
}

// Which subscriptions a publish is for.
const (
	allSubs = iota
	eachSubs
	latestSubs
)

func (p *Publisher) publish(tx *store.Tx, e Event, which int) error {
	if e.Kind == "" || e.IdempotencyKey == "" {
		return errors.New("outbox: event needs a kind and an idempotency key")
	}
	dueNow := 0
	for _, s := range p.current() {
		if !s.wants(e) || (which == eachSubs && s.Latest) || (which == latestSubs && !s.Latest) {
			continue
		}
		var wait time.Duration
		if !e.Urgent && !e.Prompt {
			wait = s.Gather
		}
		if err := p.insert(tx, s.Consumer, e, wait); err != nil {
			return err
		}
		if wait == 0 {
			dueNow++
		}
	}
	// Rows held back to be gathered wake the dispatcher through DueAt,
	// when their time comes; waking it at every commit of a storm only
	// has it find nothing due.
	if dueNow > 0 && p.onCommit != nil {
		tx.AfterCommit(p.onCommit)
	}
	return nil
}

// insert writes e's row for consumer. Publishing the same event twice (a
// retried command) is a no-op, which is what the idempotency key promises;
// only that conflict is absorbed, so any other constraint failure is an
// error rather than an event that quietly never exists. The row heads its
// ordering key when no other row of the key is pending (an empty key
// orders nothing: every such row is a head); see the Dispatcher. It falls
// due after wait.
func (p *Publisher) insert(tx *store.Tx, consumer string, e Event, wait time.Duration) error {
	payload := e.Payload
	if payload == nil {
		payload = []byte{} // a nil would be NULL, and the column is NOT NULL
	}
	now := p.clock.Now().UnixMilli()
	_, err := tx.Exec(`INSERT INTO outbox (consumer, kind, ordering_key, idempotency_key, payload, created_at, next_attempt_at, priority, head)
		SELECT ?, ?, ?, ?, ?, ?, ?, ?, (? = '' OR NOT EXISTS (
			SELECT 1 FROM outbox WHERE consumer = ? AND ordering_key = ? AND state = 'pending'))
		WHERE true
		ON CONFLICT (consumer, idempotency_key) DO NOTHING`,
		consumer, e.Kind, e.OrderingKey, e.IdempotencyKey, payload, now, now+wait.Milliseconds(), e.priority(),
		e.OrderingKey, consumer, e.OrderingKey)
	if err != nil {
		return fmt.Errorf("enqueue %s for %s: %w", e.Kind, consumer, err)
	}
	if wait > 0 && p.DueAt != nil {
		due := time.UnixMilli(now + wait.Milliseconds())
		tx.AfterCommit(func() { p.DueAt(due) })
	}
	return nil
}

// Message is one delivery attempt handed to a consumer.
type Message struct {
	ID             int64
	Consumer       string
	Kind           string
	IdempotencyKey string
	Payload        []byte
	// Attempt counts from 1.
	Attempt   int
	CreatedAt time.Time
}

// Consumer delivers messages somewhere. An error is retried with backoff
// unless it is Permanent; RetryAfter sets the next attempt's time.
type Consumer interface {
	Deliver(ctx context.Context, m Message) error
}

// BatchConsumer is a Consumer that can deliver several waiting messages of
// one ordering key at once (several pages to one phone as one SMS). The
// dispatcher hands it the due messages of the key, oldest first, up to
// Dispatcher.MaxBatch; the result applies to all of them.
type BatchConsumer interface {
	Consumer
	DeliverBatch(ctx context.Context, ms []Message) error
}

// ConsumerFunc adapts a function to Consumer.
type ConsumerFunc func(ctx context.Context, m Message) error

// Deliver calls f.
func (f ConsumerFunc) Deliver(ctx context.Context, m Message) error { return f(ctx, m) }

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying (a 4xx from the receiver, say):
// the message goes to the dead state at once.
func Permanent(err error) error { return &permanentError{err} }

// IsPermanent reports whether err was marked Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// RetryAfterError asks for the next attempt no sooner than After.
type RetryAfterError struct {
	After time.Duration
	Err   error
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("%v (retry after %s)", e.Err, e.After)
}
func (e *RetryAfterError) Unwrap() error { return e.Err }

// DeferError asks for a message again after After without counting the
// attempt as a failure: the consumer is keeping to a pace of its own (a
// platform's rate limit) and has sent nothing.
type DeferError struct {
	After time.Duration
	Why   string
}

func (e *DeferError) Error() string { return fmt.Sprintf("deferred %s: %s", e.After, e.Why) }

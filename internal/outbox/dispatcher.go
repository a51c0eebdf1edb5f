package outbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/oncallbot/bot/internal/clock"
	"github.com/oncallbot/bot/internal/store"
)

// Dispatcher delivers pending outbox rows to their consumers. Each consumer
// has its own cap on deliveries in flight, so a platform that hangs holds
// back only its own messages, never another consumer's page.
type Dispatcher struct {
	store     *store.Store
	clock     clock.Clock
	log       *slog.Logger
	consumers map[string]Consumer

	// BaseBackoff is the wait after the first failure; it doubles with
	// each attempt up to MaxBackoff, with ±20% jitter.
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// MaxAge: a message still undelivered this long after it was written
	// is given up (state dead) and logged.
	MaxAge time.Duration
	// PerConsumer caps deliveries in flight per consumer.
	PerConsumer int
	// Timeout bounds one delivery attempt.
	Timeout time.Duration
	// Dead, if set, hears of every message given up, after it is recorded,
	// so the domain can say so where people look.
	Dead func(ctx context.Context, m Message, err error)

	wake chan struct{}

	mu       sync.Mutex
	inflight map[int64]string // row id -> consumer
	busy     map[string]int   // consumer -> deliveries in flight
	idle     *sync.Cond

	deliveries *prometheus.CounterVec
}

// NewDispatcher returns a dispatcher with no consumers. reg may be nil.
func NewDispatcher(s *store.Store, c clock.Clock, log *slog.Logger, reg prometheus.Registerer) *Dispatcher {
	d := &Dispatcher{
		store:       s,
		clock:       c,
		log:         log,
		consumers:   map[string]Consumer{},
		BaseBackoff: 2 * time.Second,
		MaxBackoff:  10 * time.Minute,
		MaxAge:      48 * time.Hour,
		PerConsumer: 128,
		Timeout:     15 * time.Second,
		wake:        make(chan struct{}, 1),
		inflight:    map[int64]string{},
		busy:        map[string]int{},
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bot_outbox_deliveries_total",
			Help: "Outbox delivery attempts by consumer and result (delivered, retry, deferred, dead).",
		}, []string{"consumer", "result"}),
	}
	d.idle = sync.NewCond(&d.mu)
	if reg != nil {
		reg.MustRegister(d.deliveries)
	}
	return d
}

// Register adds a consumer under the name subscriptions use.
func (d *Dispatcher) Register(name string, c Consumer) { d.consumers[name] = c }

// Wake makes the loop look for work now.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

type row struct {
	Message
	orderingKey string
	// more are further due messages of the same key, for a BatchConsumer.
	more []Message
}

// maxBatch bounds how many messages a BatchConsumer gets at once.
const maxBatch = 20

// startDue starts a delivery for each due row that heads its ordering key
// and is not already in flight. It returns how many it started.
func (d *Dispatcher) startDue(ctx context.Context) (int, error) {
	now := d.clock.Now()
	// Ask for little more than what is in flight (those come back as
	// heads too, and are skipped): with a backlog, scanning for hundreds
	// of heads after every delivery is what would cost the most.
	d.mu.Lock()
	limit := len(d.inflight) + 64
	d.mu.Unlock()
	rows, err := d.store.Read().QueryContext(ctx, `
		SELECT o.id, o.consumer, o.kind, o.ordering_key, o.idempotency_key, o.payload, o.attempts, o.created_at
		FROM outbox o
		WHERE o.state = 'pending' AND o.next_attempt_at <= ?
		  AND o.id = (SELECT MIN(p.id) FROM outbox p
		              WHERE p.state = 'pending' AND p.consumer = o.consumer AND p.ordering_key = o.ordering_key)
		ORDER BY o.priority DESC, o.next_attempt_at, o.id
		LIMIT ?`, now.UnixMilli(), limit)
	if err != nil {
		return 0, fmt.Errorf("query due outbox rows: %w", err)
	}
	var due []row
	for rows.Next() {
		var r row
		var created int64
		if err := rows.Scan(&r.ID, &r.Consumer, &r.Kind, &r.orderingKey, &r.IdempotencyKey, &r.Payload, &r.Attempt, &created); err != nil {
			rows.Close()
			return 0, fmt.Errorf("scan outbox row: %w", err)
		}
		r.Attempt++
		r.CreatedAt = time.UnixMilli(created)
		due = append(due, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("read due outbox rows: %w", err)
	}
	for i := range due {
		if _, ok := d.consumers[due[i].Consumer].(BatchConsumer); ok {
			if due[i].more, err = d.followers(ctx, due[i], now); err != nil {
				return 0, err
			}
		}
	}
	started := 0
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range due {
		if _, ok := d.inflight[r.ID]; ok || d.busy[r.Consumer] >= d.PerConsumer {
			continue
		}
		d.inflight[r.ID] = r.Consumer
		for _, m := range r.more {
			// Recorded one after another once delivered; in flight until
			// then, so none turns head and goes out twice.
			d.inflight[m.ID] = m.Consumer
		}
		d.busy[r.Consumer]++
		started++
		go d.deliver(ctx, r)
	}
	return started, nil
}

// followers returns the due messages queued behind a head of the same
// consumer and ordering key.
func (d *Dispatcher) followers(ctx context.Context, head row, now time.Time) ([]Message, error) {
	rows, err := d.store.Read().QueryContext(ctx, `SELECT id, consumer, kind, idempotency_key, payload, attempts, created_at
		FROM outbox WHERE state = 'pending' AND consumer = ? AND ordering_key = ? AND id > ? AND next_attempt_at <= ?
		ORDER BY id LIMIT ?`, head.Consumer, head.orderingKey, head.ID, now.UnixMilli(), maxBatch-1)
	if err != nil {
		return nil, fmt.Errorf("query outbox batch: %w", err)
	}
	defer rows.Close()
	var out []Message
	for rows.Next() {
		var m Message
		var created int64
		if err := rows.Scan(&m.ID, &m.Consumer, &m.Kind, &m.IdempotencyKey, &m.Payload, &m.Attempt, &created); err != nil {
			return nil, fmt.Errorf("scan outbox batch: %w", err)
		}
		m.Attempt++
		m.CreatedAt = time.UnixMilli(created)
		out = append(out, m)
	}
	return out, rows.Err()
}

func (d *Dispatcher) deliver(ctx context.Context, r row) {
	defer func() {
		d.mu.Lock()
		delete(d.inflight, r.ID)
		for _, m := range r.more {
			delete(d.inflight, m.ID)
		}
		d.busy[r.Consumer]--
		d.idle.Broadcast()
		d.mu.Unlock()
		d.Wake()
	}()
	c, ok := d.consumers[r.Consumer]
	var err error
	if !ok {
		err = Permanent(fmt.Errorf("no consumer named %q is configured", r.Consumer))
	} else {
		dctx, cancel := context.WithTimeout(ctx, d.Timeout)
		err = safeDeliver(dctx, c, append([]Message{r.Message}, r.more...))
		cancel()
	}
	if rerr := d.record(ctx, r, err); rerr != nil && ctx.Err() == nil {
		// The row stays pending and is delivered again: at least once.
		d.log.Error("record outbox delivery", "id", r.ID, "consumer", r.Consumer, "err", rerr)
	}
	for _, m := range r.more {
		if rerr := d.record(ctx, row{Message: m, orderingKey: r.orderingKey}, err); rerr != nil && ctx.Err() == nil {
			d.log.Error("record outbox delivery", "id", m.ID, "consumer", m.Consumer, "err", rerr)
		}
	}
}

// safeDeliver turns a consumer's panic into an error, so one broken
// adapter cannot take the process down.
func safeDeliver(ctx context.Context, c Consumer, ms []Message) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = Permanent(fmt.Errorf("consumer panicked: %v", p))
		}
	}()
	if bc, ok := c.(BatchConsumer); ok && len(ms) > 1 {
		return bc.DeliverBatch(ctx, ms)
	}
	return c.Deliver(ctx, ms[0])
}

func (d *Dispatcher) record(ctx context.Context, r row, derr error) error {
	now := d.clock.Now()
	if derr == nil {
		d.deliveries.WithLabelValues(r.Consumer, "delivered").Inc()
		return d.store.Write(ctx, func(tx *store.Tx) error {
			_, err := tx.Exec(`UPDATE outbox SET state = 'delivered', attempts = ?, delivered_at = ?, last_error = '' WHERE id = ?`,
				r.Attempt, now.UnixMilli(), r.ID)
			return err
		})
	}
	var later *DeferError
	if errors.As(derr, &later) {
		// Not a failure: the attempt is given back and nothing is logged
		// above debug, however long a storm keeps the pace slow.
		d.deliveries.WithLabelValues(r.Consumer, "deferred").Inc()
		d.log.Debug("outbox delivery deferred", "id", r.ID, "consumer", r.Consumer, "after", later.After, "why", later.Why)
		return d.store.Write(ctx, func(tx *store.Tx) error {
			_, err := tx.Exec(`UPDATE outbox SET attempts = ?, next_attempt_at = ? WHERE id = ?`,
				r.Attempt-1, now.Add(later.After).UnixMilli(), r.ID)
			return err
		})
	}
	var perm *permanentError
	dead := errors.As(derr, &perm) || now.Sub(r.CreatedAt) >= d.MaxAge
	if dead {
		d.deliveries.WithLabelValues(r.Consumer, "dead").Inc()
		d.log.Error("outbox message given up", "id", r.ID, "consumer", r.Consumer, "kind", r.Kind, "attempts", r.Attempt, "err", derr)
		err := d.store.Write(ctx, func(tx *store.Tx) error {
			_, err := tx.Exec(`UPDATE outbox SET state = 'dead', attempts = ?, last_error = ? WHERE id = ?`,
				r.Attempt, derr.Error(), r.ID)
			return err
		})
		if err == nil && d.Dead != nil {
			d.Dead(ctx, r.Message, derr)
		}
		return err
	}
	d.deliveries.WithLabelValues(r.Consumer, "retry").Inc()
	next := now.Add(d.backoff(r.Attempt, derr))
	d.log.Warn("outbox delivery failed; will retry", "id", r.ID, "consumer", r.Consumer, "kind", r.Kind,
		"attempt", r.Attempt, "next_attempt", next, "err", derr)
	return d.store.Write(ctx, func(tx *store.Tx) error {
		_, err := tx.Exec(`UPDATE outbox SET attempts = ?, last_error = ?, next_attempt_at = ? WHERE id = ?`,
			r.Attempt, derr.Error(), next.UnixMilli(), r.ID)
		return err
	})
}

// backoff returns the wait before the next attempt: the receiver's
// Retry-After when it gave one, else exponential with jitter.
func (d *Dispatcher) backoff(attempt int, err error) time.Duration {
	var ra *RetryAfterError
	if errors.As(err, &ra) && ra.After > 0 {
		return ra.After
	}
	b := d.BaseBackoff
	for i := 1; i < attempt && b < d.MaxBackoff; i++ {
		b *= 2
	}
	b = min(b, d.MaxBackoff)
	jitter := 0.8 + 0.4*rand.Float64()
	return time.Duration(float64(b) * jitter)
}

// Drain delivers everything due now and waits for those deliveries to be
// recorded, repeating while there is more due. Tests drive the dispatcher
// with it; Run is the production loop.
func (d *Dispatcher) Drain(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := d.startDue(ctx)
		total += n
		if err != nil {
			return total, err
		}
		d.mu.Lock()
		for len(d.inflight) > 0 {
			d.idle.Wait()
		}
		d.mu.Unlock()
		if n == 0 {
			return total, nil
		}
	}
}

// nextDue returns when the earliest pending row not in flight is due.
func (d *Dispatcher) nextDue(ctx context.Context) (time.Time, bool, error) {
	var at sql.NullInt64
	err := d.store.Read().QueryRowContext(ctx,
		`SELECT MIN(next_attempt_at) FROM outbox WHERE state = 'pending'`).Scan(&at)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("next outbox row: %w", err)
	}
	if !at.Valid {
		return time.Time{}, false, nil
	}
	return time.UnixMilli(at.Int64), true, nil
}

// Run delivers until ctx ends. Deliveries in flight when ctx ends are
// abandoned; their rows stay pending and go out after the restart.
func (d *Dispatcher) Run(ctx context.Context) {
	for {
		if _, err := d.startDue(ctx); err != nil && ctx.Err() == nil {
			d.log.Error("outbox dispatch", "err", err)
		}
		wait := time.Minute
		if at, ok, err := d.nextDue(ctx); err != nil {
			wait = time.Second
		} else if ok {
			// Rows in flight or queued behind one look due; the wake at
			// the end of each delivery covers them, the poll is a floor.
			wait = at.Sub(d.clock.Now())
			if wait <= 0 {
				wait = time.Second
			}
			wait = min(wait, time.Minute)
		}
		t := d.clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		case <-d.wake:
			t.Stop()
		}
	}
}

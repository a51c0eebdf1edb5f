package outbox

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	mrand "math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/oncallbot/bot/internal/clock"
	"github.com/oncallbot/bot/internal/store"
)

// Dispatcher delivers pending outbox rows to their consumers.
//
// Finding work never walks the backlog (docs/adr/0001-outbox-dispatch.md):
// only the first pending row of each (consumer, ordering key) is flagged a
// head, and each consumer's due heads are read from one index, urgent ones
// first. The dispatcher claims the rows it starts in a write (their next
// attempt moves to the end of a lease), so a row being delivered can never
// be started a second time, by this process or, later, by another one
// sharing the database; when a delivery is recorded the next row of its key
// becomes the head in the same transaction.
//
// Each consumer has its own cap on deliveries in flight, so a platform that
// hangs holds back only its own messages, never another consumer's page.
type Dispatcher struct {
	store     *store.Store
	clock     clock.Clock
	log       *slog.Logger
	consumers map[string]Consumer
	// owner names this dispatcher's leases.
	owner string

	// BaseBackoff is the wait after the first failure; it doubles with
	// each attempt up to MaxBackoff, with ±20% jitter.
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// MaxAge: a message still undelivered this long after it was written
	// is given up (state dead) and logged.
	MaxAge time.Duration
	// PerConsumer caps deliveries in flight per consumer.
	PerConsumer int
	// MaxBatch bounds how many messages a BatchConsumer gets at once.
	MaxBatch int
	// Timeout bounds one delivery attempt. A claim lasts Timeout plus a
	// minute: a process that dies mid-delivery loses its claims then.
	Timeout time.Duration
	// Sole says this is the only dispatcher of its database (SQLite: one
	// process per file), so a lease found at the first dispatch belongs
	// to a process that is gone, and its rows are due again at once.
	// Without it such rows wait for their lease to run out, which is what
	// dispatchers sharing a database need.
	Sole bool
	// Dead, if set, hears of every message given up, after it is recorded,
	// so the domain can say so where people look.
	Dead func(ctx context.Context, m Message, err error)

	wake chan struct{}

	mu sync.Mutex
	// names are the consumers claimed for: those registered and, found
	// once at the first dispatch, any with pending rows left over from an
	// earlier configuration (delivered to a permanent failure).
	names   []string
	started bool
	busy    map[string]int // consumer -> deliveries in flight
	// urgent counts the deliveries in flight whose head is urgent.
	urgent map[string]int
	limits map[string]int // consumer -> its own cap, instead of PerConsumer
	// background are the consumers that yield (see Background), after
	// those that wait for another (see After).
	background map[string]bool
	after      map[string]string
	inflight   int
	idle       *sync.Cond
	// running counts delivery goroutines, for Run to wait on.
	running sync.WaitGroup
	// hint is the earliest due time heard of through DueAt and retries;
	// sleepUntil is when the sleeping loop plans to wake.
	hint       time.Time
	hintSet    bool
	sleepUntil time.Time
	// heard says a due time was heard of since the database was last
	// asked for the next one: the hint keeps only the earliest, so the
	// next idle round asks again rather than trust an answer from before.
	heard bool

	deliveries *prometheus.CounterVec
}

// NewDispatcher returns a dispatcher with no consumers. reg may be nil.
func NewDispatcher(s *store.Store, c clock.Clock, log *slog.Logger, reg prometheus.Registerer) *Dispatcher {
	var id [6]byte
	_, _ = rand.Read(id[:])
	d := &Dispatcher{
		store:       s,
		clock:       c,
		log:         log,
		consumers:   map[string]Consumer{},
		owner:       hex.EncodeToString(id[:]),
		BaseBackoff: 2 * time.Second,
		MaxBackoff:  10 * time.Minute,
		MaxAge:      48 * time.Hour,
		PerConsumer: 128,
		MaxBatch:    500,
		Timeout:     15 * time.Second,
		wake:        make(chan struct{}, 1),
		busy:        map[string]int{},
		urgent:      map[string]int{},
		limits:      map[string]int{},
		background:  map[string]bool{},
		after:       map[string]string{},
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

// Register adds a consumer under the name subscriptions use, or replaces
// the one of that name. It is safe while dispatching: a configuration
// reload adds and changes outgoing webhooks so.
func (d *Dispatcher) Register(name string, c Consumer) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.consumers[name] = c
	if !slices.Contains(d.names, name) {
		d.names = append(d.names, name)
	}
}

// Limit caps consumer name's deliveries in flight at n instead of
// PerConsumer: more for one that mostly waits on a slow endpoint (an AI),
// fewer for one that must not crowd the others.
func (d *Dispatcher) Limit(name string, n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.limits[name] = n
}

// Background marks consumer name as work that yields to the rest (a
// triage, a chart): while another consumer is pressed with urgent work
// (half its slots or more busy with urgent deliveries, or every free one
// just claimed by urgent rows: a storm's rooms and pages), the background
// consumers together have one delivery in flight at most, so they still
// move, slowly, and take a core from the pages at most. Routine work
// (the lines of a room, the triage's own messages) presses nothing: a
// background consumer does not wait behind what it itself queued.
func (d *Dispatcher) Background(name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.background[name] = true
}

// After makes background consumer name wait for background consumer
// first: while first has a delivery in flight or just claimed, name
// claims none. A triage's chart comes after the triages of a burst, so
// drawing pictures does not take the CPU from the summaries.
func (d *Dispatcher) After(name, first string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.background[name] = true
	d.after[name] = first
}

// Unregister removes a consumer, as a reload does an outgoing webhook no
// longer configured: its pending rows are given up, each said so once, as
// those of a consumer left over from an earlier configuration at start.
func (d *Dispatcher) Unregister(name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.consumers, name)
}

// consumer returns the consumer of a name.
func (d *Dispatcher) consumer(name string) (Consumer, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, ok := d.consumers[name]
	return c, ok
}

// Wake makes the loop look for work now.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// delivery is one claimed head and, for a BatchConsumer, the claimed rows
// queued behind it.
type delivery struct {
	consumer    string
	orderingKey string
	msgs        []Message
	// urgent says the head was claimed as urgent (priority 1).
	urgent bool
}

const claimColumns = `id, consumer, kind, ordering_key, idempotency_key, payload, attempts, created_at`

func scanClaimed(rows *sql.Rows) ([]Message, []string, error) {
	defer rows.Close()
	var ms []Message
	var keys []string
	for rows.Next() {
		var m Message
		var key string
		var created int64
		if err := rows.Scan(&m.ID, &m.Consumer, &m.Kind, &key, &m.IdempotencyKey, &m.Payload, &m.Attempt, &created); err != nil {
			return nil, nil, fmt.Errorf("scan outbox row: %w", err)
		}
		m.Attempt++
		m.CreatedAt = time.UnixMilli(created)
		ms = append(ms, m)
		keys = append(keys, key)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("read outbox rows: %w", err)
	}
	return ms, keys, nil
}

// begin runs once, before the first claim: a Sole dispatcher releases the
// leases of the process before it, and pending rows of consumers no longer
// configured are found, to be given up rather than kept forever.
func (d *Dispatcher) begin(ctx context.Context) error {
	d.mu.Lock()
	started := d.started
	d.mu.Unlock()
	if started {
		return nil
	}
	if d.Sole {
		now := d.clock.Now().UnixMilli()
		if err := d.store.Write(ctx, func(tx *store.Tx) error {
			_, err := tx.Exec(`UPDATE outbox SET next_attempt_at = ?, lease_owner = '' WHERE state = 'pending' AND lease_owner != ''`, now)
			return err
		}); err != nil {
			return fmt.Errorf("release outbox leases of an earlier process: %w", err)
		}
	}
	rows, err := d.store.Read().QueryContext(ctx, `SELECT DISTINCT consumer FROM outbox WHERE state = 'pending' AND head = 1`)
	if err != nil {
		return fmt.Errorf("list outbox consumers: %w", err)
	}
	var found []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			rows.Close()
			return fmt.Errorf("list outbox consumers: %w", err)
		}
		found = append(found, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list outbox consumers: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range found {
		if !slices.Contains(d.names, c) {
			d.names = append(d.names, c)
		}
	}
	d.started = true
	return nil
}

// claimQuery claims up to a number of a consumer's due heads of one
// priority, in the order given (next_attempt_at, id ASC or DESC).
func claimQuery(order string) string {
	return `UPDATE outbox SET next_attempt_at = ?, lease_owner = ?
		WHERE id IN (SELECT id FROM outbox
			WHERE consumer = ? AND priority = ? AND state = 'pending' AND head = 1 AND next_attempt_at <= ?
			ORDER BY ` + order + ` LIMIT ?)
		RETURNING ` + claimColumns
}

// claimOrder is the order in which a consumer's free delivery slots are
// filled. Urgent heads (a new incident's room, a page) come first, and of
// them the newest take half the slots: behind a storm's thousands of
// urgent rows, the incident that just opened still goes out at once. The
// oldest take the other half, so no urgent row starves while new ones keep
// coming. Routine rows (updates) go oldest first.
var claimOrder = []struct {
	priority int
	share    bool // take half of the free slots, not all
	query    string
}{
	{1, true, claimQuery("next_attempt_at DESC, id DESC")},
	{1, false, claimQuery("next_attempt_at, id")},
	{0, false, claimQuery("next_attempt_at, id")},
}

// startDue claims and starts the due heads of every consumer with room
// for more deliveries. It returns how many deliveries it started.
func (d *Dispatcher) startDue(ctx context.Context) (int, error) {
	if err := d.begin(ctx); err != nil {
		return 0, err
	}
	d.mu.Lock()
	room := map[string]int{}
	pressed := false
	var names, background []string
	for _, name := range d.names {
		limit, ok := d.limits[name]
		if !ok {
			limit = d.PerConsumer
		}
		if free := limit - d.busy[name]; free > 0 {
			room[name] = free
		}
		if d.background[name] {
			background = append(background, name)
			continue
		}
		names = append(names, name)
		pressed = pressed || d.urgent[name]*2 >= limit
	}
	// backgroundBusy is the background deliveries in flight, and those
	// claimed below as they are.
	busyBackground, backgroundBusy := map[string]int{}, 0
	for _, name := range background {
		busyBackground[name] = d.busy[name]
		backgroundBusy += d.busy[name]
	}
	after := maps.Clone(d.after)
	d.mu.Unlock()
	// The background consumers come last, to know whether the rest are
	// pressed, and of them those that wait for another after it.
	slices.SortStableFunc(background, func(a, b string) int {
		_, wa := after[a]
		_, wb := after[b]
		switch {
		case wa == wb:
			return 0
		case wb:
			return -1
		}
		return 1
	})
	names = append(names, background...)
	if len(room) == 0 {
		return 0, nil
	}
	now := d.clock.Now()
	lease := now.Add(d.Timeout + time.Minute).UnixMilli()
	var claimed []delivery
	err := d.store.Write(ctx, func(tx *store.Tx) error {
		claimed = claimed[:0]
		pressedNow := pressed
		for _, name := range names {
			free := room[name]
			_, isBackground := busyBackground[name]
			if isBackground && pressedNow {
				free = max(0, min(free, 1-backgroundBusy))
			}
			if first, ok := after[name]; ok && busyBackground[first] > 0 {
				free = 0
			}
			for _, pass := range claimOrder {
				if free == 0 {
					break
				}
				n := free
				if pass.share {
					n = (free + 1) / 2
				}
				rows, err := tx.Query(pass.query, lease, d.owner, name, pass.priority, now.UnixMilli(), n)
				if err != nil {
					return fmt.Errorf("claim due outbox rows of %s: %w", name, err)
				}
				ms, keys, err := scanClaimed(rows)
				if err != nil {
					return err
				}
				for i, m := range ms {
					claimed = append(claimed, delivery{consumer: name, orderingKey: keys[i], msgs: []Message{m}, urgent: pass.priority == 1})
				}
				free -= len(ms)
				if isBackground {
					backgroundBusy += len(ms)
					busyBackground[name] += len(ms)
				}
				if !isBackground && pass.priority == 1 && free == 0 {
					pressedNow = true // every free slot taken by urgent rows: more may be waiting
				}
			}
		}
		for i := range claimed {
			c, _ := d.consumer(claimed[i].consumer)
			if _, ok := c.(BatchConsumer); !ok || claimed[i].orderingKey == "" {
				continue
			}
			more, err := d.claimFollowers(tx, claimed[i], now, lease)
			if err != nil {
				return err
			}
			claimed[i].msgs = append(claimed[i].msgs, more...)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	// RETURNING gives no order; start each consumer's deliveries oldest
	// first, which is what a test reading them one by one sees.
	slices.SortFunc(claimed, func(a, b delivery) int { return int(a.msgs[0].ID - b.msgs[0].ID) })
	d.mu.Lock()
	for _, c := range claimed {
		d.busy[c.consumer]++
		if c.urgent {
			d.urgent[c.consumer]++
		}
		d.inflight++
		d.running.Add(1)
		go d.deliver(ctx, c)
	}
	d.mu.Unlock()
	return len(claimed), nil
}

// claimFollowers claims the rows queued behind a claimed head of a batch
// consumer, in key order: those due, and those never tried that wait only
// to be gathered (see Subscription.Gather). It stops at the first in a
// backoff, so none is delivered ahead of one before it.
func (d *Dispatcher) claimFollowers(tx *store.Tx, head delivery, now time.Time, lease int64) ([]Message, error) {
	rows, err := tx.Query(`SELECT id, next_attempt_at, attempts FROM outbox
		WHERE consumer = ? AND ordering_key = ? AND state = 'pending' AND id > ?
		ORDER BY id LIMIT ?`, head.consumer, head.orderingKey, head.msgs[0].ID, d.MaxBatch-1)
	if err != nil {
		return nil, fmt.Errorf("find outbox batch: %w", err)
	}
	var ids []int64
	for rows.Next() {
		var id, next int64
		var attempts int
		if err := rows.Scan(&id, &next, &attempts); err != nil {
			rows.Close()
			return nil, fmt.Errorf("find outbox batch: %w", err)
		}
		if next > now.UnixMilli() && attempts > 0 {
			break
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find outbox batch: %w", err)
	}
	var out []Message
	for _, id := range ids {
		rows, err := tx.Query(`UPDATE outbox SET next_attempt_at = ?, lease_owner = ? WHERE id = ? RETURNING `+claimColumns,
			lease, d.owner, id)
		if err != nil {
			return nil, fmt.Errorf("claim outbox batch: %w", err)
		}
		ms, _, err := scanClaimed(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, ms...)
	}
	return out, nil
}

func (d *Dispatcher) deliver(ctx context.Context, dl delivery) {
	defer func() {
		d.mu.Lock()
		d.busy[dl.consumer]--
		if dl.urgent {
			d.urgent[dl.consumer]--
		}
		d.inflight--
		d.idle.Broadcast()
		d.mu.Unlock()
		d.running.Done()
		d.Wake()
	}()
	c, ok := d.consumer(dl.consumer)
	var err error
	if !ok {
		err = Permanent(fmt.Errorf("no consumer named %q is configured", dl.consumer))
	} else {
		dctx, cancel := context.WithTimeout(ctx, d.Timeout)
		err = safeDeliver(dctx, c, dl.msgs)
		cancel()
	}
	// A finished delivery is recorded even while shutting down: what was
	// sent must not be sent again after the restart.
	if rerr := d.record(context.WithoutCancel(ctx), dl, err); rerr != nil {
		// The rows stay claimed until the lease ends, then go out again:
		// at least once.
		d.log.Error("record outbox delivery", "id", dl.msgs[0].ID, "consumer", dl.consumer, "err", rerr)
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

// record writes a delivery's outcome for every row in it, and when the
// rows leave the pending state makes the next row of their key its head,
// all in one transaction.
func (d *Dispatcher) record(ctx context.Context, dl delivery, derr error) error {
	now := d.clock.Now()
	first := dl.msgs[0]
	var later *DeferError
	var perm *permanentError
	var result, update string
	var next int64
	switch {
	case derr == nil:
		result = "delivered"
		update = `UPDATE outbox SET state = 'delivered', attempts = ?, delivered_at = ?, last_error = '', lease_owner = '' WHERE id = ?`
	case errors.As(derr, &later):
		// Not a failure: the attempt is given back and nothing is logged
		// above debug, however long a storm keeps the pace slow.
		result = "deferred"
		next = now.Add(later.After).UnixMilli()
		d.log.Debug("outbox delivery deferred", "id", first.ID, "consumer", dl.consumer, "after", later.After, "why", later.Why)
	case errors.As(derr, &perm) || now.Sub(first.CreatedAt) >= d.MaxAge:
		result = "dead"
		update = `UPDATE outbox SET state = 'dead', attempts = ?, last_error = ?, lease_owner = '' WHERE id = ?`
		d.log.Error("outbox message given up", "id", first.ID, "consumer", dl.consumer, "kind", first.Kind,
			"messages", len(dl.msgs), "attempts", first.Attempt, "err", derr)
	default:
		result = "retry"
		next = now.Add(d.backoff(first.Attempt, derr)).UnixMilli()
		update = `UPDATE outbox SET attempts = ?, last_error = ?, next_attempt_at = ?, lease_owner = '' WHERE id = ?`
		d.log.Warn("outbox delivery failed; will retry", "id", first.ID, "consumer", dl.consumer, "kind", first.Kind,
			"messages", len(dl.msgs), "attempt", first.Attempt, "next_attempt", time.UnixMilli(next), "err", derr)
	}
	d.deliveries.WithLabelValues(dl.consumer, result).Add(float64(len(dl.msgs)))
	if next != 0 {
		d.DueAt(time.UnixMilli(next))
	}
	err := d.store.Write(ctx, func(tx *store.Tx) error {
		for _, m := range dl.msgs {
			var err error
			switch result {
			case "delivered":
				_, err = tx.Exec(update, m.Attempt, now.UnixMilli(), m.ID)
			case "deferred":
				_, err = tx.Exec(`UPDATE outbox SET attempts = ?, next_attempt_at = ?, lease_owner = '' WHERE id = ?`,
					m.Attempt-1, next, m.ID)
			case "dead":
				_, err = tx.Exec(update, m.Attempt, derr.Error(), m.ID)
			default:
				_, err = tx.Exec(update, m.Attempt, derr.Error(), next, m.ID)
			}
			if err != nil {
				return fmt.Errorf("record outbox delivery %d: %w", m.ID, err)
			}
		}
		if (result == "delivered" || result == "dead") && dl.orderingKey != "" {
			if _, err := tx.Exec(`UPDATE outbox SET head = 1 WHERE id = (SELECT id FROM outbox
				WHERE consumer = ? AND ordering_key = ? AND state = 'pending' AND id > ? ORDER BY id LIMIT 1)`,
				dl.consumer, dl.orderingKey, dl.msgs[len(dl.msgs)-1].ID); err != nil {
				return fmt.Errorf("advance outbox key %s: %w", dl.orderingKey, err)
			}
		}
		return nil
	})
	if err == nil && result == "dead" && d.Dead != nil {
		for _, m := range dl.msgs {
			d.Dead(ctx, m, derr)
		}
	}
	return err
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
	jitter := 0.8 + 0.4*mrand.Float64()
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
		for d.inflight > 0 {
			d.idle.Wait()
		}
		d.mu.Unlock()
		if n == 0 {
			return total, nil
		}
	}
}

// NextDue returns when the earliest head not in flight falls due (a claim
// that runs out counts: its row is due again then).
func (d *Dispatcher) NextDue(ctx context.Context) (time.Time, bool, error) {
	d.mu.Lock()
	names := slices.Clone(d.names)
	d.mu.Unlock()
	var earliest int64
	found := false
	for _, name := range names {
		for prio := range 2 {
			var at sql.NullInt64
			err := d.store.Read().QueryRowContext(ctx, `SELECT MIN(next_attempt_at) FROM outbox
				WHERE consumer = ? AND priority = ? AND state = 'pending' AND head = 1`, name, prio).Scan(&at)
			if err != nil {
				return time.Time{}, false, fmt.Errorf("next outbox row of %s: %w", name, err)
			}
			if at.Valid && (!found || at.Int64 < earliest) {
				earliest, found = at.Int64, true
			}
		}
	}
	if !found {
		return time.Time{}, false, nil
	}
	return time.UnixMilli(earliest), true, nil
}

// DueAt tells the dispatcher a row falls due at t (one the publisher held
// back to gather it, see Subscription.Gather), so the loop wakes then
// without asking the database after every commit.
func (d *Dispatcher) DueAt(t time.Time) {
	d.mu.Lock()
	if !d.hintSet || t.Before(d.hint) {
		d.hint, d.hintSet = t, true
	}
	d.heard = true
	// Only a time before the loop's planned wake-up needs it woken. So
	// does one already past while the loop is between sleeps: its round
	// may have claimed before the row's commit and then forget the time
	// as covered (nextHint), and with the database asked less than a
	// second before and nothing pending then, it would sleep a minute.
	wake := t.Before(d.sleepUntil) || (d.sleepUntil.IsZero() && !t.After(d.clock.Now()))
	d.mu.Unlock()
	if wake {
		d.Wake()
	}
}

// takeHeard reports whether a due time was heard of since it was last
// called, and forgets it: the loop asks the database when it was.
func (d *Dispatcher) takeHeard() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	heard := d.heard
	d.heard = false
	return heard
}

// nextHint returns the earliest due time heard of (DueAt, retries),
// forgetting it once a dispatch that began at covered or after it ran.
func (d *Dispatcher) nextHint(covered time.Time) (time.Time, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.hintSet && !d.hint.After(covered) {
		d.hintSet = false
	}
	return d.hint, d.hintSet
}

// Run delivers until ctx ends, then waits for the deliveries in flight:
// they are told to stop, and what they finished is recorded.
func (d *Dispatcher) Run(ctx context.Context) {
	defer d.running.Wait()
	// The database is asked for the next due time at most once a second
	// (rows left by another process, or by this one before a restart);
	// what this process writes, it hears of as it writes it.
	var dbNext time.Time
	var dbOK bool
	var askedAt time.Time
	for {
		// Whatever fell due by began is claimed by this startDue; a time
		// heard of later than began is still to come.
		began := d.clock.Now()
		started, err := d.startDue(ctx)
		if err != nil && ctx.Err() == nil {
			d.log.Error("outbox dispatch", "err", err)
		}
		now := d.clock.Now()
		wait := time.Minute
		if started > 0 {
			// The end of each delivery started wakes the loop. The poll is
			// a floor.
			wait = time.Second
		} else {
			heard := d.takeHeard()
			if askedAt.IsZero() || now.Sub(askedAt) >= time.Second || (dbOK && !dbNext.After(now)) || heard {
				askedAt = now
				at, ok, err := d.NextDue(ctx)
				if err != nil {
					at, ok = now.Add(time.Second), true
				}
				dbNext, dbOK = at, ok
			}
			if dbOK {
				// A head at its consumer's cap looks due; the wake at the
				// end of each delivery covers it, and a second is the floor.
				wait = max(dbNext.Sub(now), 0)
				if wait == 0 {
					wait = time.Second
				}
			}
			if at, ok := d.nextHint(began); ok {
				wait = min(wait, at.Sub(now))
			}
			wait = min(wait, time.Minute)
		}
		if wait <= 0 {
			continue // fell due while this round ran
		}
		d.mu.Lock()
		d.sleepUntil = now.Add(wait)
		hinted := d.hintSet && d.hint.Before(d.sleepUntil)
		d.mu.Unlock()
		if hinted {
			continue // heard of an earlier time while working out this one
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
		d.mu.Lock()
		d.sleepUntil = time.Time{} // awake: DueAt need not wake it
		d.mu.Unlock()
	}
}

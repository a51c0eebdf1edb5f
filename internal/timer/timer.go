// Package timer keeps the bot's durable timers: rows with a due time, armed
// in the same transaction as the state change that needs them, and run by a
// loop that reads the table. A restart loses nothing: the loop starts by
// running whatever fell due while the process was down.
package timer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/oncallbot/bot/internal/clock"
	"github.com/oncallbot/bot/internal/store"
)

// Timer is one due timer handed to its handler.
type Timer struct {
	ID         int64
	Kind       string
	IncidentID int64
	Due        time.Time
	Payload    string
}

// HandlerFunc runs a due timer inside the transaction that deletes it, so
// the timer's effects and its removal commit together. Return an error to
// leave the timer in place for a retry.
type HandlerFunc func(tx *store.Tx, t Timer) error

// Arm schedules a timer of kind for incidentID (0 for a timer of no
// incident) at due. payload is opaque to this package (JSON, by
// convention).
func Arm(tx *store.Tx, kind string, incidentID int64, due time.Time, payload string, now time.Time) error {
	if payload == "" {
		payload = "{}"
	}
	var inc any
	if incidentID != 0 {
		inc = incidentID
	}
	_, err := tx.Exec(`INSERT INTO timers (kind, incident_id, due_at, payload, created_at) VALUES (?, ?, ?, ?, ?)`,
		kind, inc, due.UnixMilli(), payload, now.UnixMilli())
	if err != nil {
		return fmt.Errorf("arm %s timer for incident %d: %w", kind, incidentID, err)
	}
	return nil
}

// Cancel removes the incident's timers of the given kinds, or all of its
// timers when no kind is given. It returns how many it removed.
func Cancel(tx *store.Tx, incidentID int64, kinds ...string) (int64, error) {
	var total int64
	run := func(q string, args ...any) error {
		res, err := tx.Exec(q, args...)
		if err != nil {
			return fmt.Errorf("cancel timers of incident %d: %w", incidentID, err)
		}
		n, _ := res.RowsAffected()
		total += n
		return nil
	}
	if len(kinds) == 0 {
		return total, run(`DELETE FROM timers WHERE incident_id = ?`, incidentID)
	}
	for _, k := range kinds {
		if err := run(`DELETE FROM timers WHERE incident_id = ? AND kind = ?`, incidentID, k); err != nil {
			return total, err
		}
	}
	return total, nil
}

// Runner runs due timers with the handler registered for their kind.
type Runner struct {
	store    *store.Store
	clock    clock.Clock
	log      *slog.Logger
	handlers map[string]HandlerFunc
	wake     chan struct{}
	// retryDelay spaces retries of a timer whose handler failed.
	retryDelay time.Duration

	mu     sync.Mutex
	failed map[int64]time.Time
}

// NewRunner makes a runner; register handlers before Run.
func NewRunner(s *store.Store, c clock.Clock, log *slog.Logger) *Runner {
	return &Runner{
		store:      s,
		clock:      c,
		log:        log,
		handlers:   map[string]HandlerFunc{},
		wake:       make(chan struct{}, 1),
		retryDelay: 10 * time.Second,
		failed:     map[int64]time.Time{},
	}
}

// Handle registers the handler of a timer kind.
func (r *Runner) Handle(kind string, h HandlerFunc) { r.handlers[kind] = h }

// Wake tells the loop that a timer was armed, so it recomputes its next
// wake-up. Call it after the arming transaction commits.
func (r *Runner) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// RunDue runs every timer due at the clock's now and reports how many ran.
// Timers run concurrently, each in its own write, so many due at once share
// the store's group commit instead of paying one fsync each.
func (r *Runner) RunDue(ctx context.Context) (int, error) {
	const page = 256
	ran := 0
	for {
		now := r.clock.Now()
		due, err := r.dueTimers(ctx, now, page)
		if err != nil {
			return ran, err
		}
		var (
			wg sync.WaitGroup
			mu sync.Mutex
			ok int
		)
		sem := make(chan struct{}, 64)
		for _, t := range due {
			if r.backingOff(t.ID, now) {
				continue
			}
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				if err := r.runOne(ctx, t); err != nil {
					if ctx.Err() != nil {
						return // shutting down: the timer stays and runs after the restart
					}
					r.log.Error("timer handler failed; will retry", "timer", t.ID, "kind", t.Kind, "incident", t.IncidentID, "err", err)
					r.mu.Lock()
					r.failed[t.ID] = now.Add(r.retryDelay)
					r.mu.Unlock()
					return
				}
				mu.Lock()
				ok++
				mu.Unlock()
			}()
		}
		wg.Wait()
		ran += ok
		if len(due) < page || ok == 0 {
			return ran, nil
		}
	}
}

func (r *Runner) hasFailed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.failed) > 0
}

func (r *Runner) backingOff(id int64, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	until, ok := r.failed[id]
	if !ok {
		return false
	}
	if now.Before(until) {
		return true
	}
	delete(r.failed, id)
	return false
}

func (r *Runner) dueTimers(ctx context.Context, now time.Time, limit int) ([]Timer, error) {
	rows, err := r.store.Read().QueryContext(ctx,
		`SELECT id, kind, COALESCE(incident_id, 0), due_at, payload FROM timers WHERE due_at <= ? ORDER BY due_at, id LIMIT ?`,
		now.UnixMilli(), limit)
	if err != nil {
		return nil, fmt.Errorf("query due timers: %w", err)
	}
	defer rows.Close()
	var out []Timer
	for rows.Next() {
		var t Timer
		var due int64
		if err := rows.Scan(&t.ID, &t.Kind, &t.IncidentID, &due, &t.Payload); err != nil {
			return nil, fmt.Errorf("scan timer: %w", err)
		}
		t.Due = time.UnixMilli(due).UTC()
		out = append(out, t)
	}
	return out, rows.Err()
}

var errGone = errors.New("timer already gone")

func (r *Runner) runOne(ctx context.Context, t Timer) error {
	err := r.store.Write(ctx, func(tx *store.Tx) error {
		// The delete claims the timer: if a concurrent change cancelled it
		// after our read, there is nothing to run.
		res, err := tx.Exec(`DELETE FROM timers WHERE id = ?`, t.ID)
		if err != nil {
			return fmt.Errorf("claim timer: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errGone
		}
		h, ok := r.handlers[t.Kind]
		if !ok {
			r.log.Warn("dropping timer of unknown kind", "timer", t.ID, "kind", t.Kind)
			return nil
		}
		return h(tx, t)
	})
	if errors.Is(err, errGone) {
		return nil
	}
	return err
}

// next returns when the earliest timer is due, or ok=false when none is.
func (r *Runner) next(ctx context.Context) (time.Time, bool, error) {
	var due sql.NullInt64
	if err := r.store.Read().QueryRowContext(ctx, `SELECT MIN(due_at) FROM timers`).Scan(&due); err != nil {
		return time.Time{}, false, fmt.Errorf("next timer: %w", err)
	}
	if !due.Valid {
		return time.Time{}, false, nil
	}
	return time.UnixMilli(due.Int64), true, nil
}

// Run runs due timers until ctx ends, sleeping on the clock until the next
// one is due or Wake is called.
func (r *Runner) Run(ctx context.Context) {
	for {
		if _, err := r.RunDue(ctx); err != nil && ctx.Err() == nil {
			r.log.Error("run due timers", "err", err)
		}
		wait := time.Minute
		if at, ok, err := r.next(ctx); err != nil {
			if ctx.Err() == nil {
				r.log.Error("find next timer", "err", err)
			}
			wait = time.Second
		} else if ok {
			wait = at.Sub(r.clock.Now())
			if wait <= 0 {
				if !r.hasFailed() {
					continue // fell due since RunDue looked
				}
				// A failed timer stays due; do not spin on it.
				wait = time.Second
			}
		}
		t := r.clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		case <-r.wake:
			t.Stop()
		}
	}
}

// Pending returns the timers of kind not yet run, for a caller that keeps
// one per something (a team's handoff report) and must not arm twice.
func Pending(tx *store.Tx, kind string) ([]Timer, error) {
	rows, err := tx.Query(`SELECT id, kind, COALESCE(incident_id, 0), due_at, payload FROM timers WHERE kind = ? ORDER BY id`, kind)
	if err != nil {
		return nil, fmt.Errorf("list %s timers: %w", kind, err)
	}
	defer rows.Close()
	var out []Timer
	for rows.Next() {
		var t Timer
		var due int64
		if err := rows.Scan(&t.ID, &t.Kind, &t.IncidentID, &due, &t.Payload); err != nil {
			return nil, fmt.Errorf("list %s timers: %w", kind, err)
		}
		t.Due = time.UnixMilli(due).UTC()
		out = append(out, t)
	}
	return out, rows.Err()
}

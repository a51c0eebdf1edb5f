package outbox

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/clock"
	"github.com/oncallbot/bot/internal/store"
)

func quietDispatcher(s *store.Store, c clock.Clock) *Dispatcher {
	return NewDispatcher(s, c, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
}

// counter counts deliveries per idempotency key and says when every key
// it waits for has been delivered at least once.
type counter struct {
	mu    sync.Mutex
	got   map[string]int
	want  int
	done  chan struct{}
	order map[string][]string // ordering key -> idempotency keys, as delivered
}

func newCounter(want int) *counter {
	return &counter{got: map[string]int{}, want: want, done: make(chan struct{}), order: map[string][]string{}}
}

func (c *counter) Deliver(_ context.Context, m Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got[m.IdempotencyKey]++
	// The tests publish each event with its ordering key as its kind.
	c.order[m.Kind] = append(c.order[m.Kind], m.IdempotencyKey)
	if c.got[m.IdempotencyKey] == 1 && len(c.got) == c.want {
		close(c.done)
	}
	return nil
}

// The production loop delivers every message exactly once when nothing
// crashes. The dispatcher before claims read due rows from a snapshot
// taken before a delivery's mark committed and started them again (the
// same page twice, tens of milliseconds apart).
func TestRunDeliversEveryMessageExactlyOnce(t *testing.T) {
	s := openStore(t)
	fc := clock.NewFake(t0)
	d := quietDispatcher(s, fc)
	const keys, perKey = 300, 3
	c := newCounter(keys * perKey)
	d.Register("pages", c)
	p := NewPublisher([]Subscription{{Consumer: "pages"}}, fc, d.Wake)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); d.Run(ctx) }()
	// Published while the loop runs, ten per transaction, as a storm's
	// requests arrive.
	var batch []Event
	for i := range keys {
		for j := range perKey {
			ok := fmt.Sprintf("person/%d", i)
			batch = append(batch, Event{Kind: ok, OrderingKey: ok, IdempotencyKey: fmt.Sprintf("%d/%d", i, j)})
			if len(batch) == 10 {
				publish(t, s, p, batch...)
				batch = nil
			}
		}
	}
	publish(t, s, p, batch...)
	select {
	case <-c.done:
	case <-time.After(30 * time.Second): // a bound on a hang, not a wait for a timer
		t.Fatalf("only %d of %d messages delivered", len(c.got), keys*perKey)
	}
	cancel()
	<-done
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, n := range c.got {
		if n != 1 {
			t.Errorf("message %s delivered %d times", k, n)
		}
	}
	for i := range keys {
		key := fmt.Sprintf("person/%d", i)
		want := []string{key[7:] + "/0", key[7:] + "/1", key[7:] + "/2"}
		if !slices.Equal(c.order[key], want) {
			t.Errorf("key %s delivered in order %v, want %v", key, c.order[key], want)
		}
	}
	var pending int
	if err := s.Read().QueryRow(`SELECT count(*) FROM outbox WHERE state != 'delivered'`).Scan(&pending); err != nil {
		t.Fatal(err)
	}
	if pending != 0 {
		t.Errorf("%d rows not recorded delivered", pending)
	}
}

// blocker holds every delivery until released.
type blocker struct {
	mu      sync.Mutex
	got     []string
	release chan struct{}
}

func (b *blocker) Deliver(ctx context.Context, m Message) error {
	b.mu.Lock()
	b.got = append(b.got, m.IdempotencyKey)
	b.mu.Unlock()
	<-b.release
	return nil
}

func (b *blocker) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.got)
}

func waitIdle(d *Dispatcher) {
	d.mu.Lock()
	for d.inflight > 0 {
		d.idle.Wait()
	}
	d.mu.Unlock()
}

// A claimed row is invisible to every other dispatcher of the database
// until its lease runs out (its holder died, say); then another takes it.
func TestClaimHoldsAcrossDispatchersUntilTheLeaseEnds(t *testing.T) {
	s := openStore(t)
	fc := clock.NewFake(t0)
	ctx := context.Background()
	first := &blocker{release: make(chan struct{})}
	d1 := quietDispatcher(s, fc)
	d1.Register("sms", first)
	second := newCounter(1)
	d2 := quietDispatcher(s, fc)
	d2.Register("sms", second)
	publish(t, s, NewPublisher([]Subscription{{Consumer: "sms"}}, fc, nil),
		Event{Kind: "page", OrderingKey: "person/bob", IdempotencyKey: "k"})

	if n, err := d1.startDue(ctx); err != nil || n != 1 {
		t.Fatalf("first dispatcher started %d (%v), want 1", n, err)
	}
	if n, err := d2.Drain(ctx); err != nil || n != 0 {
		t.Fatalf("second dispatcher started %d (%v) of a claimed row, want 0", n, err)
	}
	fc.Advance(d1.Timeout + time.Minute)
	if n, err := d2.Drain(ctx); err != nil || n != 1 {
		t.Fatalf("after the lease ran out the second dispatcher started %d (%v), want 1", n, err)
	}
	close(first.release)
	waitIdle(d1)
	if r := rowOf(t, s, "k"); r.state != "delivered" {
		t.Errorf("row %+v, want delivered", r)
	}
}

// After a restart the sole dispatcher of a database does not wait out the
// leases of the process before it: their rows go out at once.
func TestSoleDispatcherTakesOverTheLeasesOfTheProcessBefore(t *testing.T) {
	s := openStore(t)
	fc := clock.NewFake(t0)
	ctx := context.Background()
	dead := &blocker{release: make(chan struct{})}
	d1 := quietDispatcher(s, fc)
	d1.Register("sms", dead)
	publish(t, s, NewPublisher([]Subscription{{Consumer: "sms"}}, fc, nil),
		Event{Kind: "page", OrderingKey: "person/bob", IdempotencyKey: "k"})
	if n, err := d1.startDue(ctx); err != nil || n != 1 {
		t.Fatalf("started %d (%v), want 1", n, err)
	}
	d2 := quietDispatcher(s, fc)
	d2.Sole = true
	after := newCounter(1)
	d2.Register("sms", after)
	if n, err := d2.Drain(ctx); err != nil || n != 1 {
		t.Fatalf("the new sole dispatcher started %d (%v), want 1", n, err)
	}
	close(dead.release)
	waitIdle(d1)
}

// batcher records each batch it is handed.
type batcher struct {
	mu      sync.Mutex
	batches [][]string
}

func (b *batcher) Deliver(ctx context.Context, m Message) error {
	return b.DeliverBatch(ctx, []Message{m})
}

func (b *batcher) DeliverBatch(_ context.Context, ms []Message) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var keys []string
	for _, m := range ms {
		keys = append(keys, m.IdempotencyKey)
	}
	b.batches = append(b.batches, keys)
	return nil
}

func TestBatchConsumerGetsItsKeysQueueInOrderUpToMaxBatch(t *testing.T) {
	s := openStore(t)
	fc := clock.NewFake(t0)
	d := quietDispatcher(s, fc)
	d.MaxBatch = 3
	b := &batcher{}
	d.Register("sms", b)
	var events []Event
	for i := 1; i <= 5; i++ {
		events = append(events, Event{Kind: "page", OrderingKey: "person/bob", IdempotencyKey: fmt.Sprint("bob", i)})
	}
	events = append(events, Event{Kind: "page", OrderingKey: "person/carol", IdempotencyKey: "carol1"})
	publish(t, s, NewPublisher([]Subscription{{Consumer: "sms"}}, fc, nil), events...)
	if _, err := d.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(b.batches, func(x, y []string) int {
		if x[0] < y[0] {
			return -1
		}
		return 1
	})
	want := [][]string{{"bob1", "bob2", "bob3"}, {"bob4", "bob5"}, {"carol1"}}
	if fmt.Sprint(b.batches) != fmt.Sprint(want) {
		t.Errorf("batches %v, want %v", b.batches, want)
	}
}

// Unordered events (no ordering key) do not wait for each other.
func TestEventsWithoutAKeyGoOutTogether(t *testing.T) {
	s := openStore(t)
	fc := clock.NewFake(t0)
	ctx := context.Background()
	b := &blocker{release: make(chan struct{})}
	d := quietDispatcher(s, fc)
	d.Register("hook", b)
	publish(t, s, NewPublisher([]Subscription{{Consumer: "hook"}}, fc, nil),
		Event{Kind: "a", IdempotencyKey: "1"}, Event{Kind: "b", IdempotencyKey: "2"})
	if n, err := d.startDue(ctx); err != nil || n != 2 {
		t.Fatalf("started %d (%v), want both at once", n, err)
	}
	close(b.release)
	waitIdle(d)
}

// fill writes n pending rows for the consumer "room", spread over n/10
// ordering keys (ten events per incident, as a storm's room messages
// are), all due, straight into the table.
func fill(b *testing.B, s *store.Store, n int) {
	b.Helper()
	const perTx = 5000
	for start := 0; start < n; start += perTx {
		err := s.Write(context.Background(), func(tx *store.Tx) error {
			for i := start; i < min(start+perTx, n); i++ {
				key := fmt.Sprintf("incident/%d", i/10)
				if _, err := tx.Exec(`INSERT INTO outbox (consumer, kind, ordering_key, idempotency_key, payload, created_at, next_attempt_at, priority, head)
					VALUES ('room', 'alert.firing', ?, ?, x'7b7d', ?, ?, 0, ?)`,
					key, fmt.Sprint("timeline/", i), t0.UnixMilli(), t0.UnixMilli(), i%10 == 0); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDispatchBacklog is the cost of one delivery (claim, deliver to
// a consumer that does nothing, record, advance the key) with a backlog
// of due rows pending, every one of them new and due: the storm case.
// Compare ns/op across sizes: it should not grow with the backlog.
func BenchmarkDispatchBacklog(b *testing.B) {
	for _, pending := range []int{1_000, 500_000} {
		b.Run(fmt.Sprintf("pending=%d", pending), func(b *testing.B) {
			s, err := store.Open(context.Background(), b.TempDir()+"/bot.db", store.Options{
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			fill(b, s, pending+b.N)
			d := quietDispatcher(s, clock.NewFake(t0))
			d.Register("room", ConsumerFunc(func(context.Context, Message) error { return nil }))
			ctx := context.Background()
			b.ResetTimer()
			delivered := 0
			for delivered < b.N {
				n, err := d.startDue(ctx)
				if err != nil {
					b.Fatal(err)
				}
				waitIdle(d)
				delivered += n
			}
		})
	}
}

// Behind a backlog of urgent rows (a storm's new rooms), the newest
// urgent row is started at once, and so is the oldest: half the slots go
// to each end, so nothing starves and nothing new waits for the backlog.
func TestNewestAndOldestUrgentRowsGoFirst(t *testing.T) {
	s := openStore(t)
	fc := clock.NewFake(t0)
	ctx := context.Background()
	b := &blocker{release: make(chan struct{})}
	d := quietDispatcher(s, fc)
	d.PerConsumer = 4
	d.Register("room", b)
	p := NewPublisher([]Subscription{{Consumer: "room"}}, fc, nil)
	for i := range 100 {
		publish(t, s, p, Event{Kind: "incident.triggered", OrderingKey: fmt.Sprint("incident/", i), IdempotencyKey: fmt.Sprint(i), Urgent: true})
		fc.Advance(time.Millisecond)
	}
	publish(t, s, p, Event{Kind: "alert.added", OrderingKey: "incident/x", IdempotencyKey: "routine"})
	if n, err := d.startDue(ctx); err != nil || n != 4 {
		t.Fatalf("started %d (%v), want 4", n, err)
	}
	close(b.release)
	waitIdle(d)
	b.mu.Lock()
	got := slices.Clone(b.got)
	b.mu.Unlock()
	slices.Sort(got)
	if want := []string{"0", "1", "98", "99"}; !slices.Equal(got, want) {
		t.Errorf("started %v, want the two oldest and the two newest urgent rows %v", got, want)
	}
}

// A subscription that gathers holds routine events for a while, so a
// burst reaches a batch consumer as one run; urgent events go at once.
func TestGatheredEventsArriveAsOneRun(t *testing.T) {
	s := openStore(t)
	fc := clock.NewFake(t0)
	ctx := context.Background()
	d := quietDispatcher(s, fc)
	b := &batcher{}
	d.Register("room", b)
	p := NewPublisher([]Subscription{{Consumer: "room", Gather: time.Second}}, fc, nil)
	publish(t, s, p, Event{Kind: "incident.triggered", OrderingKey: "incident/1", IdempotencyKey: "open", Urgent: true})
	if _, err := d.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		publish(t, s, p, Event{Kind: "alert.added", OrderingKey: "incident/1", IdempotencyKey: fmt.Sprint("alert", i)})
		fc.Advance(100 * time.Millisecond)
		if _, err := d.Drain(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if fmt.Sprint(b.batches) != "[[open]]" {
		t.Fatalf("before the gathering time: %v, want only the urgent event", b.batches)
	}
	fc.Advance(600 * time.Millisecond)
	if _, err := d.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	want := "[[open] [alert0 alert1 alert2 alert3 alert4]]"
	if fmt.Sprint(b.batches) != want {
		t.Errorf("batches %v, want %s", b.batches, want)
	}
}

// The production loop wakes for a gathered row when its time comes,
// without a wake from anyone: the publisher told it when.
func TestRunWakesWhenAGatheredRowFallsDue(t *testing.T) {
	s := openStore(t)
	fc := clock.NewFake(t0)
	d := quietDispatcher(s, fc)
	c := newCounter(1)
	d.Register("room", c)
	p := NewPublisher([]Subscription{{Consumer: "room", Gather: time.Second}}, fc, d.Wake)
	p.DueAt = d.DueAt
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	armed := fc.TimerCreated()
	go func() { defer close(done); d.Run(ctx) }()
	<-armed // the loop is asleep
	armed = fc.TimerCreated()
	publish(t, s, p, Event{Kind: "alert.added", OrderingKey: "incident/1", IdempotencyKey: "a"})
	<-armed // woken by the commit, nothing due yet: asleep again
	select {
	case <-c.done:
		t.Fatal("delivered before its gathering time")
	default:
	}
	fc.Advance(time.Second)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second): // a bound on a hang, not a wait for a timer
		t.Fatal("not delivered once its gathering time passed")
	}
	cancel()
	<-done
}

// Two gathered rows heard of while the loop sleeps: the first's time is
// the hint, the second's is later. Once the first is delivered and its
// time forgotten as covered, the loop still plans to wake for the second,
// although the database was asked less than a second before and had
// nothing then. Before, it slept the minute's poll.
func TestRunWakesForTheSecondOfTwoGatheredRows(t *testing.T) {
	s := openStore(t)
	fc := clock.NewFake(t0)
	d := quietDispatcher(s, fc)
	c := newCounter(2)
	d.Register("room", c)
	p := NewPublisher([]Subscription{{Consumer: "room", Gather: 500 * time.Millisecond}}, fc, d.Wake)
	p.DueAt = d.DueAt
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	armed := fc.TimerCreated()
	go func() { defer close(done); d.Run(ctx) }()
	<-armed // asleep, the database asked at t0
	armed = fc.TimerCreated()
	// "a" falls due at t0+500ms: the loop wakes for its time and sleeps
	// until it.
	publish(t, s, p, Event{Kind: "alert.added", OrderingKey: "incident/1", IdempotencyKey: "a"})
	<-armed
	fc.Advance(200 * time.Millisecond)
	// "b" falls due at t0+700ms.
	publish(t, s, p, Event{Kind: "alert.added", OrderingKey: "incident/2", IdempotencyKey: "b"})
	fc.Advance(300 * time.Millisecond)
	// "a" goes out; the loop then sleeps until "b" is due.
	wantWake := t0.Add(700 * time.Millisecond)
	deadline := time.Now().Add(10 * time.Second) // a bound on a hang, not a wait for a timer
	for {
		d.mu.Lock()
		until, inflight, woken := d.sleepUntil, d.inflight, len(d.wake)
		d.mu.Unlock()
		c.mu.Lock()
		first := c.got["a"]
		c.mu.Unlock()
		// Past the round that started "a" (which sleeps at most a second).
		if first == 1 && inflight == 0 && woken == 0 && !until.IsZero() && !until.Equal(t0.Add(1500*time.Millisecond)) {
			if !until.Equal(wantWake) {
				t.Fatalf("the loop sleeps until %v, want %v (when the second row falls due)", until.Sub(t0), wantWake.Sub(t0))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the loop never settled: asleep until %v, %d in flight, a delivered %d times", until.Sub(t0), inflight, first)
		}
		time.Sleep(time.Millisecond)
	}
	fc.Advance(200 * time.Millisecond)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second): // a bound on a hang, not a wait for a timer
		t.Fatal("the second row was not delivered when it fell due")
	}
	cancel()
	<-done
}

// A prompt event (someone waits to read it: a triage) is not held back
// to be gathered, yet a key's order still holds: behind a gathered row of
// its key it waits for that row.
func TestPromptEventsAreNotGathered(t *testing.T) {
	s := openStore(t)
	fc := clock.NewFake(t0)
	ctx := context.Background()
	d := quietDispatcher(s, fc)
	b := &batcher{}
	d.Register("room", b)
	p := NewPublisher([]Subscription{{Consumer: "room", Gather: time.Second}}, fc, nil)
	publish(t, s, p, Event{Kind: "alert.added", OrderingKey: "incident/1", IdempotencyKey: "alert"})
	publish(t, s, p, Event{Kind: "incident.triaged", OrderingKey: "incident/2", IdempotencyKey: "triage2", Prompt: true})
	publish(t, s, p, Event{Kind: "incident.triaged", OrderingKey: "incident/1", IdempotencyKey: "triage1", Prompt: true})
	if _, err := d.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(b.batches) != "[[triage2]]" {
		t.Fatalf("at once: %v, want the prompt event whose key has nothing before it", b.batches)
	}
	fc.Advance(time.Second)
	if _, err := d.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if want := "[[triage2] [alert triage1]]"; fmt.Sprint(b.batches) != want {
		t.Errorf("batches %v, want %s", b.batches, want)
	}
}

// A consumer's own limit replaces PerConsumer for it alone.
func TestAConsumersOwnLimit(t *testing.T) {
	s := openStore(t)
	fc := clock.NewFake(t0)
	ctx := context.Background()
	slow, other := &blocker{release: make(chan struct{})}, &blocker{release: make(chan struct{})}
	d := quietDispatcher(s, fc)
	d.PerConsumer = 4
	d.Register("ai", slow)
	d.Register("room", other)
	d.Limit("ai", 10)
	p := NewPublisher([]Subscription{{Consumer: "ai"}, {Consumer: "room"}}, fc, nil)
	for i := range 20 {
		publish(t, s, p, Event{Kind: "incident.triggered", OrderingKey: fmt.Sprint("incident/", i), IdempotencyKey: fmt.Sprint(i)})
	}
	if n, err := d.startDue(ctx); err != nil || n != 14 {
		t.Fatalf("started %d (%v), want 10 for ai and 4 for room", n, err)
	}
	close(slow.release)
	close(other.release)
	waitIdle(d)
}

// A background consumer yields: while another is pressed with urgent
// work it has one delivery in flight at most; with the rest quiet it has
// its slots.
func TestABackgroundConsumerYields(t *testing.T) {
	s := openStore(t)
	fc := clock.NewFake(t0)
	ctx := context.Background()
	rooms, triage := &blocker{release: make(chan struct{})}, &blocker{release: make(chan struct{})}
	d := quietDispatcher(s, fc)
	d.PerConsumer = 4
	d.Register("room", rooms)
	d.Register("triage", triage)
	d.Background("triage")
	p := NewPublisher([]Subscription{{Consumer: "room", Kinds: []string{"incident.triggered"}}, {Consumer: "triage", Kinds: []string{"incident.triaged"}}}, fc, nil)
	for i := range 10 {
		publish(t, s, p, Event{Kind: "incident.triggered", OrderingKey: fmt.Sprint("incident/", i), IdempotencyKey: fmt.Sprint("open", i), Urgent: true})
		publish(t, s, p, Event{Kind: "incident.triaged", OrderingKey: fmt.Sprint("incident/", i), IdempotencyKey: fmt.Sprint("triage", i)})
	}
	if n, err := d.startDue(ctx); err != nil || n != 5 {
		t.Fatalf("started %d (%v), want the 4 rooms and 1 triage", n, err)
	}
	if n, err := d.startDue(ctx); err != nil || n != 0 {
		t.Fatalf("started %d more (%v) while the rooms are pressed, want none", n, err)
	}
	close(rooms.release)
	waitIdle2(t, d, "room")
	// The rooms drain; with nothing left for them the triage has its slots.
	for range 3 {
		if _, err := d.startDue(ctx); err != nil {
			t.Fatal(err)
		}
		waitIdle2(t, d, "room")
	}
	d.mu.Lock()
	inFlight := d.busy["triage"]
	d.mu.Unlock()
	if inFlight != 4 {
		t.Errorf("triage deliveries in flight = %d with the rooms quiet, want its 4 slots", inFlight)
	}
	close(triage.release)
	waitIdle(d)
}

// Routine work presses nothing: a background consumer keeps its slots
// while the rooms post routine lines (such as the triage's own messages),
// and yields again as soon as urgent rows fill them.
func TestABackgroundConsumerYieldsOnlyToUrgentWork(t *testing.T) {
	cases := []struct {
		name       string
		urgent     bool
		wantTriage int
	}{
		{"routine lines", false, 4},
		{"urgent openings", true, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t)
			fc := clock.NewFake(t0)
			ctx := context.Background()
			rooms, triage := &blocker{release: make(chan struct{})}, &blocker{release: make(chan struct{})}
			d := quietDispatcher(s, fc)
			d.PerConsumer = 4
			d.Register("room", rooms)
			d.Register("triage", triage)
			d.Background("triage")
			p := NewPublisher([]Subscription{{Consumer: "room", Kinds: []string{"incident.line"}}, {Consumer: "triage", Kinds: []string{"incident.triggered"}}}, fc, nil)
			for i := range 10 {
				publish(t, s, p, Event{Kind: "incident.line", OrderingKey: fmt.Sprint("incident/", i), IdempotencyKey: fmt.Sprint("line", i), Urgent: tc.urgent, Prompt: !tc.urgent})
				publish(t, s, p, Event{Kind: "incident.triggered", OrderingKey: fmt.Sprint("incident/", i), IdempotencyKey: fmt.Sprint("open", i)})
			}
			// Twice: the second round sees the rooms' slots all busy.
			for range 2 {
				if _, err := d.startDue(ctx); err != nil {
					t.Fatal(err)
				}
			}
			d.mu.Lock()
			busyRooms, busyTriage := d.busy["room"], d.busy["triage"]
			d.mu.Unlock()
			if busyRooms != 4 || busyTriage != tc.wantTriage {
				t.Errorf("in flight: rooms %d, triage %d; want 4 and %d", busyRooms, busyTriage, tc.wantTriage)
			}
			close(rooms.release)
			close(triage.release)
			waitIdle(d)
		})
	}
}

// While urgent work presses, the background consumers share one slot:
// a triage in flight holds back the chart, not only more triages.
func TestBackgroundConsumersShareOneSlotUnderPressure(t *testing.T) {
	s := openStore(t)
	fc := clock.NewFake(t0)
	ctx := context.Background()
	rooms, triage, charts := &blocker{release: make(chan struct{})}, &blocker{release: make(chan struct{})}, &blocker{release: make(chan struct{})}
	d := quietDispatcher(s, fc)
	d.PerConsumer = 4
	d.Register("room", rooms)
	d.Register("triage", triage)
	d.Register("chart", charts)
	d.Background("triage")
	d.Background("chart")
	p := NewPublisher([]Subscription{
		{Consumer: "room", Kinds: []string{"incident.triggered"}},
		{Consumer: "triage", Kinds: []string{"incident.triggered"}},
		{Consumer: "chart", Kinds: []string{"incident.triggered"}},
	}, fc, nil)
	for i := range 10 {
		publish(t, s, p, Event{Kind: "incident.triggered", OrderingKey: fmt.Sprint("incident/", i), IdempotencyKey: fmt.Sprint("open", i), Urgent: true})
	}
	for range 3 {
		if _, err := d.startDue(ctx); err != nil {
			t.Fatal(err)
		}
	}
	d.mu.Lock()
	busyRooms, background := d.busy["room"], d.busy["triage"]+d.busy["chart"]
	d.mu.Unlock()
	if busyRooms != 4 || background != 1 {
		t.Errorf("in flight: rooms %d, background %d; want 4 and 1", busyRooms, background)
	}
	close(rooms.release)
	close(triage.release)
	close(charts.release)
	waitIdle(d)
}

// A consumer after another claims nothing while the other has work in
// flight or just claimed, pressed or not, and its slots once it has none.
func TestAConsumerAfterAnotherWaitsForIt(t *testing.T) {
	s := openStore(t)
	fc := clock.NewFake(t0)
	ctx := context.Background()
	triage, charts := &blocker{release: make(chan struct{})}, &blocker{release: make(chan struct{})}
	d := quietDispatcher(s, fc)
	d.PerConsumer = 4
	// Registered first, so only the ordering After makes puts it last.
	d.Register("chart", charts)
	d.Register("triage", triage)
	d.Background("triage")
	d.After("chart", "triage")
	p := NewPublisher([]Subscription{{Consumer: "triage", Kinds: []string{"incident.triggered"}}, {Consumer: "chart", Kinds: []string{"incident.triaged"}}}, fc, nil)
	for i := range 2 {
		publish(t, s, p, Event{Kind: "incident.triggered", OrderingKey: fmt.Sprint("incident/", i), IdempotencyKey: fmt.Sprint("open", i)})
		publish(t, s, p, Event{Kind: "incident.triaged", OrderingKey: fmt.Sprint("incident/", i), IdempotencyKey: fmt.Sprint("triaged", i)})
	}
	inFlight := func() (int, int) {
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.busy["triage"], d.busy["chart"]
	}
	for range 2 {
		if _, err := d.startDue(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if tr, ch := inFlight(); tr != 2 || ch != 0 {
		t.Errorf("with the triages due: triage %d, chart %d in flight; want 2 and 0", tr, ch)
	}
	close(triage.release)
	waitIdle2(t, d, "triage")
	if _, err := d.startDue(ctx); err != nil {
		t.Fatal(err)
	}
	if tr, ch := inFlight(); tr != 0 || ch != 2 {
		t.Errorf("with the triages done: triage %d, chart %d in flight; want 0 and 2", tr, ch)
	}
	close(charts.release)
	waitIdle(d)
}

// A due time heard of while the loop is between sleeps, and already past,
// wakes the loop: the round under way may have claimed before that row's
// commit and would otherwise forget the time as covered. A time still to
// come is only kept as a hint.
func TestDueAtBetweenSleepsWakesTheLoopForATimePast(t *testing.T) {
	cases := []struct {
		name  string
		at    time.Duration // from now
		wakes bool
	}{
		{"past", -time.Second, true},
		{"now", 0, true},
		{"to come", time.Second, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fc := clock.NewFake(t0)
			d := quietDispatcher(openStore(t), fc)
			d.DueAt(fc.Now().Add(c.at))
			select {
			case <-d.wake:
				if !c.wakes {
					t.Error("woken for a time still to come")
				}
			default:
				if c.wakes {
					t.Error("not woken for a time already past")
				}
			}
			if at, ok := d.nextHint(fc.Now().Add(-time.Hour)); !ok || !at.Equal(fc.Now().Add(c.at)) {
				t.Errorf("hint = %v %v, want the time heard of", at, ok)
			}
		})
	}
}

// waitIdle2 waits for consumer name's deliveries to end.
func waitIdle2(t *testing.T, d *Dispatcher, name string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second) // a bound on a hang, not a wait for a timer
	for {
		d.mu.Lock()
		n := d.busy[name]
		d.mu.Unlock()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still has %d deliveries in flight", name, n)
		}
		time.Sleep(time.Millisecond)
	}
}

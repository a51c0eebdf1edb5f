package chat

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/clock"
	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/oncall"
	"github.com/oncallbot/bot/internal/outbox"
	"github.com/oncallbot/bot/internal/store"
)

// linkConfig has people with a way to get a code (alice, bob, carol,
// erin, frank), dave without one, and a team with a schedule for the
// executor's who and schedule.
const linkConfig = `
integrations:
  - {name: generic, format: generic, token: gen-secret-gen-secret}
default_route: {team: ops, group_by: [alertname]}
people:
  - {name: alice, time_zone: Europe/London, email: alice@example.com}
  - {name: bob, time_zone: America/New_York, email: bob@example.com}
  - {name: carol, phone: "+15550100"}
  - {name: dave}
  - {name: erin, email: erin@example.com}
  - {name: frank, email: frank@example.com}
teams:
  - {name: ops, members: [alice, bob], leads: [alice], schedule: ops}
schedules:
  - name: ops
    time_zone: Europe/London
    layers:
      - {name: weekly, rotation: weekly, start: "2026-02-23 09:00", participants: [alice, bob]}
`

// linkStart is a Monday, 03:00 UTC.
var linkStart = time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC)

// codeSender keeps the codes the Linker sends, by the account they link.
type codeSender struct {
	mu    sync.Mutex
	codes map[string][]string // "platform/user" -> codes, oldest first
	to    map[string]int      // person -> codes sent
}

var codeIn = regexp.MustCompile(`\b(\d{6})\b`)

func (s *codeSender) Send(_ *store.Tx, _ string, ev outbox.Event) error {
	var p oncall.Page
	if err := json.Unmarshal(ev.Payload, &p); err != nil {
		return err
	}
	// The key is link/<platform>/<user>/<code>.
	parts := strings.Split(ev.IdempotencyKey, "/")
	s.mu.Lock()
	defer s.mu.Unlock()
	account := parts[1] + "/" + parts[2]
	s.codes[account] = append(s.codes[account], codeIn.FindString(p.Text))
	s.to[p.Person.Name]++
	return nil
}

func (s *codeSender) last(platform, user string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.codes[platform+"/"+user]
	if len(c) == 0 {
		return ""
	}
	return c[len(c)-1]
}

func (s *codeSender) count(platform, user string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.codes[platform+"/"+user])
}

type linkFixture struct {
	linker *Linker
	exec   *Executor
	sent   *codeSender
	clock  *clock.Fake
}

func newLinkFixture(t *testing.T) *linkFixture {
	t.Helper()
	cfg, err := config.Parse([]byte(linkConfig))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "bot.db"), store.Options{Logger: log})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	clk := clock.NewFake(linkStart)
	oc, err := oncall.NewService(ctx, st, clk, cfg)
	if err != nil {
		t.Fatal(err)
	}
	sent := &codeSender{codes: map[string][]string{}, to: map[string]int{}}
	l := &Linker{Store: st, Sender: sent, OnCall: oc, Methods: []string{"email", "sms"}, Clock: clk, Log: log}
	e := &Executor{Incidents: &fakeIncidents{}, OnCall: oc, Teams: cfg.Teams, Clock: clk, Links: l}
	return &linkFixture{linker: l, exec: e, sent: sent, clock: clk}
}

// linkStep is one command of a story, typed in the ops team's room.
type linkStep struct {
	// after moves the clock on before the step.
	after    time.Duration
	platform string // "slack" unless set
	user     string
	// line is a link command; "<right>" in it stands for the last code
	// the account was sent.
	line string
	// says is part of the reply; sent, that a code went out.
	says string
	sent bool
}

func runLinkStory(t *testing.T, steps []linkStep) *linkFixture {
	t.Helper()
	f := newLinkFixture(t)
	for i, s := range steps {
		f.clock.Advance(s.after)
		platform := s.platform
		if platform == "" {
			platform = "slack"
		}
		line := strings.ReplaceAll(s.line, "<right>", f.sent.last(platform, s.user))
		before := f.sent.count(platform, s.user)
		reply := f.exec.Run(context.Background(), Request{Platform: platform, PlatformUser: s.user, Team: "ops"}, line)
		after := f.sent.count(platform, s.user)
		if !strings.Contains(reply.Text, s.says) {
			t.Fatalf("step %d, %s:%s %q at %s: reply %q, want it to say %q", i, platform, s.user, line,
				f.clock.Now().Format(time.TimeOnly), reply.Text, s.says)
		}
		if sent := before != after; sent != s.sent {
			t.Fatalf("step %d, %s:%s %q: a code sent = %v, want %v (reply %q)", i, platform, s.user, line, sent, s.sent, reply.Text)
		}
	}
	return f
}

func TestLinkRequestLimits(t *testing.T) {
	const sent = "I sent a code to"
	cases := []struct {
		name  string
		steps []linkStep
	}{
		{"three codes per person an hour, whoever asks, on any platform", []linkStep{
			{user: "U1", line: "link bob", says: sent, sent: true},
			{after: 10 * time.Minute, user: "U2", line: "link bob", says: sent, sent: true},
			{after: 10 * time.Minute, platform: "telegram", user: "501", line: "link @bob", says: sent, sent: true},
			{after: time.Minute, platform: "discord", user: "777", line: "link bob",
				says: "Bob was sent 3 link codes in the last hour, the most the bot sends; try again after Mon 2 Mar 04:00 UTC."},
			{after: time.Minute, user: "U1", line: "link bob", says: "try again after Mon 2 Mar 04:00 UTC"},
			// Others are not held up by bob's limit.
			{user: "U5", line: "link alice", says: sent, sent: true},
			// An hour after the first code there is room for one more.
			{after: 38 * time.Minute, platform: "discord", user: "777", line: "link bob", says: sent, sent: true},
			{platform: "discord", user: "778", line: "link bob", says: "try again after Mon 2 Mar 04:10 UTC"},
		}},
		{"five requests per account an hour, codes sent or not", []linkStep{
			{user: "U1", line: "link ghost", says: `There is no "ghost" in the bot`},
			{user: "U1", line: "link alice", says: sent, sent: true},
			{after: 5 * time.Minute, user: "U1", line: "link dave", says: "no way to send dave a code"},
			{user: "U1", line: "link bob", says: sent, sent: true},
			{user: "U1", line: "link carol", says: "I sent a code to carol by sms", sent: true},
			{after: 90 * time.Second, user: "U1", line: "link erin",
				says: "This account asked for 5 link codes in the last hour, the most the bot takes; try again after Mon 2 Mar 04:00 UTC."},
			// The refusal says nothing of the name: an unknown one is refused alike.
			{user: "U1", line: "link nobody", says: "try again after Mon 2 Mar 04:00 UTC"},
			// The same id on another platform is another account.
			{platform: "telegram", user: "U1", line: "link erin", says: sent, sent: true},
			{user: "U2", line: "link erin", says: sent, sent: true},
			// Asking again while refused does not push the end out.
			{after: 30 * time.Minute, user: "U1", line: "link erin", says: "try again after Mon 2 Mar 04:00 UTC"},
			{after: 23 * time.Minute, user: "U1", line: "link erin", says: "try again after Mon 2 Mar 04:00 UTC"},
			// Past 04:00 the two requests of 03:00 have left the window.
			{after: 5 * time.Minute, user: "U1", line: "link frank", says: sent, sent: true},
			{user: "U1", line: "link frank", says: sent, sent: true},
			// Then the oldest requests left set the time (those of 03:05).
			{user: "U1", line: "link frank", says: "try again after Mon 2 Mar 04:05 UTC"},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runLinkStory(t, c.steps) })
	}
}

func TestLinkFailuresCountAcrossCodes(t *testing.T) {
	wrong := func(after time.Duration, user, person string) linkStep {
		// Should 000000 be the code sent (one chance in a million), the
		// step fails: the reply says "Linked".
		return linkStep{after: after, user: user, line: "link " + person + " 000000", says: "wrong or expired"}
	}
	cases := []struct {
		name  string
		steps []linkStep
	}{
		{"a new code does not reset the count, and the right one is refused once five were wrong", []linkStep{
			{user: "U1", line: "link bob", says: "I sent", sent: true},
			wrong(0, "U1", "bob"), wrong(time.Minute, "U1", "bob"), wrong(time.Minute, "U1", "bob"),
			{after: time.Minute, user: "U1", line: "link bob", says: "I sent", sent: true},
			wrong(time.Minute, "U1", "bob"),
			{after: time.Minute, user: "U1", line: "link bob 000000",
				says: "That code is wrong or expired, and it was the last of the 5 such codes this account may enter for bob in a day; try again after Tue 3 Mar 03:00 UTC."},
			{user: "U1", line: "link bob <right>",
				says: "This account entered 5 codes for bob that were wrong or expired in the last day, the most the bot takes; try again after Tue 3 Mar 03:00 UTC."},
			// Nor is a new code sent to bob for it.
			{after: time.Hour, user: "U1", line: "link bob", says: "try again after Tue 3 Mar 03:00 UTC"},
			// Other accounts, and the account for other people, are not locked out.
			{user: "U2", line: "link bob", says: "I sent", sent: true},
			{user: "U2", line: "link bob <right>", says: "Linked: on slack you are bob"},
			{user: "U1", line: "link alice", says: "I sent", sent: true},
			// Once the wrong codes are a day old, they are forgotten.
			{after: 22 * time.Hour, user: "U1", line: "link bob <right>", says: "try again after Tue 3 Mar 03:00 UTC"},
			{after: time.Hour, user: "U1", line: "link bob", says: "I sent", sent: true},
			{user: "U1", line: "link bob <right>", says: "Linked: on slack you are bob"},
		}},
		{"codes typed for a name count for that name, expired codes too", []linkStep{
			{user: "U1", line: "link bob", says: "I sent", sent: true},
			// bob's code typed for alice is wrong for alice.
			{user: "U1", line: "link alice <right>", says: "wrong or expired"},
			{after: 16 * time.Minute, user: "U1", line: "link bob <right>", says: "wrong or expired"},
			wrong(0, "U1", "alice"), wrong(0, "U1", "alice"), wrong(0, "U1", "alice"),
			{user: "U1", line: "link alice 123456", says: "the last of the 5"},
			// Not counted any more while locked out: the time stays.
			{after: time.Hour, user: "U1", line: "link alice 123456", says: "try again after Tue 3 Mar 03:00 UTC"},
			// bob still takes this account's codes: one of five was wrong.
			{user: "U1", line: "link bob", says: "I sent", sent: true},
			{user: "U1", line: "link bob <right>", says: "Linked"},
		}},
		{"no code at all counts as wrong", []linkStep{
			wrong(0, "U9", "carol"), wrong(0, "U9", "carol"), wrong(0, "U9", "carol"), wrong(0, "U9", "carol"),
			wrong(0, "U9", "carol"),
			{user: "U9", line: "link carol", says: "try again after Tue 3 Mar 03:00 UTC"},
			{platform: "telegram", user: "U9", line: "link carol", says: "I sent", sent: true},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runLinkStory(t, c.steps) })
	}
}

func TestLinkCodesGoNowhereWhenRefused(t *testing.T) {
	f := runLinkStory(t, []linkStep{
		{user: "U1", line: "link bob", says: "I sent", sent: true},
		{user: "U2", line: "link bob", says: "I sent", sent: true},
		{user: "U3", line: "link bob", says: "I sent", sent: true},
		{user: "U4", line: "link bob", says: "try again"},
		{user: "U5", line: "link bob", says: "try again"},
	})
	if n := f.sent.to["bob"]; n != linkCodesPerPerson {
		t.Fatalf("bob was sent %d codes, want %d", n, linkCodesPerPerson)
	}
}

func TestRetryAtRoundsUp(t *testing.T) {
	for _, c := range []struct {
		at   time.Time
		want string
	}{
		{time.Date(2026, 3, 2, 4, 0, 0, 0, time.UTC), "Mon 2 Mar 04:00 UTC"},
		{time.Date(2026, 3, 2, 4, 0, 0, 1, time.UTC), "Mon 2 Mar 04:01 UTC"},
		{time.Date(2026, 3, 2, 23, 59, 30, 0, time.FixedZone("X", 3600)), "Mon 2 Mar 23:00 UTC"},
	} {
		if got := retryAt(c.at); got != c.want {
			t.Errorf("retryAt(%v) = %q, want %q", c.at, got, c.want)
		}
	}
}

package discord

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/oncallbot/bot/internal/chat"
	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/incident"
)

// restCall is one REST call the loopback fake received.
type restCall struct {
	method, path string
	body         map[string]json.RawMessage
}

// loopback is just enough of Discord's REST API for the adapter's sending
// side: it records every call and answers each with a success.
type loopback struct {
	srv   *httptest.Server
	mu    sync.Mutex
	calls []restCall
}

func newLoopback(t *testing.T) *loopback {
	l := &loopback{}
	l.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := strings.TrimPrefix(r.URL.Path, "/api/v9")
		raw, _ := io.ReadAll(r.Body)
		body := map[string]json.RawMessage{}
		if len(raw) > 0 {
			if err := json.Unmarshal(raw, &body); err != nil {
				t.Errorf("%s %s: body is not a JSON object: %s", r.Method, path, raw)
			}
		}
		l.mu.Lock()
		l.calls = append(l.calls, restCall{r.Method, path, body})
		l.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodPut:
			w.WriteHeader(http.StatusNoContent)
		case path == "/channels/900/threads":
			io.WriteString(w, `{"id":"700","type":12}`)
		case path == "/users/@me/channels":
			io.WriteString(w, `{"id":"800","type":1}`)
		default:
			io.WriteString(w, `{"id":"600","channel_id":"700"}`)
		}
	}))
	t.Cleanup(l.srv.Close)
	return l
}

// wantREST is what one call must carry: each named body field as this
// JSON exactly ("" for a field that must be absent).
type wantREST struct {
	method, path string
	body         map[string]string
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Alert content reaches Discord neutralised: every message says whom it
// may ping (allowed_mentions: no one, or exactly the paged people), and
// its text reads as typed, no mention, masked link or markdown.
func TestHostileTitlesReachDiscordInert(t *testing.T) {
	const zw = "\u200b"
	tests := []struct {
		name, title string
		escaped     string // the title as Discord must receive it
	}{
		{"everyone", "@everyone db1 down", "@" + zw + "everyone db1 down"},
		{"here", "@here now", "@" + zw + "here now"},
		{"user", "<@222> look", `\<@` + zw + `222\> look`},
		{"nickname user", "<@!222>", `\<@` + zw + `!222\>`},
		{"role", "<@&333> paged", `\<@` + zw + `&333\> paged`},
		{"channel", "join <#444>", `join \<#444\>`},
		{"command", "</oncall:1> run", `\</oncall:1\> run`},
		{"masked link", "[Click to fix](https://evil.example)", `\[Click to fix\](https://evil.example)`},
		{"markdown", "||secret|| **bold** `code` ~~x~~ _i_", `\|\|secret\|\| \*\*bold\*\* \` + "`" + `code\` + "`" + ` \~\~x\~\~ \_i\_`},
		{"backslash", `a\b`, `a\\b`},
		{"a link stays whole", "see https://runbooks.example/disk_full_*now*", `see https://runbooks.example/disk_full_*now*`},
		{"headings and quotes", "up\n# BIG\n-# small\n> quote #1", "up\n\\# BIG\n\\-# small\n\\> quote #1"},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newLoopback(t)
			p, err := New("test-token", fake.srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			inc := incident.Incident{ID: 1, Title: tt.title, Team: "ops", Status: incident.StatusTriggered}
			alice := chat.Member{Name: "alice", PlatformID: "111"}

			room, err := p.OpenRoom(ctx, inc, config.Team{Name: "ops", Rooms: config.Rooms{Discord: "900"}}, []chat.Member{alice})
			if err != nil {
				t.Fatal(err)
			}
			card := chat.NewCard(inc, nil)
			id, err := p.PostCard(ctx, room, card)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.UpdateCard(ctx, room, id, card); err != nil {
				t.Fatal(err)
			}
			if err := p.Post(ctx, room, "Note by bob: "+tt.title); err != nil {
				t.Fatal(err)
			}
			if err := p.Summon(ctx, room, []chat.Member{alice}, "#1 "+tt.title); err != nil {
				t.Fatal(err)
			}
			digest := chat.NewDigestCard(2, []incident.Incident{inc, {ID: 2, Title: "cpu"}})
			if _, _, err := p.DirectCard(ctx, alice, "[CRITICAL] #1 "+tt.title, digest); err != nil {
				t.Fatal(err)
			}

			sev := strings.ToUpper(card.Severity)
			cardText := "**#1 " + tt.escaped + "**\n \\[" + sev + "\\]\nStatus: triggered\nSeverity: " + card.Severity +
				"\nTeam: ops\nAlerts: 0 firing of 0\nOpened: Mon 1 Jan 00:00 UTC\n"
			digestText := "**2 incidents are paging you**\n \\[" + sev + "\\]\n#1 " + tt.escaped + ": " + card.Severity + "\n#2 cpu: " + card.Severity + "\n"
			none := `{"parse":[],"replied_user":false}`
			want := []wantREST{
				// Names show as typed: Discord renders no markdown and no
				// mention in a thread's name.
				{"POST", "/channels/900/threads", map[string]string{"name": jsonString("#1 " + tt.title), "type": "12"}},
				{"PUT", "/channels/700/thread-members/111", nil},
				{"POST", "/channels/700/messages", map[string]string{"content": jsonString(cardText), "allowed_mentions": none}},
				{"PATCH", "/channels/700/messages/600", map[string]string{"content": jsonString(cardText), "allowed_mentions": none}},
				{"POST", "/channels/700/messages", map[string]string{"content": jsonString("Note by bob: " + tt.escaped), "allowed_mentions": none}},
				{"PUT", "/channels/700/thread-members/111", nil},
				// The bot's own mention stays live, and pings alice alone.
				{"POST", "/channels/700/messages", map[string]string{"content": jsonString("<@111> paged: #1 " + tt.escaped),
					"allowed_mentions": `{"parse":[],"users":["111"],"replied_user":false}`}},
				{"POST", "/users/@me/channels", map[string]string{"recipient_id": `"111"`}},
				{"POST", "/channels/800/messages", map[string]string{"content": jsonString(`\[CRITICAL\] #1 ` + tt.escaped + "\n" + digestText),
					"allowed_mentions": none}},
			}
			fake.mu.Lock()
			got := fake.calls
			fake.mu.Unlock()
			if len(got) != len(want) {
				var calls []string
				for _, c := range got {
					calls = append(calls, c.method+" "+c.path)
				}
				t.Fatalf("Discord received %d calls %v, want %d", len(got), calls, len(want))
			}
			for i, w := range want {
				g := got[i]
				if g.method != w.method || g.path != w.path {
					t.Errorf("call %d is %s %s, want %s %s", i, g.method, g.path, w.method, w.path)
					continue
				}
				for k, v := range w.body {
					if string(g.body[k]) != v {
						t.Errorf("call %d (%s %s): %s = %s, want %s", i, g.method, g.path, k, g.body[k], v)
					}
				}
			}
		})
	}
}

package telegram

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/go-telegram/bot/models"

	"github.com/oncallbot/bot/internal/chat"
	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/incident"
)

// botCall is one Bot API call the loopback fake received.
type botCall struct {
	method string
	form   map[string]string
}

// loopback is just enough of the Bot API for the adapter's sending side:
// it records every call's fields and answers each with a success.
type loopback struct {
	srv   *httptest.Server
	mu    sync.Mutex
	calls []botCall
}

func newLoopback(t *testing.T) *loopback {
	l := &loopback{}
	l.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method, ok := strings.CutPrefix(r.URL.Path, "/bot"+stubToken+"/")
		if !ok {
			http.Error(w, `{"ok":false,"error_code":401,"description":"Unauthorized"}`, http.StatusUnauthorized)
			return
		}
		form := map[string]string{}
		if err := r.ParseMultipartForm(1 << 20); err == nil {
			for k, v := range r.MultipartForm.Value {
				form[k] = v[0]
			}
		}
		l.mu.Lock()
		l.calls = append(l.calls, botCall{method, form})
		l.mu.Unlock()
		switch method {
		case "createForumTopic":
			io.WriteString(w, `{"ok":true,"result":{"message_thread_id":5,"name":"topic"}}`)
		case "sendMessage", "editMessageText":
			io.WriteString(w, `{"ok":true,"result":{"message_id":9,"date":1,"chat":{"id":-100,"type":"supergroup"}}}`)
		default:
			io.WriteString(w, `{"ok":true,"result":true}`)
		}
	}))
	t.Cleanup(l.srv.Close)
	return l
}

// Alert content reaches Telegram as plain text (no parse_mode, so no
// HTML or Markdown in it makes an entity) with the entities Telegram
// would find by itself and that act broken: a @username (which notifies
// that member of the group) and a /command (which, tapped in an
// incident's topic, runs against the incident). The bot's own mention of
// the paged person stays, as a text_mention entity.
func TestHostileTitlesReachTelegramPlain(t *testing.T) {
	const zw = "\u200b"
	tests := []struct {
		name, title string
		escaped     string // the title as Telegram must receive it
	}{
		{"username", "@alice_ops db down", "@" + zw + "alice_ops db down"},
		{"usernames", "(@bob,@carol)", "(@" + zw + "bob,@" + zw + "carol)"},
		{"command", "/resolve now", "/" + zw + "resolve now"},
		{"command in a group", "tap /ack@oncall_bot", "tap /" + zw + "ack@" + zw + "oncall_bot"},
		{"commands in brackets and quotes", `db down (/resolve) "/ack"`, `db down (/` + zw + `resolve) "/` + zw + `ack"`},
		// A tap on /oncall alone runs help: the bot's command stays whole.
		{"the bot's command", "/oncall resolve (/oncall_x, /oncallx)", "/oncall resolve (/" + zw + "oncall_x, /" + zw + "oncallx)"},
		{"html link", `<a href="tg://user?id=42">Click to fix</a>`, `<a href="tg://user?id=42">Click to fix</a>`},
		{"markdown link", "[Click to fix](tg://user?id=42) *bold*", "[Click to fix](tg://user?id=42) *bold*"},
		{"a link stays whole", "see https://mastodon.example/@ops/1 and a/b", "see https://mastodon.example/@ops/1 and a/b"},
		{"email", "mail ops@example.com", "mail ops@" + zw + "example.com"},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newLoopback(t)
			p, err := New(stubToken, fake.srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			inc := incident.Incident{ID: 1, Title: tt.title, Team: "ops", Status: incident.StatusTriggered}
			alice := chat.Member{Name: "alice", PlatformID: "111"}

			room, err := p.OpenRoom(ctx, inc, config.Team{Name: "ops", Rooms: config.Rooms{Telegram: "-100"}}, []chat.Member{alice})
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

			sev := card.Severity
			cardText := "#1 " + tt.escaped + " [" + strings.ToUpper(sev) + "]\nStatus: triggered\nSeverity: " + sev +
				"\nTeam: ops\nAlerts: 0 firing of 0\nOpened: Mon 1 Jan 00:00 UTC\n"
			digestText := "2 incidents are paging you [" + strings.ToUpper(sev) + "]\n#1 " + tt.escaped + ": " + sev + "\n#2 cpu: " + sev + "\n"
			mention, _ := json.Marshal([]models.MessageEntity{{Type: models.MessageEntityTypeTextMention, Offset: 0, Length: 5,
				User: &models.User{ID: 111, FirstName: "alice"}}})
			// No call may ask for a parse mode; only Summon carries entities.
			plain := func(m map[string]string) map[string]string {
				m["parse_mode"] = ""
				if _, ok := m["entities"]; !ok {
					m["entities"] = ""
				}
				return m
			}
			want := []botCall{
				// A topic's name shows as typed: Telegram finds no
				// entities in it, and it notifies no one.
				{"createForumTopic", map[string]string{"chat_id": "-100", "name": "#1 " + tt.title}},
				{"sendMessage", plain(map[string]string{"chat_id": "-100", "message_thread_id": "5", "text": cardText})},
				{"editMessageText", plain(map[string]string{"chat_id": "-100", "message_id": "9", "text": cardText})},
				{"sendMessage", plain(map[string]string{"chat_id": "-100", "message_thread_id": "5", "text": "Note by bob: " + tt.escaped})},
				{"sendMessage", plain(map[string]string{"chat_id": "-100", "message_thread_id": "5", "text": "alice paged: #1 " + tt.escaped,
					"entities": string(mention)})},
				{"sendMessage", plain(map[string]string{"chat_id": "111", "message_thread_id": "", "text": "[CRITICAL] #1 " + tt.escaped + "\n\n" + digestText})},
			}
			fake.mu.Lock()
			got := fake.calls
			fake.mu.Unlock()
			if len(got) != len(want) {
				var methods []string
				for _, c := range got {
					methods = append(methods, c.method)
				}
				t.Fatalf("Telegram received %d calls %v, want %d", len(got), methods, len(want))
			}
			for i, w := range want {
				g := got[i]
				if g.method != w.method {
					t.Errorf("call %d is %s, want %s", i, g.method, w.method)
					continue
				}
				for k, v := range w.form {
					if g.form[k] != v {
						t.Errorf("call %d (%s): %s = %q, want %q", i, g.method, k, g.form[k], v)
					}
				}
			}
		})
	}
}

package slack

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/oncallbot/bot/internal/chat"
	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/incident"
)

// slackCall is one Web API call the loopback fake received.
type slackCall struct {
	method string
	form   url.Values
}

// loopback is just enough of Slack's Web API for the adapter's sending
// side: it records every call and answers each with a success.
type loopback struct {
	srv   *httptest.Server
	mu    sync.Mutex
	calls []slackCall
}

func newLoopback(t *testing.T) *loopback {
	l := &loopback{}
	l.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Errorf("%s: %v", r.URL.Path, err)
		}
		method := strings.TrimPrefix(r.URL.Path, "/")
		l.mu.Lock()
		l.calls = append(l.calls, slackCall{method, r.PostForm})
		l.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch method {
		case "conversations.create", "conversations.invite":
			w.Write([]byte(`{"ok":true,"channel":{"id":"C0INC","name":"inc"}}`))
		case "conversations.open":
			w.Write([]byte(`{"ok":true,"channel":{"id":"D0ALICE"}}`))
		case "chat.postMessage", "chat.update":
			w.Write([]byte(`{"ok":true,"channel":"C0INC","ts":"1700000000.000100"}`))
		case "chat.postEphemeral":
			w.Write([]byte(`{"ok":true,"message_ts":"1700000000.000200"}`))
		default:
			w.Write([]byte(`{"ok":true}`))
		}
	}))
	t.Cleanup(l.srv.Close)
	return l
}

// blockTexts is every text object's text in a message's blocks, as Slack
// renders them.
func blockTexts(t *testing.T, blocks string) []string {
	t.Helper()
	if blocks == "" {
		return nil
	}
	var v any
	if err := json.Unmarshal([]byte(blocks), &v); err != nil {
		t.Fatalf("blocks are not JSON: %v\n%s", err, blocks)
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if typ, _ := v["type"].(string); typ == "mrkdwn" || typ == "plain_text" {
				if s, ok := v["text"].(string); ok {
					out = append(out, s)
				}
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(v)
	return out
}

// wantCall is what one call must carry: each form field exactly ("" for
// a field that must be absent), and a text the blocks must show.
type wantCall struct {
	method    string
	form      map[string]string
	blockText string
}

// Alert content reaches Slack escaped in every field it renders (the
// top-level text that notifications and previews show included), so a
// hostile title neither mentions anyone nor disguises a link; the bot's
// own mention of the paged person still works.
func TestHostileTitlesReachSlackEscaped(t *testing.T) {
	tests := []struct {
		name, title string
		escaped     string // the title as Slack must receive it
		channel     string // the incident's channel name
	}{
		{"channel mention", "<!channel> db down", "&lt;!channel&gt; db down", "inc-1-channel-db-down"},
		{"here mention", "<!here|here> now", "&lt;!here|here&gt; now", "inc-1-here-here-now"},
		{"everyone mention", "<!everyone>", "&lt;!everyone&gt;", "inc-1-everyone"},
		{"user mention", "<@U0CAROL> look", "&lt;@U0CAROL&gt; look", "inc-1-u0carol-look"},
		{"channel link", "join <#C0SECRET>", "join &lt;#C0SECRET&gt;", "inc-1-join-c0secret"},
		{"user group", "<!subteam^S0ONCALL>", "&lt;!subteam^S0ONCALL&gt;", "inc-1-subteam-s0oncall"},
		{"disguised link", "<@U0CAROL> <https://evil.example|Click to fix>", "&lt;@U0CAROL&gt; &lt;https://evil.example|Click to fix&gt;",
			"inc-1-u0carol-https-evil-example-click-to-fix"},
		{"escaped already", "&lt;!channel&gt; & co", "&amp;lt;!channel&amp;gt; &amp; co", "inc-1-lt-channel-gt-co"},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newLoopback(t)
			p := New("xoxb-test", fake.srv.URL, true)
			inc := incident.Incident{ID: 1, Title: tt.title, Team: "ops", Status: incident.StatusTriggered}
			alice := chat.Member{Name: "alice", PlatformID: "U0ALICE"}

			room, err := p.OpenRoom(ctx, inc, config.Team{Name: "ops"}, []chat.Member{alice})
			if err != nil {
				t.Fatal(err)
			}
			card := chat.NewCard(inc, nil)
			ts, err := p.PostCard(ctx, room, card)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.UpdateCard(ctx, room, ts, card); err != nil {
				t.Fatal(err)
			}
			room.Thread = ts
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
			if err := p.Ephemeral(ctx, "C0INC", "U0BOB", "Acknowledged #1 "+tt.title); err != nil {
				t.Fatal(err)
			}

			// Slack turns a plain @channel into a mention only when asked
			// to (link_names, parse=full): no message may ask.
			plain := map[string]string{"link_names": "", "parse": ""}
			with := func(m map[string]string) map[string]string {
				for k, v := range plain {
					m[k] = v
				}
				return m
			}
			want := []wantCall{
				{"conversations.create", map[string]string{"name": tt.channel, "is_private": "true"}, ""},
				{"conversations.invite", map[string]string{"channel": "C0INC", "users": "U0ALICE"}, ""},
				{"chat.postMessage", with(map[string]string{"channel": "C0INC", "text": "#1 " + tt.escaped, "thread_ts": ""}), "*#1 " + tt.escaped + "*"},
				{"pins.add", map[string]string{"channel": "C0INC", "timestamp": ts}, ""},
				{"chat.update", with(map[string]string{"channel": "C0INC", "ts": ts, "text": "#1 " + tt.escaped}), "*#1 " + tt.escaped + "*"},
				{"chat.postMessage", with(map[string]string{"channel": "C0INC", "thread_ts": ts, "text": "Note by bob: " + tt.escaped, "blocks": ""}), ""},
				{"conversations.invite", map[string]string{"channel": "C0INC", "users": "U0ALICE"}, ""},
				// The bot's own mention stays markup; the content after it does not.
				{"chat.postMessage", with(map[string]string{"channel": "C0INC", "thread_ts": ts, "text": "<@U0ALICE> paged: #1 " + tt.escaped, "blocks": ""}), ""},
				{"conversations.open", map[string]string{"users": "U0ALICE"}, ""},
				{"chat.postMessage", with(map[string]string{"channel": "D0ALICE", "text": "[CRITICAL] #1 " + tt.escaped}), "*#1 " + tt.escaped + "*\n"},
				{"chat.postEphemeral", with(map[string]string{"channel": "C0INC", "user": "U0BOB", "text": "Acknowledged #1 " + tt.escaped}), ""},
			}
			fake.mu.Lock()
			got := fake.calls
			fake.mu.Unlock()
			if len(got) != len(want) {
				var methods []string
				for _, c := range got {
					methods = append(methods, c.method)
				}
				t.Fatalf("Slack received %d calls %v, want %d", len(got), methods, len(want))
			}
			for i, w := range want {
				g := got[i]
				if g.method != w.method {
					t.Errorf("call %d is %s, want %s", i, g.method, w.method)
					continue
				}
				for k, v := range w.form {
					if g.form.Get(k) != v {
						t.Errorf("call %d (%s): %s = %q, want %q", i, g.method, k, g.form.Get(k), v)
					}
				}
				texts := blockTexts(t, g.form.Get("blocks"))
				if w.blockText != "" && !containsPrefix(texts, w.blockText) {
					t.Errorf("call %d (%s): no block text starts %q in %q", i, g.method, w.blockText, texts)
				}
				// < and > open every Slack control sequence: in blocks,
				// which carry nothing of the bot's own markup, none is left.
				for _, s := range texts {
					if strings.ContainsAny(s, "<>") {
						t.Errorf("call %d (%s): block text %q is not escaped", i, g.method, s)
					}
				}
			}
		})
	}
}

// containsPrefix says whether one of ss starts with prefix.
func containsPrefix(ss []string, prefix string) bool {
	for _, s := range ss {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

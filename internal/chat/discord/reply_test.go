package discord

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/chat"
	"github.com/oncallbot/bot/internal/clock"
)

// zw is the zero-width space escapeMarkdown puts after an @.
const zw = "\u200b"

// hostile are words that Discord would read as a mention, a masked link
// or markdown, each with what Discord must receive instead.
var hostile = []struct{ name, text, escaped string }{
	{"everyone", "@everyone", "@" + zw + "everyone"},
	{"here", "@here", "@" + zw + "here"},
	{"user", "<@222>", `\<@` + zw + `222\>`},
	{"role", "<@&333>", `\<@` + zw + `&333\>`},
	{"channel", "<#444>", `\<#444\>`},
	{"masked link", "[Click](https://evil.example)", `\[Click\](https://evil.example)`},
	{"markdown", "||**x**||", `\|\|\*\*x\*\*\|\|`},
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// noneAllowed is allowed_mentions that lets nothing ping.
const noneAllowed = `{"parse":[],"replied_user":false}`

// interaction is /oncall <text> typed by user 222 in the team's channel.
func interaction(id, text string) map[string]any {
	return map[string]any{"id": id, "application_id": "2", "type": 2, "token": "itok", "version": 1,
		"channel_id": "900", "guild_id": "3", "member": map[string]any{"user": map[string]any{"id": "222", "username": "u"}},
		"data": map[string]any{"id": "4", "name": "oncall", "type": 1,
			"options": []map[string]any{{"name": "command", "type": 3, "value": text}}}}
}

// wantAnswer checks an interaction response's body: the reply escaped,
// to the asker alone, pinging no one.
func wantAnswer(t *testing.T, body []byte, escaped string) {
	t.Helper()
	var resp struct {
		Type int `json:"type"`
		Data map[string]json.RawMessage
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatalf("answer %s: %v", body, err)
	}
	want := map[string]string{"content": jsonString(`unknown command "` + escaped + `"; try /oncall help`),
		"allowed_mentions": noneAllowed, "flags": "64"}
	if resp.Type != 4 {
		t.Errorf("answer type %d, want 4 (a message)", resp.Type)
	}
	for k, v := range want {
		if got := string(resp.Data[k]); got != v {
			t.Errorf("answer's %s = %s, want %s", k, got, v)
		}
	}
}

// A reply quotes what it was told (here the unknown word of a command):
// the interactions endpoint answers with it escaped and allowed to ping
// no one.
func TestHostileWordsInRepliesReachDiscordInert(t *testing.T) {
	pub, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1700000000, 0)
	in, err := NewInbound(hex.EncodeToString(pub), func() time.Time { return now }, &chat.Executor{},
		func(context.Context, string) (int64, bool) { return 0, false }, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	in.Reload(directoryOf(nil, map[string]string{"900": "ops"}))
	for _, tt := range hostile {
		t.Run(tt.name, func(t *testing.T) {
			body, _ := json.Marshal(interaction("1", tt.text))
			ts := strconv.FormatInt(now.Unix(), 10)
			r := httptest.NewRequest(http.MethodPost, "/discord/interactions", strings.NewReader(string(body)))
			r.Header.Set("X-Signature-Timestamp", ts)
			r.Header.Set("X-Signature-Ed25519", hex.EncodeToString(ed25519.Sign(key, append([]byte(ts), body...))))
			w := httptest.NewRecorder()
			in.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				t.Fatalf("answered %d %s", w.Code, w.Body)
			}
			wantAnswer(t, w.Body.Bytes(), tt.escaped)
		})
	}
}

// Over the gateway, the answer goes to the REST callback as it would go
// back over HTTP: escaped and allowed to ping no one.
func TestHostileWordsInGatewayRepliesReachDiscordInert(t *testing.T) {
	tg := newTestGateway(t)
	in := newTestInbound(t)
	in.Reload(directoryOf(map[string]string{"111": "alice"}, map[string]string{"900": "ops"}))
	g, err := NewGateway(in, "tok", tg.srv.URL, clock.NewFake(time.Now()), quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer run(t, g)()
	ws := tg.accept(t)
	send(t, ws, 10, "", 0, map[string]any{"heartbeat_interval": 41250})
	identify(t, ws)
	send(t, ws, 0, "READY", 1, map[string]any{"v": 10, "session_id": "s1", "user": map[string]any{"id": "9", "username": "bot"}})
	escaped := map[string]string{} // interaction id -> the word as Discord must receive it
	for i, tt := range hostile {
		id := fmt.Sprint(501 + i)
		escaped[id] = tt.escaped
		send(t, ws, 0, "INTERACTION_CREATE", 2+i, interaction(id, tt.text))
	}
	// Interactions are answered side by side: callbacks come in any order.
	for range hostile {
		select {
		case cb := <-tg.callbacks:
			path, body, _ := strings.Cut(cb, " ")
			id, _, _ := strings.Cut(path, "/")
			want, ok := escaped[id]
			if !ok {
				t.Fatalf("callback to %s: no such interaction", path)
			}
			delete(escaped, id)
			wantAnswer(t, []byte(body), want)
		case <-time.After(wait):
			t.Fatalf("no callback for %d interactions", len(escaped))
		}
	}
}

// A page to a team's channel mentions @here, the bot's own markup, and
// allows that kind of mention alone: nothing its text names pings or
// shows as a mention.
func TestAlertRoomMentionsHereAlone(t *testing.T) {
	for _, tt := range hostile {
		t.Run(tt.name, func(t *testing.T) {
			fake := newLoopback(t)
			p, err := New("test-token", fake.srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.AlertRoom(context.Background(), chat.Room{ID: "900"}, "[CRITICAL] #1 "+tt.text+" (team ops)."); err != nil {
				t.Fatal(err)
			}
			fake.mu.Lock()
			calls := fake.calls
			fake.mu.Unlock()
			if len(calls) != 1 || calls[0].method != http.MethodPost || calls[0].path != "/channels/900/messages" {
				t.Fatalf("Discord received %+v, want one message to the team's channel", calls)
			}
			for k, v := range map[string]string{
				"content":          jsonString(`@here \[CRITICAL\] #1 ` + tt.escaped + " (team ops)."),
				"allowed_mentions": `{"parse":["everyone"],"replied_user":false}`,
			} {
				if got := string(calls[0].body[k]); got != v {
					t.Errorf("%s = %s, want %s", k, got, v)
				}
			}
		})
	}
}

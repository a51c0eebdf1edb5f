package telegram

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/go-telegram/bot/models"

	"github.com/oncallbot/bot/internal/chat"
)

// sentTo records the chats the bot sent messages to, with their texts.
type sentTo struct {
	mu   sync.Mutex
	msgs map[string][]string // chat_id -> texts
}

func (s *sentTo) serve(w http.ResponseWriter, r *http.Request) {
	r.ParseMultipartForm(1 << 20)
	if strings.HasSuffix(r.URL.Path, "/sendMessage") {
		s.mu.Lock()
		s.msgs[r.FormValue("chat_id")] = append(s.msgs[r.FormValue("chat_id")], r.FormValue("text"))
		s.mu.Unlock()
		io.WriteString(w, `{"ok":true,"result":{"message_id":1,"date":1,"chat":{"id":1,"type":"private"}}}`)
		return
	}
	io.WriteString(w, `{"ok":true,"result":true}`)
}

// A command counts in a team's forum and in the DM of a person the bot
// knows. A stranger's DM gets the one refusal; a group the config does
// not name gets nothing at all, since any answer there is said to all.
func TestCommandsCountWhereTheBotListens(t *testing.T) {
	const forum, group = int64(-1001), int64(-1002)
	sent := &sentTo{msgs: map[string][]string{}}
	srv := httptest.NewServer(http.HandlerFunc(sent.serve))
	t.Cleanup(srv.Close)
	p, err := New("tok", srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	in := NewInbound("s", &chat.Executor{}, p,
		func(context.Context, string) (int64, bool) { return 0, false }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	in.Reload(directoryOf(map[int64]string{1001: "alice"}, map[int64]string{forum: "ops"}))
	cases := []struct {
		name       string
		user, chat int64
		kind       string
		// answer is part of what the chat was told; "" for nothing.
		answer string
	}{
		{"a stranger in the team's forum", 5001, forum, "supergroup", "Commands"},
		{"alice's DM", 1001, 1001, "private", "Commands"},
		{"a stranger's DM", 5001, 5001, "private", "answers only in its team rooms"},
		{"a stranger in an unknown group", 5001, group, "group", ""},
		{"alice in an unknown group", 1001, group, "supergroup", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var upd models.Update
			b, _ := json.Marshal(map[string]any{"update_id": 1, "message": map[string]any{
				"message_id": 9, "date": 1, "text": "/oncall help",
				"from": map[string]any{"id": c.user, "is_bot": false, "first_name": "U"},
				"chat": map[string]any{"id": c.chat, "type": c.kind}}})
			if err := json.Unmarshal(b, &upd); err != nil {
				t.Fatal(err)
			}
			sent.mu.Lock()
			clear(sent.msgs)
			sent.mu.Unlock()
			in.Handle(context.Background(), &upd)
			sent.mu.Lock()
			defer sent.mu.Unlock()
			got := sent.msgs[jsonInt(c.chat)]
			switch {
			case c.answer == "" && len(sent.msgs) != 0:
				t.Fatalf("sent %v, want nothing", sent.msgs)
			case c.answer != "" && (len(got) != 1 || !strings.Contains(got[0], c.answer) || len(sent.msgs) != 1):
				t.Fatalf("sent %v, want one message to %d saying %q", sent.msgs, c.chat, c.answer)
			}
		})
	}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

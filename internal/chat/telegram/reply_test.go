package telegram

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"

	"github.com/go-telegram/bot/models"

	"github.com/oncallbot/bot/internal/chat"
)

// A reply quotes what it was told (here the unknown word of a command),
// and in a group everyone there reads it: the answer to a command and
// the toast of a press reach Telegram plain, with the entities that act
// broken.
func TestHostileWordsInRepliesReachTelegramPlain(t *testing.T) {
	const zw = "\u200b"
	tests := []struct {
		name, text string
		escaped    string // the word as Telegram must receive it
	}{
		{"username", "@alice_ops", "@" + zw + "alice_ops"},
		{"usernames", "(@bob,@carol)", "(@" + zw + "bob,@" + zw + "carol)"},
		{"email", "ops@example.com", "ops@" + zw + "example.com"},
		{"markdown link", "[Click](tg://user?id=42)", "[Click](tg://user?id=42)"},
		// Quoted (and %q escapes the quotes), a command still.
		{"command in quotes", `"/resolve"`, `\"/` + zw + `resolve\"`},
	}
	// The reply's own "/oncall help" stays whole, to be copied.
	reply := func(word string) string { return `unknown command "` + word + `"; try /oncall help` }
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newLoopback(t)
			p, err := New(stubToken, fake.srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			in := NewInbound("s", &chat.Executor{}, p, func(context.Context, string) (int64, bool) { return 0, false },
				slog.New(slog.NewTextHandler(io.Discard, nil)))
			in.Reload(directoryOf(nil, map[int64]string{-100: "ops"}))
			from := map[string]any{"id": 5001, "is_bot": false, "first_name": "U"}
			// Message 9 in the team forum's topic 5: the command, then the
			// card whose button is pressed.
			msg := func(extra map[string]any) map[string]any {
				m := map[string]any{"message_id": 9, "date": 1, "message_thread_id": 5, "chat": map[string]any{"id": -100, "type": "supergroup"}}
				for k, v := range extra {
					m[k] = v
				}
				return m
			}
			for _, upd := range []map[string]any{
				{"update_id": 1, "message": msg(map[string]any{"text": "/oncall " + tt.text, "from": from})},
				{"update_id": 2, "callback_query": map[string]any{"id": "q1", "from": from, "chat_instance": "c", "data": tt.text, "message": msg(nil)}},
			} {
				b, _ := json.Marshal(upd)
				var u models.Update
				if err := json.Unmarshal(b, &u); err != nil {
					t.Fatal(err)
				}
				in.Handle(context.Background(), &u)
			}

			want := []botCall{
				{"sendMessage", map[string]string{"chat_id": "-100", "message_thread_id": "5", "text": reply(tt.escaped),
					"reply_parameters": `{"message_id":9}`, "parse_mode": "", "entities": ""}},
				{"answerCallbackQuery", map[string]string{"callback_query_id": "q1", "text": reply(tt.escaped), "show_alert": "true"}},
			}
			fake.mu.Lock()
			got := fake.calls
			fake.mu.Unlock()
			if len(got) != len(want) {
				t.Fatalf("Telegram received %+v, want %d calls", got, len(want))
			}
			for i, w := range want {
				if got[i].method != w.method {
					t.Errorf("call %d is %s, want %s", i, got[i].method, w.method)
					continue
				}
				for k, v := range w.form {
					if got[i].form[k] != v {
						t.Errorf("call %d (%s): %s = %q, want %q", i, w.method, k, got[i].form[k], v)
					}
				}
			}
		})
	}
}

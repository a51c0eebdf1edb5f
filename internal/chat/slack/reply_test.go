package slack

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/oncallbot/bot/internal/chat"
)

// hostile are words that Slack would read as a mention or a link, each
// with what Slack must receive instead.
var hostile = []struct{ name, text, escaped string }{
	{"channel mention", "<!channel>", "&lt;!channel&gt;"},
	{"here mention", "<!here>", "&lt;!here&gt;"},
	{"user mention", "<@U0CAROL>", "&lt;@U0CAROL&gt;"},
	{"channel link", "<#C0SECRET>", "&lt;#C0SECRET&gt;"},
	{"user group", "<!subteam^S0ONCALL>", "&lt;!subteam^S0ONCALL&gt;"},
	{"disguised link", "<https://x|y>", "&lt;https://x|y&gt;"},
	{"escaped already", "&lt;!channel&gt;", "&amp;lt;!channel&amp;gt;"},
}

// signed is a request to an Inbound endpoint, signed with secret at now.
func signed(path string, form url.Values, secret string, now time.Time) *http.Request {
	body := form.Encode()
	ts := strconv.FormatInt(now.Unix(), 10)
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("X-Slack-Request-Timestamp", ts)
	r.Header.Set("X-Slack-Signature", Signature([]byte(secret), ts, []byte(body)))
	return r
}

// A reply quotes what it was told (here the unknown word of a command),
// and goes back escaped whichever way it goes: the slash command's HTTP
// answer, the Socket Mode acknowledgement, the private answer to a press.
func TestHostileWordsInRepliesReachSlackEscaped(t *testing.T) {
	const secret = "s3cret"
	now := time.Unix(1700000000, 0)
	for _, tt := range hostile {
		t.Run(tt.name, func(t *testing.T) {
			fake := newLoopback(t)
			in := NewInbound(secret, func() time.Time { return now }, &chat.Executor{}, New("xoxb-test", fake.srv.URL, true),
				func(context.Context, string) (int64, bool) { return 0, false }, quietLog())
			in.Reload(teamRoom("ops", "C0TEAM"))
			want := CommandResponse{ResponseType: "ephemeral", Text: `unknown command "` + tt.escaped + `"; try /oncall help`}

			w := httptest.NewRecorder()
			in.Command(w, signed("/slack/commands", url.Values{"command": {"/oncall"}, "text": {tt.text},
				"user_id": {"U0BOB"}, "channel_id": {"C0TEAM"}}, secret, now))
			var got CommandResponse
			if err := json.Unmarshal(w.Body.Bytes(), &got); w.Code != http.StatusOK || err != nil || got != want {
				t.Errorf("slash command answered %d %s, want %+v", w.Code, w.Body, want)
			}

			// Socket Mode acknowledges the envelope with runCommand's answer.
			if got := commandResponse(in.runCommand(context.Background(), slack.SlashCommand{Text: tt.text, UserID: "U0BOB", ChannelID: "C0TEAM"})); got != want {
				t.Errorf("Socket Mode answer = %+v, want %+v", got, want)
			}

			press, _ := json.Marshal(map[string]any{"type": "block_actions", "user": map[string]any{"id": "U0BOB"},
				"channel": map[string]any{"id": "C0TEAM"},
				"actions": []map[string]any{{"type": "button", "action_id": "cmd-0", "block_id": "incident-1", "value": tt.text}}})
			w = httptest.NewRecorder()
			in.Interaction(w, signed("/slack/interactions", url.Values{"payload": {string(press)}}, secret, now))
			if w.Code != http.StatusOK {
				t.Fatalf("press answered %d %s", w.Code, w.Body)
			}
			fake.mu.Lock()
			calls := fake.calls
			fake.mu.Unlock()
			if len(calls) != 1 || calls[0].method != "chat.postEphemeral" {
				t.Fatalf("Slack received %+v, want the press's private answer", calls)
			}
			for k, v := range map[string]string{"channel": "C0TEAM", "user": "U0BOB", "text": want.Text, "link_names": "", "parse": ""} {
				if got := calls[0].form.Get(k); got != v {
					t.Errorf("press's answer: %s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

// A page to a team's channel mentions <!here>, the bot's own markup, and
// nothing its text names: everyone active there is notified, no one is
// mentioned by the alert.
func TestAlertRoomMentionsHereAlone(t *testing.T) {
	for _, tt := range hostile {
		t.Run(tt.name, func(t *testing.T) {
			fake := newLoopback(t)
			p := New("xoxb-test", fake.srv.URL, true)
			if err := p.AlertRoom(context.Background(), chat.Room{ID: "C0TEAM"}, "[CRITICAL] #1 "+tt.text+" (team ops)."); err != nil {
				t.Fatal(err)
			}
			fake.mu.Lock()
			calls := fake.calls
			fake.mu.Unlock()
			if len(calls) != 1 || calls[0].method != "chat.postMessage" {
				t.Fatalf("Slack received %+v, want one message", calls)
			}
			for k, v := range map[string]string{"channel": "C0TEAM", "text": "<!here> [CRITICAL] #1 " + tt.escaped + " (team ops).",
				"thread_ts": "", "blocks": "", "link_names": "", "parse": ""} {
				if got := calls[0].form.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

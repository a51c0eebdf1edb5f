package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/oncallbot/bot/internal/chat"
	"github.com/oncallbot/bot/internal/config"
)

func TestSignatureMatchesSlacksPublishedExample(t *testing.T) {
	body, err := os.ReadFile("testdata/slash_command_signed_example_slack_docs.txt")
	if err != nil {
		t.Fatal(err)
	}
	const want = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
	if got := Signature([]byte("8f742231b10e8888abcd99yyyzzz85a5"), "1531420618", body); got != want {
		t.Fatalf("signature = %s, want %s", got, want)
	}
}

func signedRequest(t *testing.T, path string, body []byte, now time.Time) *http.Request {
	r := httptest.NewRequest("POST", path, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("X-Slack-Request-Timestamp", "1531420618")
	r.Header.Set("X-Slack-Signature", "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503")
	return r
}

func TestPublishedExampleIsAcceptedInItsWindowOnly(t *testing.T) {
	body, _ := os.ReadFile("testdata/slash_command_signed_example_slack_docs.txt")
	sent := time.Unix(1531420618, 0)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, c := range []struct {
		now  time.Time
		code int
	}{
		{sent.Add(2 * time.Minute), http.StatusOK},
		{sent.Add(6 * time.Minute), http.StatusUnauthorized},
		{sent.Add(-6 * time.Minute), http.StatusUnauthorized},
	} {
		now := c.now
		in := NewInbound("8f742231b10e8888abcd99yyyzzz85a5", func() time.Time { return now },
			&chat.Executor{}, nil, func(context.Context, string) (int64, bool) { return 0, false }, log)
		in.Reload(teamRoom("ops", "G8PSS9T3V")) // the example's channel, a team's room here
		w := httptest.NewRecorder()
		in.Command(w, signedRequest(t, "/slack/commands", body, now))
		if w.Code != c.code {
			t.Fatalf("at %v after sending: %d %s, want %d", now.Sub(sent), w.Code, w.Body, c.code)
		}
		// The example's command has no text: the answer is the help, privately.
		if c.code == http.StatusOK && (!strings.Contains(w.Body.String(), "Commands") || !strings.Contains(w.Body.String(), "ephemeral")) {
			t.Fatalf("answer = %s", w.Body)
		}
	}
}

func TestURLVerification(t *testing.T) {
	body, err := os.ReadFile("testdata/url_verification_slack_docs.json")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1700000000, 0)
	in := NewInbound("s3cret", func() time.Time { return now }, &chat.Executor{}, nil,
		func(context.Context, string) (int64, bool) { return 0, false }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	r := httptest.NewRequest("POST", "/slack/events", bytes.NewReader(body))
	r.Header.Set("X-Slack-Request-Timestamp", "1700000000")
	r.Header.Set("X-Slack-Signature", Signature([]byte("s3cret"), "1700000000", body))
	w := httptest.NewRecorder()
	in.Events(w, r)
	var ev struct{ Challenge string }
	json.Unmarshal(body, &ev)
	if w.Code != 200 || ev.Challenge == "" || w.Body.String() != ev.Challenge {
		t.Fatalf("url_verification answered %d %q", w.Code, w.Body)
	}
}

func TestChannelName(t *testing.T) {
	cases := map[string]string{
		"Disk full on db1!":      "inc-7-disk-full-on-db1",
		"CPU > 90% @ web-01":     "inc-7-cpu-90-web-01",
		"主机CPU使用率":               "inc-7-cpu",
		strings.Repeat("x", 200): "inc-7-" + strings.Repeat("x", 74),
	}
	for title, want := range cases {
		inc := chatIncident(7, title)
		if got := ChannelName(inc); got != want {
			t.Errorf("ChannelName(%q) = %q, want %q", title, got, want)
		}
	}
}

// A command counts in a team's room, in an incident's channel, and in the
// DM of a person the bot knows; anywhere else it gets the one private
// refusal.
func TestCommandsCountWhereTheBotListens(t *testing.T) {
	in := NewInbound("", time.Now, &chat.Executor{}, nil,
		func(_ context.Context, channel string) (int64, bool) { return 7, channel == "CINC7" }, quietLog())
	cfg := teamRoom("ops", "CTEAM")
	cfg.People = []config.Person{{Name: "alice", Slack: "UA"}}
	in.Reload(cfg)
	for _, c := range []struct {
		user, channel string
		answered      bool
	}{
		{"UX", "CTEAM", true},
		{"UX", "CINC7", true},
		{"UA", "DUA", true},
		{"UX", "DUX", false},        // a stranger's DM
		{"UA", "CRANDOM", false},    // a channel the config does not name
		{"UX", "GGROUPDM", false},   // a group DM
		{"UA", "C0DIRECTLY", false}, // only D... ids are DMs
	} {
		got := commandResponse(in.runCommand(context.Background(), slack.SlashCommand{Text: "help", UserID: c.user, ChannelID: c.channel}))
		if answered := strings.Contains(got.Text, "Commands"); answered != c.answered || got.ResponseType != "ephemeral" {
			t.Errorf("%s in %s: %+v, want answered %v, privately", c.user, c.channel, got, c.answered)
		}
	}
}

package slack

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/oncallbot/bot/internal/chat"
	"github.com/oncallbot/bot/internal/clock"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// testInbound's C1 is a team's room, where the bot answers anyone.
func testInbound() *Inbound {
	in := NewInbound("", time.Now, &chat.Executor{}, nil,
		func(context.Context, string) (int64, bool) { return 0, false }, quietLog())
	in.Reload(teamRoom("ops", "C1"))
	return in
}

func TestCommandResponseIsPrivateWhenTheReplyIs(t *testing.T) {
	for _, c := range []struct {
		reply chat.Reply
		want  CommandResponse
	}{
		{chat.Reply{Text: "#1 acknowledged by alice", Incident: 1}, CommandResponse{"in_channel", "#1 acknowledged by alice"}},
		{chat.Reply{Text: "no such incident", Private: true}, CommandResponse{"ephemeral", "no such incident"}},
	} {
		if got := commandResponse(c.reply); got != c.want {
			t.Errorf("commandResponse(%+v) = %+v, want %+v", c.reply, got, c.want)
		}
	}
}

func TestRunPressRunsButtonValuesOnly(t *testing.T) {
	in := testInbound()
	button := func(value string) slack.InteractionCallback {
		var cb slack.InteractionCallback
		cb.Type = slack.InteractionTypeBlockActions
		cb.User.ID, cb.Channel.ID = "U1", "C1"
		cb.ActionCallback.BlockActions = []*slack.BlockAction{{ActionID: "cmd-0", Value: value}}
		return cb
	}
	var modal slack.InteractionCallback
	modal.Type = slack.InteractionTypeViewSubmission
	var noAction slack.InteractionCallback
	noAction.Type = slack.InteractionTypeBlockActions

	for _, c := range []struct {
		name   string
		cb     slack.InteractionCallback
		ran    bool
		answer string // part of the reply when ran
	}{
		{"button", button("help"), true, "Commands"},
		{"button without a person", button("ack #1"), true, "don't know who you are on slack"},
		{"modal submission", modal, false, ""},
		{"block action without actions", noAction, false, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			reply, ran := in.runPress(context.Background(), c.cb)
			if ran != c.ran || !strings.Contains(reply.Text, c.answer) {
				t.Fatalf("runPress = %+v, %v; want ran=%v and a reply with %q", reply, ran, c.ran, c.answer)
			}
		})
	}
}

func TestRunCommandPrefixesTheSlashCommand(t *testing.T) {
	// Whatever the workspace named the command, its text is /oncall's.
	got := commandResponse(testInbound().runCommand(context.Background(), slack.SlashCommand{Command: "/pager", Text: "help", UserID: "U1", ChannelID: "C1"}))
	if got.ResponseType != "ephemeral" || !strings.Contains(got.Text, "Commands") {
		t.Fatalf("/pager help = %+v", got)
	}
}

func TestRefusedBackoffDoublesUpToFiveMinutes(t *testing.T) {
	for n, want := range map[int]time.Duration{
		0: 5 * time.Second, 1: 5 * time.Second, 2: 10 * time.Second, 3: 20 * time.Second,
		6: 160 * time.Second, 7: 5 * time.Minute, 64: 5 * time.Minute,
	} {
		if got := refusedBackoff(n); got != want {
			t.Errorf("refusedBackoff(%d) = %v, want %v", n, got, want)
		}
	}
}

func TestSocketModeRetriesARefusedTokenUntilStopped(t *testing.T) {
	var opens atomic.Int32
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/apps.connections.open" || r.Header.Get("Authorization") != "Bearer xapp-revoked" {
			t.Errorf("unexpected call %s with %q", r.URL.Path, r.Header.Get("Authorization"))
		}
		opens.Add(1)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":false,"error":"invalid_auth"}`)
	}))
	defer api.Close()

	clk := clock.NewFake(time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC))
	sm := NewSocketMode(testInbound(), "xoxb-1", "xapp-revoked", api.URL+"/api", clk, quietLog())
	var waits []int
	sm.retryWait = func(n int) time.Duration {
		waits = append(waits, n) // Run's goroutine only
		return refusedBackoff(n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	armed := clk.TimerCreated()
	go func() { defer close(done); sm.Run(ctx) }()
	// Each refusal arms a wait on the clock; moving the clock past it
	// makes the next attempt.
	for i := range 3 {
		select {
		case <-armed:
		case <-time.After(10 * time.Second):
			t.Fatalf("Run did not wait after refusal %d", i+1)
		}
		if i < 2 {
			armed = clk.TimerCreated()
			clk.Advance(refusedBackoff(i + 1))
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop when its context ended")
	}
	if opens.Load() < 3 || len(waits) < 3 || waits[0] != 1 || waits[1] != 2 || waits[2] != 3 {
		t.Fatalf("%d opens, waits after refusals %v; want the count to grow 1, 2, 3", opens.Load(), waits)
	}
}

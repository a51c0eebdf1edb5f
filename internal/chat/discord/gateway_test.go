package discord

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/gorilla/websocket"

	"github.com/oncallbot/bot/internal/chat"
	"github.com/oncallbot/bot/internal/clock"
)

// wait bounds every wait for the gateway's traffic in these tests.
const wait = 10 * time.Second

// testGateway is just enough of Discord for one connection at a time: the
// gateway's address, the websocket (each connection handed to the test to
// drive), and the interaction callbacks.
type testGateway struct {
	srv       *httptest.Server
	conns     chan *websocket.Conn
	callbacks chan string // "{id}/{token} {body}"
}

func newTestGateway(t *testing.T) *testGateway {
	g := &testGateway{conns: make(chan *websocket.Conn, 4), callbacks: make(chan string, 4)}
	var up websocket.Upgrader
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/api/v9/gateway":
			json.NewEncoder(w).Encode(map[string]string{"url": "ws://" + r.Host + "/ws"})
		case strings.HasPrefix(r.URL.Path, "/ws"): // discordgo adds a slash
			if ws, err := up.Upgrade(w, r, nil); err == nil {
				t.Cleanup(func() { ws.Close() })
				g.conns <- ws
			}
		case strings.HasPrefix(r.URL.Path, "/api/v9/interactions/"):
			body, _ := io.ReadAll(r.Body)
			path := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/api/v9/interactions/"), "/callback")
			g.callbacks <- path + " " + string(body)
			w.WriteHeader(http.StatusNoContent)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(g.srv.Close)
	return g
}

func (g *testGateway) accept(t *testing.T) *websocket.Conn {
	t.Helper()
	select {
	case ws := <-g.conns:
		ws.SetReadDeadline(time.Now().Add(wait))
		return ws
	case <-time.After(wait):
		t.Fatal("the bot did not connect")
		return nil
	}
}

// run starts g.Run and returns a function that stops it and fails the
// test unless it returns in time.
func run(t *testing.T, g *Gateway) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); g.Run(ctx) }()
	return func() {
		t.Helper()
		cancel()
		select {
		case <-done:
		case <-time.After(wait):
			t.Fatal("Run did not return after its context ended")
		}
	}
}

func send(t *testing.T, ws *websocket.Conn, op int, event string, seq int, d any) {
	t.Helper()
	m := map[string]any{"op": op, "d": d, "s": nil, "t": nil}
	if op == 0 {
		m["s"], m["t"] = seq, event
	}
	if err := ws.WriteJSON(m); err != nil {
		t.Fatalf("send op %d: %v", op, err)
	}
}

// identify reads the bot's IDENTIFY, skipping heartbeats.
func identify(t *testing.T, ws *websocket.Conn) (token string, intents int) {
	t.Helper()
	for {
		var m struct {
			Op int `json:"op"`
			D  struct {
				Token   string `json:"token"`
				Intents int    `json:"intents"`
			} `json:"d"`
		}
		if err := ws.ReadJSON(&m); err != nil {
			t.Fatalf("read IDENTIFY: %v", err)
		}
		if m.Op == 2 {
			return m.D.Token, m.D.Intents
		}
	}
}

func newTestInbound(t *testing.T) *Inbound {
	in, err := NewInbound("", time.Now, &chat.Executor{},
		func(context.Context, string) (int64, bool) { return 0, false }, slog.New(slog.NewTextHandler(t.Output(), nil)))
	if err != nil {
		t.Fatal(err)
	}
	in.Reload(directoryOf(map[string]string{"111": "alice"}, nil))
	return in
}

func TestGatewayAnswersInteractionsThroughTheCallback(t *testing.T) {
	tg := newTestGateway(t)
	g, err := NewGateway(newTestInbound(t), "tok", tg.srv.URL, clock.NewFake(time.Now()), slog.New(slog.NewTextHandler(t.Output(), nil)))
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, g)
	ws := tg.accept(t)
	send(t, ws, 10, "", 0, map[string]any{"heartbeat_interval": 41250})
	if token, intents := identify(t, ws); token != "Bot tok" || intents != 0 {
		t.Fatalf("IDENTIFY with %q, intents %d; want the bot token and no intents", token, intents)
	}
	send(t, ws, 0, "READY", 1, map[string]any{"v": 10, "session_id": "s1", "user": map[string]any{"id": "9", "username": "bot"}})
	send(t, ws, 0, "INTERACTION_CREATE", 2, map[string]any{
		"id": "501", "application_id": "2", "type": 2, "token": "itok", "version": 1, "channel_id": "77",
		"member": map[string]any{"user": map[string]any{"id": "111", "username": "alice"}},
		"data": map[string]any{"id": "4", "name": "oncall", "type": 1,
			"options": []map[string]any{{"name": "command", "type": 3, "value": "help"}}},
	})
	select {
	case cb := <-tg.callbacks:
		path, body, _ := strings.Cut(cb, " ")
		var resp discordgo.InteractionResponse
		if err := json.Unmarshal([]byte(body), &resp); err != nil {
			t.Fatalf("callback body %s: %v", body, err)
		}
		if path != "501/itok" || resp.Type != discordgo.InteractionResponseChannelMessageWithSource ||
			resp.Data.Flags != discordgo.MessageFlagsEphemeral || !strings.Contains(resp.Data.Content, "Commands") {
			t.Fatalf("callback to %s: %s; want the help, to alice alone", path, body)
		}
	case <-time.After(wait):
		t.Fatal("no callback")
	}

	// Stopping closes the connection cleanly.
	stop()
	_, _, err = ws.ReadMessage()
	for err == nil {
		_, _, err = ws.ReadMessage()
	}
	if ce := (*websocket.CloseError)(nil); !errors.As(err, &ce) || ce.Code != websocket.CloseNormalClosure {
		t.Fatalf("connection ended with %v, want a close frame 1000", err)
	}
}

func TestGatewayRetriesARefusedTokenOnTheClock(t *testing.T) {
	tg := newTestGateway(t)
	clk := clock.NewFake(time.Now())
	g, err := NewGateway(newTestInbound(t), "revoked", tg.srv.URL, clk, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer run(t, g)()
	for i, want := range []time.Duration{5 * time.Second, 10 * time.Second} {
		armed := clk.TimerCreated()
		ws := tg.accept(t)
		send(t, ws, 10, "", 0, map[string]any{"heartbeat_interval": 41250})
		identify(t, ws)
		ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4004, "Authentication failed."), time.Now().Add(wait))
		select {
		case <-armed:
		case <-time.After(wait):
			t.Fatalf("refusal %d: no wait armed", i+1)
		}
		clk.Advance(want - time.Millisecond)
		select {
		case <-tg.conns:
			t.Fatalf("refusal %d: connected again before %v", i+1, want)
		default:
		}
		clk.Advance(time.Millisecond)
	}
	tg.accept(t) // the third attempt
}

func TestGatewayStopsWhileDiscordIsSilent(t *testing.T) {
	// Discord accepts the websocket and says nothing: discordgo would wait
	// for HELLO for ever.
	tg := newTestGateway(t)
	g, err := NewGateway(newTestInbound(t), "tok", tg.srv.URL, clock.NewFake(time.Now()), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, g)
	tg.accept(t)
	stop()
}

func TestOpenBackoff(t *testing.T) {
	for n, want := range map[int]time.Duration{
		0: 5 * time.Second, 1: 5 * time.Second, 2: 10 * time.Second, 3: 20 * time.Second,
		7: 5 * time.Minute, 8: 5 * time.Minute, 1000: 5 * time.Minute,
	} {
		if got := openBackoff(n); got != want {
			t.Errorf("openBackoff(%d) = %v, want %v", n, got, want)
		}
	}
}

func TestAnswerWhicheverWayItCame(t *testing.T) {
	in := newTestInbound(t)
	resp, err := in.Answer(context.Background(), &discordgo.Interaction{Type: discordgo.InteractionPing})
	if err != nil || resp.Type != discordgo.InteractionResponsePong {
		t.Fatalf("PING answered %+v, %v; want PONG", resp, err)
	}
	if _, err := in.Answer(context.Background(), &discordgo.Interaction{Type: discordgo.InteractionApplicationCommandAutocomplete}); !errors.Is(err, errUnsupported) {
		t.Fatalf("autocomplete: err = %v, want unsupported", err)
	}
}

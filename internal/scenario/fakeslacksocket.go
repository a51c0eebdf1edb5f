package scenario

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// SlackAppToken is the fake workspace's app-level token, the only one
// apps.connections.open accepts.
const SlackAppToken = "xapp-1-A0FAKEAPP-1-fake-app-token"

// socketWait bounds every wait for websocket traffic: the bot answers in
// milliseconds, so reaching it means something is lost, not slow.
const socketWait = 10 * time.Second

// socketPingEvery is how often the fake pings each connection, as Slack
// does; slack-go reconnects when pings stop for 30 seconds.
const socketPingEvery = 5 * time.Second

// FakeSlackSocket is Slack's Socket Mode as the bot sees it:
// apps.connections.open checks the app-level token and hands out a
// one-time ws:// URL on loopback; a connection to it is greeted with
// hello and pinged, and then carries the envelopes a test sends
// ({envelope_id, type, payload, accepts_response_payload}) and the bot's
// acknowledgements ({envelope_id, payload}). A test can ask Slack's
// disconnect (refresh_requested) to make the bot connect again.
type FakeSlackSocket struct {
	t       testing.TB
	baseURL string // the HTTP server's, ws:// URLs are made from it
	up      websocket.Upgrader

	mu      sync.Mutex
	tickets map[string]bool // handed out and not used yet
	conns   []*slackSocketConn
	acks    map[string]json.RawMessage // envelope_id -> ack payload (null when none)
	refused int
	seq     int
	// changed is closed, and replaced, whenever anything above changes,
	// to wake the waits.
	changed changes
}

type slackSocketConn struct {
	ws     *websocket.Conn
	writes sync.Mutex // gorilla allows one writer at a time
	closed bool       // guarded by FakeSlackSocket.mu
	done   chan struct{}
}

func newFakeSlackSocket(t testing.TB, baseURL string) *FakeSlackSocket {
	s := &FakeSlackSocket{
		t: t, baseURL: baseURL,
		// slack-go sends Origin https://api.slack.com, which is not this
		// server's host.
		up:      websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }},
		tickets: map[string]bool{}, acks: map[string]json.RawMessage{}, changed: newChanges(),
	}
	t.Cleanup(s.closeAll)
	return s
}

// notify wakes the waits; call it with mu held.
func (s *FakeSlackSocket) notify() { s.changed.notify() }

// serve answers apps.connections.open and the websocket; false leaves the
// request to the Web API fake.
func (s *FakeSlackSocket) serve(w http.ResponseWriter, r *http.Request) bool {
	switch r.URL.Path {
	case "/api/apps.connections.open":
		s.open(w, r)
	case "/socket-mode":
		s.accept(w, r)
	default:
		return false
	}
	return true
}

func (s *FakeSlackSocket) open(w http.ResponseWriter, r *http.Request) {
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case token == SlackToken:
		// As Slack answers a bot token where an app-level one is needed.
		s.refused++
		s.notify()
		slackErr(w, "not_allowed_token_type")
		return
	case token != SlackAppToken:
		s.refused++
		s.notify()
		slackErr(w, "invalid_auth")
		return
	}
	s.seq++
	ticket := fmt.Sprintf("ticket-%d", s.seq)
	s.tickets[ticket] = true
	reply(w, map[string]any{"ok": true, "url": "ws" + strings.TrimPrefix(s.baseURL, "http") + "/socket-mode?ticket=" + ticket})
}

func (s *FakeSlackSocket) accept(w http.ResponseWriter, r *http.Request) {
	ticket := r.URL.Query().Get("ticket")
	s.mu.Lock()
	valid := s.tickets[ticket]
	delete(s.tickets, ticket) // one connection a ticket
	s.mu.Unlock()
	if !valid {
		http.Error(w, "unknown or used ticket", http.StatusUnauthorized)
		return
	}
	ws, err := s.up.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	c := &slackSocketConn{ws: ws, done: make(chan struct{})}
	s.mu.Lock()
	n := len(s.conns) + 1
	s.mu.Unlock()
	err = c.write(map[string]any{
		"type": "hello", "num_connections": 1,
		"debug_info":      map[string]any{"host": fmt.Sprintf("applink-fake-%d", n), "build_number": 1, "approximate_connection_time": 18060},
		"connection_info": map[string]any{"app_id": "A0FAKEAPP"},
	})
	if err != nil {
		ws.Close()
		return
	}
	s.mu.Lock()
	s.conns = append(s.conns, c)
	s.notify()
	s.mu.Unlock()
	go c.ping()
	s.read(c)
}

// read records the bot's acknowledgements until the connection ends.
func (s *FakeSlackSocket) read(c *slackSocketConn) {
	defer func() {
		close(c.done)
		c.ws.Close()
		s.mu.Lock()
		c.closed = true
		s.notify()
		s.mu.Unlock()
	}()
	for {
		var ack struct {
			EnvelopeID string          `json:"envelope_id"`
			Payload    json.RawMessage `json:"payload"`
		}
		if err := c.ws.ReadJSON(&ack); err != nil {
			return
		}
		if ack.EnvelopeID == "" {
			continue // Slack ignores what is not an acknowledgement
		}
		if ack.Payload == nil {
			ack.Payload = json.RawMessage("null")
		}
		s.mu.Lock()
		s.acks[ack.EnvelopeID] = ack.Payload
		s.notify()
		s.mu.Unlock()
	}
}

func (c *slackSocketConn) write(v any) error {
	c.writes.Lock()
	defer c.writes.Unlock()
	c.ws.SetWriteDeadline(time.Now().Add(socketWait))
	return c.ws.WriteJSON(v)
}

// ping keeps slack-go's dead-connection timer from firing.
func (c *slackSocketConn) ping() {
	t := time.NewTicker(socketPingEvery)
	defer t.Stop()
	for {
		if c.ws.WriteControl(websocket.PingMessage, []byte("keepalive"), time.Now().Add(socketWait)) != nil {
			return
		}
		select {
		case <-c.done:
			return
		case <-t.C:
		}
	}
}

func (s *FakeSlackSocket) closeAll() {
	s.mu.Lock()
	conns := append([]*slackSocketConn(nil), s.conns...)
	s.mu.Unlock()
	for _, c := range conns {
		c.ws.Close()
		<-c.done
	}
}

// waitFor fails the test unless cond, checked with mu held, comes true
// within socketWait.
func (s *FakeSlackSocket) waitFor(what string, cond func() bool) {
	s.t.Helper()
	waitChange(s.t, "fake Slack Socket Mode "+what, socketWait, func() (bool, <-chan struct{}) {
		s.mu.Lock()
		defer s.mu.Unlock()
		return cond(), s.changed.ch
	})
}

// WaitConnections waits until the bot has opened n connections, the last
// of them still open.
func (s *FakeSlackSocket) WaitConnections(n int) {
	s.t.Helper()
	s.waitFor(fmt.Sprintf("connection #%d", n), func() bool {
		return len(s.conns) >= n && !s.conns[len(s.conns)-1].closed
	})
}

// Connections counts the connections the bot has opened.
func (s *FakeSlackSocket) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// WaitRefused waits until apps.connections.open has refused n tokens.
func (s *FakeSlackSocket) WaitRefused(n int) {
	s.t.Helper()
	s.waitFor(fmt.Sprintf("%d refused connection(s)", n), func() bool { return s.refused >= n })
}

// WaitClosed waits until every connection has closed.
func (s *FakeSlackSocket) WaitClosed() {
	s.t.Helper()
	s.waitFor("close of every connection", func() bool {
		for _, c := range s.conns {
			if !c.closed {
				return false
			}
		}
		return true
	})
}

// current is the newest open connection.
func (s *FakeSlackSocket) current() *slackSocketConn {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.conns); n > 0 && !s.conns[n-1].closed {
		return s.conns[n-1]
	}
	s.t.Fatal("fake Slack Socket Mode: the bot is not connected")
	return nil
}

// Send sends an envelope on the newest connection and returns its
// envelope_id.
func (s *FakeSlackSocket) Send(kind string, payload any, acceptsResponse bool) string {
	s.t.Helper()
	c := s.current()
	s.mu.Lock()
	s.seq++
	id := fmt.Sprintf("%08x-fake-envelope-%d", s.seq, s.seq)
	s.mu.Unlock()
	err := c.write(map[string]any{"envelope_id": id, "type": kind, "payload": payload, "accepts_response_payload": acceptsResponse})
	if err != nil {
		s.t.Fatalf("fake Slack Socket Mode: send %s envelope: %v", kind, err)
	}
	return id
}

// Disconnect asks the bot, as Slack does before it drops a connection,
// to connect again (reason "refresh_requested" or "warning").
func (s *FakeSlackSocket) Disconnect(reason string) {
	s.t.Helper()
	c := s.current()
	err := c.write(map[string]any{"type": "disconnect", "reason": reason, "debug_info": map[string]any{"host": "applink-fake"}})
	if err != nil {
		s.t.Fatalf("fake Slack Socket Mode: send disconnect: %v", err)
	}
}

// WaitAck waits for the acknowledgement of an envelope and returns its
// payload (JSON null when it has none).
func (s *FakeSlackSocket) WaitAck(envelopeID string) json.RawMessage {
	s.t.Helper()
	var payload json.RawMessage
	s.waitFor("ack of envelope "+envelopeID, func() bool {
		p, ok := s.acks[envelopeID]
		payload = p
		return ok
	})
	return payload
}

// SlashCommand sends /oncall <text> typed by user in channel, as a
// slash_commands envelope, and returns its envelope_id.
func (s *FakeSlackSocket) SlashCommand(user, channel, text string) string {
	s.t.Helper()
	return s.Send("slash_commands", map[string]any{
		"token": "verification-token-unused", "team_id": "T0001", "team_domain": "fake", "channel_id": channel,
		"channel_name": "inc", "user_id": user, "user_name": strings.ToLower(user), "command": "/oncall", "text": text,
		"api_app_id": "A0FAKEAPP", "is_enterprise_install": false,
		"response_url": "https://hooks.slack.com/commands/T0001/1/fake", "trigger_id": "1.2.fake",
	}, true)
}

// Press sends a press of the card button whose value is value, as an
// interactive envelope, and returns its envelope_id.
func (s *FakeSlackSocket) Press(user, channel, value string) string {
	s.t.Helper()
	return s.Send("interactive", map[string]any{
		"type": "block_actions", "api_app_id": "A0FAKEAPP", "trigger_id": "1.2.fake",
		"team":    map[string]string{"id": "T0001", "domain": "fake"},
		"user":    map[string]string{"id": user, "username": strings.ToLower(user), "team_id": "T0001"},
		"channel": map[string]string{"id": channel, "name": "inc"},
		"actions": []map[string]any{{"action_id": "cmd-0", "block_id": "incident", "type": "button", "value": value,
			"action_ts": "1772420400.000100", "text": map[string]any{"type": "plain_text", "text": "Acknowledge"}}},
	}, false)
}

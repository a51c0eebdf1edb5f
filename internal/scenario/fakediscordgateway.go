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

// DiscordAppID is the fake's application, which the interactions name.
const DiscordAppID = "800000000000000002"

// discordHeartbeatMS is the heartbeat interval the fake's HELLO asks for,
// Discord's usual one: the bot sends one heartbeat at once, then none
// within a test.
const discordHeartbeatMS = 41250

// Gateway close codes the fake uses, as Discord's.
const (
	closeNotAuthenticated     = 4003
	closeAuthenticationFailed = 4004
	closeAlreadyAuthenticated = 4005
)

// DiscordIdentify is what a connection's IDENTIFY carried.
type DiscordIdentify struct {
	Token   string
	Intents int
}

// DiscordCallback is the response the bot posted to an interaction's
// callback.
type DiscordCallback struct {
	Type    int
	Content string
	Flags   int
}

// FakeDiscordGateway is Discord's gateway as the bot sees it. GET
// /api/v9/gateway hands out a ws:// URL on loopback (Discord asks no token
// for it; /gateway/bot does). A connection to it is greeted with op 10
// HELLO and must then send op 2 IDENTIFY with the bot token, or op 6
// RESUME of a session it had, else it is closed as Discord closes it
// (4004 for a wrong token, 4003 for anything sent first). Heartbeats (op
// 1) are acknowledged (op 11); READY or RESUMED follows, then the
// dispatches a test sends, numbered within their session. A test can send
// op 7 RECONNECT. The callbacks the bot posts to
// /interactions/{id}/{token}/callback are recorded, each interaction
// answerable once.
type FakeDiscordGateway struct {
	t  testing.TB
	up websocket.Upgrader

	mu           sync.Mutex
	conns        []*dcGatewayConn
	sessions     map[string]*dcGatewaySession
	identifies   []DiscordIdentify
	resumes      int
	refused      int
	heartbeats   int
	interactions map[string]*dcInteraction
	seq          int
	// changed is closed, and replaced, whenever anything above changes,
	// to wake the waits.
	changed changes
}

type dcGatewayConn struct {
	ws     *websocket.Conn
	host   string     // as the bot called it
	writes sync.Mutex // gorilla allows one writer at a time
	done   chan struct{}

	// Guarded by FakeDiscordGateway.mu.
	session   *dcGatewaySession // set once READY or RESUMED is sent
	closed    bool
	closeCode int // the code of the bot's close frame, 0 when none came
}

type dcGatewaySession struct {
	id   string
	seq  int64     // of the last dispatch sent
	sent []dcEvent // to replay to a RESUME
}

type dcEvent struct {
	seq   int64
	event string
	d     any
}

type dcInteraction struct {
	token    string
	answered *DiscordCallback
}

func newFakeDiscordGateway(t testing.TB) *FakeDiscordGateway {
	g := &FakeDiscordGateway{
		t:        t,
		up:       websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }},
		sessions: map[string]*dcGatewaySession{}, interactions: map[string]*dcInteraction{},
		changed: newChanges(),
	}
	t.Cleanup(g.closeAll)
	return g
}

// notify wakes the waits; call it with mu held.
func (g *FakeDiscordGateway) notify() { g.changed.notify() }

// serve answers the gateway's address, the websocket and the interaction
// callbacks; false leaves the request to the REST fake.
func (g *FakeDiscordGateway) serve(w http.ResponseWriter, r *http.Request) bool {
	path := r.URL.Path
	switch {
	case path == "/api/v9/gateway" && r.Method == http.MethodGet:
		dcJSON(w, 200, map[string]any{"url": "ws://" + r.Host + "/gateway"})
	case path == "/api/v9/gateway/bot" && r.Method == http.MethodGet:
		if r.Header.Get("Authorization") != "Bot "+DiscordToken {
			dcJSON(w, 401, map[string]any{"message": "401: Unauthorized", "code": 0})
			return true
		}
		dcJSON(w, 200, map[string]any{"url": "ws://" + r.Host + "/gateway", "shards": 1,
			"session_start_limit": map[string]any{"total": 1000, "remaining": 999, "reset_after": 14400000, "max_concurrency": 1}})
	case path == "/gateway" || strings.HasPrefix(path, "/gateway/"):
		g.accept(w, r)
	case r.Method == http.MethodPost && strings.HasPrefix(path, "/api/v9/interactions/") && strings.HasSuffix(path, "/callback"):
		g.callback(w, r)
	default:
		return false
	}
	return true
}

// callback records the answer to an interaction, as Discord takes it:
// once, by the interaction's id and token; no bot token is needed.
func (g *FakeDiscordGateway) callback(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/api/v9/interactions/"), "/")
	var body struct {
		Type int `json:"type"`
		Data struct {
			Content string `json:"content"`
			Flags   int    `json:"flags"`
		} `json:"data"`
	}
	if len(parts) != 3 || json.NewDecoder(r.Body).Decode(&body) != nil {
		dcJSON(w, 400, map[string]any{"message": "400: Bad Request", "code": 50035})
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	in, ok := g.interactions[parts[0]]
	switch {
	case !ok || in.token != parts[1]:
		dcJSON(w, 404, map[string]any{"message": "Unknown interaction", "code": 10062})
	case in.answered != nil:
		dcJSON(w, 400, map[string]any{"message": "Interaction has already been acknowledged.", "code": 40060})
	default:
		in.answered = &DiscordCallback{Type: body.Type, Content: body.Data.Content, Flags: body.Data.Flags}
		g.notify()
		w.WriteHeader(http.StatusNoContent)
	}
}

// gatewayMsg is a gateway payload.
type gatewayMsg struct {
	Op   int             `json:"op"`
	D    json.RawMessage `json:"d"`
	S    *int64          `json:"s"`
	Type *string         `json:"t"`
}

func (g *FakeDiscordGateway) accept(w http.ResponseWriter, r *http.Request) {
	ws, err := g.up.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	c := &dcGatewayConn{ws: ws, host: r.Host, done: make(chan struct{})}
	g.mu.Lock()
	g.conns = append(g.conns, c)
	g.notify()
	g.mu.Unlock()
	defer func() {
		ws.Close()
		g.mu.Lock()
		c.closed = true
		g.notify()
		g.mu.Unlock()
		close(c.done)
	}()
	if c.send(10, map[string]any{"heartbeat_interval": discordHeartbeatMS}) != nil {
		return
	}
	for {
		var m gatewayMsg
		if err := ws.ReadJSON(&m); err != nil {
			if ce, ok := err.(*websocket.CloseError); ok {
				g.mu.Lock()
				c.closeCode = ce.Code
				g.mu.Unlock()
			}
			return
		}
		if !g.handle(c, m) {
			return
		}
	}
}

// handle answers one payload of the bot's; false ends the connection.
func (g *FakeDiscordGateway) handle(c *dcGatewayConn, m gatewayMsg) bool {
	g.mu.Lock()
	authed := c.session != nil
	g.mu.Unlock()
	switch {
	case m.Op == 1:
		g.mu.Lock()
		g.heartbeats++
		g.mu.Unlock()
		return c.send(11, nil) == nil
	case m.Op == 2 && authed:
		return c.closeWith(closeAlreadyAuthenticated, "Already authenticated.")
	case m.Op == 2:
		var id struct {
			Token   string `json:"token"`
			Intents int    `json:"intents"`
		}
		json.Unmarshal(m.D, &id)
		if !g.tokenOK(id.Token) {
			return g.refuse(c)
		}
		g.mu.Lock()
		g.identifies = append(g.identifies, DiscordIdentify{Token: id.Token, Intents: id.Intents})
		g.seq++
		s := &dcGatewaySession{id: fmt.Sprintf("fake-session-%d", g.seq)}
		g.sessions[s.id] = s
		g.mu.Unlock()
		return g.ready(c, s, "READY", map[string]any{
			"v": 10, "session_id": s.id, "resume_gateway_url": "ws://" + c.host + "/gateway",
			"user":        map[string]any{"id": "800000000000000001", "username": "oncall", "discriminator": "0", "bot": true},
			"application": map[string]any{"id": DiscordAppID, "flags": 0},
			"guilds":      []any{}, "private_channels": []any{},
		}, 0)
	case m.Op == 6 && authed:
		return c.closeWith(closeAlreadyAuthenticated, "Already authenticated.")
	case m.Op == 6:
		var rs struct {
			Token     string `json:"token"`
			SessionID string `json:"session_id"`
			Seq       int64  `json:"seq"`
		}
		json.Unmarshal(m.D, &rs)
		if !g.tokenOK(rs.Token) {
			return g.refuse(c)
		}
		g.mu.Lock()
		s, ok := g.sessions[rs.SessionID]
		ok = ok && rs.Seq <= s.seq
		if ok {
			g.resumes++
		}
		g.mu.Unlock()
		if !ok {
			// Invalid session, not resumable: the bot must IDENTIFY.
			return c.send(9, false) == nil
		}
		return g.ready(c, s, "RESUMED", map[string]any{}, rs.Seq)
	case !authed:
		return c.closeWith(closeNotAuthenticated, "Not authenticated.")
	}
	return true // presence and the like, which the fake ignores
}

// refuse closes a connection whose token is wrong, as Discord does: 4004.
func (g *FakeDiscordGateway) refuse(c *dcGatewayConn) bool {
	g.mu.Lock()
	g.refused++
	g.notify()
	g.mu.Unlock()
	return c.closeWith(closeAuthenticationFailed, "Authentication failed.")
}

func (g *FakeDiscordGateway) tokenOK(token string) bool {
	// discordgo sends the token as given to it, "Bot " and all; Discord
	// takes it with or without.
	return strings.TrimPrefix(token, "Bot ") == DiscordToken
}

// send writes a payload other than a dispatch.
func (c *dcGatewayConn) send(op int, d any) error {
	c.writes.Lock()
	defer c.writes.Unlock()
	c.ws.SetWriteDeadline(time.Now().Add(socketWait))
	return c.ws.WriteJSON(map[string]any{"op": op, "d": d, "s": nil, "t": nil})
}

// closeWith closes the connection as Discord does, with a close frame
// carrying code; it is always false, to end the connection.
func (c *dcGatewayConn) closeWith(code int, text string) bool {
	c.writes.Lock()
	err := c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(socketWait))
	c.writes.Unlock()
	if err != nil {
		return false
	}
	// Wait for the bot to hang up, so that closing first cannot reset
	// the connection under the close frame before the bot reads it.
	c.ws.SetReadDeadline(time.Now().Add(socketWait))
	for {
		if _, _, err := c.ws.NextReader(); err != nil {
			return false
		}
	}
}

// closeAll ends every connection, once the bot and the HTTP server have
// stopped.
func (g *FakeDiscordGateway) closeAll() {
	g.mu.Lock()
	conns := append([]*dcGatewayConn(nil), g.conns...)
	g.mu.Unlock()
	for _, c := range conns {
		c.ws.Close()
		<-c.done
	}
}

// waitFor fails the test unless cond, checked with mu held, comes true
// within socketWait.
func (g *FakeDiscordGateway) waitFor(what string, cond func() bool) {
	g.t.Helper()
	waitChange(g.t, "fake Discord gateway "+what, socketWait, func() (bool, <-chan struct{}) {
		g.mu.Lock()
		defer g.mu.Unlock()
		return cond(), g.changed.ch
	})
}

// readyConns counts the connections that got READY or RESUMED; call it
// with mu held.
func (g *FakeDiscordGateway) readyConns() int {
	n := 0
	for _, c := range g.conns {
		if c.session != nil {
			n++
		}
	}
	return n
}

// WaitReady waits until n connections have got READY or RESUMED, the
// newest of them still open.
func (g *FakeDiscordGateway) WaitReady(n int) {
	g.t.Helper()
	g.waitFor(fmt.Sprintf("ready connection #%d", n), func() bool {
		c := g.currentLocked()
		return g.readyConns() >= n && c != nil
	})
}

// WaitRefused waits until n connections have been closed for a wrong
// token (4004).
func (g *FakeDiscordGateway) WaitRefused(n int) {
	g.t.Helper()
	g.waitFor(fmt.Sprintf("%d refused connection(s)", n), func() bool { return g.refused >= n })
}

// Ready counts the connections that got READY or RESUMED.
func (g *FakeDiscordGateway) Ready() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.readyConns()
}

// Identifies returns what each accepted IDENTIFY carried.
func (g *FakeDiscordGateway) Identifies() []DiscordIdentify {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]DiscordIdentify(nil), g.identifies...)
}

// Resumes counts the sessions resumed.
func (g *FakeDiscordGateway) Resumes() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.resumes
}

// Heartbeats counts the heartbeats acknowledged.
func (g *FakeDiscordGateway) Heartbeats() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.heartbeats
}

// CloseCodes returns, for each connection in order, the code of the
// close frame the bot sent on it (0 while it is open or when none came).
func (g *FakeDiscordGateway) CloseCodes() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]int, len(g.conns))
	for i, c := range g.conns {
		out[i] = c.closeCode
	}
	return out
}

// currentLocked is the newest connection if it is open and ready, else
// nil; call it with mu held.
func (g *FakeDiscordGateway) currentLocked() *dcGatewayConn {
	if n := len(g.conns); n > 0 && !g.conns[n-1].closed && g.conns[n-1].session != nil {
		return g.conns[n-1]
	}
	return nil
}

// Reconnect sends op 7 RECONNECT, as Discord does before it moves a
// session to another server: the bot must close and RESUME on a new
// connection.
func (g *FakeDiscordGateway) Reconnect() {
	g.t.Helper()
	g.mu.Lock()
	c := g.currentLocked()
	g.mu.Unlock()
	if c == nil {
		g.t.Fatal("fake Discord gateway: the bot is not connected")
	}
	if err := c.send(7, nil); err != nil {
		g.t.Fatalf("fake Discord gateway: send RECONNECT: %v", err)
	}
}

// Dispatch sends an event (op 0) on the newest connection, numbered next
// in its session.
func (g *FakeDiscordGateway) Dispatch(event string, d any) {
	g.t.Helper()
	g.mu.Lock()
	c := g.currentLocked()
	g.mu.Unlock()
	if c == nil {
		g.t.Fatal("fake Discord gateway: the bot is not connected")
	}
	if err := g.dispatch(c, nil, event, d); err != nil {
		g.t.Fatalf("fake Discord gateway: dispatch %s: %v", event, err)
	}
}

// ready sends READY or RESUMED (after replaying what the session missed)
// and makes the connection s's, the one dispatches go to; false ends the
// connection.
func (g *FakeDiscordGateway) ready(c *dcGatewayConn, s *dcGatewaySession, event string, d any, after int64) bool {
	g.mu.Lock()
	var missed []dcEvent
	for _, e := range s.sent {
		if e.seq > after {
			missed = append(missed, e)
		}
	}
	g.mu.Unlock()
	c.writes.Lock()
	for _, e := range missed {
		if c.write(e) != nil {
			c.writes.Unlock()
			return false
		}
	}
	c.writes.Unlock()
	return g.dispatch(c, s, event, d) == nil
}

// dispatch sends a dispatch numbered next in the connection's session,
// or in s, which the connection then belongs to. The write lock is held
// across the numbering so that dispatches go out in order.
func (g *FakeDiscordGateway) dispatch(c *dcGatewayConn, s *dcGatewaySession, event string, d any) error {
	c.writes.Lock()
	defer c.writes.Unlock()
	g.mu.Lock()
	if s != nil {
		c.session = s
	}
	s = c.session
	s.seq++
	e := dcEvent{seq: s.seq, event: event, d: d}
	s.sent = append(s.sent, e)
	g.notify()
	g.mu.Unlock()
	return c.write(e)
}

// write sends a dispatch; call it with the write lock held.
func (c *dcGatewayConn) write(e dcEvent) error {
	c.ws.SetWriteDeadline(time.Now().Add(socketWait))
	return c.ws.WriteJSON(map[string]any{"op": 0, "s": e.seq, "t": e.event, "d": e.d})
}

// interaction dispatches INTERACTION_CREATE for a guild member's
// interaction of kind (2 a command, 3 a button press) in a channel, and
// returns its id.
func (g *FakeDiscordGateway) interaction(kind int, user, channel string, data map[string]any) string {
	g.t.Helper()
	g.mu.Lock()
	g.seq++
	id, token := fmt.Sprintf("97%016d", g.seq), fmt.Sprintf("fake-interaction-token-%d", g.seq)
	g.interactions[id] = &dcInteraction{token: token}
	g.mu.Unlock()
	g.Dispatch("INTERACTION_CREATE", map[string]any{
		"id": id, "application_id": DiscordAppID, "type": kind, "token": token, "version": 1,
		"channel_id": channel, "guild_id": "3", "app_permissions": "0", "locale": "en-GB", "guild_locale": "en-US",
		"member": map[string]any{"user": map[string]any{"id": user, "username": "u" + user, "discriminator": "0"}, "roles": []string{}},
		"data":   data,
	})
	return id
}

// Press dispatches a guild member's press of the button whose custom id
// is customID in a channel, and returns the interaction's id.
func (g *FakeDiscordGateway) Press(user, channel, customID string) string {
	g.t.Helper()
	return g.interaction(3, user, channel, map[string]any{"custom_id": customID, "component_type": 2})
}

// Command dispatches a guild member's /oncall <text> in a channel, and
// returns the interaction's id.
func (g *FakeDiscordGateway) Command(user, channel, text string) string {
	g.t.Helper()
	return g.interaction(2, user, channel, map[string]any{"id": "4", "name": "oncall", "type": 1,
		"options": []map[string]any{{"name": "command", "type": 3, "value": text}}})
}

// WaitCallback waits for the bot's answer to an interaction.
func (g *FakeDiscordGateway) WaitCallback(id string) DiscordCallback {
	g.t.Helper()
	var got DiscordCallback
	g.waitFor("callback of interaction "+id, func() bool {
		in := g.interactions[id]
		if in == nil || in.answered == nil {
			return false
		}
		got = *in.answered
		return true
	})
	return got
}

package scenario

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
)

// Discord ids and credentials of the scenarios' fake.
const (
	DiscordToken    = "fake-discord-bot-token"
	DiscordIncident = "900000000000000001" // the ops team's incidents channel
)

// DiscordKey signs the fake's interactions; its public half goes in the
// bot's config.
var DiscordKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))

// DiscordPublicKey is DiscordKey's public half, hex, for the config.
var DiscordPublicKey = hex.EncodeToString(DiscordKey.Public().(ed25519.PublicKey))

// DiscordThread is a thread of the fake.
type DiscordThread struct {
	ID, Parent, Name string
	Type             int
	Members          []string
	Archived         bool
}

// DiscordMessage is a message of the fake, with its edits.
type DiscordMessage struct {
	ID, Channel, Content string
	Components           string // JSON
	Edits                int
	// Pings are who the message notifies by its mentions, given its
	// allowed_mentions: user ids, or "@everyone".
	Pings []string
}

// pings works out whom a message's mentions notify, as Discord does: with
// no allowed_mentions every mention in the content pings; with it, only
// the kinds it parses and the users it lists.
func pings(body map[string]any) []string {
	content, _ := body["content"].(string)
	var out []string
	am, restricted := body["allowed_mentions"].(map[string]any)
	parse := map[string]bool{"users": !restricted, "everyone": !restricted}
	listed := map[string]bool{}
	if restricted {
		if ps, ok := am["parse"].([]any); ok {
			for _, p := range ps {
				if s, ok := p.(string); ok {
					parse[s] = true
				}
			}
		}
		if us, ok := am["users"].([]any); ok {
			for _, u := range us {
				if s, ok := u.(string); ok {
					listed[s] = true
				}
			}
		}
	}
	if parse["everyone"] && (strings.Contains(content, "@everyone") || strings.Contains(content, "@here")) {
		out = append(out, "@everyone")
	}
	for _, m := range regexp.MustCompile(`<@!?(\d+)>`).FindAllStringSubmatch(content, -1) {
		if parse["users"] || listed[m[1]] {
			out = append(out, m[1])
		}
	}
	return out
}

// FakeDiscord is a stateful stand-in for Discord's REST API as discordgo
// calls it: private threads with members that archive, messages and
// edits, DM channels; it checks the bot token and fails on demand (429
// with retry_after, or 5xx).
type FakeDiscord struct {
	t   testing.TB
	srv *httptest.Server

	mu       sync.Mutex
	threads  map[string]*DiscordThread
	messages []*DiscordMessage
	seq      int
	failures []failure
	// memberFailures fail the next thread-member additions only, to
	// leave a thread half made.
	memberFailures int

	// Gateway is the websocket side, and the interaction callbacks.
	Gateway *FakeDiscordGateway
}

// NewFakeDiscord starts the fake.
func NewFakeDiscord(t testing.TB) *FakeDiscord {
	f := &FakeDiscord{t: t, threads: map[string]*DiscordThread{}, Gateway: newFakeDiscordGateway(t)}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// URL is the fake's base URL, for discordgo's rewriting transport.
func (f *FakeDiscord) URL() string { return f.srv.URL }

// FailNext makes the next n calls fail with code.
func (f *FakeDiscord) FailNext(n, code int, retryAfter string) { f.FailNextOn("", n, code, retryAfter) }

// FailNextOn makes the next n calls whose path ends in path fail with
// code, whichever other calls come first (a page's DM racing a thread's
// creation, say).
func (f *FakeDiscord) FailNextOn(path string, n, code int, retryAfter string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.failures = append(f.failures, failure{code: code, retryAfter: retryAfter, path: path})
	}
}

// FailMemberAdds makes the next n thread-member additions fail with 500.
func (f *FakeDiscord) FailMemberAdds(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.memberFailures += n
}

// ThreadsNamed counts the threads (not deleted) named name.
func (f *FakeDiscord) ThreadsNamed(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, t := range f.threads {
		if t.Name == name {
			n++
		}
	}
	return n
}

func (f *FakeDiscord) id() string {
	f.seq++
	return fmt.Sprintf("9%017d", 100000+f.seq)
}

func dcJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func (f *FakeDiscord) serve(w http.ResponseWriter, r *http.Request) {
	// Discord asks no bot token for these; the gateway checks its own.
	if f.Gateway.serve(w, r) {
		return
	}
	if r.Header.Get("Authorization") != "Bot "+DiscordToken {
		dcJSON(w, 401, map[string]any{"message": "401: Unauthorized", "code": 0})
		return
	}
	path, ok := strings.CutPrefix(r.URL.Path, "/api/v9/")
	if !ok {
		dcJSON(w, 404, map[string]any{"message": "404: Not Found", "code": 0})
		return
	}
	var body map[string]any
	json.NewDecoder(r.Body).Decode(&body)
	f.mu.Lock()
	defer f.mu.Unlock()
	if fl, ok := takeFailure(&f.failures, path); ok {
		if fl.code == 429 {
			w.Header().Set("Retry-After", fl.retryAfter)
			w.Header().Set("X-RateLimit-Scope", "user")
			dcJSON(w, 429, map[string]any{"message": "You are being rate limited.", "retry_after": json.Number(fl.retryAfter), "global": false})
			return
		}
		dcJSON(w, fl.code, map[string]any{"message": "induced failure", "code": 0})
		return
	}
	parts := strings.Split(path, "/")
	str := func(k string) string { s, _ := body[k].(string); return s }
	switch {
	case r.Method == "POST" && len(parts) == 3 && parts[0] == "channels" && parts[2] == "threads":
		if parts[1] != DiscordIncident {
			dcJSON(w, 404, map[string]any{"message": "Unknown Channel", "code": 10003})
			return
		}
		th := &DiscordThread{ID: f.id(), Parent: parts[1], Name: str("name"), Type: int(body["type"].(float64))}
		f.threads[th.ID] = th
		dcJSON(w, 201, map[string]any{"id": th.ID, "type": th.Type, "name": th.Name, "parent_id": th.Parent})
	case r.Method == "PUT" && len(parts) == 4 && parts[2] == "thread-members":
		th, ok := f.threads[parts[1]]
		if !ok {
			dcJSON(w, 404, map[string]any{"message": "Unknown Channel", "code": 10003})
			return
		}
		if f.memberFailures > 0 {
			f.memberFailures--
			dcJSON(w, 500, map[string]any{"message": "induced failure", "code": 0})
			return
		}
		if !slices.Contains(th.Members, parts[3]) { // adding a member twice changes nothing
			th.Members = append(th.Members, parts[3])
		}
		w.WriteHeader(204)
	case r.Method == "DELETE" && len(parts) == 2 && parts[0] == "channels":
		th, ok := f.threads[parts[1]]
		if !ok {
			dcJSON(w, 404, map[string]any{"message": "Unknown Channel", "code": 10003})
			return
		}
		delete(f.threads, th.ID)
		dcJSON(w, 200, map[string]any{"id": th.ID, "type": th.Type, "name": th.Name})
	case r.Method == "POST" && len(parts) == 3 && parts[0] == "channels" && parts[2] == "messages":
		if th, ok := f.threads[parts[1]]; ok && th.Archived {
			dcJSON(w, 400, map[string]any{"message": "Thread is archived", "code": 50083})
			return
		}
		comps, _ := json.Marshal(body["components"])
		m := &DiscordMessage{ID: f.id(), Channel: parts[1], Content: str("content"), Components: string(comps), Pings: pings(body)}
		f.messages = append(f.messages, m)
		dcJSON(w, 200, map[string]any{"id": m.ID, "channel_id": m.Channel, "content": m.Content})
	case r.Method == "PATCH" && len(parts) == 4 && parts[2] == "messages":
		for _, m := range f.messages {
			if m.Channel == parts[1] && m.ID == parts[3] {
				comps, _ := json.Marshal(body["components"])
				m.Content, m.Components = str("content"), string(comps)
				m.Edits++
				dcJSON(w, 200, map[string]any{"id": m.ID, "channel_id": m.Channel, "content": m.Content})
				return
			}
		}
		dcJSON(w, 404, map[string]any{"message": "Unknown Message", "code": 10008})
	case r.Method == "PATCH" && len(parts) == 2 && parts[0] == "channels":
		th, ok := f.threads[parts[1]]
		if !ok {
			dcJSON(w, 404, map[string]any{"message": "Unknown Channel", "code": 10003})
			return
		}
		if a, ok := body["archived"].(bool); ok {
			th.Archived = a
		}
		dcJSON(w, 200, map[string]any{"id": th.ID, "type": th.Type, "name": th.Name})
	case r.Method == "POST" && path == "users/@me/channels":
		id := "D" + str("recipient_id")
		dcJSON(w, 200, map[string]any{"id": id, "type": 1})
	default:
		dcJSON(w, 404, map[string]any{"message": "404: Not Found", "code": 0})
	}
}

// Thread returns a copy of the thread named name, or nil.
func (f *FakeDiscord) Thread(name string) *DiscordThread {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, t := range f.threads {
		if t.Name == name {
			cp := *t
			return &cp
		}
	}
	return nil
}

// Messages returns copies of a channel's messages.
func (f *FakeDiscord) Messages(channel string) []DiscordMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []DiscordMessage
	for _, m := range f.messages {
		if m.Channel == channel {
			out = append(out, *m)
		}
	}
	return out
}

// DiscordInteraction posts an interaction signed with key at the bot's
// now (plus skew seconds) and returns the response.
func (h *Harness) DiscordInteraction(interaction map[string]any, key ed25519.PrivateKey, skew int64) Response {
	h.T.Helper()
	body, _ := json.Marshal(interaction)
	ts := fmt.Sprint(h.Clock.Now().Unix() + skew)
	sig := ed25519.Sign(key, append([]byte(ts), body...))
	r := h.do("POST", "/discord/interactions", http.Header{"Content-Type": {"application/json"},
		"X-Signature-Ed25519": {hex.EncodeToString(sig)}, "X-Signature-Timestamp": {ts}}, body)
	h.Tick()
	return r
}

// DiscordPress is a guild member pressing a button with customID in a
// channel.
func (h *Harness) DiscordPress(user, channel, customID string) Response {
	return h.DiscordInteraction(map[string]any{"id": "1", "application_id": "2", "type": 3, "token": "t", "version": 1,
		"channel_id": channel, "guild_id": "3", "member": map[string]any{"user": map[string]any{"id": user, "username": "u"}},
		"data": map[string]any{"custom_id": customID, "component_type": 2}}, DiscordKey, 0)
}

// DiscordCommand is a guild member running /oncall <text> in a channel.
func (h *Harness) DiscordCommand(user, channel, text string) Response {
	return h.DiscordInteraction(map[string]any{"id": "1", "application_id": "2", "type": 2, "token": "t", "version": 1,
		"channel_id": channel, "guild_id": "3", "member": map[string]any{"user": map[string]any{"id": user, "username": "u"}},
		"data": map[string]any{"id": "4", "name": "oncall", "type": 1,
			"options": []map[string]any{{"name": "command", "type": 3, "value": text}}}}, DiscordKey, 0)
}

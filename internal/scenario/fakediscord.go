package scenario

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
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
	// Files are the message's attachments, when it was sent with files.
	Files []DiscordAttachment
}

// DiscordAttachment is a file an interaction's answer carried: the
// answer's message, in the interaction's channel, shows it under Content.
type DiscordAttachment struct {
	Interaction, Channel string
	Name, ContentType    string
	Data                 []byte
	// Content and Flags are the answer's message's.
	Content string
	Flags   int
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
// edits, DM channels, interaction answers with files (multipart, at the
// callback endpoint); it checks the bot token and fails on demand (429
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
	attachments    []*DiscordAttachment
	// posted are the channels of the interactions posted to the bot's
	// HTTP endpoint, by id; the gateway keeps those it dispatched.
	posted map[string]string

	// Gateway is the websocket side, and the interaction callbacks.
	Gateway *FakeDiscordGateway
}

// NewFakeDiscord starts the fake.
func NewFakeDiscord(t testing.TB) *FakeDiscord {
	f := &FakeDiscord{t: t, threads: map[string]*DiscordThread{}, posted: map[string]string{}, Gateway: newFakeDiscordGateway(t)}
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
	if r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/api/v9/interactions/") && strings.HasSuffix(r.URL.Path, "/callback") &&
		strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		f.callbackWithFiles(w, r)
		return
	}
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
	var files []DiscordAttachment
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		// A message with files: the message as payload_json, each file a
		// files[n] part with a file name, as Discord takes them.
		var why string
		body, files, why = messageWithFiles(w, r)
		if why != "" {
			dcJSON(w, 400, map[string]any{"message": "Invalid Form Body: " + why, "code": 50035})
			return
		}
	} else {
		json.NewDecoder(r.Body).Decode(&body)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if fl, ok := takeFailure(&f.failures, path); ok {
		dcFailure(w, fl)
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
		m := &DiscordMessage{ID: f.id(), Channel: parts[1], Content: str("content"), Components: string(comps), Pings: pings(body), Files: files}
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

// dcFailure answers an induced failure as Discord answers it.
func dcFailure(w http.ResponseWriter, fl failure) {
	if fl.code == 429 {
		w.Header().Set("Retry-After", fl.retryAfter)
		w.Header().Set("X-RateLimit-Scope", "user")
		dcJSON(w, 429, map[string]any{"message": "You are being rate limited.", "retry_after": json.Number(fl.retryAfter), "global": false})
		return
	}
	dcJSON(w, fl.code, map[string]any{"message": "induced failure", "code": 0})
}

// maxDiscordUpload is the most a message's files may weigh together on a
// server without boosts.
const maxDiscordUpload = 10 << 20

var discordFilePart = regexp.MustCompile(`^files\[(\d+)\]$`)

// callbackWithFiles takes an interaction's answer sent as Discord takes
// one with files: multipart, the answer as payload_json and each file as
// a files[n] part with a file name; an answer of a kind that shows no
// message (a pong, a deferral) takes none, and attachments the payload
// lists must name parts sent. The answer itself is then taken as any
// callback (once, by the interaction's id and token), and its files kept
// only if it was.
func (f *FakeDiscord) callbackWithFiles(w http.ResponseWriter, r *http.Request) {
	badForm := func(why string) {
		dcJSON(w, 400, map[string]any{"message": "Invalid Form Body: " + why, "code": 50035})
	}
	f.mu.Lock()
	fl, failed := takeFailure(&f.failures, strings.TrimPrefix(r.URL.Path, "/api/v9/"))
	f.mu.Unlock()
	if failed {
		dcFailure(w, fl)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxDiscordUpload+1<<20)
	if err := r.ParseMultipartForm(maxDiscordUpload); err != nil {
		if strings.Contains(err.Error(), "too large") {
			dcJSON(w, 413, map[string]any{"message": "Request entity too large", "code": 40005})
			return
		}
		badForm(err.Error())
		return
	}
	payloads := r.MultipartForm.Value["payload_json"]
	if len(payloads) != 1 {
		badForm("want one payload_json part")
		return
	}
	var body struct {
		Type int `json:"type"`
		Data struct {
			Content     string `json:"content"`
			Flags       int    `json:"flags"`
			Attachments []struct {
				ID json.Number `json:"id"`
			} `json:"attachments"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(payloads[0]), &body); err != nil {
		badForm("payload_json: " + err.Error())
		return
	}
	if body.Type != 4 && body.Type != 7 {
		badForm(fmt.Sprintf("an answer of type %d shows no message to attach files to", body.Type))
		return
	}
	parts := map[int]DiscordAttachment{}
	for name, fhs := range r.MultipartForm.File {
		m := discordFilePart.FindStringSubmatch(name)
		if m == nil || len(fhs) != 1 || fhs[0].Filename == "" {
			badForm(fmt.Sprintf("part %q is not one files[n] with a file name", name))
			return
		}
		n, _ := strconv.Atoi(m[1])
		part, err := fhs[0].Open()
		if err != nil {
			badForm(err.Error())
			return
		}
		data, err := io.ReadAll(part)
		part.Close()
		if err != nil {
			badForm(err.Error())
			return
		}
		parts[n] = DiscordAttachment{Name: fhs[0].Filename, ContentType: fhs[0].Header.Get("Content-Type"), Data: data}
	}
	for _, a := range body.Data.Attachments {
		if n, err := strconv.Atoi(a.ID.String()); err != nil || parts[n].Name == "" {
			badForm(fmt.Sprintf("attachment %s names no files[n] part", a.ID))
			return
		}
	}
	// The files are kept before the answer is taken, so that whoever sees
	// the answer (WaitCallback) sees its files too, and dropped again if
	// the answer is refused.
	id := strings.Split(strings.TrimPrefix(r.URL.Path, "/api/v9/interactions/"), "/")[0]
	channel := f.interactionChannel(id)
	var kept []*DiscordAttachment
	f.mu.Lock()
	for _, n := range slices.Sorted(maps.Keys(parts)) {
		a := parts[n]
		a.Interaction, a.Channel, a.Content, a.Flags = id, channel, body.Data.Content, body.Data.Flags
		kept = append(kept, &a)
		f.attachments = append(f.attachments, &a)
	}
	f.mu.Unlock()
	// The answer goes to the callback as a JSON one would.
	answer := httptest.NewRequest(http.MethodPost, r.URL.Path, strings.NewReader(payloads[0]))
	answer.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	f.Gateway.serve(rec, answer)
	if rec.Code != http.StatusNoContent {
		f.mu.Lock()
		f.attachments = slices.DeleteFunc(f.attachments, func(a *DiscordAttachment) bool { return slices.Contains(kept, a) })
		f.mu.Unlock()
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

// interactionChannel is the channel of an interaction the fake sent the
// bot, over HTTP or the gateway: where its answer shows.
func (f *FakeDiscord) interactionChannel(id string) string {
	f.mu.Lock()
	ch, ok := f.posted[id]
	f.mu.Unlock()
	if ok {
		return ch
	}
	g := f.Gateway
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, s := range g.sessions {
		for _, e := range s.sent {
			if d, ok := e.d.(map[string]any); ok && e.event == "INTERACTION_CREATE" && d["id"] == id {
				ch, _ := d["channel_id"].(string)
				return ch
			}
		}
	}
	return ""
}

// expectPosted registers an interaction posted to the bot's HTTP
// endpoint, so that its answer is taken at the callback endpoint too
// (once, by its id and token) and shows in its channel.
func (f *FakeDiscord) expectPosted(id, token, channel string) {
	f.mu.Lock()
	f.posted[id] = channel
	f.mu.Unlock()
	g := f.Gateway
	g.mu.Lock()
	g.interactions[id] = &dcInteraction{token: token}
	g.mu.Unlock()
}

// Attachments returns copies of the files the answers to interactions in
// a channel carried, in order.
func (f *FakeDiscord) Attachments(channel string) []DiscordAttachment {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []DiscordAttachment
	for _, a := range f.attachments {
		if a.Channel == channel {
			out = append(out, *a)
		}
	}
	return out
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
	if id, _ := interaction["id"].(string); id != "" {
		token, _ := interaction["token"].(string)
		channel, _ := interaction["channel_id"].(string)
		h.Discord.expectPosted(id, token, channel)
	}
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

// messageWithFiles reads a message sent with files (multipart: the
// message as payload_json, each file a files[n] part with a file name);
// why says what is wrong with a form Discord would refuse.
func messageWithFiles(w http.ResponseWriter, r *http.Request) (body map[string]any, files []DiscordAttachment, why string) {
	r.Body = http.MaxBytesReader(w, r.Body, maxDiscordUpload+1<<20)
	if err := r.ParseMultipartForm(maxDiscordUpload); err != nil {
		return nil, nil, err.Error()
	}
	payloads := r.MultipartForm.Value["payload_json"]
	if len(payloads) != 1 {
		return nil, nil, "want one payload_json part"
	}
	if err := json.Unmarshal([]byte(payloads[0]), &body); err != nil {
		return nil, nil, "payload_json: " + err.Error()
	}
	for name, fhs := range r.MultipartForm.File {
		if discordFilePart.FindStringSubmatch(name) == nil || len(fhs) != 1 || fhs[0].Filename == "" {
			return nil, nil, fmt.Sprintf("part %q is not one files[n] with a file name", name)
		}
		part, err := fhs[0].Open()
		if err != nil {
			return nil, nil, err.Error()
		}
		data, err := io.ReadAll(part)
		part.Close()
		if err != nil {
			return nil, nil, err.Error()
		}
		files = append(files, DiscordAttachment{Name: fhs[0].Filename, ContentType: fhs[0].Header.Get("Content-Type"), Data: data})
	}
	return body, files, ""
}

package scenario

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	slackchat "github.com/oncallbot/bot/internal/chat/slack"
)

// Slack credentials of the scenarios' fake workspace.
const (
	SlackToken  = "xoxb-fake-token"
	SlackSecret = "slack-signing-secret"
)

// SlackChannel is a channel of the fake workspace.
type SlackChannel struct {
	ID, Name string
	Private  bool
	Members  []string
	Pins     []string
}

// SlackMessage is a message the fake keeps, with its edits.
type SlackMessage struct {
	Channel, TS, Text, Blocks, ThreadTS, EphemeralTo string
	Edits                                            int
}

// SlackFile is a file shared into a channel through the files API, with
// the bytes that were uploaded.
type SlackFile struct {
	ID, Channel, ThreadTS string
	// Name and AltText are as files.getUploadURLExternal was given them,
	// Title and Comment (initial_comment) as files.completeUploadExternal.
	Name, AltText, Title, Comment string
	Data                          []byte
}

// slackUpload is a file between files.getUploadURLExternal and its
// share: the upload URL takes its bytes once, the share needs them.
type slackUpload struct {
	name, alt string
	length    int
	data      []byte
	uploaded  bool
	shared    bool
}

// FakeSlack is a stateful stand-in for Slack's Web API: channels with
// unique names (even among archived ones), members, messages and their
// edits, pins, DMs, ephemeral messages, files uploaded and shared in
// three steps as the files API takes them; it answers like Slack (HTTP
// 200 with ok:false and an error code, 429 with Retry-After) and fails
// on demand.
type FakeSlack struct {
	t   testing.TB
	srv *httptest.Server

	mu       sync.Mutex
	channels map[string]*SlackChannel
	messages []*SlackMessage
	seq      int
	failures []failure
	calls    map[string]int
	// created records when each channel was asked for, for latency
	// measurements.
	created map[string]time.Time
	uploads map[string]*slackUpload
	files   []*SlackFile
	// changed is closed and replaced whenever a file is shared, to wake
	// WaitFiles: the bot shares a reply's picture after answering.
	changed changes

	// Socket is the Socket Mode side: apps.connections.open and the
	// websocket it hands out.
	Socket *FakeSlackSocket
}

// NewFakeSlack starts the fake.
func NewFakeSlack(t testing.TB) *FakeSlack {
	f := &FakeSlack{t: t, channels: map[string]*SlackChannel{}, calls: map[string]int{}, created: map[string]time.Time{},
		uploads: map[string]*slackUpload{}, changed: newChanges()}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	f.Socket = newFakeSlackSocket(t, f.srv.URL)
	return f
}

// URL is the API base, ending in "/".
func (f *FakeSlack) URL() string { return f.srv.URL + "/api/" }

// FailNext makes the next n calls fail with code (429 carries Retry-After).
func (f *FakeSlack) FailNext(n, code int, retryAfter string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.failures = append(f.failures, failure{code: code, retryAfter: retryAfter})
	}
}

func reply(w http.ResponseWriter, v map[string]any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func slackErr(w http.ResponseWriter, code string) {
	reply(w, map[string]any{"ok": false, "error": code})
}

var slackName = regexp.MustCompile(`^[a-z0-9_-]{1,80}$`)

// params reads a call's parameters, form or JSON as slack-go sends them.
func params(r *http.Request) url.Values {
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var m map[string]any
		json.NewDecoder(r.Body).Decode(&m)
		v := url.Values{}
		for k, x := range m {
			switch x := x.(type) {
			case string:
				v.Set(k, x)
			default:
				b, _ := json.Marshal(x)
				v.Set(k, string(b))
			}
		}
		return v
	}
	r.ParseForm()
	return r.Form
}

func (f *FakeSlack) serve(w http.ResponseWriter, r *http.Request) {
	if f.Socket.serve(w, r) {
		return
	}
	if id, ok := strings.CutPrefix(r.URL.Path, slackUploadPath); ok {
		f.upload(w, r, id)
		return
	}
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	p := params(r)
	token := p.Get("token")
	if t, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		token = t
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[method]++
	if token != SlackToken {
		slackErr(w, "invalid_auth")
		return
	}
	if len(f.failures) > 0 {
		fl := f.failures[0]
		f.failures = f.failures[1:]
		if fl.retryAfter != "" {
			w.Header().Set("Retry-After", fl.retryAfter)
		}
		w.WriteHeader(fl.code)
		fmt.Fprint(w, `{"ok":false,"error":"ratelimited"}`)
		return
	}
	switch method {
	case "conversations.create":
		name := p.Get("name")
		if _, seen := f.created[name]; !seen {
			f.created[name] = time.Now()
		}
		if !slackName.MatchString(name) {
			slackErr(w, "invalid_name_specials")
			return
		}
		for _, c := range f.channels {
			if c.Name == name {
				slackErr(w, "name_taken")
				return
			}
		}
		f.seq++
		c := &SlackChannel{ID: fmt.Sprintf("C%04d", f.seq), Name: name, Private: p.Get("is_private") == "true"}
		f.channels[c.ID] = c
		reply(w, map[string]any{"ok": true, "channel": map[string]any{"id": c.ID, "name": c.Name, "is_private": c.Private}})
	case "conversations.list":
		var list []map[string]any
		for _, c := range f.channels {
			list = append(list, map[string]any{"id": c.ID, "name": c.Name})
		}
		reply(w, map[string]any{"ok": true, "channels": list, "response_metadata": map[string]any{"next_cursor": ""}})
	case "conversations.invite":
		c, ok := f.channels[p.Get("channel")]
		if !ok {
			slackErr(w, "channel_not_found")
			return
		}
		added := 0
		for _, u := range strings.Split(p.Get("users"), ",") {
			if u != "" && !containsStr(c.Members, u) {
				c.Members = append(c.Members, u)
				added++
			}
		}
		if added == 0 {
			// As Slack does when everyone invited is already there.
			slackErr(w, "already_in_channel")
			return
		}
		reply(w, map[string]any{"ok": true, "channel": map[string]any{"id": c.ID}})
	case "conversations.open":
		id := "D" + strings.ReplaceAll(p.Get("users"), ",", "")
		if _, ok := f.channels[id]; !ok {
			f.channels[id] = &SlackChannel{ID: id, Members: strings.Split(p.Get("users"), ",")}
		}
		reply(w, map[string]any{"ok": true, "channel": map[string]any{"id": id}})
	case "chat.postMessage", "chat.postEphemeral":
		c, ok := f.channels[p.Get("channel")]
		if !ok {
			slackErr(w, "channel_not_found")
			return
		}
		if p.Get("text") == "" && p.Get("blocks") == "" {
			slackErr(w, "no_text")
			return
		}
		f.seq++
		m := &SlackMessage{Channel: c.ID, TS: fmt.Sprintf("1772420400.%06d", f.seq), Text: p.Get("text"),
			Blocks: p.Get("blocks"), ThreadTS: p.Get("thread_ts"), EphemeralTo: p.Get("user")}
		f.messages = append(f.messages, m)
		if method == "chat.postEphemeral" {
			reply(w, map[string]any{"ok": true, "message_ts": m.TS})
			return
		}
		reply(w, map[string]any{"ok": true, "channel": c.ID, "ts": m.TS, "message": map[string]any{"text": m.Text, "ts": m.TS}})
	case "chat.update":
		for _, m := range f.messages {
			if m.Channel == p.Get("channel") && m.TS == p.Get("ts") {
				m.Text, m.Blocks = p.Get("text"), p.Get("blocks")
				m.Edits++
				reply(w, map[string]any{"ok": true, "channel": m.Channel, "ts": m.TS, "text": m.Text})
				return
			}
		}
		slackErr(w, "message_not_found")
	case "pins.add":
		c, ok := f.channels[p.Get("channel")]
		if !ok {
			slackErr(w, "channel_not_found")
			return
		}
		if containsStr(c.Pins, p.Get("timestamp")) {
			slackErr(w, "already_pinned")
			return
		}
		c.Pins = append(c.Pins, p.Get("timestamp"))
		reply(w, map[string]any{"ok": true})
	case "files.getUploadURLExternal":
		length, err := strconv.Atoi(p.Get("length"))
		if p.Get("filename") == "" || err != nil || length <= 0 {
			slackErr(w, "invalid_arguments")
			return
		}
		f.seq++
		id := fmt.Sprintf("F%04d", f.seq)
		f.uploads[id] = &slackUpload{name: p.Get("filename"), alt: p.Get("alt_txt"), length: length}
		// The upload URL is the fake's own, as Slack's is its own host:
		// slack-go sends the token only to the API's host.
		reply(w, map[string]any{"ok": true, "file_id": id, "upload_url": f.srv.URL + slackUploadPath + id})
	case "files.completeUploadExternal":
		f.completeUpload(w, p)
	default:
		slackErr(w, "unknown_method")
	}
}

// slackUploadPath is where the fake's upload URLs start.
const slackUploadPath = "/upload/v1/"

// upload takes the bytes of a file files.getUploadURLExternal announced,
// posted to its URL as a multipart "file" part (slack-go) or as the raw
// body, once; Slack answers the upload URL in plain text.
func (f *FakeSlack) upload(w http.ResponseWriter, r *http.Request, id string) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	var data []byte
	var err error
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		part, _, ferr := r.FormFile("file")
		if ferr != nil {
			http.Error(w, "no file part: "+ferr.Error(), http.StatusBadRequest)
			return
		}
		defer part.Close()
		data, err = io.ReadAll(part)
	} else {
		data, err = io.ReadAll(r.Body)
	}
	if err != nil {
		http.Error(w, "read the upload: "+err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.uploads[id]
	if !ok || u.uploaded {
		http.Error(w, "unknown or used upload URL", http.StatusNotFound)
		return
	}
	if len(data) != u.length {
		http.Error(w, fmt.Sprintf("announced %d bytes, got %d", u.length, len(data)), http.StatusBadRequest)
		return
	}
	u.data, u.uploaded = data, true
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprintf(w, "OK - %d", len(data))
}

// completeUpload shares uploaded files into channel_id, in thread_ts
// when given, with initial_comment: each file id must be one the fake
// gave out, whose bytes came, and not shared already; the channel must
// exist. f.mu is held.
func (f *FakeSlack) completeUpload(w http.ResponseWriter, p url.Values) {
	var summaries []struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	if err := json.Unmarshal([]byte(p.Get("files")), &summaries); err != nil || len(summaries) == 0 {
		slackErr(w, "invalid_arguments")
		return
	}
	channel := p.Get("channel_id")
	if _, ok := f.channels[channel]; channel != "" && !ok {
		slackErr(w, "channel_not_found")
		return
	}
	for _, s := range summaries {
		if u, ok := f.uploads[s.ID]; !ok || !u.uploaded || u.shared {
			slackErr(w, "file_not_found")
			return
		}
	}
	var out []map[string]any
	for _, s := range summaries {
		u := f.uploads[s.ID]
		u.shared = true
		title := s.Title
		if title == "" {
			title = u.name
		}
		f.files = append(f.files, &SlackFile{ID: s.ID, Channel: channel, ThreadTS: p.Get("thread_ts"), Name: u.name,
			AltText: u.alt, Title: title, Comment: p.Get("initial_comment"), Data: u.data})
		out = append(out, map[string]any{"id": s.ID, "title": title})
	}
	f.changed.notify()
	reply(w, map[string]any{"ok": true, "files": out})
}

// AddChannel makes a channel that exists before the bot does: a team's
// room, which the configuration names.
func (f *FakeSlack) AddChannel(id, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.channels[id] = &SlackChannel{ID: id, Name: name}
}

// Files returns copies of the files shared into a channel, in order.
func (f *FakeSlack) Files(channel string) []SlackFile {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []SlackFile
	for _, x := range f.files {
		if x.Channel == channel {
			out = append(out, *x)
		}
	}
	return out
}

// WaitFiles waits up to 10 s of real time for n files shared into
// channel, and returns them: the bot shares a reply's picture after its
// answer has gone, so the answer comes back first.
func (f *FakeSlack) WaitFiles(channel string, n int) []SlackFile {
	f.t.Helper()
	var got []SlackFile
	waitChange(f.t, fmt.Sprintf("%d files in slack channel %s", n, channel), 10*time.Second, func() (bool, <-chan struct{}) {
		// The channel is taken before looking, so a share in between
		// wakes the next wait.
		f.mu.Lock()
		changed := f.changed.ch
		f.mu.Unlock()
		got = f.Files(channel)
		return len(got) >= n, changed
	})
	return got
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// CreatedAt returns when a channel was first asked for.
func (f *FakeSlack) CreatedAt(name string) (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.created[name]
	return t, ok
}

// createdBySlug finds when the channel whose name ends in -<slug> (lower
// case) was first asked for.
func (f *FakeSlack) createdBySlug(slug string) (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	suffix := "-" + strings.ToLower(slug)
	for name, t := range f.created {
		if strings.HasSuffix(name, suffix) {
			return t, true
		}
	}
	return time.Time{}, false
}

// Channel returns a copy of the channel named name, or nil.
func (f *FakeSlack) Channel(name string) *SlackChannel {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.channels {
		if c.Name == name {
			cp := *c
			return &cp
		}
	}
	return nil
}

// channelsNamed returns the ids of the channels whose name contains part.
func (f *FakeSlack) channelsNamed(part string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for id, c := range f.channels {
		if strings.Contains(c.Name, part) {
			out = append(out, id)
		}
	}
	return out
}

// Messages returns copies of a channel's messages, in order.
func (f *FakeSlack) Messages(channel string) []SlackMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []SlackMessage
	for _, m := range f.messages {
		if m.Channel == channel {
			out = append(out, *m)
		}
	}
	return out
}

// Calls counts the calls of a method.
func (f *FakeSlack) Calls(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[method]
}

// slackPost sends a request signed as Slack signs it, at the bot's now.
func (h *Harness) slackPost(path string, form url.Values, secret string, skew int64) Response {
	h.T.Helper()
	body := []byte(form.Encode())
	ts := fmt.Sprint(h.Clock.Now().Unix() + skew)
	return h.do("POST", path, http.Header{
		"Content-Type":              {"application/x-www-form-urlencoded"},
		"X-Slack-Request-Timestamp": {ts},
		"X-Slack-Signature":         {slackchat.Signature([]byte(secret), ts, body)},
	}, body)
}

// SlackCommand is a person typing /oncall <text> in a channel.
func (h *Harness) SlackCommand(user, channel, text string) (code int, responseType, answer string) {
	h.T.Helper()
	r := h.slackPost("/slack/commands", url.Values{
		"command": {"/oncall"}, "text": {text}, "user_id": {user}, "channel_id": {channel},
		"team_id": {"T0001"}, "response_url": {"https://hooks.slack.com/commands/1234/5678"}, "trigger_id": {"13345224609.738474920.8088930838d88f008e0"},
	}, SlackSecret, 0)
	var out struct{ ResponseType, Text string }
	var raw map[string]string
	json.Unmarshal(r.Body, &raw)
	out.ResponseType, out.Text = raw["response_type"], raw["text"]
	h.Tick()
	return r.Code, out.ResponseType, out.Text
}

// SlackPress is a person pressing a card button whose value is value.
func (h *Harness) SlackPress(user, channel, value string) int {
	h.T.Helper()
	payload, _ := json.Marshal(map[string]any{
		"type": "block_actions", "user": map[string]string{"id": user}, "channel": map[string]string{"id": channel},
		"actions": []map[string]string{{"action_id": "cmd-0", "block_id": "incident", "type": "button", "value": value}},
	})
	r := h.slackPost("/slack/interactivity", url.Values{"payload": {string(payload)}}, SlackSecret, 0)
	h.Tick()
	return r.Code
}

package scenario

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	_ "image/jpeg" // the photos Telegram takes: JPEG, PNG
	_ "image/png"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"
)

// Telegram credentials and ids of the scenarios' fake.
const (
	TelegramToken  = "123456:fake-telegram-token"
	TelegramSecret = "telegram-webhook-secret"
	TelegramForum  = int64(-1001234567890)
)

// TelegramTopic is a forum topic of the fake.
type TelegramTopic struct {
	ID     int
	Name   string
	Closed bool
}

// TelegramMessage is a message the fake keeps, with its edits.
type TelegramMessage struct {
	ID     int
	ChatID int64
	Topic  int
	// Text is the words the message shows: its text, or a photo's
	// caption.
	Text     string
	Keyboard string // the reply_markup JSON
	Edits    int
	ReplyTo  int
	// Mentions are the message's text mentions.
	Mentions []TelegramMention
	// Photo is a photo message's picture as uploaded (sendPhoto), named
	// PhotoName; nil for a text message.
	Photo     []byte
	PhotoName string
}

// TelegramMention is a text mention: the words that link to a user.
type TelegramMention struct {
	Text   string
	UserID int64
}

// FakeTelegram is a stateful stand-in for the Bot API: forum topics that
// open and close, messages and their edits, photos uploaded with their
// captions, callback answers; it answers
// like the Bot API ({"ok":false,"error_code":...} and 429 with
// retry_after) and fails on demand.
type FakeTelegram struct {
	t   testing.TB
	srv *httptest.Server

	mu     sync.Mutex
	topics map[int]*TelegramTopic
	// groupLimit, when set, refuses (429 with retry_after) a message to a
	// group past the limit per window, as Telegram does; sent keeps the
	// times of each group's messages on the harness's clock.
	groupLimit  int
	groupWindow time.Duration
	now         func() time.Time
	sent        map[int64][]time.Time
	throttled   int
	messages    []*TelegramMessage
	answers     []string
	seq         int
	failures    []failure

	// Long polling: the webhook URL (getUpdates answers 409 while one is
	// set), the updates queued and not yet confirmed, the last update_id
	// given out, getUpdates calls and their induced failures.
	webhook      string
	updates      []queuedUpdate
	lastUpdateID int64
	polls        int
	pollFailures []failure
	// changed is closed and replaced after every call and every queued
	// update or poll failure: it wakes held getUpdates calls and WaitUntil.
	changed changes
	stop    chan struct{}
}

type queuedUpdate struct {
	id   int64
	body map[string]any
}

// telegramWebhookURL is the webhook the fake starts with, as for a bot
// deployed in the default webhook mode: a poller must delete it first.
const telegramWebhookURL = "https://oncall.invalid/telegram/webhook"

// NewFakeTelegram starts the fake.
func NewFakeTelegram(t testing.TB) *FakeTelegram {
	f := &FakeTelegram{t: t, topics: map[int]*TelegramTopic{}, webhook: telegramWebhookURL,
		changed: newChanges(), stop: make(chan struct{})}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	// Runs before Close, which waits for held getUpdates calls.
	t.Cleanup(func() { close(f.stop) })
	return f
}

// URL is the Bot API server.
func (f *FakeTelegram) URL() string { return f.srv.URL }

// FailNext makes the next n calls other than getUpdates fail (see
// FailPolls): 429 answers carry retry_after.
func (f *FakeTelegram) FailNext(n, code int, retryAfter string) {
	f.FailNextOn("", n, code, retryAfter)
}

// FailNextOn makes the next n calls of one method (createForumTopic, say)
// fail, whichever other calls come first.
func (f *FakeTelegram) FailNextOn(method string, n, code int, retryAfter string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.failures = append(f.failures, failure{code: code, retryAfter: retryAfter, path: method})
	}
}

func tgReply(w http.ResponseWriter, result any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"ok": true, "result": result})
}

func tgError(w http.ResponseWriter, code int, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]any{"ok": false, "error_code": code, "description": desc})
}

func (f *FakeTelegram) serve(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/bot"+TelegramToken+"/")
	if !ok {
		tgError(w, 401, "Unauthorized")
		return
	}
	if err := r.ParseMultipartForm(1 << 20); err != nil {
		r.ParseForm()
	}
	v := r.FormValue
	f.mu.Lock()
	defer f.mu.Unlock()
	defer f.changedLocked()
	if rest != "getUpdates" {
		if fl, ok := takeFailure(&f.failures, rest); ok {
			tgFailure(w, fl)
			return
		}
	}
	chatID, _ := strconv.ParseInt(v("chat_id"), 10, 64)
	topic, _ := strconv.Atoi(v("message_thread_id"))
	switch rest {
	case "createForumTopic":
		if chatID != TelegramForum {
			tgError(w, 400, "Bad Request: chat not found")
			return
		}
		name := v("name")
		if n := len([]rune(name)); n < 1 || n > 128 {
			tgError(w, 400, "Bad Request: TOPIC_NAME_INVALID")
			return
		}
		f.seq++
		f.topics[f.seq] = &TelegramTopic{ID: f.seq, Name: name}
		tgReply(w, map[string]any{"message_thread_id": f.seq, "name": name, "icon_color": 7322096})
	case "closeForumTopic", "reopenForumTopic":
		tp, ok := f.topics[topic]
		if !ok {
			tgError(w, 400, "Bad Request: TOPIC_ID_INVALID")
			return
		}
		if tp.Closed == (rest == "closeForumTopic") {
			tgError(w, 400, "Bad Request: TOPIC_NOT_MODIFIED")
			return
		}
		tp.Closed = rest == "closeForumTopic"
		tgReply(w, true)
	case "sendMessage":
		if v("text") == "" {
			tgError(w, 400, "Bad Request: message text is empty")
			return
		}
		if topic != 0 && chatID == TelegramForum {
			if tp, ok := f.topics[topic]; !ok || tp.Closed {
				tgError(w, 400, "Bad Request: TOPIC_CLOSED")
				return
			}
		}
		mentions, err := textMentions(v("text"), v("entities"))
		if err != nil {
			tgError(w, 400, "Bad Request: can't parse entities: "+err.Error())
			return
		}
		if wait := f.overGroupLimit(chatID); wait > 0 {
			f.throttled++
			secs := int((wait + time.Second - 1) / time.Second)
			tgFailure(w, failure{code: 429, retryAfter: strconv.Itoa(secs)})
			return
		}
		f.seq++
		m := &TelegramMessage{ID: f.seq, ChatID: chatID, Topic: topic, Text: v("text"), Keyboard: v("reply_markup"), Mentions: mentions}
		var rp struct {
			MessageID int `json:"message_id"`
		}
		json.Unmarshal([]byte(v("reply_parameters")), &rp)
		m.ReplyTo = rp.MessageID
		f.messages = append(f.messages, m)
		tgReply(w, map[string]any{"message_id": m.ID, "date": 1772420400, "chat": map[string]any{"id": chatID, "type": "supergroup"},
			"message_thread_id": topic, "text": m.Text})
	case "sendPhoto":
		f.sendPhoto(w, r, chatID, topic)
	case "editMessageText":
		id, _ := strconv.Atoi(v("message_id"))
		for _, m := range f.messages {
			if m.ChatID == chatID && m.ID == id {
				if m.Text == v("text") && m.Keyboard == v("reply_markup") {
					tgError(w, 400, "Bad Request: message is not modified")
					return
				}
				m.Text, m.Keyboard = v("text"), v("reply_markup")
				m.Edits++
				tgReply(w, map[string]any{"message_id": m.ID, "date": 1772420400, "chat": map[string]any{"id": chatID, "type": "supergroup"}, "text": m.Text})
				return
			}
		}
		tgError(w, 400, "Bad Request: message to edit not found")
	case "answerCallbackQuery":
		f.answers = append(f.answers, v("text"))
		tgReply(w, true)
	case "getUpdates":
		f.getUpdates(w, r)
	case "setWebhook":
		f.webhook = v("url")
		tgReply(w, true)
	case "deleteWebhook":
		f.webhook = ""
		if v("drop_pending_updates") == "true" {
			f.updates = nil
		}
		tgReply(w, true)
	default:
		tgError(w, 404, "Not Found: method not found")
	}
}

// maxTelegramCaption is the longest caption Telegram takes, in UTF-16
// code units.
const maxTelegramCaption = 1024

// sendPhoto takes a photo uploaded as the multipart file part "photo"
// (a file_id or URL would name a file the fake cannot fetch), checks it
// as Telegram does (a picture it can read, width and height within 10000
// together and at most 20:1, a caption of at most 1024 characters, an
// open topic, the group's limit) and keeps it as a message. f.mu is held.
func (f *FakeTelegram) sendPhoto(w http.ResponseWriter, r *http.Request, chatID int64, topic int) {
	v := r.FormValue
	var file []byte
	var name string
	if r.MultipartForm != nil && len(r.MultipartForm.File["photo"]) == 1 {
		fh := r.MultipartForm.File["photo"][0]
		part, err := fh.Open()
		if err == nil {
			file, err = io.ReadAll(part)
			part.Close()
		}
		if err != nil {
			tgError(w, 400, "Bad Request: can't read the photo: "+err.Error())
			return
		}
		name = fh.Filename
	}
	if file == nil {
		tgError(w, 400, "Bad Request: there is no photo in the request")
		return
	}
	pic, _, err := image.DecodeConfig(bytes.NewReader(file))
	if err != nil {
		tgError(w, 400, "Bad Request: IMAGE_PROCESS_FAILED")
		return
	}
	if long, short := max(pic.Width, pic.Height), min(pic.Width, pic.Height); pic.Width+pic.Height > 10000 || short == 0 || long > 20*short {
		tgError(w, 400, "Bad Request: PHOTO_INVALID_DIMENSIONS")
		return
	}
	caption := v("caption")
	if len(utf16.Encode([]rune(caption))) > maxTelegramCaption {
		tgError(w, 400, "Bad Request: message caption is too long")
		return
	}
	if topic != 0 && chatID == TelegramForum {
		if tp, ok := f.topics[topic]; !ok || tp.Closed {
			tgError(w, 400, "Bad Request: TOPIC_CLOSED")
			return
		}
	}
	if wait := f.overGroupLimit(chatID); wait > 0 {
		f.throttled++
		tgFailure(w, failure{code: 429, retryAfter: strconv.Itoa(int((wait + time.Second - 1) / time.Second))})
		return
	}
	f.seq++
	m := &TelegramMessage{ID: f.seq, ChatID: chatID, Topic: topic, Text: caption, Photo: file, PhotoName: name, Keyboard: v("reply_markup")}
	var rp struct {
		MessageID int `json:"message_id"`
	}
	json.Unmarshal([]byte(v("reply_parameters")), &rp)
	m.ReplyTo = rp.MessageID
	f.messages = append(f.messages, m)
	tgReply(w, map[string]any{"message_id": m.ID, "date": 1772420400, "chat": map[string]any{"id": chatID, "type": "supergroup"},
		"message_thread_id": topic, "caption": caption, "photo": []map[string]any{{"file_id": fmt.Sprintf("photo-%d", m.ID),
			"file_unique_id": fmt.Sprintf("u%d", m.ID), "width": pic.Width, "height": pic.Height, "file_size": len(file)}}})
}

// textMentions checks a message's entities as Telegram does (offsets and
// lengths in UTF-16 code units, inside the text; a text mention names a
// user) and returns the mentioned text and user of each text mention.
func textMentions(text, raw string) ([]TelegramMention, error) {
	if raw == "" {
		return nil, nil
	}
	var entities []struct {
		Type   string `json:"type"`
		Offset int    `json:"offset"`
		Length int    `json:"length"`
		User   *struct {
			ID int64 `json:"id"`
		} `json:"user"`
	}
	if err := json.Unmarshal([]byte(raw), &entities); err != nil {
		return nil, fmt.Errorf("entities are not JSON: %w", err)
	}
	units := utf16.Encode([]rune(text))
	var out []TelegramMention
	for i, e := range entities {
		if e.Offset < 0 || e.Length <= 0 || e.Offset+e.Length > len(units) {
			return nil, fmt.Errorf("entity %d (offset %d, length %d) is outside the text of %d units", i, e.Offset, e.Length, len(units))
		}
		if e.Type != "text_mention" {
			continue
		}
		if e.User == nil || e.User.ID == 0 {
			return nil, fmt.Errorf("text mention %d has no user", i)
		}
		out = append(out, TelegramMention{Text: string(utf16.Decode(units[e.Offset : e.Offset+e.Length])), UserID: e.User.ID})
	}
	return out, nil
}

// AddTopic opens a topic in the forum as its members would, outside the
// bot (a team's "Handoffs", say), and returns its id.
func (f *FakeTelegram) AddTopic(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	f.topics[f.seq] = &TelegramTopic{ID: f.seq, Name: name}
	return f.seq
}

// Topic returns a copy of the topic named name, or nil.
func (f *FakeTelegram) Topic(name string) *TelegramTopic {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, t := range f.topics {
		if t.Name == name {
			cp := *t
			return &cp
		}
	}
	return nil
}

// Messages returns copies of the messages of a chat's topic (0: none).
func (f *FakeTelegram) Messages(chatID int64, topic int) []TelegramMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []TelegramMessage
	for _, m := range f.messages {
		if m.ChatID == chatID && m.Topic == topic {
			out = append(out, *m)
		}
	}
	return out
}

// AllMessages returns copies of every message sent.
func (f *FakeTelegram) AllMessages() []TelegramMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []TelegramMessage
	for _, m := range f.messages {
		out = append(out, *m)
	}
	return out
}

// Answers returns the texts of callback answers (toasts), in order.
func (f *FakeTelegram) Answers() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.answers...)
}

func tgFailure(w http.ResponseWriter, fl failure) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(fl.code)
	body := map[string]any{"ok": false, "error_code": fl.code, "description": "induced failure"}
	if fl.retryAfter != "" {
		n, _ := strconv.Atoi(fl.retryAfter)
		body["parameters"] = map[string]int{"retry_after": n}
	}
	json.NewEncoder(w).Encode(body)
}

// changedLocked wakes whoever waits for the fake to change.
func (f *FakeTelegram) changedLocked() { f.changed.notify() }

// getUpdates answers a long poll as Telegram does: 409 while a webhook is
// set; the updates below offset are confirmed and forgotten; those left
// are answered at once, or else the call is held until one is queued, its
// timeout passes or the caller gives up. Called with f.mu held, which it
// lets go while it waits.
func (f *FakeTelegram) getUpdates(w http.ResponseWriter, r *http.Request) {
	f.polls++
	if f.webhook != "" {
		tgError(w, 409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first")
		return
	}
	if offset, _ := strconv.ParseInt(r.FormValue("offset"), 10, 64); offset > 0 {
		f.updates = slices.DeleteFunc(f.updates, func(u queuedUpdate) bool { return u.id < offset })
	}
	limit, _ := strconv.Atoi(r.FormValue("limit"))
	if limit < 1 || limit > 100 {
		limit = 100
	}
	timeout, _ := strconv.Atoi(r.FormValue("timeout"))
	expired := time.After(time.Duration(timeout) * time.Second)
	for held := timeout > 0; held && len(f.updates) == 0 && len(f.pollFailures) == 0; {
		changed := f.changed.ch
		f.mu.Unlock()
		select {
		case <-changed:
		case <-expired:
			held = false
		case <-r.Context().Done():
			held = false
		case <-f.stop:
			held = false
		}
		f.mu.Lock()
	}
	if len(f.pollFailures) > 0 {
		fl := f.pollFailures[0]
		f.pollFailures = f.pollFailures[1:]
		tgFailure(w, fl)
		return
	}
	batch := []map[string]any{}
	for _, u := range f.updates[:min(limit, len(f.updates))] {
		batch = append(batch, u.body)
	}
	tgReply(w, batch)
}

// QueueUpdate queues an update for getUpdates under the next update_id,
// which it returns; update is an Update without its update_id.
func (f *FakeTelegram) QueueUpdate(update map[string]any) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastUpdateID++
	body := maps.Clone(update)
	body["update_id"] = f.lastUpdateID
	f.updates = append(f.updates, queuedUpdate{f.lastUpdateID, body})
	f.changedLocked()
	return f.lastUpdateID
}

// QueueCommand queues a person (user id) typing text in a topic.
func (f *FakeTelegram) QueueCommand(user int64, topic int, text string) int64 {
	return f.QueueUpdate(telegramCommandUpdate(user, topic, text))
}

// QueuePress queues a person pressing an inline button with data.
func (f *FakeTelegram) QueuePress(user int64, topic, messageID int, data string) int64 {
	return f.QueueUpdate(telegramPressUpdate(user, topic, messageID, data))
}

// FailPolls makes the next n getUpdates calls fail, a held one at once:
// 429 answers carry retry_after.
func (f *FakeTelegram) FailPolls(n, code int, retryAfter string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.pollFailures = append(f.pollFailures, failure{code: code, retryAfter: retryAfter})
	}
	f.changedLocked()
}

// Pending is how many queued updates getUpdates has not had confirmed.
func (f *FakeTelegram) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.updates)
}

// Polls is how many getUpdates calls came in.
func (f *FakeTelegram) Polls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.polls
}

// Webhook is the webhook URL set ("" after deleteWebhook).
func (f *FakeTelegram) Webhook() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.webhook
}

// WaitUntil fails the test unless cond comes true within 10 s of real
// time: for what a bot that polls does in its own goroutine. cond is
// checked again after each call the fake takes, so nothing sleeps.
func (f *FakeTelegram) WaitUntil(what string, cond func() bool) {
	f.t.Helper()
	// cond reads the fake through its accessors, which lock for themselves.
	waitChange(f.t, "telegram "+what, 10*time.Second, func() (bool, <-chan struct{}) {
		f.mu.Lock()
		changed := f.changed.ch
		f.mu.Unlock()
		return cond(), changed
	})
}

// telegramUpdate posts an update to the bot's webhook with secret.
func (h *Harness) telegramUpdate(update map[string]any, secret string) int {
	h.T.Helper()
	b, _ := json.Marshal(update)
	r := h.do("POST", "/telegram/webhook", http.Header{"Content-Type": {"application/json"},
		"X-Telegram-Bot-Api-Secret-Token": {secret}}, b)
	h.Tick()
	return r.Code
}

// TelegramCommand is a person (user id) typing text in a topic.
func (h *Harness) TelegramCommand(user int64, topic int, text string) int {
	h.T.Helper()
	upd := telegramCommandUpdate(user, topic, text)
	upd["update_id"] = 1
	return h.telegramUpdate(upd, TelegramSecret)
}

// TelegramPress is a person pressing an inline button with data.
func (h *Harness) TelegramPress(user int64, topic, messageID int, data string) int {
	h.T.Helper()
	upd := telegramPressUpdate(user, topic, messageID, data)
	upd["update_id"] = 2
	return h.telegramUpdate(upd, TelegramSecret)
}

// telegramCommandUpdate is the update, less its update_id, of a person
// (user id) typing text in a topic.
func telegramCommandUpdate(user int64, topic int, text string) map[string]any {
	entity := strings.SplitN(text, " ", 2)[0]
	return map[string]any{"message": map[string]any{
		"message_id": 900, "date": 1772420400, "text": text, "message_thread_id": topic, "is_topic_message": true,
		"from":     map[string]any{"id": user, "is_bot": false, "first_name": "U"},
		"chat":     map[string]any{"id": TelegramForum, "type": "supergroup", "is_forum": true},
		"entities": []map[string]any{{"type": "bot_command", "offset": 0, "length": len(entity)}},
	}}
}

// telegramPressUpdate is the update, less its update_id, of a person
// pressing an inline button with data.
func telegramPressUpdate(user int64, topic, messageID int, data string) map[string]any {
	return map[string]any{"callback_query": map[string]any{
		"id": fmt.Sprint("cb", messageID), "chat_instance": "-4291612063202133648", "data": data,
		"from": map[string]any{"id": user, "is_bot": false, "first_name": "U"},
		"message": map[string]any{"message_id": messageID, "date": 1772420400, "message_thread_id": topic,
			"chat": map[string]any{"id": TelegramForum, "type": "supergroup", "is_forum": true}},
	}}
}

// LimitGroups makes the fake enforce Telegram's limit on messages into
// one group: at most n in any window, timed by now (the harness's clock).
func (f *FakeTelegram) LimitGroups(n int, window time.Duration, now func() time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.groupLimit, f.groupWindow, f.now, f.sent = n, window, now, map[int64][]time.Time{}
}

// Throttled counts the messages refused with 429 for the group limit.
func (f *FakeTelegram) Throttled() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.throttled
}

// overGroupLimit records a message to chatID and returns 0, or returns
// how long until the group may take another; f.mu is held.
func (f *FakeTelegram) overGroupLimit(chatID int64) time.Duration {
	if f.groupLimit == 0 || chatID >= 0 { // private chats have their own limits
		return 0
	}
	now := f.now()
	recent := f.sent[chatID][:0]
	for _, at := range f.sent[chatID] {
		if now.Sub(at) < f.groupWindow {
			recent = append(recent, at)
		}
	}
	f.sent[chatID] = recent
	if len(recent) >= f.groupLimit {
		return recent[0].Add(f.groupWindow).Sub(now)
	}
	f.sent[chatID] = append(recent, now)
	return 0
}

package scenario

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
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
	ID       int
	ChatID   int64
	Topic    int
	Text     string
	Keyboard string // the reply_markup JSON
	Edits    int
	ReplyTo  int
	// Mentions are the message's text mentions.
	Mentions []TelegramMention
}

// TelegramMention is a text mention: the words that link to a user.
type TelegramMention struct {
	Text   string
	UserID int64
}

// FakeTelegram is a stateful stand-in for the Bot API: forum topics that
// open and close, messages and their edits, callback answers; it answers
// like the Bot API ({"ok":false,"error_code":...} and 429 with
// retry_after) and fails on demand.
type FakeTelegram struct {
	t   testing.TB
	srv *httptest.Server

	mu       sync.Mutex
	topics   map[int]*TelegramTopic
	messages []*TelegramMessage
	answers  []string
	seq      int
	failures []failure
}

// NewFakeTelegram starts the fake.
func NewFakeTelegram(t testing.TB) *FakeTelegram {
	f := &FakeTelegram{t: t, topics: map[int]*TelegramTopic{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// URL is the Bot API server.
func (f *FakeTelegram) URL() string { return f.srv.URL }

// FailNext makes the next n calls fail: 429 answers carry retry_after.
func (f *FakeTelegram) FailNext(n, code int, retryAfter string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.failures = append(f.failures, failure{code, retryAfter})
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
	if len(f.failures) > 0 {
		fl := f.failures[0]
		f.failures = f.failures[1:]
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(fl.code)
		body := map[string]any{"ok": false, "error_code": fl.code, "description": "induced failure"}
		if fl.retryAfter != "" {
			n, _ := strconv.Atoi(fl.retryAfter)
			body["parameters"] = map[string]int{"retry_after": n}
		}
		json.NewEncoder(w).Encode(body)
		return
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
	default:
		tgError(w, 404, "Not Found: method not found")
	}
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
	entity := strings.SplitN(text, " ", 2)[0]
	return h.telegramUpdate(map[string]any{"update_id": 1, "message": map[string]any{
		"message_id": 900, "date": 1772420400, "text": text, "message_thread_id": topic, "is_topic_message": true,
		"from":     map[string]any{"id": user, "is_bot": false, "first_name": "U"},
		"chat":     map[string]any{"id": TelegramForum, "type": "supergroup", "is_forum": true},
		"entities": []map[string]any{{"type": "bot_command", "offset": 0, "length": len(entity)}},
	}}, TelegramSecret)
}

// TelegramPress is a person pressing an inline button with data.
func (h *Harness) TelegramPress(user int64, topic, messageID int, data string) int {
	h.T.Helper()
	return h.telegramUpdate(map[string]any{"update_id": 2, "callback_query": map[string]any{
		"id": fmt.Sprint("cb", messageID), "chat_instance": "-4291612063202133648", "data": data,
		"from": map[string]any{"id": user, "is_bot": false, "first_name": "U"},
		"message": map[string]any{"message_id": messageID, "date": 1772420400, "message_thread_id": topic,
			"chat": map[string]any{"id": TelegramForum, "type": "supergroup", "is_forum": true}},
	}}, TelegramSecret)
}

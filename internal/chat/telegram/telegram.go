// Package telegram is the Telegram adapter: a forum topic per incident in
// the team's forum supergroup, the card with an inline keyboard, the
// topic closed on resolve; pages as private messages; commands and
// button presses from a webhook checked against the secret token, or by
// long polling getUpdates (Poller) where no webhook can reach the bot.
package telegram

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf16"

	tg "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/oncallbot/bot/internal/chat"
	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/outbox"
)

// Platform implements chat.Platform through go-telegram/bot.
type Platform struct {
	bot *tg.Bot
}

// New returns the adapter. serverURL points the client elsewhere (a fake
// in tests); getMe is skipped so starting never needs the network.
func New(token, serverURL string) (*Platform, error) {
	opts := []tg.Option{tg.WithSkipGetMe()}
	if serverURL != "" {
		opts = append(opts, tg.WithServerURL(strings.TrimRight(serverURL, "/")))
	}
	b, err := tg.New(token, opts...)
	if err != nil {
		return nil, fmt.Errorf("telegram client: %w", err)
	}
	return &Platform{bot: b}, nil
}

// Name is "telegram".
func (p *Platform) Name() string { return "telegram" }

// PaceKey is the group, whichever topic: Telegram counts a bot's
// messages per group.
func (p *Platform) PaceKey(room chat.Room) string {
	group, _, _ := strings.Cut(room.ID, ":")
	return group
}

// Pace keeps within Telegram's 20 messages a minute to one group: a
// burst of twelve, then one every 7.5 s.
func (p *Platform) Pace() chat.Limit { return chat.Limit{Every: 7500 * time.Millisecond, Burst: 12} }

// retryable turns the library's errors into the outbox's: 429 waits for
// its retry_after; other API refusals are permanent.
func retryable(err error) error {
	var tm *tg.TooManyRequestsError
	if errors.As(err, &tm) {
		return &outbox.RetryAfterError{After: time.Duration(tm.RetryAfter) * time.Second, Err: err}
	}
	if errors.Is(err, tg.ErrorBadRequest) || errors.Is(err, tg.ErrorForbidden) || errors.Is(err, tg.ErrorUnauthorized) || errors.Is(err, tg.ErrorNotFound) {
		return outbox.Permanent(err)
	}
	return err
}

// A room ID is "<chat id>:<topic id>".
func roomID(chatID int64, topic int) string { return fmt.Sprintf("%d:%d", chatID, topic) }

func parseRoom(r chat.Room) (int64, int, error) {
	c, t, ok := strings.Cut(r.ID, ":")
	chatID, err1 := strconv.ParseInt(c, 10, 64)
	topic, err2 := strconv.Atoi(t)
	if !ok || err1 != nil || err2 != nil {
		return 0, 0, outbox.Permanent(fmt.Errorf("not a telegram room id: %q", r.ID))
	}
	return chatID, topic, nil
}

// OpenRoom creates the incident's topic in the team's forum supergroup.
// Telegram bots cannot add people to a group: the team is in it already;
// whoever an escalation step pages is mentioned in the topic (Summon) as
// well as paged privately. The topic's name keeps the title as it is:
// Telegram finds no entities in a name, and a name notifies no one.
func (p *Platform) OpenRoom(ctx context.Context, inc incident.Incident, team config.Team, _ []chat.Member) (chat.Room, error) {
	chatID, err := strconv.ParseInt(team.Rooms.Telegram, 10, 64)
	if err != nil {
		return chat.Room{}, outbox.Permanent(fmt.Errorf("team %s has no telegram forum (rooms.telegram: a chat id)", team.Name))
	}
	name := fmt.Sprintf("#%d %s", inc.ID, inc.Title)
	if r := []rune(name); len(r) > 128 {
		name = string(r[:128])
	}
	topic, err := p.bot.CreateForumTopic(ctx, &tg.CreateForumTopicParams{ChatID: chatID, Name: name})
	if err != nil {
		return chat.Room{}, retryable(fmt.Errorf("create topic: %w", err))
	}
	return chat.Room{ID: roomID(chatID, topic.MessageThreadID)}, nil
}

// The adapter sends plain text (no parse_mode), so nothing in an alert's
// title reads as HTML or Markdown: <a href="tg://user?id=…"> and
// [label](url) show as typed and make no entity. Telegram still finds
// some entities in plain text by itself, and two of them act on people.
var (
	// atUsername is a @username, which in a group notifies that member.
	atUsername = regexp.MustCompile(`@(\w)`)
	// botCommand is a /command, which a tap sends to the chat: in an
	// incident's topic, it runs against the incident. Telegram finds one
	// at any "/" that follows no letter, digit, _, /, < or >, so inside
	// brackets and quotes too: "(/resolve)", a reply's "/resolve".
	botCommand = regexp.MustCompile(`(^|[^\w/<>])/(\w+)`)
	// webLink is a link, which shows its own address (it disguises
	// nothing) and which a character put inside would break.
	webLink = regexp.MustCompile(`https?://\S+`)
)

// breakAutoEntities keeps text the bot relays (alert titles, labels,
// notes) from making the entities Telegram finds by itself that act:
// a zero-width space after the @ of a mention and the / of a command
// leaves them looking the same, but Telegram no longer sees them. Links
// are left whole. The bot's own mentions of the paged are text_mention
// entities beside the text, which this does not touch.
func breakAutoEntities(text string) string {
	var b strings.Builder
	last := 0
	for _, span := range webLink.FindAllStringIndex(text, -1) {
		b.WriteString(breakRun(text[last:span[0]]))
		b.WriteString(text[span[0]:span[1]])
		last = span[1]
	}
	b.WriteString(breakRun(text[last:]))
	return b.String()
}

// breakRun is breakAutoEntities for text with no link in it. The bot's
// own /oncall stays whole: a tap on it sends /oncall alone, which runs
// help and nothing else, and the bot's replies tell people what to type
// ("/oncall accept 1"), which must work when copied.
func breakRun(text string) string {
	text = atUsername.ReplaceAllString(text, "@\u200b$1")
	return botCommand.ReplaceAllStringFunc(text, func(m string) string {
		slash := strings.IndexByte(m, '/') // the character before it is no /
		if m[slash+1:] == "oncall" {
			return m
		}
		return m[:slash+1] + "\u200b" + m[slash+1:]
	})
}

// Keyboard is the card's buttons as an inline keyboard, two a row; the
// callback data is the command (well within Telegram's 64 bytes).
func Keyboard(c chat.Card) *models.InlineKeyboardMarkup {
	kb := &models.InlineKeyboardMarkup{}
	var row []models.InlineKeyboardButton
	for _, b := range c.Buttons {
		if b.URL != "" {
			row = append(row, models.InlineKeyboardButton{Text: b.Label, URL: b.URL})
		} else {
			row = append(row, models.InlineKeyboardButton{Text: b.Label, CallbackData: b.Value})
		}
		if len(row) == 2 {
			kb.InlineKeyboard = append(kb.InlineKeyboard, row)
			row = nil
		}
	}
	if row != nil {
		kb.InlineKeyboard = append(kb.InlineKeyboard, row)
	}
	return kb
}

// PostCard sends the card into the topic.
func (p *Platform) PostCard(ctx context.Context, room chat.Room, card chat.Card) (string, error) {
	chatID, topic, err := parseRoom(room)
	if err != nil {
		return "", err
	}
	m, err := p.bot.SendMessage(ctx, &tg.SendMessageParams{ChatID: chatID, MessageThreadID: topic, Text: breakAutoEntities(card.Text()), ReplyMarkup: Keyboard(card)})
	if err != nil {
		return "", retryable(fmt.Errorf("send card: %w", err))
	}
	return strconv.Itoa(m.ID), nil
}

// UpdateCard edits the card's text and keyboard.
func (p *Platform) UpdateCard(ctx context.Context, room chat.Room, messageID string, card chat.Card) error {
	chatID, _, err := parseRoom(room)
	if err != nil {
		return err
	}
	id, _ := strconv.Atoi(messageID)
	if _, err := p.bot.EditMessageText(ctx, &tg.EditMessageTextParams{ChatID: chatID, MessageID: id, Text: breakAutoEntities(card.Text()), ReplyMarkup: Keyboard(card)}); err != nil {
		if strings.Contains(err.Error(), "message is not modified") {
			return nil
		}
		return retryable(fmt.Errorf("edit card: %w", err))
	}
	return nil
}

// Post writes a line into the topic.
func (p *Platform) Post(ctx context.Context, room chat.Room, text string) error {
	chatID, topic, err := parseRoom(room)
	if err != nil {
		return err
	}
	if _, err := p.bot.SendMessage(ctx, &tg.SendMessageParams{ChatID: chatID, MessageThreadID: topic, Text: breakAutoEntities(text)}); err != nil {
		return retryable(fmt.Errorf("post to topic: %w", err))
	}
	return nil
}

// PostImage sends a picture into the topic as a photo, its alt text the
// caption (content: its entities broken, as every post's).
func (p *Platform) PostImage(ctx context.Context, room chat.Room, img chat.Image) error {
	chatID, topic, err := parseRoom(room)
	if err != nil {
		return err
	}
	return p.sendPhoto(ctx, chatID, topic, img, breakAutoEntities(shortCaption(img.Alt)), 0)
}

// shortCaption fits s into a photo's caption.
func shortCaption(s string) string {
	for utf16Len(s) > maxCaption {
		r := []rune(s)
		s = string(r[:len(r)-len(r)/10-1]) + "…"
	}
	return s
}

// Summon mentions the paged people in the topic. A text mention links
// the user by id, so it reaches people with no @username too; its
// offsets count UTF-16 code units, as Telegram's entities do.
func (p *Platform) Summon(ctx context.Context, room chat.Room, people []chat.Member, text string) error {
	chatID, topic, err := parseRoom(room)
	if err != nil {
		return err
	}
	var b strings.Builder
	var entities []models.MessageEntity
	for i, m := range people {
		id, err := strconv.ParseInt(m.PlatformID, 10, 64)
		if err != nil {
			return outbox.Permanent(fmt.Errorf("%s's telegram id %q is not a number", m.Name, m.PlatformID))
		}
		if i > 0 {
			b.WriteString(", ")
		}
		entities = append(entities, models.MessageEntity{Type: models.MessageEntityTypeTextMention,
			Offset: utf16Len(b.String()), Length: utf16Len(m.Name), User: &models.User{ID: id, FirstName: m.Name}})
		b.WriteString(m.Name)
	}
	b.WriteString(" paged: " + breakAutoEntities(text))
	if _, err := p.bot.SendMessage(ctx, &tg.SendMessageParams{ChatID: chatID, MessageThreadID: topic, Text: b.String(), Entities: entities}); err != nil {
		return retryable(fmt.Errorf("mention in topic: %w", err))
	}
	return nil
}

// utf16Len is the length of s in UTF-16 code units.
func utf16Len(s string) int { return len(utf16.Encode([]rune(s))) }

// CloseRoom closes the topic.
func (p *Platform) CloseRoom(ctx context.Context, room chat.Room) error {
	chatID, topic, err := parseRoom(room)
	if err != nil {
		return err
	}
	if _, err := p.bot.CloseForumTopic(ctx, &tg.CloseForumTopicParams{ChatID: chatID, MessageThreadID: topic}); err != nil && !strings.Contains(err.Error(), "TOPIC_NOT_MODIFIED") {
		return retryable(fmt.Errorf("close topic: %w", err))
	}
	return nil
}

// ReopenRoom reopens the topic.
func (p *Platform) ReopenRoom(ctx context.Context, room chat.Room) error {
	chatID, topic, err := parseRoom(room)
	if err != nil {
		return err
	}
	if _, err := p.bot.ReopenForumTopic(ctx, &tg.ReopenForumTopicParams{ChatID: chatID, MessageThreadID: topic}); err != nil && !strings.Contains(err.Error(), "TOPIC_NOT_MODIFIED") {
		return retryable(fmt.Errorf("reopen topic: %w", err))
	}
	return nil
}

// Direct sends a page privately (the person must have started the bot).
func (p *Platform) Direct(ctx context.Context, to chat.Member, text string, card chat.Card) error {
	_, _, err := p.DirectCard(ctx, to, text, card)
	return err
}

// DirectCard is Direct that says where the card went (the private chat
// and the message), for later edits.
func (p *Platform) DirectCard(ctx context.Context, to chat.Member, text string, card chat.Card) (chat.Room, string, error) {
	id, err := strconv.ParseInt(to.PlatformID, 10, 64)
	if err != nil {
		return chat.Room{}, "", outbox.Permanent(fmt.Errorf("%s's telegram id %q is not a number", to.Name, to.PlatformID))
	}
	m, err := p.bot.SendMessage(ctx, &tg.SendMessageParams{ChatID: id, Text: breakAutoEntities(text + "\n\n" + card.Text()), ReplyMarkup: Keyboard(card)})
	if err != nil {
		return chat.Room{}, "", retryable(fmt.Errorf("message %s: %w", to.Name, err))
	}
	return chat.Room{ID: roomID(id, 0)}, strconv.Itoa(m.ID), nil
}

// Inbound takes Telegram's updates: from the webhook (ServeHTTP) or from
// long polling (Handle, called by a Poller).
type Inbound struct {
	// secret is the webhook's secret token as its SHA-256: a guess is
	// compared hash to hash, 32 bytes to 32, so the time it takes tells
	// nothing of the token's length (a compare of the raw strings returns
	// at once on a length mismatch).
	secret   [sha256.Size]byte
	exec     *chat.Executor
	platform *Platform
	// dir is who is who on Telegram, swapped whole by Reload: an update
	// loads it once.
	dir  atomic.Pointer[directory]
	room func(ctx context.Context, roomID string) (int64, bool)
	log  *slog.Logger
}

// directory is what the configuration says of Telegram's ids.
type directory struct {
	users map[int64]string // Telegram user id -> person
	teams map[int64]string // team chat (a forum supergroup) -> team
}

// NewInbound returns the webhook handler, knowing nobody until Reload;
// room finds the incident of a "<chat>:<topic>" room.
func NewInbound(secret string, exec *chat.Executor, p *Platform,
	room func(ctx context.Context, roomID string) (int64, bool), log *slog.Logger) *Inbound {
	h := &Inbound{secret: sha256.Sum256([]byte(secret)), exec: exec, platform: p, room: room, log: log}
	h.dir.Store(&directory{})
	return h
}

// Reload puts cfg's Telegram ids in force for the updates that come next:
// people's user ids (people[].telegram) and the teams' chats
// (teams[].rooms.telegram). Telegram's ids are numbers; one that does not
// read as a number names no chat or user Telegram can send, and is left
// out. The webhook secret, the client and the log are kept: they are the
// bot's as it started.
func (h *Inbound) Reload(cfg *config.Config) {
	d := &directory{users: map[int64]string{}, teams: map[int64]string{}}
	for _, p := range cfg.People {
		if id, err := strconv.ParseInt(p.Telegram, 10, 64); err == nil {
			d.users[id] = p.Name
		}
	}
	for _, t := range cfg.Teams {
		if id, err := strconv.ParseInt(t.Rooms.Telegram, 10, 64); err == nil {
			d.teams[id] = t.Name
		}
	}
	h.dir.Store(d)
}

// ServeHTTP checks the secret token (401 on mismatch: the library alone
// would answer 200 and drop the update silently), then runs a command or
// a button press.
func (h *Inbound) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// A request with no token is refused outright, so an empty configured
	// secret admits no one: no other token hashes as the empty one does.
	got := r.Header.Get("X-Telegram-Bot-Api-Secret-Token")
	if got == "" || !h.secretMatches(got) {
		http.Error(w, "invalid X-Telegram-Bot-Api-Secret-Token", http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	var upd models.Update
	if err := json.Unmarshal(body, &upd); err != nil {
		http.Error(w, "not a telegram update: "+err.Error(), http.StatusBadRequest)
		return
	}
	h.Handle(r.Context(), &upd)
	// Telegram retries anything but 200; the outcome went to the chat.
	w.WriteHeader(http.StatusOK)
}

// secretMatches says whether token is the webhook's secret token, in time
// that depends on neither's length nor content.
func (h *Inbound) secretMatches(token string) bool {
	sum := sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(sum[:], h.secret[:]) == 1
}

// Handle runs the command or the button press an update carries and
// ignores any other update. The webhook and the long-polling Poller both
// end here, so the two transports behave alike; the outcome goes to the
// chat, so there is nothing to return.
func (h *Inbound) Handle(ctx context.Context, upd *models.Update) {
	switch {
	case upd.CallbackQuery != nil:
		h.press(ctx, upd.CallbackQuery)
	case upd.Message != nil && strings.HasPrefix(upd.Message.Text, "/"):
		h.command(ctx, upd.Message)
	}
}

func (h *Inbound) request(ctx context.Context, from *models.User, chatID int64, topic int) chat.Request {
	dir := h.dir.Load()
	req := chat.Request{Platform: "telegram", Team: dir.teams[chatID]}
	if from != nil {
		req.User = dir.users[from.ID]
		req.PlatformUser = strconv.FormatInt(from.ID, 10)
		req.Direct = chatID == from.ID // a private chat's id is its user's
	}
	if id, ok := h.room(ctx, roomID(chatID, topic)); ok {
		req.Incident = id
	}
	return req
}

func (h *Inbound) command(ctx context.Context, m *models.Message) {
	req := h.request(ctx, m.From, m.Chat.ID, m.MessageThreadID)
	reply := h.exec.Run(ctx, req, m.Text)
	if reply.Unanswered && !req.Direct {
		return // in a group the refusal would be said to everyone there
	}
	// A reply quotes what it was told (the words typed, names), and in a
	// group everyone there reads it: it is content, its entities broken.
	text := breakAutoEntities(reply.Text)
	img := reply.Image
	// A picture goes with its text in one message, the text as its
	// caption, when the text fits one; else the text goes first and the
	// picture follows it. The text matters more: a photo refused with
	// its caption leaves the text to go alone.
	if img != nil && utf16Len(text) <= maxCaption {
		err := h.platform.sendPhoto(ctx, m.Chat.ID, m.MessageThreadID, *img, text, m.ID)
		if err == nil {
			return
		}
		h.log.Warn("answer a telegram command with a photo; answering with the text alone", "chat", m.Chat.ID, "err", err)
		img = nil
	}
	_, err := h.platform.bot.SendMessage(ctx, &tg.SendMessageParams{ChatID: m.Chat.ID, MessageThreadID: m.MessageThreadID,
		Text: text, ReplyParameters: &models.ReplyParameters{MessageID: m.ID}})
	if err != nil {
		h.log.Warn("answer a telegram command", "chat", m.Chat.ID, "err", err)
	}
	if img != nil {
		if err := h.platform.sendPhoto(ctx, m.Chat.ID, m.MessageThreadID, *img, "", m.ID); err != nil {
			h.log.Warn("send a telegram command's photo", "chat", m.Chat.ID, "err", err)
		}
	}
}

// maxCaption is the longest caption Telegram takes on a photo: 1024
// characters, counted here in UTF-16 code units as Telegram counts a
// message's length (a character outside the BMP is two).
const maxCaption = 1024

// sendPhoto uploads a picture (sendPhoto, multipart) into a chat's topic
// (0: none) as a reply to message replyTo, with caption (already
// content-safe) when not empty.
func (p *Platform) sendPhoto(ctx context.Context, chatID int64, topic int, img chat.Image, caption string, replyTo int) error {
	params := &tg.SendPhotoParams{ChatID: chatID, MessageThreadID: topic,
		Photo:   &models.InputFileUpload{Filename: img.Name, Data: bytes.NewReader(img.Data)},
		Caption: caption}
	if replyTo != 0 {
		params.ReplyParameters = &models.ReplyParameters{MessageID: replyTo}
	}
	_, err := p.bot.SendPhoto(ctx, params)
	if err != nil {
		return retryable(fmt.Errorf("send photo %s: %w", img.Name, err))
	}
	return nil
}

// maxAnswer is the most a callback query's answer shows, in characters.
const maxAnswer = 200

// answerText fits a reply into a callback query's answer.
func answerText(s string) string {
	if r := []rune(s); len(r) > maxAnswer {
		return string(r[:maxAnswer-1]) + "…"
	}
	return s
}

func (h *Inbound) press(ctx context.Context, q *models.CallbackQuery) {
	var chatID int64
	var topic int
	if q.Message.Message != nil {
		chatID, topic = q.Message.Message.Chat.ID, q.Message.Message.MessageThreadID
	}
	reply := h.exec.Run(ctx, h.request(ctx, &q.From, chatID, topic), q.Data)
	// The card changes through the outbox; the presser sees a toast, an
	// alert when refused, in the 200 characters Telegram shows (an
	// answer over it is refused, and the presser would see nothing).
	// A toast makes no entities today; its text is content all the same,
	// broken as every text the bot sends, before it is cut to fit.
	_, err := h.platform.bot.AnswerCallbackQuery(ctx, &tg.AnswerCallbackQueryParams{CallbackQueryID: q.ID,
		Text: answerText(breakAutoEntities(reply.Text)), ShowAlert: reply.Private})
	if err != nil {
		h.log.Warn("answer a telegram button", "err", err)
	}
}

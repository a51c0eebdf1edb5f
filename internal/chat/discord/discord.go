// Package discord is the Discord adapter: a private thread per incident
// under the team's incidents channel with the team added, the card with
// buttons, updates in the thread, the thread archived on resolve; pages
// as direct messages; the /oncall application command and button presses
// through the HTTP interactions endpoint, verified with Ed25519, or over
// the gateway's websocket for a bot that Discord cannot reach.
package discord

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/oncallbot/bot/internal/chat"
	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/outbox"
)

// Platform implements chat.Platform through discordgo's REST calls.
type Platform struct {
	s *discordgo.Session
}

// rewrite sends discordgo's requests, whose endpoints are fixed at init,
// to another base URL (a fake in tests).
type rewrite struct {
	base *url.URL
	next http.RoundTripper
}

func (t rewrite) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host = t.base.Scheme, t.base.Host
	r.Host = t.base.Host
	return t.next.RoundTrip(r)
}

// New returns the adapter. apiURL, when set, replaces https://discord.com.
func New(token, apiURL string) (*Platform, error) {
	s, err := discordgo.New("Bot " + token)
	if err != nil {
		return nil, fmt.Errorf("discord session: %w", err)
	}
	// The outbox schedules retries; the library must not sleep inside a
	// call waiting out a rate limit.
	s.ShouldRetryOnRateLimit = false
	s.Client = &http.Client{Timeout: 20 * time.Second}
	if apiURL != "" {
		u, err := url.Parse(apiURL)
		if err != nil {
			return nil, fmt.Errorf("discord api_url: %w", err)
		}
		s.Client.Transport = rewrite{base: u, next: http.DefaultTransport}
	}
	return &Platform{s: s}, nil
}

// Name is "discord".
func (p *Platform) Name() string { return "discord" }

// PaceKey is the thread: Discord's message bucket is per channel.
func (p *Platform) PaceKey(room chat.Room) string { return room.ID }

// Pace keeps within five new messages in any five seconds: a burst of
// four (an incident's first card and lines), then one every 5 s.
func (p *Platform) Pace() chat.Limit { return chat.Limit{Every: 5 * time.Second, Burst: 4} }

func retryable(err error) error {
	var rl *discordgo.RateLimitError
	if errors.As(err, &rl) && rl.RateLimit != nil && rl.TooManyRequests != nil {
		return &outbox.RetryAfterError{After: rl.RetryAfter, Err: err}
	}
	var re *discordgo.RESTError
	if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode >= 400 && re.Response.StatusCode < 500 &&
		re.Response.StatusCode != http.StatusTooManyRequests {
		return outbox.Permanent(err)
	}
	return err
}

// OpenRoom starts a private thread under the team's incidents channel
// and adds the members. Discord has no unique thread names by which a
// retry could find a half-made thread, so a thread whose members could
// not all be added is deleted before the error goes back for a retry:
// the retry starts clean instead of leaving a second, stray thread. The
// thread's name keeps the title as it is: Discord renders no markdown and
// no mention in a name, and a name pings no one.
func (p *Platform) OpenRoom(ctx context.Context, inc incident.Incident, team config.Team, members []chat.Member) (chat.Room, error) {
	if team.Rooms.Discord == "" {
		return chat.Room{}, outbox.Permanent(fmt.Errorf("team %s has no discord incidents channel (rooms.discord)", team.Name))
	}
	name := fmt.Sprintf("#%d %s", inc.ID, inc.Title)
	if r := []rune(name); len(r) > 100 {
		name = string(r[:100])
	}
	th, err := p.s.ThreadStartComplex(team.Rooms.Discord, &discordgo.ThreadStart{
		Name: name, Type: discordgo.ChannelTypeGuildPrivateThread, AutoArchiveDuration: 10080,
	}, discordgo.WithContext(ctx))
	if err != nil {
		return chat.Room{}, retryable(fmt.Errorf("start thread: %w", err))
	}
	for _, m := range members {
		if err := p.s.ThreadMemberAdd(th.ID, m.PlatformID, discordgo.WithContext(ctx)); err != nil {
			err = fmt.Errorf("add %s to the thread: %w", m.Name, err)
			// A fresh context: the delivery's may be what ran out.
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			_, derr := p.s.ChannelDelete(th.ID, discordgo.WithContext(dctx))
			cancel()
			if derr != nil {
				err = fmt.Errorf("%w (and the half-made thread %s could not be deleted, so a retry may leave it behind: %v)", err, th.ID, derr)
			}
			return chat.Room{}, retryable(err)
		}
	}
	return chat.Room{ID: th.ID}, nil
}

// Components renders the card's buttons, five to a row as Discord allows;
// each button's custom id is the command it runs.
func Components(c chat.Card) []discordgo.MessageComponent {
	var rows []discordgo.MessageComponent
	var row discordgo.ActionsRow
	for i, b := range c.Buttons {
		style := discordgo.SecondaryButton
		switch {
		case b.URL != "":
			style = discordgo.LinkButton
		case b.Danger:
			style = discordgo.DangerButton
		case i == 0:
			style = discordgo.PrimaryButton
		}
		if b.URL != "" {
			// A link button has a URL and no custom id: it opens the
			// link, and Discord sends the bot no interaction.
			row.Components = append(row.Components, discordgo.Button{Label: b.Label, Style: style, URL: b.URL})
		} else {
			row.Components = append(row.Components, discordgo.Button{Label: b.Label, Style: style, CustomID: b.Value})
		}
		if len(row.Components) == 5 {
			rows = append(rows, row)
			row = discordgo.ActionsRow{}
		}
	}
	if len(row.Components) > 0 {
		rows = append(rows, row)
	}
	return rows
}

// noMentions keeps text the bot relays (alert titles, notes) from pinging
// anyone: an alert named "@everyone" must not wake the whole server. Every
// message the bot sends carries it, or (Summon) a list of exactly the
// users it means to ping.
var noMentions = &discordgo.MessageAllowedMentions{Parse: []discordgo.AllowedMentionType{}}

// markdownEscaper backslash-escapes what Discord's markdown reads
// anywhere in a line: emphasis, spoilers, code, masked links ([label](url)
// shows a label for a link elsewhere), and <…>, which opens every mention
// (<@user>, <@&role>, <#channel>, </command:id>), emoji and timestamps.
// "@" gets a zero-width space after it, so @everyone and @here look the
// same but read as text.
var markdownEscaper = strings.NewReplacer(
	`\`, `\\`, "*", `\*`, "_", `\_`, "~", `\~`, "`", "\\`", "|", `\|`,
	"[", `\[`, "]", `\]`, "<", `\<`, ">", `\>`, "@", "@\u200b",
)

// blockMark is what Discord's markdown reads only at the start of a
// line: headings (# to ###) and the small text of -#.
var blockMark = regexp.MustCompile(`(?m)^([ \t]*)(#{1,3} |-# )`)

// webLink is a bare link as Discord finds one: it is shown as the address
// it goes to, so it disguises nothing, and a backslash inside it would
// break it (a runbook's disk_full), so it is left whole.
var webLink = regexp.MustCompile(`https?://[^\s<]+`)

// escapeMarkdown makes text the bot relays (alert titles, labels, notes)
// read as typed in a Discord message: no mention, no masked link, no
// markdown. allowed_mentions already keeps a mention from pinging; this
// keeps it from rendering as one, so a title cannot show a fake ping or a
// disguised link either. The bot's own markup (the card's bold title, the
// mentions of the paged) is added around the escaped text.
func escapeMarkdown(text string) string {
	var b strings.Builder
	last := 0
	for _, span := range webLink.FindAllStringIndex(text, -1) {
		b.WriteString(markdownEscaper.Replace(text[last:span[0]]))
		b.WriteString(text[span[0]:span[1]])
		last = span[1]
	}
	b.WriteString(markdownEscaper.Replace(text[last:]))
	return blockMark.ReplaceAllString(b.String(), `$1\$2`)
}

// content is the card as a message: the title in bold, then the rest of
// its text, all content escaped.
func content(c chat.Card) string {
	return "**" + escapeMarkdown(c.Title) + "**\n" + escapeMarkdown(strings.TrimPrefix(c.Text(), c.Title))
}

// PostCard sends the card into the thread.
func (p *Platform) PostCard(ctx context.Context, room chat.Room, card chat.Card) (string, error) {
	m, err := p.s.ChannelMessageSendComplex(room.ID, &discordgo.MessageSend{Content: content(card), Components: Components(card), AllowedMentions: noMentions},
		discordgo.WithContext(ctx))
	if err != nil {
		return "", retryable(fmt.Errorf("send card: %w", err))
	}
	return m.ID, nil
}

// UpdateCard edits the card.
func (p *Platform) UpdateCard(ctx context.Context, room chat.Room, id string, card chat.Card) error {
	text, comps := content(card), Components(card)
	if _, err := p.s.ChannelMessageEditComplex(&discordgo.MessageEdit{ID: id, Channel: room.ID, Content: &text, Components: &comps, AllowedMentions: noMentions},
		discordgo.WithContext(ctx)); err != nil {
		return retryable(fmt.Errorf("edit card: %w", err))
	}
	return nil
}

// Post writes into the thread.
func (p *Platform) Post(ctx context.Context, room chat.Room, text string) error {
	if _, err := p.s.ChannelMessageSendComplex(room.ID, &discordgo.MessageSend{Content: escapeMarkdown(text), AllowedMentions: noMentions},
		discordgo.WithContext(ctx)); err != nil {
		return retryable(fmt.Errorf("post to thread: %w", err))
	}
	return nil
}

// PostImage posts a picture into the thread as an attachment, its alt
// text the message (escaped, pinging no one).
func (p *Platform) PostImage(ctx context.Context, room chat.Room, img chat.Image) error {
	msg := &discordgo.MessageSend{Content: escapeMarkdown(img.Alt), AllowedMentions: noMentions,
		Files: []*discordgo.File{{Name: img.Name, ContentType: http.DetectContentType(img.Data), Reader: bytes.NewReader(img.Data)}}}
	if _, err := p.s.ChannelMessageSendComplex(room.ID, msg, discordgo.WithContext(ctx)); err != nil {
		return retryable(fmt.Errorf("post %s to thread: %w", img.Name, err))
	}
	return nil
}

// hereOnly lets a message ping @here (and @everyone, which Discord parses
// under the same kind) and no user or role: the mention AlertRoom makes.
var hereOnly = &discordgo.MessageAllowedMentions{Parse: []discordgo.AllowedMentionType{discordgo.AllowedMentionTypeEveryone}}

// AlertRoom posts a page into a team's channel with @here, which
// notifies everyone there who is online. The text is escaped, so the
// bot's @here is the only mention in the message, and the only kind
// allowed to ping.
func (p *Platform) AlertRoom(ctx context.Context, room chat.Room, text string) error {
	if _, err := p.s.ChannelMessageSendComplex(room.ID, &discordgo.MessageSend{Content: "@here " + escapeMarkdown(text), AllowedMentions: hereOnly},
		discordgo.WithContext(ctx)); err != nil {
		return retryable(fmt.Errorf("alert the team's channel: %w", err))
	}
	return nil
}

// Summon adds the paged people to the thread (adding a member twice is
// no error on Discord) and mentions them, and only them.
func (p *Platform) Summon(ctx context.Context, room chat.Room, people []chat.Member, text string) error {
	var ids, tags []string
	for _, m := range people {
		if err := p.s.ThreadMemberAdd(room.ID, m.PlatformID, discordgo.WithContext(ctx)); err != nil {
			return retryable(fmt.Errorf("add %s to the thread: %w", m.Name, err))
		}
		ids = append(ids, m.PlatformID)
		tags = append(tags, "<@"+m.PlatformID+">")
	}
	msg := &discordgo.MessageSend{
		Content: strings.Join(tags, " ") + " paged: " + escapeMarkdown(text),
		// Parse is an empty list, not nil (which discordgo sends as
		// null): no kind of mention is parsed, only the users listed.
		AllowedMentions: &discordgo.MessageAllowedMentions{Parse: []discordgo.AllowedMentionType{}, Users: ids},
	}
	if _, err := p.s.ChannelMessageSendComplex(room.ID, msg, discordgo.WithContext(ctx)); err != nil {
		return retryable(fmt.Errorf("summon to thread: %w", err))
	}
	return nil
}

func (p *Platform) archive(ctx context.Context, room chat.Room, archived bool) error {
	if _, err := p.s.ChannelEdit(room.ID, &discordgo.ChannelEdit{Archived: &archived}, discordgo.WithContext(ctx)); err != nil {
		return retryable(fmt.Errorf("archive thread: %w", err))
	}
	return nil
}

// CloseRoom archives the thread.
func (p *Platform) CloseRoom(ctx context.Context, room chat.Room) error {
	return p.archive(ctx, room, true)
}

// ReopenRoom unarchives it.
func (p *Platform) ReopenRoom(ctx context.Context, room chat.Room) error {
	return p.archive(ctx, room, false)
}

// Direct sends a page as a direct message with the buttons.
func (p *Platform) Direct(ctx context.Context, to chat.Member, text string, card chat.Card) error {
	_, _, err := p.DirectCard(ctx, to, text, card)
	return err
}

// DirectCard is Direct that says where the card went (the DM channel and
// the message), for later edits.
func (p *Platform) DirectCard(ctx context.Context, to chat.Member, text string, card chat.Card) (chat.Room, string, error) {
	ch, err := p.s.UserChannelCreate(to.PlatformID, discordgo.WithContext(ctx))
	if err != nil {
		return chat.Room{}, "", retryable(fmt.Errorf("open a DM with %s: %w", to.Name, err))
	}
	m, err := p.s.ChannelMessageSendComplex(ch.ID, &discordgo.MessageSend{Content: escapeMarkdown(text) + "\n" + content(card), Components: Components(card), AllowedMentions: noMentions},
		discordgo.WithContext(ctx))
	if err != nil {
		return chat.Room{}, "", retryable(fmt.Errorf("DM %s: %w", to.Name, err))
	}
	return chat.Room{ID: ch.ID}, m.ID, nil
}

// Inbound takes interactions: over HTTP as the interactions endpoint
// (ServeHTTP), or from the gateway (Answer).
type Inbound struct {
	key  ed25519.PublicKey
	now  func() time.Time
	exec *chat.Executor
	// dir is who is who on Discord, swapped whole by Reload: an
	// interaction loads it once.
	dir  atomic.Pointer[directory]
	room func(ctx context.Context, channel string) (int64, bool)
	log  *slog.Logger
	// callbacks posts the answers that carry a file to the interaction's
	// callback endpoint, which the HTTP endpoint needs for them (see
	// ServeHTTP): the outbound platform's session (AnswerWith), or one
	// made by the first Reload; nil until then.
	callbacks atomic.Pointer[discordgo.Session]
}

// AnswerWith has the HTTP endpoint post its answers that carry a file
// through p, the platform the bot posts to Discord with, so both share
// one client and its rate-limit buckets; call it before the first Reload.
func (h *Inbound) AnswerWith(p *Platform) {
	h.callbacks.CompareAndSwap(nil, p.s)
}

// directory is what the configuration says of Discord's ids.
type directory struct {
	users map[string]string // Discord user id -> person
	teams map[string]string // team channel id -> team, so a command there implies it
}

// NewInbound returns the handler, knowing nobody until Reload. publicKey
// is the application's key, hex. It may be empty when interactions come
// only over the gateway; ServeHTTP then refuses every request, having no
// key to verify it with.
func NewInbound(publicKey string, now func() time.Time, exec *chat.Executor,
	room func(ctx context.Context, channel string) (int64, bool), log *slog.Logger) (*Inbound, error) {
	h := &Inbound{now: now, exec: exec, room: room, log: log}
	h.dir.Store(&directory{})
	if publicKey == "" {
		return h, nil
	}
	k, err := hex.DecodeString(publicKey)
	if err != nil || len(k) != ed25519.PublicKeySize {
		return nil, errors.New("discord public_key must be the application's 32-byte Ed25519 key in hex")
	}
	h.key = k
	return h, nil
}

// Reload puts cfg's Discord ids in force for the interactions that come
// next: people's user ids (people[].discord) and the teams' channels
// (teams[].rooms.discord). The public key and the log are kept: they are
// the bot's as it started. So is the REST client the HTTP endpoint
// answers files with: the one AnswerWith gave, or else one made from the
// first configuration's credentials (discord.bot_token, api_url), which
// later reloads do not change.
func (h *Inbound) Reload(cfg *config.Config) {
	if dc := cfg.Discord; dc != nil && h.callbacks.Load() == nil {
		p, err := New(dc.BotToken, dc.APIURL)
		if err != nil {
			h.log.Error("discord: no client for the answers with files; they go as text", "err", err)
		} else {
			h.callbacks.CompareAndSwap(nil, p.s)
		}
	}
	d := &directory{users: map[string]string{}, teams: map[string]string{}}
	for _, p := range cfg.People {
		if p.Discord != "" {
			d.users[p.Discord] = p.Name
		}
	}
	for _, t := range cfg.Teams {
		if t.Rooms.Discord != "" {
			d.teams[t.Rooms.Discord] = t.Name
		}
	}
	h.dir.Store(d)
}

const maxSkew = 5 * time.Minute

// ServeHTTP verifies the signature and its age, answers PING, and runs
// the /oncall command and button presses.
func (h *Inbound) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.key == nil {
		// ed25519.Verify panics on a missing key; without one nothing
		// that comes here can be trusted.
		http.Error(w, "interactions endpoint off: no discord public_key configured", http.StatusNotFound)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	ts, err := strconv.ParseInt(r.Header.Get("X-Signature-Timestamp"), 10, 64)
	if err != nil || h.now().Sub(time.Unix(ts, 0)).Abs() > maxSkew {
		http.Error(w, "missing or stale X-Signature-Timestamp", http.StatusUnauthorized)
		return
	}
	if !discordgo.VerifyInteraction(r, h.key) {
		http.Error(w, "invalid request signature", http.StatusUnauthorized)
		return
	}
	var in discordgo.Interaction
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		http.Error(w, "not an interaction: "+err.Error(), http.StatusBadRequest)
		return
	}
	resp, err := h.Answer(r.Context(), &in)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if hasFiles(resp) {
		// Discord takes no files in the HTTP response to an interaction,
		// only at the callback endpoint, and then wants 202 with no body
		// here. Should the callback fail, the text goes here alone.
		if h.callback(r.Context(), &in, resp) {
			w.WriteHeader(http.StatusAccepted)
			return
		}
		resp = textOnly(resp)
	}
	respond(w, *resp)
}

// callback posts an answer to the interaction's callback endpoint and
// says whether it went.
func (h *Inbound) callback(ctx context.Context, in *discordgo.Interaction, resp *discordgo.InteractionResponse) bool {
	s := h.callbacks.Load()
	if s == nil {
		return false
	}
	if err := s.InteractionRespond(in, resp, discordgo.WithContext(ctx)); err != nil {
		h.log.Warn("discord: answer an interaction with a file; answering with the text alone", "interaction", in.ID, "err", err)
		return false
	}
	return true
}

// hasFiles says whether an answer carries files, which go only as a
// multipart body.
func hasFiles(resp *discordgo.InteractionResponse) bool {
	return resp.Data != nil && len(resp.Data.Files) > 0
}

// textOnly is an answer without its files, for when they cannot go.
func textOnly(resp *discordgo.InteractionResponse) *discordgo.InteractionResponse {
	data := *resp.Data
	data.Files = nil
	return &discordgo.InteractionResponse{Type: resp.Type, Data: &data}
}

// errUnsupported is an interaction of a kind the bot does not take
// (autocomplete, modal submits).
var errUnsupported = errors.New("unsupported interaction type")

// Answer runs an interaction, whichever way it came (the HTTP endpoint or
// the gateway), and returns the response to give it: PONG to a PING, the
// outcome of the /oncall command or of a button press.
func (h *Inbound) Answer(ctx context.Context, in *discordgo.Interaction) (*discordgo.InteractionResponse, error) {
	var line string
	switch in.Type {
	case discordgo.InteractionPing:
		return &discordgo.InteractionResponse{Type: discordgo.InteractionResponsePong}, nil
	case discordgo.InteractionApplicationCommand:
		d := in.ApplicationCommandData()
		line = "/oncall"
		for _, o := range d.Options {
			if o.Type == discordgo.ApplicationCommandOptionString {
				line += " " + o.StringValue()
			}
		}
	case discordgo.InteractionMessageComponent:
		line = in.MessageComponentData().CustomID
	default:
		return nil, fmt.Errorf("%w %d", errUnsupported, in.Type)
	}
	reply := h.exec.Run(ctx, h.request(ctx, in), line)
	// A reply quotes what it was told (the words typed, names), and the
	// bot may mention whom its asker may not: it is content, escaped and
	// pinging no one.
	data := &discordgo.InteractionResponseData{Content: escapeMarkdown(reply.Text), AllowedMentions: noMentions}
	if reply.Private || in.Type == discordgo.InteractionMessageComponent {
		// A press's outcome shows on the card (through the outbox); the
		// presser alone hears the words.
		data.Flags = discordgo.MessageFlagsEphemeral
	}
	if img := reply.Image; img != nil && data.Flags&discordgo.MessageFlagsEphemeral == 0 {
		// The picture is the message's attachment (files[0] of a
		// multipart answer), shown under the text. Its reader is read
		// once: the answer is sent once.
		data.Files = []*discordgo.File{{Name: img.Name, ContentType: http.DetectContentType(img.Data), Reader: bytes.NewReader(img.Data)}}
	}
	return &discordgo.InteractionResponse{Type: discordgo.InteractionResponseChannelMessageWithSource, Data: data}, nil
}

// request says who sent an interaction and from where, as the
// configuration in force knows them.
func (h *Inbound) request(ctx context.Context, in *discordgo.Interaction) chat.Request {
	user := ""
	switch {
	case in.Member != nil && in.Member.User != nil:
		user = in.Member.User.ID
	case in.User != nil:
		user = in.User.ID
	}
	dir := h.dir.Load()
	req := chat.Request{User: dir.users[user], Platform: "discord", PlatformUser: user, Team: dir.teams[in.ChannelID],
		Direct: in.GuildID == ""} // an interaction from outside a guild is from a DM
	if id, ok := h.room(ctx, in.ChannelID); ok {
		req.Incident = id
	}
	return req
}

func respond(w http.ResponseWriter, resp discordgo.InteractionResponse) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(resp)
}

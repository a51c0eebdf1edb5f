package slack

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/slack-go/slack"

	"github.com/oncallbot/bot/internal/chat"
	"github.com/oncallbot/bot/internal/config"
)

// maxSkew is how far a request's timestamp may be from now: Slack's own
// advice against replays.
const maxSkew = 5 * time.Minute

// Inbound answers Slack's requests: the slash command, button presses
// (interactivity) and the Events API's URL check. Every request must be
// signed with the app's signing secret within five minutes of now;
// others get 401 and change nothing.
type Inbound struct {
	secret   []byte
	now      func() time.Time
	exec     *chat.Executor
	platform *Platform
	// dir is who is who on Slack, swapped whole by Reload: a request
	// loads it once.
	dir  atomic.Pointer[directory]
	room func(ctx context.Context, channel string) (int64, bool)
	log  *slog.Logger
}

// directory is what the configuration says of Slack's ids.
type directory struct {
	users map[string]string // Slack user ID -> person
	teams map[string]string // team channel ID -> team, so a command there implies it
}

// NewInbound returns the handlers, knowing nobody until Reload; room
// finds the incident of a channel.
func NewInbound(secret string, now func() time.Time, exec *chat.Executor, p *Platform,
	room func(ctx context.Context, channel string) (int64, bool), log *slog.Logger) *Inbound {
	h := &Inbound{secret: []byte(secret), now: now, exec: exec, platform: p, room: room, log: log}
	h.dir.Store(&directory{})
	return h
}

// Reload puts cfg's Slack ids in force for the requests that come next:
// people's user IDs (people[].slack) and the teams' channels
// (teams[].rooms.slack). The signing secret, the client and the log are
// kept: they are the bot's as it started.
func (h *Inbound) Reload(cfg *config.Config) {
	d := &directory{users: map[string]string{}, teams: map[string]string{}}
	for _, p := range cfg.People {
		if p.Slack != "" {
			d.users[p.Slack] = p.Name
		}
	}
	for _, t := range cfg.Teams {
		if t.Rooms.Slack != "" {
			d.teams[t.Rooms.Slack] = t.Name
		}
	}
	h.dir.Store(d)
}

// Signature computes X-Slack-Signature for a body sent at ts.
func Signature(secret []byte, ts string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("v0:" + ts + ":"))
	m.Write(body)
	return "v0=" + hex.EncodeToString(m.Sum(nil))
}

// verify reads the body and checks its signature and age, answering 401
// itself when they fail. The clock is the bot's (injectable), not the
// library's, so the replay window is testable.
func (h *Inbound) verify(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		http.Error(w, "body too large or unreadable", http.StatusRequestEntityTooLarge)
		return nil, false
	}
	ts := r.Header.Get("X-Slack-Request-Timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		http.Error(w, "missing or bad X-Slack-Request-Timestamp", http.StatusUnauthorized)
		return nil, false
	}
	if d := h.now().Sub(time.Unix(sec, 0)); d > maxSkew || d < -maxSkew {
		http.Error(w, "request timestamp is more than 5 minutes from now (replay?)", http.StatusUnauthorized)
		return nil, false
	}
	if !hmac.Equal([]byte(Signature(h.secret, ts, body)), []byte(r.Header.Get("X-Slack-Signature"))) {
		http.Error(w, "invalid X-Slack-Signature", http.StatusUnauthorized)
		return nil, false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return body, true
}

func (h *Inbound) request(ctx context.Context, user, channel string) chat.Request {
	dir := h.dir.Load()
	req := chat.Request{User: dir.users[user], Platform: "slack", PlatformUser: user, Team: dir.teams[channel],
		Direct: isDM(channel)}
	if id, ok := h.room(ctx, channel); ok {
		req.Incident = id
	}
	return req
}

// isDM reports whether a channel is a one-to-one conversation with the
// app: Slack's DM (IM) ids start with D; channels, private channels and
// group DMs do not.
func isDM(channel string) bool { return strings.HasPrefix(channel, "D") }

// CommandResponse is the answer to a slash command: the body of the HTTP
// response, or the payload of the Socket Mode acknowledgement.
type CommandResponse struct {
	// ResponseType is slack.ResponseTypeInChannel or
	// slack.ResponseTypeEphemeral.
	ResponseType string `json:"response_type"`
	Text         string `json:"text"`
}

// commandResponse renders a reply as the slash command's answer: a
// private reply is seen by the asker only. Its text is mrkdwn, read for
// mentions as a message's is, and a reply quotes what it was told (the
// words typed, names): it is escaped as any content, or a command could
// make the bot say <!channel>.
func commandResponse(reply chat.Reply) CommandResponse {
	kind := slack.ResponseTypeInChannel
	if reply.Private {
		kind = slack.ResponseTypeEphemeral
	}
	return CommandResponse{ResponseType: kind, Text: escapeMrkdwn(reply.Text)}
}

// runCommand runs a slash command, however it arrived.
func (h *Inbound) runCommand(ctx context.Context, s slack.SlashCommand) chat.Reply {
	// The app has one slash command, whatever a workspace named it.
	return h.exec.Run(ctx, h.request(ctx, s.UserID, s.ChannelID), "/oncall "+s.Text)
}

// imageTimeout bounds the upload of a reply's picture, which starts once
// the command's answer has gone: Slack no longer waits for anything,
// and a slow upload must not hold a handler forever.
const imageTimeout = 20 * time.Second

// postImage uploads a public reply's picture into the channel the
// command was typed in, once its answer has gone, so the chart comes
// under the card. A private reply's picture is not posted: a file shared
// into a channel is everyone's there. The picture is an extra to the
// text, so a failed upload is logged and nothing more.
func (h *Inbound) postImage(ctx context.Context, channel string, reply chat.Reply) {
	if reply.Image == nil || reply.Private || channel == "" {
		return
	}
	// The answer has gone: Slack may close the connection, which must not
	// cancel the upload.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), imageTimeout)
	defer cancel()
	if err := h.platform.PostImage(ctx, chat.Room{ID: channel}, *reply.Image); err != nil {
		h.log.Warn("upload a reply's picture", "channel", channel, "file", reply.Image.Name, "err", err)
	}
}

// runPress runs the command of a card button (its value), however the
// press arrived; ok is false for interactions that are not button presses,
// which the bot ignores.
func (h *Inbound) runPress(ctx context.Context, cb slack.InteractionCallback) (reply chat.Reply, ok bool) {
	if cb.Type != slack.InteractionTypeBlockActions || len(cb.ActionCallback.BlockActions) == 0 ||
		cb.ActionCallback.BlockActions[0].Value == "" { // a link button: the browser opened it
		return chat.Reply{}, false
	}
	line := cb.ActionCallback.BlockActions[0].Value
	return h.exec.Run(ctx, h.request(ctx, cb.User.ID, cb.Channel.ID), line), true
}

// answerPress tells the presser privately how a press went when the reply
// is private (a refusal, mostly). Public outcomes need no answer: the card
// changes through the outbox and its thread hears of it.
func (h *Inbound) answerPress(ctx context.Context, cb slack.InteractionCallback, reply chat.Reply) {
	if !reply.Private || cb.Channel.ID == "" {
		return
	}
	if err := h.platform.Ephemeral(ctx, cb.Channel.ID, cb.User.ID, reply.Text); err != nil {
		h.log.Warn("answer a button press", "user", cb.User.ID, "err", err)
	}
}

// Command answers the /oncall slash command.
func (h *Inbound) Command(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.verify(w, r); !ok {
		return
	}
	s, err := slack.SlashCommandParse(r)
	if err != nil {
		http.Error(w, "not a slash command: "+err.Error(), http.StatusBadRequest)
		return
	}
	reply := h.runCommand(r.Context(), s)
	body, err := json.Marshal(commandResponse(reply))
	if err != nil {
		http.Error(w, "encode the answer: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	// The length is said and the answer flushed, so that Slack has all of
	// it, and shows the card, while the picture is still being uploaded.
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
	if reply.Image != nil {
		if err := http.NewResponseController(w).Flush(); err != nil {
			h.log.Warn("flush a slash command's answer", "err", err)
		}
		h.postImage(r.Context(), s.ChannelID, reply)
	}
}

// Interaction answers a button press: its value is the command to run.
func (h *Inbound) Interaction(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.verify(w, r); !ok {
		return
	}
	var cb slack.InteractionCallback
	if err := json.Unmarshal([]byte(r.PostFormValue("payload")), &cb); err != nil {
		http.Error(w, "payload is not an interaction: "+err.Error(), http.StatusBadRequest)
		return
	}
	// Whatever the bot does not handle still gets the 200 Slack wants.
	if reply, ok := h.runPress(r.Context(), cb); ok {
		h.answerPress(r.Context(), cb, reply)
	}
	w.WriteHeader(http.StatusOK)
}

// Events answers the Events API's URL verification; events themselves
// are not used yet.
func (h *Inbound) Events(w http.ResponseWriter, r *http.Request) {
	body, ok := h.verify(w, r)
	if !ok {
		return
	}
	var ev struct {
		Type      string `json:"type"`
		Challenge string `json:"challenge"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		http.Error(w, "not an event", http.StatusBadRequest)
		return
	}
	if ev.Type == "url_verification" {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, ev.Challenge)
		return
	}
	w.WriteHeader(http.StatusOK)
}

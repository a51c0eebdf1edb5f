// Package slack is the Slack adapter: a channel per incident with the team
// invited and the card pinned, updates in the card's thread, pages as
// direct messages, and the inbound slash command and buttons, verified
// with Slack's signing secret.
package slack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/oncallbot/bot/internal/chat"
	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/outbox"
)

// Platform implements chat.Platform on Slack's Web API through slack-go.
type Platform struct {
	api     *slack.Client
	private bool
}

// New returns the adapter. apiURL points the client elsewhere (a fake in
// tests); it must end in "/".
func New(token, apiURL string, private bool) *Platform {
	opts := []slack.Option{}
	if apiURL != "" {
		if !strings.HasSuffix(apiURL, "/") {
			apiURL += "/"
		}
		opts = append(opts, slack.OptionAPIURL(apiURL))
	}
	return &Platform{api: slack.New(token, opts...), private: private}
}

// Name is "slack".
func (p *Platform) Name() string { return "slack" }

// PaceKey is the channel: Slack allows about one message a second into
// each, with short bursts.
func (p *Platform) PaceKey(room chat.Room) string { return room.ID }

// Pace is one a second after a burst of ten.
func (p *Platform) Pace() chat.Limit { return chat.Limit{Every: time.Second, Burst: 10} }

// retryable turns slack-go's errors into the outbox's: a rate limit waits
// for its Retry-After; Slack's refusals of a request are permanent.
func retryable(err error) error {
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return &outbox.RetryAfterError{After: rl.RetryAfter, Err: err}
	}
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		switch se.Err {
		case "ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout":
			return err
		}
		return outbox.Permanent(err)
	}
	return err
}

var notSlug = regexp.MustCompile(`[^a-z0-9_-]+`)

// ChannelName is the incident's channel: inc-<id>-<slug>, within Slack's
// rules (lower case, digits, - and _, at most 80 characters).
func ChannelName(inc incident.Incident) string {
	slug := strings.Trim(notSlug.ReplaceAllString(strings.ToLower(inc.Title), "-"), "-")
	name := fmt.Sprintf("inc-%d-%s", inc.ID, slug)
	if len(name) > 80 {
		name = strings.TrimRight(name[:80], "-")
	}
	return strings.TrimRight(name, "-")
}

// OpenRoom creates the incident's channel and invites the members; if an
// earlier attempt already created it (name_taken), it finds it.
func (p *Platform) OpenRoom(ctx context.Context, inc incident.Incident, _ config.Team, members []chat.Member) (chat.Room, error) {
	name := ChannelName(inc)
	ch, err := p.api.CreateConversationContext(ctx, slack.CreateConversationParams{ChannelName: name, IsPrivate: p.private})
	var id string
	switch {
	case err == nil:
		id = ch.ID
	case strings.Contains(err.Error(), "name_taken"):
		if id, err = p.find(ctx, name); err != nil {
			return chat.Room{}, err
		}
	default:
		return chat.Room{}, retryable(fmt.Errorf("create channel %s: %w", name, err))
	}
	var users []string
	for _, m := range members {
		users = append(users, m.PlatformID)
	}
	if len(users) > 0 {
		if _, err := p.api.InviteUsersToConversationContext(ctx, id, users...); err != nil && !strings.Contains(err.Error(), "already_in_channel") {
			return chat.Room{}, retryable(fmt.Errorf("invite the team to %s: %w", name, err))
		}
	}
	return chat.Room{ID: id}, nil
}

func (p *Platform) find(ctx context.Context, name string) (string, error) {
	cursor := ""
	for {
		chans, next, err := p.api.GetConversationsContext(ctx, &slack.GetConversationsParameters{
			Cursor: cursor, Limit: 1000, Types: []string{"public_channel", "private_channel"},
		})
		if err != nil {
			return "", retryable(fmt.Errorf("look up channel %s: %w", name, err))
		}
		for _, c := range chans {
			if c.Name == name {
				return c.ID, nil
			}
		}
		if next == "" {
			return "", outbox.Permanent(fmt.Errorf("channel %s is taken but not visible to the bot", name))
		}
		cursor = next
	}
}

// Blocks renders a card in Block Kit: the title, the fields, and the
// buttons, whose values are the commands they run. Labels are escaped as
// values are: a digest's labels are incidents' titles.
func Blocks(c chat.Card) []slack.Block {
	title := slack.NewTextBlockObject(slack.MarkdownType, "*"+escapeMrkdwn(c.Title)+"*", false, false)
	var fields []*slack.TextBlockObject
	for _, f := range c.Fields {
		fields = append(fields, slack.NewTextBlockObject(slack.MarkdownType, "*"+escapeMrkdwn(f.Label)+"*\n"+escapeMrkdwn(f.Value), false, false))
	}
	blocks := []slack.Block{slack.NewSectionBlock(title, nil, nil), slack.NewSectionBlock(nil, fields, nil)}
	var buttons []slack.BlockElement
	for i, b := range c.Buttons {
		if b.URL != "" {
			// A link opens in the browser; Slack still tells the app of
			// the press, which runPress ignores (no value).
			btn := slack.NewButtonBlockElement(fmt.Sprintf("link-%d", i), "", slack.NewTextBlockObject(slack.PlainTextType, b.Label, false, false))
			btn.URL = b.URL
			buttons = append(buttons, btn)
			continue
		}
		btn := slack.NewButtonBlockElement(fmt.Sprintf("cmd-%d", i), b.Value, slack.NewTextBlockObject(slack.PlainTextType, b.Label, false, false))
		if b.Danger {
			btn.Style = slack.StyleDanger
		} else if i == 0 {
			btn.Style = slack.StylePrimary
		}
		buttons = append(buttons, btn)
	}
	if len(buttons) > 0 {
		id := "digest" // a card about no one incident
		if c.IncidentID != 0 {
			id = fmt.Sprintf("incident-%d", c.IncidentID)
		}
		blocks = append(blocks, slack.NewActionBlock(id, buttons...))
	}
	return blocks
}

// mrkdwnEscaper turns Slack's three control characters into entities.
var mrkdwnEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// escapeMrkdwn makes text literal in any Slack text field (mrkdwn, the
// top-level text that notifications and previews show, plain_text): every
// mention (<!channel>, <!here>, <@U…>, <#C…>, <!subteam^…>) and every link
// (<url|label>) starts with "<", so escaped content can neither ping nor
// disguise a link, and "&" is escaped so content cannot spell an entity
// that reads as one. All content goes through it before it meets the
// bot's own markup (the mention of the paged people), which stays live.
// Plain @channel is no mention: the bot never sends link_names.
func escapeMrkdwn(text string) string { return mrkdwnEscaper.Replace(text) }

// PostCard posts the card and pins it. The message's top-level text, the
// title, is what notifications and previews show: it is escaped as the
// blocks are.
func (p *Platform) PostCard(ctx context.Context, room chat.Room, card chat.Card) (string, error) {
	_, ts, err := p.api.PostMessageContext(ctx, room.ID, slack.MsgOptionBlocks(Blocks(card)...), slack.MsgOptionText(escapeMrkdwn(card.Title), false))
	if err != nil {
		return "", retryable(fmt.Errorf("post card: %w", err))
	}
	if err := p.api.AddPinContext(ctx, room.ID, slack.ItemRef{Channel: room.ID, Timestamp: ts}); err != nil && !strings.Contains(err.Error(), "already_pinned") {
		return "", retryable(fmt.Errorf("pin card: %w", err))
	}
	return ts, nil
}

// UpdateCard edits the card in place.
func (p *Platform) UpdateCard(ctx context.Context, room chat.Room, ts string, card chat.Card) error {
	if _, _, _, err := p.api.UpdateMessageContext(ctx, room.ID, ts, slack.MsgOptionBlocks(Blocks(card)...), slack.MsgOptionText(escapeMrkdwn(card.Title), false)); err != nil {
		return retryable(fmt.Errorf("update card: %w", err))
	}
	return nil
}

// Post tells the card's thread.
func (p *Platform) Post(ctx context.Context, room chat.Room, text string) error {
	return p.post(ctx, room, escapeMrkdwn(text))
}

// post sends mrkdwn already escaped into the card's thread.
func (p *Platform) post(ctx context.Context, room chat.Room, mrkdwn string) error {
	opts := []slack.MsgOption{slack.MsgOptionText(mrkdwn, false)}
	if room.Thread != "" {
		opts = append(opts, slack.MsgOptionTS(room.Thread))
	}
	if _, _, err := p.api.PostMessageContext(ctx, room.ID, opts...); err != nil {
		return retryable(fmt.Errorf("post to thread: %w", err))
	}
	return nil
}

// AlertRoom posts a page into a team's channel with <!here>, which
// notifies everyone active there: the one mention the bot makes in a
// team's channel, before the escaped text.
func (p *Platform) AlertRoom(ctx context.Context, room chat.Room, text string) error {
	return p.post(ctx, room, "<!here> "+escapeMrkdwn(text))
}

// Summon invites the paged people to the channel (someone already in it
// is no error) and mentions them in the card's thread. Each is invited
// alone, so one who cannot be (deactivated, say) does not keep the others
// out: they are still mentioned, and Slack offers to invite them.
func (p *Platform) Summon(ctx context.Context, room chat.Room, people []chat.Member, text string) error {
	var tags []string
	for _, m := range people {
		_, err := p.api.InviteUsersToConversationContext(ctx, room.ID, m.PlatformID)
		switch {
		case err == nil, strings.Contains(err.Error(), "already_in_channel"), strings.Contains(err.Error(), "cant_invite_self"):
		default:
			if rerr := retryable(err); !outbox.IsPermanent(rerr) {
				return fmt.Errorf("invite %s: %w", m.Name, rerr)
			}
		}
		tags = append(tags, "<@"+m.PlatformID+">")
	}
	return p.post(ctx, room, strings.Join(tags, " ")+" paged: "+escapeMrkdwn(text))
}

// CloseRoom leaves the channel as it is: it is the incident's record.
func (p *Platform) CloseRoom(context.Context, chat.Room) error { return nil }

// ReopenRoom has nothing to do either.
func (p *Platform) ReopenRoom(context.Context, chat.Room) error { return nil }

// Direct sends the page as a direct message with the card's buttons.
func (p *Platform) Direct(ctx context.Context, to chat.Member, text string, card chat.Card) error {
	_, _, err := p.DirectCard(ctx, to, text, card)
	return err
}

// DirectCard is Direct that says where the card went (the DM channel and
// the message's ts), for later edits. text, the notification's, carries
// the incident's title and is escaped.
func (p *Platform) DirectCard(ctx context.Context, to chat.Member, text string, card chat.Card) (chat.Room, string, error) {
	ch, _, _, err := p.api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{to.PlatformID}})
	if err != nil {
		return chat.Room{}, "", retryable(fmt.Errorf("open a DM with %s: %w", to.Name, err))
	}
	_, ts, err := p.api.PostMessageContext(ctx, ch.ID, slack.MsgOptionBlocks(Blocks(card)...), slack.MsgOptionText(escapeMrkdwn(text), false))
	if err != nil {
		return chat.Room{}, "", retryable(fmt.Errorf("DM %s: %w", to.Name, err))
	}
	return chat.Room{ID: ch.ID}, ts, nil
}

// PostImage uploads a picture into a channel (into room.Thread's thread
// when set) through Slack's files API: a URL to upload to
// (files.getUploadURLExternal), the bytes sent there, then the share
// into the channel with a comment (files.completeUploadExternal). The
// alt text is the comment too: Slack shows alt text only to screen
// readers, and the comment says what the picture is to everyone.
func (p *Platform) PostImage(ctx context.Context, room chat.Room, img chat.Image) error {
	_, err := p.api.UploadFileContext(ctx, slack.UploadFileParameters{
		Reader:          bytes.NewReader(img.Data),
		FileSize:        len(img.Data),
		Filename:        img.Name,
		Title:           img.Name,
		AltTxt:          img.Alt,
		InitialComment:  escapeMrkdwn(img.Alt),
		Channel:         room.ID,
		ThreadTimestamp: room.Thread,
	})
	if err != nil {
		return retryable(fmt.Errorf("upload %s: %w", img.Name, err))
	}
	return nil
}

// Ephemeral answers one person privately in a channel. The answer names
// incidents by their titles, so it is escaped as any content.
func (p *Platform) Ephemeral(ctx context.Context, channel, user, text string) error {
	_, err := p.api.PostEphemeralContext(ctx, channel, user, slack.MsgOptionText(escapeMrkdwn(text), false))
	return err
}

package scenario

import (
	"strings"
	"testing"
)

// linkAbuseConfig is the Telegram team (alice 1001, bob 1002, in the
// forum) with mail, so bob's link codes go by email.
var linkAbuseConfig = strings.NewReplacer(
	`telegram: "1002"}`, `telegram: "1002", email: bob@example.com}`,
	"api_tokens:", "smtp: {addr: \"%SMTP%\", from: \"oncall-bot@example.com\"}\napi_tokens:",
).Replace(telegramConfig)

// Telegram users the config does not know.
const (
	tgStranger = int64(5550001)
	tgOther    = int64(5550002)
	// tgUnknownGroup is a group someone added the bot to.
	tgUnknownGroup = int64(-1009999999999)
)

// telegramChatCommand is user typing text in chat: a private chat (the
// user's own id), or a group that is not a forum.
func (h *Harness) telegramChatCommand(user, chat int64, text string) int {
	h.T.Helper()
	kind := "group"
	if chat == user {
		kind = "private"
	}
	entity := strings.SplitN(text, " ", 2)[0]
	return h.telegramUpdate(map[string]any{"update_id": 3, "message": map[string]any{
		"message_id": 901, "date": 1772420400, "text": text,
		"from":     map[string]any{"id": user, "is_bot": false, "first_name": "U"},
		"chat":     map[string]any{"id": chat, "type": kind},
		"entities": []map[string]any{{"type": "bot_command", "offset": 0, "length": len(entity)}},
	}}, TelegramSecret)
}

// lastReply is the last message the bot sent to a chat (topic 0), or "".
func (h *Harness) lastReply(chat int64) string {
	msgs := h.Telegram.Messages(chat, 0)
	if len(msgs) == 0 {
		return ""
	}
	return msgs[len(msgs)-1].Text
}

func TestAStrangerOnTelegramLearnsNothingOfTheSchedule(t *testing.T) {
	h := New(t, WithConfig(linkAbuseConfig))
	for _, line := range []string{"/oncall who", "/oncall schedule", "/oncall who ops", "/oncall schedule ops 30", "/oncall help", "/oncall link bob"} {
		before := len(h.Telegram.Messages(tgStranger, 0))
		h.telegramChatCommand(tgStranger, tgStranger, line)
		msgs := h.Telegram.Messages(tgStranger, 0)
		if len(msgs) != before+1 {
			t.Fatalf("%s in a stranger's DM: %d answers, want one", line, len(msgs)-before)
		}
		got := msgs[len(msgs)-1].Text
		if !strings.Contains(got, "answers only in its team rooms and to people it knows") {
			t.Fatalf("%s in a stranger's DM answered %q, want the refusal", line, got)
		}
		for _, leak := range []string{"alice", "bob", "ops", "On call", "Schedule"} {
			if strings.Contains(got, leak) {
				t.Fatalf("%s in a stranger's DM answered %q, which tells of %q", line, got, leak)
			}
		}
		// In a group the bot was added to, it says nothing at all: not to
		// a stranger, nor to alice.
		h.telegramChatCommand(tgStranger, tgUnknownGroup, line)
		h.telegramChatCommand(1001, tgUnknownGroup, line)
		if msgs := h.Telegram.Messages(tgUnknownGroup, 0); len(msgs) != 0 {
			t.Fatalf("%s in an unknown group answered %q", line, msgs[0].Text)
		}
	}
	if mails := h.SMTP.Mails("bob@example.com"); len(mails) != 0 {
		t.Fatalf("a stranger's DM sent bob %d link codes", len(mails))
	}
	// alice, whom the config knows, is answered in her DM.
	h.telegramChatCommand(1001, 1001, "/oncall who")
	if got := h.lastReply(1001); !strings.Contains(got, "On call for ops: alice") {
		t.Fatalf("alice's DM who answered %q", got)
	}
	// A newcomer in the team's forum is answered.
	h.TelegramCommand(tgStranger, 0, "/oncall who")
	if got := h.lastReply(TelegramForum); !strings.Contains(got, "On call for ops: alice") {
		t.Fatalf("who in the team's forum answered %q", got)
	}
}

func TestBobGetsThreeLinkCodesAnHourWhoeverAsks(t *testing.T) {
	h := New(t, WithConfig(linkAbuseConfig))
	for i, user := range []int64{tgStranger, tgStranger, tgOther} {
		h.TelegramCommand(user, 0, "/oncall link bob")
		if got := h.lastReply(TelegramForum); !strings.Contains(got, "I sent a code to bob by email") {
			t.Fatalf("link request %d answered %q", i+1, got)
		}
	}
	for _, user := range []int64{tgStranger, tgOther, 5550003} {
		h.TelegramCommand(user, 0, "/oncall link bob")
		got := h.lastReply(TelegramForum)
		if !strings.Contains(got, "Bob was sent 3 link codes in the last hour") || !strings.Contains(got, "try again after Mon 2 Mar 04:00 UTC") {
			t.Fatalf("a fourth link request for bob answered %q", got)
		}
	}
	if mails := h.SMTP.Mails("bob@example.com"); len(mails) != 3 {
		t.Fatalf("bob got %d link codes, want 3", len(mails))
	}
}

func TestWrongLinkCodesAreNotForgivenByANewCode(t *testing.T) {
	h := New(t, WithConfig(linkAbuseConfig))
	code := func(n int) string {
		t.Helper()
		mails := h.SMTP.Mails("bob@example.com")
		if len(mails) != n {
			t.Fatalf("bob got %d link codes, want %d", len(mails), n)
		}
		m := sixDigits.FindStringSubmatch(mails[n-1].Body)
		if m == nil {
			t.Fatalf("no code in %q", mails[n-1].Body)
		}
		return m[1]
	}
	guess := func(right string) {
		t.Helper()
		wrong := "000000"
		if wrong == right {
			wrong = "111111"
		}
		h.TelegramCommand(tgStranger, 0, "/oncall link bob "+wrong)
		if got := h.lastReply(TelegramForum); !strings.Contains(got, "wrong or expired") {
			t.Fatalf("a wrong code answered %q", got)
		}
	}
	h.TelegramCommand(tgStranger, 0, "/oncall link bob")
	first := code(1)
	guess(first)
	guess(first)
	guess(first)
	// A new code used to start the count again.
	h.TelegramCommand(tgStranger, 0, "/oncall link bob")
	second := code(2)
	guess(second)
	guess(second)
	if got := h.lastReply(TelegramForum); !strings.Contains(got, "try again after Tue 3 Mar 03:00 UTC") {
		t.Fatalf("the fifth wrong code answered %q, want when to try again", got)
	}
	for _, right := range []string{second, first} {
		h.TelegramCommand(tgStranger, 0, "/oncall link bob "+right)
		if got := h.lastReply(TelegramForum); strings.Contains(got, "Linked") || !strings.Contains(got, "try again after Tue 3 Mar 03:00 UTC") {
			t.Fatalf("bob's code after five wrong ones answered %q", got)
		}
	}
	// Nor does bob get another code for this account.
	h.TelegramCommand(tgStranger, 0, "/oncall link bob")
	if got := h.lastReply(TelegramForum); !strings.Contains(got, "try again after Tue 3 Mar 03:00 UTC") {
		t.Fatalf("a third code request answered %q", got)
	}
	code(2)
	// The account is not bob: its DM stays unanswered.
	h.telegramChatCommand(tgStranger, tgStranger, "/oncall who")
	if got := h.lastReply(tgStranger); strings.Contains(got, "On call") {
		t.Fatalf("the stranger's DM answered %q", got)
	}
}

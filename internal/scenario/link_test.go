package scenario

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/oncallbot/bot/internal/incident"
)

var linkConfig = strings.NewReplacer(
	"  - {name: carol, time_zone: Australia/Sydney}",
	"  - {name: carol, time_zone: Australia/Sydney, email: carol@example.com}",
	"api_tokens:", "smtp: {addr: \"%SMTP%\", from: \"oncall-bot@example.com\"}\napi_tokens:",
	// C9999 is the team's room: the bot takes /oncall link there from
	// people it does not know yet.
	"schedule: ops}", "schedule: ops, rooms: {slack: C9999}}",
).Replace(slackConfig)

var sixDigits = regexp.MustCompile(`\b(\d{6})\b`)

func TestLinkASlackAccountWithAMailedCode(t *testing.T) {
	h := New(t, WithConfig(linkConfig))
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=Disk")))

	_, kind, text := h.SlackCommand("U0CAROL", "C9999", "ack #1")
	if kind != "ephemeral" || !strings.Contains(text, "/oncall link") {
		t.Fatalf("unknown user answered %s %q", kind, text)
	}
	_, _, text = h.SlackCommand("U0CAROL", "C9999", "link carol")
	if !strings.Contains(text, "I sent a code to carol by email") {
		t.Fatalf("link answered %q", text)
	}
	mails := h.SMTP.Mails("carol@example.com")
	if len(mails) != 1 {
		t.Fatalf("carol got %d mails", len(mails))
	}
	code := sixDigits.FindStringSubmatch(mails[0].Body)
	if code == nil {
		t.Fatalf("no code in %q", mails[0].Body)
	}
	wrong := "000000"
	if code[1] == wrong {
		wrong = "111111"
	}
	if _, _, text = h.SlackCommand("U0CAROL", "C9999", "link carol "+wrong); !strings.Contains(text, "wrong or expired") {
		t.Fatalf("wrong code answered %q", text)
	}
	// Someone else's account cannot use carol's code.
	if _, _, text = h.SlackCommand("U0MALLORY", "C9999", "link carol "+code[1]); !strings.Contains(text, "wrong or expired") {
		t.Fatalf("another account with carol's code answered %q", text)
	}
	if _, _, text = h.SlackCommand("U0CAROL", "C9999", "link carol "+code[1]); !strings.Contains(text, "Linked: on slack you are carol") {
		t.Fatalf("right code answered %q", text)
	}
	h.Restart()
	if _, _, text = h.SlackCommand("U0CAROL", "C9999", "ack #1"); !strings.Contains(text, "#1 acknowledged by carol") {
		t.Fatalf("after linking (and a restart) ack answered %q", text)
	}
	if d := h.ExpectStatus(inc.ID, incident.StatusAcknowledged); d.AcknowledgedBy != "slack:carol" {
		t.Fatalf("acknowledged by %q", d.AcknowledgedBy)
	}
}

func TestLinkCodesAllowFewAttempts(t *testing.T) {
	h := New(t, WithConfig(linkConfig))
	h.SlackCommand("U0CAROL", "C9999", "link carol")
	code := sixDigits.FindStringSubmatch(h.SMTP.Mails("carol@example.com")[0].Body)[1]
	for i := range 5 {
		guess := strings.Repeat(string(rune('1'+i)), 6)
		if guess == code {
			guess = "999999"
		}
		h.SlackCommand("U0CAROL", "C9999", "link carol "+guess)
	}
	if _, _, text := h.SlackCommand("U0CAROL", "C9999", "link carol "+code); !strings.Contains(text, "wrong or expired") {
		t.Fatalf("the right code after 5 wrong guesses answered %q", text)
	}
	if _, _, text := h.SlackCommand("U0CAROL", "C9999", "link nobody"); !strings.Contains(text, `no "nobody"`) {
		t.Fatalf("link to an unknown person answered %q", text)
	}
}

func TestALinkedAccountIsPagedAndCalledIn(t *testing.T) {
	h := New(t, WithConfig(linkConfig))
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=Disk")))
	h.SlackCommand("U0CAROL", "C9999", "link carol")
	code := sixDigits.FindStringSubmatch(h.SMTP.Mails("carol@example.com")[0].Body)[1]
	if _, _, text := h.SlackCommand("U0CAROL", "C9999", "link carol "+code); !strings.Contains(text, "Linked") {
		t.Fatalf("link answered %q", text)
	}
	// carol's config names no Slack account: only the link reaches her.
	if r := h.APIJSON("POST", "/api/v1/incidents/"+itoa(inc.ID)+"/assign", map[string]string{"person": "carol"}); r.Code != 200 {
		t.Fatalf("assign = %d %s", r.Code, r.Body)
	}
	h.Tick()
	if dm := h.Slack.Messages("DU0CAROL"); len(dm) != 1 {
		t.Fatalf("carol's DM pages through her linked account = %d, want 1", len(dm))
	}
	ch := h.Slack.Channel("inc-1-disk")
	if ch == nil || !slices.Contains(ch.Members, "U0CAROL") {
		t.Fatalf("carol's linked account was not called into the channel: %+v", ch)
	}
	// A new incident's channel invites her with the team.
	h.PostAlerts(Firing("alertname=Load"))
	h.Tick()
	if ch := h.Slack.Channel("inc-2-load"); ch == nil || !slices.Contains(ch.Members, "U0CAROL") {
		t.Fatalf("the next incident's channel left carol out: %+v", ch)
	}
}

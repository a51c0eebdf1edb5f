package telegram

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/oncallbot/bot/internal/chat"
	"github.com/oncallbot/bot/internal/incident"
)

// A digest (a card about no one incident) renders as any card: its one
// button's callback data is the command, within Telegram's 64 bytes.
func TestDigestKeyboard(t *testing.T) {
	card := chat.NewDigestCard(30, []incident.Incident{{ID: 1, Title: "disk"}, {ID: 2, Title: "cpu"}})
	kb := Keyboard(card)
	if len(kb.InlineKeyboard) != 1 || len(kb.InlineKeyboard[0]) != 1 {
		t.Fatalf("keyboard = %+v", kb.InlineKeyboard)
	}
	b := kb.InlineKeyboard[0][0]
	if b.Text != "Acknowledge all" || b.CallbackData != chat.AckAll || len(b.CallbackData) > 64 {
		t.Fatalf("button = %+v", b)
	}
	if text := card.Text(); !strings.HasPrefix(text, "30 incidents are paging you") || !strings.Contains(text, "#1 disk") || !strings.Contains(text, "+28 more") {
		t.Fatalf("text = %q", text)
	}
}

func TestAnswerTextFitsTelegramsLimit(t *testing.T) {
	cases := []struct {
		in   string
		want int // runes
	}{
		{"Acknowledged 3 incidents: #1, #2, #3.", 37},
		{strings.Repeat("é", 200), 200},
		{strings.Repeat("é", 201), 200},
		{strings.Repeat("x", 5000), 200},
	}
	for _, c := range cases {
		got := answerText(c.in)
		if n := utf8.RuneCountInString(got); n != c.want || !utf8.ValidString(got) {
			t.Errorf("answerText(%d runes) = %d runes (valid %v), want %d", utf8.RuneCountInString(c.in), n, utf8.ValidString(got), c.want)
		}
		if len([]rune(c.in)) > 200 && !strings.HasSuffix(got, "…") {
			t.Errorf("a cut answer does not say so: %q", got)
		}
	}
}

// A link button (a runbook from the triage) is a URL button, with no
// callback data.
func TestLinkButtonsOpenTheirURL(t *testing.T) {
	card := chat.NewCard(incident.Incident{ID: 7, Title: "disk", Status: incident.StatusTriggered}, nil)
	card.Buttons = append(card.Buttons, chat.Button{Label: "Runbook", URL: "https://runbooks.example/disk"})
	kb := Keyboard(card)
	last := kb.InlineKeyboard[len(kb.InlineKeyboard)-1]
	b := last[len(last)-1]
	if b.Text != "Runbook" || b.URL != "https://runbooks.example/disk" || b.CallbackData != "" {
		t.Errorf("link button = %+v", b)
	}
}

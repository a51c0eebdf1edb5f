package discord

import (
	"strings"
	"testing"

	"github.com/bwmarrin/discordgo"

	"github.com/oncallbot/bot/internal/chat"
	"github.com/oncallbot/bot/internal/incident"
)

// A digest (a card about no one incident) renders as any card: one
// button whose custom id is the command, a message within Discord's
// 2,000 characters however long the titles.
func TestDigestComponentsAndContent(t *testing.T) {
	var incs []incident.Incident
	for id := int64(1); id <= 40; id++ {
		incs = append(incs, incident.Incident{ID: id, Title: strings.Repeat("long title ", 30)})
	}
	card := chat.NewDigestCard(len(incs), incs)
	rows := Components(card)
	if len(rows) != 1 {
		t.Fatalf("rows = %+v", rows)
	}
	btns := rows[0].(discordgo.ActionsRow).Components
	if len(btns) != 1 || btns[0].(discordgo.Button).CustomID != chat.AckAll || btns[0].(discordgo.Button).Label != "Acknowledge all" {
		t.Fatalf("buttons = %+v", btns)
	}
	text := content(card)
	if !strings.HasPrefix(text, "**40 incidents are paging you**") || !strings.Contains(text, "+31 more") || len([]rune(text)) > 2000 {
		t.Fatalf("content (%d runes) = %q", len([]rune(text)), text)
	}
}

// A link button (a runbook from the triage) is Discord's link style: a
// URL and no custom id, so a press sends the bot nothing.
func TestLinkButtons(t *testing.T) {
	card := chat.NewCard(incident.Incident{ID: 7, Title: "disk", Status: incident.StatusTriggered}, nil)
	card.Buttons = append(card.Buttons, chat.Button{Label: "Runbook", URL: "https://runbooks.example/disk"})
	rows := Components(card)
	last := rows[len(rows)-1].(discordgo.ActionsRow).Components
	b := last[len(last)-1].(discordgo.Button)
	if b.Style != discordgo.LinkButton || b.URL != "https://runbooks.example/disk" || b.CustomID != "" {
		t.Errorf("link button = %+v", b)
	}
}

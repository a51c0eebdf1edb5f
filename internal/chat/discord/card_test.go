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

package slack

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/slack-go/slack"

	"github.com/oncallbot/bot/internal/chat"
	"github.com/oncallbot/bot/internal/incident"
)

func TestBlocksOfADigest(t *testing.T) {
	var incs []incident.Incident
	for id := int64(1); id <= 12; id++ {
		incs = append(incs, incident.Incident{ID: id, Title: "<!channel> disk & more"})
	}
	b, err := json.Marshal(Blocks(chat.NewDigestCard(len(incs), incs)))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{`"block_id":"digest"`, `"value":"ack all"`, `12 incidents are paging you`, `+3 more`,
		`\u0026lt;!channel\u0026gt; disk \u0026amp; more`} {
		if !strings.Contains(s, want) {
			t.Errorf("blocks lack %s:\n%s", want, s)
		}
	}
	// A title in a label must not mention anyone.
	if strings.Contains(s, "<!channel>") || strings.Contains(s, `\u003c!channel`) {
		t.Errorf("a label is not escaped:\n%s", s)
	}
	// Slack takes at most ten fields in a section.
	var blocks []struct {
		Fields []json.RawMessage `json:"fields"`
	}
	if err := json.Unmarshal(b, &blocks); err != nil {
		t.Fatal(err)
	}
	for i, bl := range blocks {
		if len(bl.Fields) > 10 {
			t.Errorf("block %d has %d fields", i, len(bl.Fields))
		}
	}
	// An incident's card keeps its block id.
	card, _ := json.Marshal(Blocks(chat.NewCard(incident.Incident{ID: 7, Status: incident.StatusTriggered}, nil)))
	if !strings.Contains(string(card), `"block_id":"incident-7"`) {
		t.Errorf("incident card blocks: %s", card)
	}
}

// A link button (a runbook from the triage) opens its URL and carries no
// command; a press on it is not a command either.
func TestLinkButtons(t *testing.T) {
	card := chat.NewCard(incident.Incident{ID: 7, Title: "disk", Status: incident.StatusTriggered}, nil)
	card.Buttons = append(card.Buttons, chat.Button{Label: "Runbook", URL: "https://runbooks.example/disk"})
	b, err := json.Marshal(Blocks(card))
	if err != nil {
		t.Fatal(err)
	}
	if s := string(b); !strings.Contains(s, `"action_id":"link-6"`) || !strings.Contains(s, `"url":"https://runbooks.example/disk"`) {
		t.Errorf("blocks lack the link button:\n%s", s)
	}
	var h Inbound
	cb := slack.InteractionCallback{Type: slack.InteractionTypeBlockActions}
	cb.ActionCallback.BlockActions = []*slack.BlockAction{{ActionID: "link-6"}}
	if _, ok := h.runPress(context.Background(), cb); ok {
		t.Error("a link press ran as a command")
	}
}

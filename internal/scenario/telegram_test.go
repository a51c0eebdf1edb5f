package scenario

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/incident"
)

var telegramConfig = strings.NewReplacer(
	"people:\n  - {name: alice, time_zone: Europe/London}\n  - {name: bob, time_zone: America/New_York}",
	"people:\n  - {name: alice, time_zone: Europe/London, telegram: \"1001\"}\n  - {name: bob, time_zone: America/New_York, telegram: \"1002\"}",
	"{name: ops, members: [alice, bob, carol], leads: [alice], schedule: ops}",
	"{name: ops, members: [alice, bob, carol], leads: [alice], schedule: ops, rooms: {telegram: \"-1001234567890\"}}",
	"api_tokens:", "telegram: {bot_token: \""+TelegramToken+"\", webhook_secret: \""+TelegramSecret+"\", api_url: \"%TELEGRAM%\"}\napi_tokens:",
).Replace(BaseConfig)

func TestTelegramTopicPerIncidentButtonsAndCommands(t *testing.T) {
	h := New(t, WithConfig(telegramConfig))
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=DiskFull").Summary("disk full on db1")))

	topic := h.Telegram.Topic("#1 disk full on db1")
	if topic == nil {
		t.Fatal("no forum topic for the incident")
	}
	msgs := h.Telegram.Messages(TelegramForum, topic.ID)
	if len(msgs) == 0 || !strings.Contains(msgs[0].Keyboard, `"callback_data":"ack #1"`) || !strings.Contains(msgs[0].Text, "#1 disk full on db1") {
		t.Fatalf("card = %+v", msgs)
	}
	// alice (on call) gets the page privately, with the buttons.
	if dm := h.Telegram.Messages(1001, 0); len(dm) != 1 || !strings.Contains(dm[0].Keyboard, "Acknowledge") {
		t.Fatalf("alice's private page = %+v", dm)
	}

	// bob presses Acknowledge: a toast, the card edited, the topic told.
	if code := h.TelegramPress(1002, topic.ID, msgs[0].ID, "ack #1"); code != 200 {
		t.Fatalf("press = %d", code)
	}
	if d := h.ExpectStatus(inc.ID, incident.StatusAcknowledged); d.AcknowledgedBy != "telegram:bob" {
		t.Fatalf("acknowledged by %q", d.AcknowledgedBy)
	}
	if a := h.Telegram.Answers(); len(a) != 1 || !strings.Contains(a[0], "acknowledged by bob") {
		t.Fatalf("callback answers = %v", a)
	}
	msgs = h.Telegram.Messages(TelegramForum, topic.ID)
	if msgs[0].Edits == 0 || !strings.Contains(msgs[0].Keyboard, `"unack #1"`) {
		t.Fatalf("card after the press = %+v", msgs[0])
	}

	// In a group, clients send /oncall@botname; the topic implies the incident.
	h.TelegramCommand(1001, topic.ID, "/oncall@oncall_bot resolve")
	msgs = h.Telegram.Messages(TelegramForum, topic.ID)
	if last := msgs[len(msgs)-1]; !strings.Contains(strings.Join(texts(msgs), "\n"), "#1 resolved by alice") || last.Text == "" {
		t.Fatalf("topic after /oncall resolve:\n%s", strings.Join(texts(msgs), "\n"))
	}
	h.ExpectStatus(inc.ID, incident.StatusResolved)
	if tp := h.Telegram.Topic("#1 disk full on db1"); !tp.Closed {
		t.Fatal("the topic was not closed on resolve")
	}
	// Reopen from the API: the topic opens again.
	h.API("POST", "/api/v1/incidents/1/reopen")
	h.Tick()
	if tp := h.Telegram.Topic("#1 disk full on db1"); tp.Closed {
		t.Fatal("the topic stayed closed after reopen")
	}
}

func texts(ms []TelegramMessage) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Text)
	}
	return out
}

func TestTelegramWebhookSecretIsRequired(t *testing.T) {
	h := New(t, WithConfig(telegramConfig))
	h.OnlyIncident(h.PostAlerts(Firing("alertname=X")))
	topic := h.Telegram.Topic("#1 X")
	upd := map[string]any{"update_id": 3, "callback_query": map[string]any{"id": "x", "data": "resolve #1",
		"from": map[string]any{"id": 1001, "first_name": "A"}, "chat_instance": "1",
		"message": map[string]any{"message_id": 1, "date": 1, "message_thread_id": topic.ID, "chat": map[string]any{"id": TelegramForum, "type": "supergroup"}}}}
	for _, secret := range []string{"", "guess"} {
		if code := h.telegramUpdate(upd, secret); code != 401 {
			t.Fatalf("update with secret %q = %d, want 401", secret, code)
		}
	}
	h.ExpectStatus(1, incident.StatusTriggered)
	if code := h.telegramUpdate(upd, TelegramSecret); code != 200 {
		t.Fatalf("genuine update = %d", code)
	}
	h.ExpectStatus(1, incident.StatusResolved)
}

func TestTelegramRateLimitedIsRetriedAfterItsWait(t *testing.T) {
	h := New(t, WithConfig(telegramConfig))
	h.Telegram.FailNextOn("createForumTopic", 1, 429, "20")
	h.OnlyIncident(h.PostAlerts(Firing("alertname=Flood")))
	if h.Telegram.Topic("#1 Flood") != nil {
		t.Fatal("topic created through a 429")
	}
	h.Advance(19 * time.Second)
	if h.Telegram.Topic("#1 Flood") != nil {
		t.Fatal("retried before retry_after")
	}
	h.Advance(time.Second)
	if h.Telegram.Topic("#1 Flood") == nil {
		t.Fatal("no topic after retry_after")
	}
}

func TestTelegramCapturedUpdateIsUnderstood(t *testing.T) {
	// The captured chat is the team's here: the bot says nothing in a
	// group the config does not name.
	h := New(t, WithConfig(strings.Replace(telegramConfig, "-1001234567890", "-1001293752024", 1)))
	body, err := os.ReadFile("../chat/telegram/testdata/teloxide_update_supergroup_report_bot_command.json")
	if err != nil {
		t.Fatal(err)
	}
	// A real supergroup update (/report, a reply with a story): decoded,
	// answered in its chat and topic with the team's handoff report, 200.
	r := h.do("POST", "/telegram/webhook", http.Header{"X-Telegram-Bot-Api-Secret-Token": {TelegramSecret}}, body)
	if r.Code != 200 {
		t.Fatalf("captured update = %d %s", r.Code, r.Body)
	}
	var upd struct {
		Message struct {
			Chat struct{ ID int64 }
			ID   int `json:"message_id"`
		}
	}
	json.Unmarshal(body, &upd)
	found := false
	for _, m := range h.Telegram.AllMessages() {
		if m.ChatID == upd.Message.Chat.ID && m.ReplyTo == upd.Message.ID && strings.Contains(m.Text, "Handoff report for ops") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no answer to the captured /report: %+v", h.Telegram.AllMessages())
	}
}

package scenario

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/oncall"
)

// telegramPollConfig is telegramConfig taking updates by long polling:
// no webhook, so no webhook secret.
var telegramPollConfig = strings.Replace(telegramConfig, `webhook_secret: "`+TelegramSecret+`"`, "long_polling: true", 1)

// newTelegramPolling starts a bot that long-polls the fake Telegram.
func newTelegramPolling(t *testing.T) *Harness {
	t.Helper()
	if !strings.Contains(telegramPollConfig, "long_polling: true") {
		t.Fatal("telegramConfig changed: no webhook_secret to replace with long_polling")
	}
	return New(t, WithConfig(telegramPollConfig))
}

// openTelegramIncident posts an alert and returns its incident, its
// topic and the card in it.
func openTelegramIncident(h *Harness, alertname string) (incident.Detail, *TelegramTopic, TelegramMessage) {
	h.T.Helper()
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=" + alertname)))
	topic := h.Telegram.Topic("#1 " + alertname)
	if topic == nil {
		h.T.Fatal("no forum topic for the incident")
	}
	msgs := h.Telegram.Messages(TelegramForum, topic.ID)
	if len(msgs) == 0 || !strings.Contains(msgs[0].Keyboard, `"callback_data":"ack #1"`) {
		h.T.Fatalf("no card with buttons in the topic: %+v", msgs)
	}
	return inc, topic, msgs[0]
}

// telegramReplies counts the bot's replies to commands in a topic that
// say what.
func telegramReplies(h *Harness, topic int, what string) int {
	n := 0
	for _, m := range h.Telegram.Messages(TelegramForum, topic) {
		if m.ReplyTo != 0 && strings.Contains(m.Text, what) {
			n++
		}
	}
	return n
}

func TestTelegramLongPollingButtonsAndCommands(t *testing.T) {
	h := newTelegramPolling(t)
	inc, topic, card := openTelegramIncident(h, "DiskFull")
	// The bot was set up for the webhook: it deletes it to poll, and
	// serves no webhook route of its own.
	h.Telegram.WaitUntil("deleteWebhook", func() bool { return h.Telegram.Webhook() == "" })
	if code := h.TelegramPress(1002, topic.ID, card.ID, "ack #1"); code != http.StatusNotFound {
		t.Fatalf("webhook route answered %d, want 404", code)
	}

	// bob presses Acknowledge: the press comes in by getUpdates, bob gets
	// a toast, the card changes.
	h.Telegram.QueuePress(1002, topic.ID, card.ID, "ack #1")
	h.Telegram.WaitUntil("answer to the press", func() bool { return len(h.Telegram.Answers()) > 0 })
	h.Tick()
	if d := h.ExpectStatus(inc.ID, incident.StatusAcknowledged); d.AcknowledgedBy != "telegram:bob" {
		t.Fatalf("acknowledged by %q", d.AcknowledgedBy)
	}
	if a := h.Telegram.Answers(); len(a) != 1 || !strings.Contains(a[0], "acknowledged by bob") {
		t.Fatalf("callback answers = %v", a)
	}
	if c := h.Telegram.Messages(TelegramForum, topic.ID)[0]; c.Edits == 0 || !strings.Contains(c.Keyboard, `"unack #1"`) {
		t.Fatalf("card after the press = %+v", c)
	}

	// alice asks for help in the topic, as group clients send commands.
	h.Telegram.QueueCommand(1001, topic.ID, "/oncall@oncall_bot escalate")
	h.Telegram.WaitUntil("reply to /oncall escalate", func() bool { return telegramReplies(h, topic.ID, "#1 escalated by alice") > 0 })
	h.Tick()
	d := h.ExpectStatus(inc.ID, incident.StatusTriggered)
	if !slices.Contains(AllKinds(d), oncall.KindEscalated) {
		t.Fatalf("no manual escalation in the timeline:\n%s", Timeline(d))
	}
}

func TestTelegramLongPollingHandlesEachUpdateOnceAcrossARestart(t *testing.T) {
	h := newTelegramPolling(t)
	inc, topic, card := openTelegramIncident(h, "Lag")
	h.Telegram.QueuePress(1002, topic.ID, card.ID, "ack #1")
	h.Telegram.QueueCommand(1001, topic.ID, "/oncall@oncall_bot escalate")
	h.Telegram.WaitUntil("both updates handled", func() bool {
		return len(h.Telegram.Answers()) == 1 && telegramReplies(h, topic.ID, "#1 escalated by alice") == 1
	})

	h.Restart()
	// Stopping confirmed what was handled: Telegram keeps nothing to give
	// the new process again.
	if n := h.Telegram.Pending(); n != 0 {
		t.Fatalf("%d handled updates left unconfirmed after the stop", n)
	}
	h.Telegram.QueueCommand(1002, topic.ID, "/oncall@oncall_bot ack")
	h.Telegram.WaitUntil("reply to /oncall ack after the restart", func() bool { return telegramReplies(h, topic.ID, "acknowledged by bob") > 0 })
	// Updates come in order: a second delivery of the first two would
	// have been handled before this one.
	if a, n := h.Telegram.Answers(), telegramReplies(h, topic.ID, "#1 escalated by alice"); len(a) != 1 || n != 1 {
		t.Fatalf("after the restart: %d answers to the press, %d replies to escalate; want 1 each", len(a), n)
	}
	if n := telegramReplies(h, topic.ID, "acknowledged by bob"); n != 1 {
		t.Fatalf("%d replies to the ack after the restart, want 1", n)
	}
	h.Tick()
	h.ExpectStatus(inc.ID, incident.StatusAcknowledged)
}

func TestTelegramLongPollingWaitsOutA429(t *testing.T) {
	h := newTelegramPolling(t)
	inc, topic, card := openTelegramIncident(h, "Flood")
	// Only the poller makes timers on the fake clock here (the harness
	// drives the timer and outbox loops by hand).
	armed := h.Clock.TimerCreated()
	h.Telegram.FailPolls(1, 429, "20")
	select {
	case <-armed:
	case <-time.After(10 * time.Second):
		t.Fatal("the poller did not start waiting after the 429")
	}
	polls := h.Telegram.Polls()
	h.Telegram.QueuePress(1001, topic.ID, card.ID, "ack #1")
	h.Advance(19 * time.Second)
	if h.Clock.Pending() != 1 || h.Telegram.Polls() != polls {
		t.Fatal("polled again before retry_after")
	}
	h.Advance(time.Second)
	h.Telegram.WaitUntil("answer to the press after the wait", func() bool { return len(h.Telegram.Answers()) > 0 })
	h.Tick()
	if d := h.ExpectStatus(inc.ID, incident.StatusAcknowledged); d.AcknowledgedBy != "telegram:alice" {
		t.Fatalf("acknowledged by %q", d.AcknowledgedBy)
	}
}

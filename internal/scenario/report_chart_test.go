package scenario

import (
	"bytes"
	"fmt"
	"image/png"
	"strings"
	"testing"
	"time"
)

// expectChart fails the test unless data is the report's chart: a PNG of
// 800 by 400 pixels.
func expectChart(t *testing.T, where string, data []byte) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: the file is not a PNG (%d bytes): %v", where, len(data), err)
	}
	if b := img.Bounds(); b.Dx() != 800 || b.Dy() != 400 {
		t.Errorf("%s: the chart is %dx%d, want 800x400", where, b.Dx(), b.Dy())
	}
}

// aWeekToReport pages the ops team once (acknowledged after two minutes)
// and lets a week pass, so that the week /oncall report picks holds the
// page.
func aWeekToReport(h *Harness) {
	h.T.Helper()
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=DiskFull").Summary("disk full on db-03")))
	h.Advance(2 * time.Minute)
	h.API("POST", fmt.Sprintf("/api/v1/incidents/%d/ack", inc.ID))
	h.Advance(7 * 24 * time.Hour)
}

// cardHead starts the handoff card, which every platform's answer
// carries as it is.
const cardHead = "Handoff report for ops"

// Issue 11 on Slack: /oncall report typed in the team's channel answers
// the card in the channel, then the chart comes as a file shared into
// that channel through the files API (an upload URL, the bytes, the
// share), its alt text as the comment; over HTTP and Socket Mode alike.
func TestReportChartOnSlack(t *testing.T) {
	withRoom := func(cfg string) string {
		return strings.Replace(cfg, "{name: ops, members: [alice, bob, carol], leads: [alice], schedule: ops}",
			"{name: ops, members: [alice, bob, carol], leads: [alice], schedule: ops, rooms: {slack: C0TEAM}}", 1)
	}
	for _, c := range []struct {
		name   string
		config string
		report func(t *testing.T, h *Harness) (responseType, text string)
	}{
		{"HTTP", withRoom(slackConfig), func(_ *testing.T, h *Harness) (string, string) {
			_, kind, text := h.SlackCommand("U0BOB", "C0TEAM", "report")
			return kind, text
		}},
		{"Socket Mode", withRoom(slackSocketConfig), func(t *testing.T, h *Harness) (string, string) {
			h.Slack.Socket.WaitConnections(1)
			return commandAnswer(t, h.Slack.Socket.WaitAck(h.Slack.Socket.SlashCommand("U0BOB", "C0TEAM", "report")))
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := New(t, WithConfig(c.config))
			h.Slack.AddChannel("C0TEAM", "ops")
			aWeekToReport(h)
			// The week's handoff posted its own report, chart and all.
			before := len(h.Slack.WaitFiles("C0TEAM", 1))

			kind, text := c.report(t, h)
			if kind != "in_channel" || !strings.HasPrefix(text, cardHead) {
				t.Fatalf("answer = %s %q, want the card in the channel", kind, text)
			}
			files := h.Slack.WaitFiles("C0TEAM", before+1)
			if len(files) != before+1 {
				t.Fatalf("files in the team's channel = %d, want the chart once more than the %d of the handoff", len(files), before)
			}
			f := files[len(files)-1]
			expectChart(t, "slack file "+f.Name, f.Data)
			if f.ThreadTS != "" || !strings.HasPrefix(f.Name, "handoff-ops-") || !strings.HasSuffix(f.Name, ".png") {
				t.Errorf("file %q in thread %q, want handoff-ops-<date>.png in the channel itself", f.Name, f.ThreadTS)
			}
			if !strings.Contains(f.AltText, "Interruptions per day for ops") || f.Comment != f.AltText {
				t.Errorf("alt text %q, comment %q: want the chart described in both", f.AltText, f.Comment)
			}
		})
	}
}

// Issue 11 on Telegram: /oncall report typed in a topic of the team's
// forum answers with one photo in that topic, replying to the command:
// the chart, the card its caption.
func TestReportChartOnTelegram(t *testing.T) {
	h := New(t, WithConfig(telegramConfig))
	topic := h.Telegram.AddTopic("Handoffs")
	aWeekToReport(h)

	h.TelegramCommand(1002, topic, "/oncall report")
	var photos []TelegramMessage
	for _, m := range h.Telegram.Messages(TelegramForum, topic) {
		if m.Photo != nil {
			photos = append(photos, m)
		} else {
			t.Errorf("a message besides the photo: %q", m.Text)
		}
	}
	if len(photos) != 1 {
		t.Fatalf("photos in the topic = %d, want the chart once", len(photos))
	}
	p := photos[0]
	expectChart(t, "telegram photo "+p.PhotoName, p.Photo)
	if !strings.HasPrefix(p.Text, cardHead) || !strings.Contains(p.Text, "• Incidents: 1") {
		t.Errorf("caption = %q, want the card", p.Text)
	}
	if p.ReplyTo != 900 {
		t.Errorf("the photo replies to message %d, want the command (900)", p.ReplyTo)
	}
}

// Issue 11 on Discord: /oncall report typed in the team's channel is
// answered there with the card and the chart attached (a multipart
// answer at the interaction's callback: payload_json and files[0]), over
// the interactions endpoint (which then answers 202 with no body) and
// the gateway alike. A file Discord refuses leaves the card, alone.
func TestReportChartOnDiscord(t *testing.T) {
	const channel = DiscordIncident // the team's channel
	for _, c := range []struct {
		name            string
		gateway, refuse bool
		// report runs /oncall report as bob and returns the answer's
		// words as Discord took them.
		report func(t *testing.T, h *Harness) string
	}{
		{"interactions endpoint", false, false, func(t *testing.T, h *Harness) string {
			r := h.DiscordCommand("222", channel, "report")
			if r.Code != 202 || len(r.Body) != 0 {
				t.Fatalf("answered %d %s, want 202 with no body: the answer went to the callback", r.Code, r.Body)
			}
			return h.Discord.Gateway.WaitCallback("1").Content // DiscordCommand's interaction id
		}},
		{"gateway", true, false, func(t *testing.T, h *Harness) string {
			return h.Discord.Gateway.WaitCallback(h.Discord.Gateway.Command("222", channel, "report")).Content
		}},
		{"gateway, the file refused", true, true, func(t *testing.T, h *Harness) string {
			h.Discord.FailNextOn("/callback", 1, 413, "")
			return h.Discord.Gateway.WaitCallback(h.Discord.Gateway.Command("222", channel, "report")).Content
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var h *Harness
			if c.gateway {
				h = newDiscordGateway(t, discordGatewayConfig)
			} else {
				h = New(t, WithConfig(discordConfig))
			}
			aWeekToReport(h)

			if content := c.report(t, h); !strings.Contains(content, cardHead) {
				t.Fatalf("answer = %q, want the card", content)
			}
			files := h.Discord.Attachments(channel)
			if c.refuse {
				if len(files) != 0 {
					t.Fatalf("attachments after a refusal: %d", len(files))
				}
				return
			}
			if len(files) != 1 {
				t.Fatalf("attachments in the team's channel = %d, want the chart once", len(files))
			}
			a := files[0]
			expectChart(t, "discord attachment "+a.Name, a.Data)
			if a.ContentType != "image/png" || !strings.HasPrefix(a.Name, "handoff-ops-") || a.Flags&64 != 0 || !strings.Contains(a.Content, cardHead) {
				t.Errorf("attachment %q (%s) with flags %d under %q, want the chart under the card, for everyone", a.Name, a.ContentType, a.Flags, a.Content)
			}
		})
	}
}

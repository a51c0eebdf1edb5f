package scenario

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/chat"
)

// bigOutage is one Alertmanager group of n nodes down, as Alertmanager
// sends a big outage: every alert of the group in one body. The alerts
// carry what Alertmanager always sends of them, and nothing more, so that
// 8,000 fit in the 1 MiB the bot takes.
func bigOutage(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"version":"4","status":"firing","receiver":"oncall-bot","groupLabels":{"alertname":"NodeDown"},"alerts":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"status":"firing","labels":{"alertname":"NodeDown","instance":"node-%d"},"startsAt":"%s"}`,
			i, Start.Format(time.RFC3339))
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// Alertmanager puts no limit on the alerts of one notification, and a big
// outage is one huge group: the bot takes all of it, and the body costs the
// chat room a bounded amount, one update that counts the alerts, not a line
// an alert.
func TestOneBodyOfEightThousandAlertsIsOneRoomUpdate(t *testing.T) {
	const n = 8000
	// Without the outgoing webhook, which takes every event (8,000 posts)
	// by design: this test is about the room.
	cfg := slackConfig[:strings.Index(slackConfig, "webhooks:")]
	h := New(t, WithConfig(cfg))
	body := bigOutage(n)
	if len(body) >= 1<<20 {
		t.Fatalf("body is %d bytes; the test wants one the bot takes (under 1 MiB)", len(body))
	}
	res := h.Post("alertmanager", body)
	if res.Accepted != n || res.New != n || len(res.Incidents) != 1 {
		t.Fatalf("hook result %+v, want %d new alerts in one incident", res, n)
	}

	// What the transaction left for the room: its rows, and their size.
	var rows, bytes int
	if err := h.App.Store.Read().QueryRow(`SELECT count(*), COALESCE(SUM(length(payload)), 0) FROM outbox WHERE consumer = ?`,
		chat.ConsumerName("slack")).Scan(&rows, &bytes); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d alerts in a body of %d bytes: %d outbox rows for the room, %d bytes of payload", n, len(body), rows, bytes)
	if rows == 0 || rows > 5 {
		t.Errorf("%d outbox rows for the room, want a handful", rows)
	}
	if bytes > 8<<10 {
		t.Errorf("the room's payloads are %d bytes, want a few KiB whatever the alerts", bytes)
	}
	var payload string
	if err := h.App.Store.Read().QueryRow(`SELECT payload FROM outbox WHERE consumer = ? AND kind = 'alert.added'`,
		chat.ConsumerName("slack")).Scan(&payload); err != nil {
		t.Fatalf("no alert.added update for the room: %v", err)
	}
	if !strings.Contains(payload, fmt.Sprintf(`"more":%d`, n-1-3)) {
		t.Errorf("the room's update does not count the alerts past the first few: %s", payload)
	}

	// Delivered: a handful of messages, the card at the latest count.
	h.Advance(time.Minute)
	inc := h.Incident(res.Incidents[0])
	ch := h.Slack.Channel(fmt.Sprintf("inc-%d-nodedown-on-node-0", inc.ID))
	if ch == nil {
		t.Fatalf("no channel for incident %d (%q)", inc.ID, inc.Title)
	}
	msgs := h.Slack.Messages(ch.ID)
	if len(msgs) == 0 || len(msgs) > 6 {
		t.Fatalf("%d messages in the room for one body, want a handful", len(msgs))
	}
	if !strings.Contains(msgs[0].Blocks, fmt.Sprintf("%d firing of %d", n, n)) {
		t.Errorf("the card does not show the latest count: %s", msgs[0].Blocks)
	}
}

// An alert over a limit refuses its whole body with a 400 that names the
// limit, the field and the alert; the well-formed alerts of that body are
// not taken, and what earlier requests stored is untouched.
func TestAnAlertWithThirtyThousandLabelsIsRefusedWithItsBody(t *testing.T) {
	h := New(t)
	before := h.OnlyIncident(h.PostAlerts(Firing("alertname=DiskFull", "instance=db1")))

	huge := Firing("alertname=Huge")
	for i := range 30000 {
		huge.Labels[fmt.Sprint("label_", i)] = "v"
	}
	body := AlertmanagerBody(Firing("alertname=DiskFull", "instance=db2"), huge)
	if len(body) >= 1<<20 {
		t.Fatalf("body is %d bytes; the test wants one under the body limit", len(body))
	}
	r := h.PostRaw("alertmanager", Tokens["alertmanager"], body)
	if r.Code != http.StatusBadRequest || r.Field != "alerts[1].labels" {
		t.Fatalf("POST = %d %s, want 400 on alerts[1].labels", r.Code, r.Body)
	}
	for _, frag := range []string{"alert 1", `alertname "Huge"`, "30001 labels", "limit is 128 labels per alert"} {
		if !strings.Contains(r.Error, frag) {
			t.Errorf("error %q does not say %q", r.Error, frag)
		}
	}

	after := h.Incident(before.ID)
	if after.AlertCount != 1 || len(after.Alerts) != 1 || len(after.Timeline) != len(before.Timeline) {
		t.Errorf("the refused body changed incident %d: %d alerts, timeline\n%s", before.ID, after.AlertCount, Timeline(after))
	}
	var alerts int
	if err := h.App.Store.Read().QueryRow(`SELECT count(*) FROM alerts`).Scan(&alerts); err != nil {
		t.Fatal(err)
	}
	if alerts != 1 {
		t.Errorf("%d alerts stored, want only the earlier request's", alerts)
	}
}

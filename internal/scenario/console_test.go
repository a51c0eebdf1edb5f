package scenario

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/incident"
)

var consoleConfig = strings.Replace(BaseConfig, "api_tokens:", "console_tokens: [{token: alice-console, person: alice}, {token: carol-console, person: carol}]\napi_tokens:", 1)

// browser is an HTTP client with cookies, like a browser on the console.
func browser(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar}
}

func get(t *testing.T, c *http.Client, u string) (int, string, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Request.URL.Path
}

func post(t *testing.T, c *http.Client, u string, form url.Values) (int, string, string) {
	t.Helper()
	resp, err := c.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Request.URL.String()
}

func TestWebConsoleRoomAcksAndStreamsChanges(t *testing.T) {
	h := New(t, WithConfig(consoleConfig))
	inc := h.OnlyIncident(h.PostAlerts(Firing("alertname=Disk").Summary("disk full on db1")))
	base := h.Server.URL
	b := browser(t)

	// Not signed in: to the sign-in page; a wrong token is refused.
	if _, _, path := get(t, b, base+"/"); path != "/login" {
		t.Fatalf("unsigned visit ended at %s", path)
	}
	if code, body, _ := post(t, b, base+"/login", url.Values{"token": {"guess"}}); code != 401 || !strings.Contains(body, "not valid") {
		t.Fatalf("wrong token = %d", code)
	}
	if code, body, _ := post(t, b, base+"/login", url.Values{"token": {"alice-console"}}); code != 200 || !strings.Contains(body, "#1") {
		t.Fatalf("sign-in = %d\n%s", code, body)
	}
	code, body, _ := get(t, b, base+"/incidents/1")
	if code != 200 || !strings.Contains(body, "#1 disk full on db1") || !strings.Contains(body, `value="ack #1"`) {
		t.Fatalf("room page = %d\n%s", code, body)
	}

	// A page listening to the stream hears of a change made elsewhere.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/events", nil)
	stream, err := b.Do(req)
	if err != nil || stream.StatusCode != 200 {
		t.Fatalf("events = %v %v", err, stream)
	}
	defer stream.Body.Close()
	lines := bufio.NewReader(stream.Body)
	if l, _ := lines.ReadString('\n'); !strings.HasPrefix(l, ": connected") {
		t.Fatalf("stream starts with %q", l)
	}

	// Press Acknowledge: the same command path as any platform.
	_, body, where := post(t, b, base+"/incidents/1/command", url.Values{"line": {"ack #1"}})
	h.Tick()
	if !strings.Contains(where, "/incidents/1?msg=") || !strings.Contains(body, "acknowledged by alice") {
		t.Fatalf("after pressing ack: at %s\n%s", where, body)
	}
	if d := h.ExpectStatus(inc.ID, incident.StatusAcknowledged); d.AcknowledgedBy != "web:alice" {
		t.Fatalf("acknowledged by %q", d.AcknowledgedBy)
	}
	for {
		l, err := lines.ReadString('\n')
		if err != nil {
			t.Fatalf("no event for the change: %v", err)
		}
		if strings.Contains(l, `"room":"incident-1"`) {
			break
		}
	}
	_, body, _ = get(t, b, base+"/incidents/1")
	if !strings.Contains(body, `value="unack #1"`) || !strings.Contains(body, "acknowledged by web:alice") {
		t.Fatalf("room after the ack:\n%s", body)
	}

	// The on-call page answers commands too; a cross-site post is refused.
	_, body, _ = post(t, b, base+"/command", url.Values{"line": {"who ops"}})
	if !strings.Contains(body, "On call for ops: alice") {
		t.Fatalf("who on the console:\n%s", body)
	}
	forged, _ := http.NewRequest("POST", base+"/incidents/1/command", strings.NewReader("line=resolve"))
	forged.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	forged.Header.Set("Origin", "https://evil.example")
	resp, err := b.Do(forged)
	if err != nil || resp.StatusCode != 403 {
		t.Fatalf("cross-site post = %v %v", err, resp.StatusCode)
	}
	resp.Body.Close()
	h.ExpectStatus(inc.ID, incident.StatusAcknowledged)
}

package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/incident"
	"github.com/oncallbot/bot/internal/oncall"
	"github.com/oncallbot/bot/internal/outbox"
)

func pageMessage(t *testing.T, id int64, url string) outbox.Message {
	t.Helper()
	p := oncall.Page{Key: fmt.Sprintf("incident/%d/cycle/0/step/0/pat/webhook", id), Method: "webhook",
		Person: config.Person{Name: "pat", Webhook: url}, Incident: incident.Incident{ID: id, Title: "Disk full"},
		Text: fmt.Sprintf("[CRITICAL] #%d Disk full (team ops). Reply %d ack to acknowledge.", id, id)}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return outbox.Message{ID: id, Kind: oncall.EventPage, IdempotencyKey: p.Key, Payload: b}
}

type hookRequest struct {
	event, key string
	body       []byte
}

func TestPersonWebhookSendsWaitingPagesAsOneBundle(t *testing.T) {
	var mu sync.Mutex
	var got []hookRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, hookRequest{r.Header.Get("X-Bot-Event"), r.Header.Get("Idempotency-Key"), b})
		mu.Unlock()
	}))
	defer srv.Close()
	hook := NewPersonWebhook(srv.Client(), time.Now)
	tests := []struct {
		name      string
		pages     int
		wantEvent string
	}{
		{"one page goes as itself", 1, oncall.EventPage},
		{"pages waiting together go in one POST", 3, EventPages},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got = nil
			var ms []outbox.Message
			for i := range tt.pages {
				ms = append(ms, pageMessage(t, int64(i+1), srv.URL))
			}
			if err := hook.DeliverBatch(context.Background(), ms); err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0].event != tt.wantEvent {
				t.Fatalf("requests %+v, want one %s", got, tt.wantEvent)
			}
			if tt.pages == 1 {
				if got[0].key != ms[0].IdempotencyKey {
					t.Errorf("key %q, want the page's", got[0].key)
				}
				return
			}
			var b PageBundle
			if err := json.Unmarshal(got[0].body, &b); err != nil {
				t.Fatal(err)
			}
			if b.Count != tt.pages || len(b.Pages) != tt.pages {
				t.Fatalf("bundle of %d (%d pages), want %d", b.Count, len(b.Pages), tt.pages)
			}
			for i, raw := range b.Pages {
				var p oncall.Page
				if err := json.Unmarshal(raw, &p); err != nil || p.Key != ms[i].IdempotencyKey {
					t.Errorf("page %d = %q (%v), want key %q", i, p.Key, err, ms[i].IdempotencyKey)
				}
			}
		})
	}
}

func TestSMSBodyFitsOneMessage(t *testing.T) {
	pages := func(n int) []oncall.Page {
		var out []oncall.Page
		for i := range n {
			out = append(out, oncall.Page{Text: fmt.Sprintf("[CRITICAL] #%d Disk full on db%d (team ops). Reply %d ack to acknowledge.", i+1, i+1, i+1)})
		}
		return out
	}
	tests := []struct {
		name     string
		pages    int
		wantMore string // the closing "+N more" line, if any
		wantAll  bool
	}{
		{"one page is its text", 1, "", true},
		{"a few are listed", 3, "", true},
		{"a storm lists what fits and counts the rest", 200, "more", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := pages(tt.pages)
			body := smsBody(ps)
			if n := utf8.RuneCountInString(body); n > maxSMS {
				t.Fatalf("body is %d characters, over %d", n, maxSMS)
			}
			if tt.wantAll != strings.Contains(body, ps[len(ps)-1].Text) {
				t.Errorf("last page listed = %v, want %v:\n%s", !tt.wantAll, tt.wantAll, body)
			}
			if tt.wantMore != "" {
				lines := strings.Split(body, "\n")
				listed := len(lines) - 2 // the heading and the "+N more" line
				if want := fmt.Sprintf("+%d more", tt.pages-listed); lines[len(lines)-1] != want {
					t.Errorf("last line %q, want %q", lines[len(lines)-1], want)
				}
			}
		})
	}
}

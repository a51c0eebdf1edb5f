package telegram

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-telegram/bot/models"

	"github.com/oncallbot/bot/internal/chat"
	"github.com/oncallbot/bot/internal/report"
)

// photoCall is a sendMessage or sendPhoto the photo loopback received.
type photoCall struct {
	method, text, caption, thread, replyTo, photoName string
	photo                                             []byte
}

// photoLoopback takes sendMessage and sendPhoto as the Bot API does
// (multipart, the photo a file part), and refuses photos when told.
type photoLoopback struct {
	srv          *httptest.Server
	refusePhotos bool

	mu    sync.Mutex
	calls []photoCall
}

func newPhotoLoopback(t *testing.T) *photoLoopback {
	l := &photoLoopback{}
	l.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method := strings.TrimPrefix(r.URL.Path, "/bot"+stubToken+"/")
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			t.Errorf("%s is not multipart: %v", method, err)
		}
		var rp struct {
			MessageID int `json:"message_id"`
		}
		json.Unmarshal([]byte(r.FormValue("reply_parameters")), &rp)
		c := photoCall{method: method, text: r.FormValue("text"), caption: r.FormValue("caption"),
			thread: r.FormValue("message_thread_id"), replyTo: jsonInt(int64(rp.MessageID))}
		if method == "sendPhoto" {
			f, h, err := r.FormFile("photo")
			if err != nil {
				t.Errorf("sendPhoto without a photo file part: %v", err)
			} else {
				c.photo, _ = io.ReadAll(f)
				c.photoName = h.Filename
			}
		}
		l.mu.Lock()
		l.calls = append(l.calls, c)
		l.mu.Unlock()
		if method == "sendPhoto" && l.refusePhotos {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"ok":false,"error_code":400,"description":"Bad Request: IMAGE_PROCESS_FAILED"}`)
			return
		}
		io.WriteString(w, `{"ok":true,"result":{"message_id":10,"date":1,"chat":{"id":-100,"type":"supergroup"}}}`)
	}))
	t.Cleanup(l.srv.Close)
	return l
}

// weekReporter answers every report with a week of ops whose top alert
// is named top.
type weekReporter struct{ top string }

func (r weekReporter) HandoffReport(context.Context, string, []string) (report.Handoff, error) {
	from := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	h := report.Handoff{Report: report.Report{Team: "ops", Range: report.Range{From: from, To: from.AddDate(0, 0, 7)},
		Days: []report.Day{{Date: "2026-03-02", Business: 1, Sleep: 2}}}}
	h.Noise.Categories = []report.Category{{Name: r.top, Incidents: 3}}
	return h, nil
}

// Issue 11: /oncall report in a topic of the team's forum answers with a
// photo of the chart in that topic, replying to the command, the card its
// caption while it fits Telegram's 1024; a longer card goes first as a
// message and the photo follows; a photo Telegram refuses leaves the card
// to go alone.
func TestReportChartIsSentAsAPhotoInTheCommandsTopic(t *testing.T) {
	long := strings.Repeat("disk full on db-# ", 60) // over the caption's 1024
	for _, c := range []struct {
		name, top    string
		refusePhotos bool
		want         []string // methods, in order
		captioned    bool
	}{
		{"the card as its caption", "disk full on db-#", false, []string{"sendPhoto"}, true},
		{"a card too long for a caption", long, false, []string{"sendMessage", "sendPhoto"}, false},
		{"a photo refused", "disk full on db-#", true, []string{"sendPhoto", "sendMessage"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			fake := newPhotoLoopback(t)
			fake.refusePhotos = c.refusePhotos
			p, err := New(stubToken, fake.srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			cfg := directoryOf(nil, map[int64]string{-100: "ops"})
			exec := &chat.Executor{Reports: weekReporter{c.top}, Teams: cfg.Teams}
			in := NewInbound("s", exec, p, func(context.Context, string) (int64, bool) { return 0, false },
				slog.New(slog.NewTextHandler(io.Discard, nil)))
			in.Reload(cfg)
			in.Handle(context.Background(), &models.Update{ID: 1, Message: &models.Message{ID: 9, MessageThreadID: 5,
				Chat: models.Chat{ID: -100, Type: "supergroup"}, From: &models.User{ID: 5001}, Text: "/oncall report"}})

			fake.mu.Lock()
			calls := append([]photoCall(nil), fake.calls...)
			fake.mu.Unlock()
			var methods []string
			for _, call := range calls {
				methods = append(methods, call.method)
				if call.thread != "5" || call.replyTo != "9" {
					t.Errorf("%s went to topic %q replying to %q, want topic 5 replying to the command (9)", call.method, call.thread, call.replyTo)
				}
			}
			if strings.Join(methods, ",") != strings.Join(c.want, ",") {
				t.Fatalf("Telegram received %v, want %v", methods, c.want)
			}
			var card string
			for _, call := range calls {
				switch call.method {
				case "sendMessage":
					card = call.text
				case "sendPhoto":
					if call.photoName != "handoff-ops-2026-03-02.png" || !strings.HasPrefix(string(call.photo), "\x89PNG") {
						t.Errorf("photo %q of %d bytes, want the chart's PNG", call.photoName, len(call.photo))
					}
					if c.captioned {
						card = call.caption
					} else if call.caption != "" && !c.refusePhotos {
						t.Errorf("photo captioned %q after the card", call.caption)
					}
				}
			}
			if !strings.HasPrefix(card, "Handoff report for ops") {
				t.Errorf("the card went nowhere: %+v", calls)
			}
		})
	}
}

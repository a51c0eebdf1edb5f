package discord

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/chat"
	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/report"
)

// callbackLoopback is Discord's interaction callback endpoint as an
// answer with a file reaches it: multipart, payload_json and files[0].
// It refuses files when told, as Discord does one too large.
type callbackLoopback struct {
	srv         *httptest.Server
	refuseFiles bool

	mu    sync.Mutex
	calls []callbackCall
}

type callbackCall struct {
	path, content, fileName, fileType string
	file                              []byte
}

func newCallbackLoopback(t *testing.T) *callbackLoopback {
	l := &callbackLoopback{}
	l.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := callbackCall{path: r.URL.Path}
		var payload []byte
		if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
			if err := r.ParseMultipartForm(1 << 20); err != nil {
				t.Errorf("callback multipart: %v", err)
			}
			payload = []byte(r.FormValue("payload_json"))
			if f, h, err := r.FormFile("files[0]"); err == nil {
				c.file, _ = io.ReadAll(f)
				c.fileName, c.fileType = h.Filename, h.Header.Get("Content-Type")
			}
		} else {
			payload, _ = io.ReadAll(r.Body)
		}
		var resp struct {
			Data struct{ Content string }
		}
		json.Unmarshal(payload, &resp)
		c.content = resp.Data.Content
		l.mu.Lock()
		l.calls = append(l.calls, c)
		l.mu.Unlock()
		if c.file != nil && l.refuseFiles {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			io.WriteString(w, `{"message":"Request entity too large","code":40005}`)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(l.srv.Close)
	return l
}

// chartReporter answers every report with a week of ops.
type chartReporter struct{}

func (chartReporter) HandoffReport(context.Context, string, []string) (report.Handoff, error) {
	from := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	return report.Handoff{Report: report.Report{Team: "ops", Range: report.Range{From: from, To: from.AddDate(0, 0, 7)},
		Days: []report.Day{{Date: "2026-03-02", Business: 1, Sleep: 2}}}}, nil
}

// Issue 11: /oncall report over the interactions endpoint answers with
// the card and the chart attached. Discord takes files only at the
// callback endpoint, so the answer goes there (multipart: payload_json,
// files[0]) and the request gets 202 with no body; a file the callback
// refuses leaves the card to go back in the HTTP response, alone.
func TestReportChartIsAttachedToTheInteractionsAnswer(t *testing.T) {
	pub, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1700000000, 0)
	for _, c := range []struct {
		name        string
		refuseFiles bool
		wantCode    int
	}{
		{"attached", false, http.StatusAccepted},
		{"refused", true, http.StatusOK},
	} {
		t.Run(c.name, func(t *testing.T) {
			fake := newCallbackLoopback(t)
			fake.refuseFiles = c.refuseFiles
			cfg := directoryOf(nil, map[string]string{"900": "ops"})
			cfg.Discord = &config.Discord{BotToken: "tok", APIURL: fake.srv.URL}
			in, err := NewInbound(hex.EncodeToString(pub), func() time.Time { return now }, &chat.Executor{Reports: chartReporter{}, Teams: cfg.Teams},
				func(context.Context, string) (int64, bool) { return 0, false }, quietLog())
			if err != nil {
				t.Fatal(err)
			}
			in.Reload(cfg)

			body, _ := json.Marshal(interaction("501", "report"))
			ts := strconv.FormatInt(now.Unix(), 10)
			r := httptest.NewRequest(http.MethodPost, "/discord/interactions", strings.NewReader(string(body)))
			r.Header.Set("X-Signature-Timestamp", ts)
			r.Header.Set("X-Signature-Ed25519", hex.EncodeToString(ed25519.Sign(key, append([]byte(ts), body...))))
			w := httptest.NewRecorder()
			in.ServeHTTP(w, r)

			fake.mu.Lock()
			calls := append([]callbackCall(nil), fake.calls...)
			fake.mu.Unlock()
			if w.Code != c.wantCode || len(calls) != 1 {
				t.Fatalf("answered %d %s after %d callbacks, want %d after one", w.Code, w.Body, len(calls), c.wantCode)
			}
			cb := calls[0]
			if cb.path != "/api/v9/interactions/501/itok/callback" || !strings.Contains(cb.content, "Handoff report for ops") {
				t.Errorf("callback to %s with content %q, want the card", cb.path, cb.content)
			}
			if cb.fileName != "handoff-ops-2026-03-02.png" || cb.fileType != "image/png" || !strings.HasPrefix(string(cb.file), "\x89PNG") {
				t.Errorf("callback's files[0] = %q (%s), %d bytes; want the chart", cb.fileName, cb.fileType, len(cb.file))
			}
			if !c.refuseFiles {
				if w.Body.Len() != 0 {
					t.Errorf("a 202 with a body: %s", w.Body)
				}
				return
			}
			var resp struct {
				Type int
				Data struct{ Content string }
			}
			if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil || resp.Type != 4 || !strings.Contains(resp.Data.Content, "Handoff report for ops") {
				t.Errorf("answer after a refused file = %s, want the card", w.Body)
			}
		})
	}
}

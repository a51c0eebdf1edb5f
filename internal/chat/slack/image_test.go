package slack

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/chat"
	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/report"
)

// fileLoopback is Slack's files API as the upload of a picture uses it:
// an upload URL on the same server, the bytes posted there, the share
// into a channel. It keeps what was shared, and fails the share of a
// channel named in refuse, as Slack does for a channel the bot is not in.
type fileLoopback struct {
	srv    *httptest.Server
	refuse string

	mu       sync.Mutex
	uploaded map[string][]byte // file id -> bytes
	shared   []sharedFile
}

type sharedFile struct {
	channel, comment, alt, name, thread string
	data                                []byte
}

func newFileLoopback(t *testing.T) *fileLoopback {
	l := &fileLoopback{uploaded: map[string][]byte{}}
	alts := map[string]string{}
	names := map[string]string{}
	l.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		defer l.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch path := strings.TrimPrefix(r.URL.Path, "/"); {
		case path == "files.getUploadURLExternal":
			r.ParseForm()
			id := "F" + r.Form.Get("length")
			alts[id], names[id] = r.Form.Get("alt_txt"), r.Form.Get("filename")
			json.NewEncoder(w).Encode(map[string]any{"ok": true, "file_id": id, "upload_url": l.srv.URL + "/upload/" + id})
		case strings.HasPrefix(path, "upload/"):
			f, _, err := r.FormFile("file")
			if err != nil {
				t.Errorf("upload without a file part: %v", err)
				http.Error(w, "no file", 400)
				return
			}
			b, _ := io.ReadAll(f)
			l.uploaded[strings.TrimPrefix(path, "upload/")] = b
			io.WriteString(w, "OK")
		case path == "files.completeUploadExternal":
			r.ParseForm()
			var files []struct{ ID, Title string }
			json.Unmarshal([]byte(r.Form.Get("files")), &files)
			if len(files) != 1 || l.uploaded[files[0].ID] == nil {
				io.WriteString(w, `{"ok":false,"error":"invalid_file_id"}`)
				return
			}
			if r.Form.Get("channel_id") == l.refuse {
				io.WriteString(w, `{"ok":false,"error":"not_in_channel"}`)
				return
			}
			id := files[0].ID
			l.shared = append(l.shared, sharedFile{channel: r.Form.Get("channel_id"), comment: r.Form.Get("initial_comment"),
				alt: alts[id], name: names[id], thread: r.Form.Get("thread_ts"), data: l.uploaded[id]})
			json.NewEncoder(w).Encode(map[string]any{"ok": true, "files": files})
		default:
			io.WriteString(w, `{"ok":true}`)
		}
	}))
	t.Cleanup(l.srv.Close)
	return l
}

func (l *fileLoopback) files() []sharedFile {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]sharedFile(nil), l.shared...)
}

// pictureReporter answers every report with a week of ops.
type pictureReporter struct{}

func (pictureReporter) HandoffReport(context.Context, string, []string) (report.Handoff, error) {
	from := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	return report.Handoff{Report: report.Report{Team: "ops", Range: report.Range{From: from, To: from.AddDate(0, 0, 7)},
		Days: []report.Day{{Date: "2026-03-02", Business: 1, Sleep: 2}}}}, nil
}

// Issue 11: /oncall report in a team's channel answers the card, and
// the chart follows as a file shared into that channel through the files
// API, its alt text the comment; a channel that refuses the file still
// has the card.
func TestReportChartIsUploadedIntoTheCommandsChannel(t *testing.T) {
	const secret = "s3cret"
	now := time.Unix(1700000000, 0)
	for _, c := range []struct {
		name, refuse string
		wantFile     bool
	}{
		{"shared", "", true},
		{"refused", "C0TEAM", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			fake := newFileLoopback(t)
			fake.refuse = c.refuse
			cfg := teamRoom("ops", "C0TEAM")
			exec := &chat.Executor{Reports: pictureReporter{}, Teams: cfg.Teams}
			in := NewInbound(secret, func() time.Time { return now }, exec, New("xoxb-test", fake.srv.URL, true),
				func(context.Context, string) (int64, bool) { return 0, false }, quietLog())
			in.Reload(&config.Config{Teams: cfg.Teams})

			w := httptest.NewRecorder()
			in.Command(w, signed("/slack/commands", url.Values{"command": {"/oncall"}, "text": {"report"},
				"user_id": {"U0BOB"}, "channel_id": {"C0TEAM"}}, secret, now))
			var got CommandResponse
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || got.ResponseType != "in_channel" || !strings.Contains(got.Text, "Handoff report for ops") {
				t.Fatalf("answer = %d %s, want the card in the channel", w.Code, w.Body)
			}
			files := fake.files()
			if !c.wantFile {
				if len(files) != 0 {
					t.Errorf("files shared into a refusing channel: %+v", files)
				}
				return
			}
			if len(files) != 1 {
				t.Fatalf("files shared = %d, want the chart", len(files))
			}
			f := files[0]
			if f.channel != "C0TEAM" || f.thread != "" || f.name != "handoff-ops-2026-03-02.png" || !strings.HasPrefix(string(f.data), "\x89PNG") {
				t.Errorf("shared %s into %s (thread %q), %d bytes", f.name, f.channel, f.thread, len(f.data))
			}
			if !strings.Contains(f.alt, "Interruptions per day for ops") || f.comment != f.alt {
				t.Errorf("alt %q, comment %q: want the alt text as both", f.alt, f.comment)
			}
		})
	}
}

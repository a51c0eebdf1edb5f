package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Credentials of the fake Slack workspace and the fake AI endpoint.
const (
	slackToken  = "xoxb-triagebench"
	slackSecret = "triagebench-signing-secret"
	aiKey       = "sk-triagebench"
	aiModel     = "bench-model"
)

// fakes are the outside services of one round, on one loopback server:
// a Slack Web API that keeps, per incident, when its channel was asked
// for (the incident's first chat call) and when a message carrying
// "Triage" first reached that channel; a Prometheus HTTP API and a log
// store (Loki's query_range) answering after sourceDelay; and an
// OpenAI-compatible chat endpoint answering after aiDelay. Each records
// the time a request arrived, before it does anything else.
type fakes struct {
	ln  net.Listener
	srv *http.Server

	sourceDelay, aiDelay time.Duration
	// marker is what the awaited message carries: "Triage" (the
	// summary), or "AI analysis" when the AI's answer is awaited.
	marker string

	promCalls, logCalls, aiCalls, slackCalls atomic.Int64

	mu sync.Mutex
	// rooms maps a channel's id to its incident.
	rooms map[string]int64
	// opened and triaged map an incident to its channel's creation and
	// to its first message naming the triage.
	opened, triaged map[int64]time.Time
	unknown         map[string]int // Slack methods the fake does not know
	seq             int
}

// newFakes listens on a free loopback port and serves.
func newFakes(sourceDelay, aiDelay time.Duration) (*fakes, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fakes: %w", err)
	}
	f := &fakes{ln: ln, sourceDelay: sourceDelay, aiDelay: aiDelay, marker: "Triage", rooms: map[string]int64{},
		opened: map[int64]time.Time{}, triaged: map[int64]time.Time{}, unknown: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/slack/api/", f.slack)
	mux.HandleFunc("/slack/upload/", f.upload)
	mux.HandleFunc("/prom/api/v1/query_range", f.promRange)
	mux.HandleFunc("/prom/api/v1/query", f.promInstant)
	mux.HandleFunc("/logs/loki/api/v1/query_range", f.logs)
	mux.HandleFunc("/ai/v1/chat/completions", f.ai)
	f.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go f.srv.Serve(ln)
	return f, nil
}

// URL is the server's base, http://127.0.0.1:port.
func (f *fakes) URL() string { return "http://" + f.ln.Addr().String() }

// Close stops the server and its connections.
func (f *fakes) Close() { f.srv.Close() }

// wait sleeps d unless the request goes away first; false if it did.
func wait(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// slack answers the Web API methods the adapter calls, as Slack does
// (HTTP 200, ok true or false); an unknown method is answered ok and
// counted, so a new call of the adapter shows in the report rather than
// failing the round.
func (f *fakes) slack(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	f.slackCalls.Add(1)
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/") {
		r.ParseMultipartForm(8 << 20)
	} else {
		r.ParseForm()
	}
	token := r.Form.Get("token")
	if t, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		token = t
	}
	if token != slackToken {
		writeJSON(w, map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	method := strings.TrimPrefix(r.URL.Path, "/slack/api/")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	switch method {
	case "conversations.create":
		name := r.Form.Get("name")
		id := fmt.Sprintf("C%06d", f.seq)
		if inc, ok := incidentOfChannel(name); ok {
			f.rooms[id] = inc
			if _, seen := f.opened[inc]; !seen {
				f.opened[inc] = at
			}
		}
		writeJSON(w, map[string]any{"ok": true, "channel": map[string]any{"id": id, "name": name}})
	case "conversations.open":
		writeJSON(w, map[string]any{"ok": true, "channel": map[string]any{"id": "D" + strings.ReplaceAll(r.Form.Get("users"), ",", "")}})
	case "chat.postMessage", "chat.update":
		ch := r.Form.Get("channel")
		if strings.Contains(r.Form.Get("text"), f.marker) || strings.Contains(r.Form.Get("blocks"), f.marker) {
			f.sawTriage(ch, at)
		}
		ts := fmt.Sprintf("1772420400.%06d", f.seq)
		if method == "chat.update" {
			ts = r.Form.Get("ts")
		}
		writeJSON(w, map[string]any{"ok": true, "channel": ch, "ts": ts, "message": map[string]any{"ts": ts}})
	case "files.getUploadURLExternal":
		id := fmt.Sprintf("F%06d", f.seq)
		writeJSON(w, map[string]any{"ok": true, "file_id": id, "upload_url": f.URL() + "/slack/upload/" + id})
	case "files.completeUploadExternal":
		if strings.Contains(r.Form.Get("initial_comment"), f.marker) {
			f.sawTriage(r.Form.Get("channel_id"), at)
		}
		var files []map[string]any
		json.Unmarshal([]byte(r.Form.Get("files")), &files)
		writeJSON(w, map[string]any{"ok": true, "files": files})
	case "conversations.invite", "pins.add", "chat.postEphemeral":
		writeJSON(w, map[string]any{"ok": true})
	default:
		f.unknown[method]++
		writeJSON(w, map[string]any{"ok": true})
	}
}

// sawTriage records the first triage message of the incident whose
// channel is ch; f.mu is held.
func (f *fakes) sawTriage(ch string, at time.Time) {
	if inc, ok := f.rooms[ch]; ok {
		if _, seen := f.triaged[inc]; !seen {
			f.triaged[inc] = at
		}
	}
}

// incidentOfChannel reads the incident from a channel name,
// inc-<id>-<slug>.
func incidentOfChannel(name string) (int64, bool) {
	rest, ok := strings.CutPrefix(name, "inc-")
	if !ok {
		return 0, false
	}
	num, _, _ := strings.Cut(rest, "-")
	id, err := strconv.ParseInt(num, 10, 64)
	return id, err == nil
}

// upload takes a file's bytes, as Slack's upload URL does.
func (f *fakes) upload(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	io.WriteString(w, "OK - uploaded")
}

// opened and triagedAt say when an incident's channel was asked for and
// when its triage reached it.
func (f *fakes) openedAt(id int64) (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.opened[id]
	return t, ok
}

func (f *fakes) triagedAt(id int64) (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.triaged[id]
	return t, ok
}

func (f *fakes) unknownMethods() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var parts []string
	for m, n := range f.unknown {
		parts = append(parts, fmt.Sprintf("%s %d", m, n))
	}
	return strings.Join(parts, ", ")
}

// promRange answers a range query after the delay with a matrix of two
// series, a point a step from start to end (at most 1,000).
func (f *fakes) promRange(w http.ResponseWriter, r *http.Request) {
	f.promCalls.Add(1)
	if !wait(r, f.sourceDelay) {
		return
	}
	r.ParseForm()
	start, _ := strconv.ParseFloat(r.Form.Get("start"), 64)
	end, _ := strconv.ParseFloat(r.Form.Get("end"), 64)
	step, err := strconv.ParseFloat(r.Form.Get("step"), 64)
	if err != nil || step <= 0 {
		step = 60
	}
	if end < start || start == 0 {
		http.Error(w, `{"status":"error","errorType":"bad_data","error":"bad start or end"}`, http.StatusBadRequest)
		return
	}
	b := []byte(`{"status":"success","data":{"resultType":"matrix","result":[`)
	for s, inst := range []string{"a", "b"} {
		if s > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"metric":{"instance":"node-`+inst+`:9100","job":"node"},"values":[`...)
		n := 0
		for t := start; t <= end && n < 1000; t += step {
			if n > 0 {
				b = append(b, ',')
			}
			b = append(b, '[')
			b = strconv.AppendFloat(b, t, 'f', 3, 64)
			b = append(b, `,"`...)
			b = strconv.AppendFloat(b, 40+float64(s)*5+float64(n%60), 'f', 1, 64)
			b = append(b, `"]`...)
			n++
		}
		b = append(b, "]}"...)
	}
	b = append(b, "]}}"...)
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

// promInstant answers an instant query after the delay with one sample.
func (f *fakes) promInstant(w http.ResponseWriter, r *http.Request) {
	f.promCalls.Add(1)
	if !wait(r, f.sourceDelay) {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"instance":"node-a:9100"},"value":[%d,"96.5"]}]}}`, time.Now().Unix())
}

// logs answers a Loki query_range after the delay with 20 lines.
func (f *fakes) logs(w http.ResponseWriter, r *http.Request) {
	f.logCalls.Add(1)
	if !wait(r, f.sourceDelay) {
		return
	}
	now := time.Now().UnixNano()
	var values [][2]string
	for i := range 20 {
		values = append(values, [2]string{strconv.FormatInt(now-int64(20-i)*int64(time.Second), 10),
			fmt.Sprintf("level=error msg=\"write failed\" attempt=%d err=\"no space left on device\"", i)})
	}
	writeJSON(w, map[string]any{"status": "success", "data": map[string]any{"resultType": "streams",
		"result": []any{map[string]any{"stream": map[string]string{"app": "api"}, "values": values}}}})
}

// aiAnswer is the model's answer, the JSON the analyzer asks for.
const aiAnswer = `{"probable_cause":"the disk filled with logs","impact":"writes fail on the node","next_steps":["rotate the logs","grow the volume"],"evidence":["E1","E2"]}`

// ai answers a chat completion after the delay: a valid chat.completion
// with its usage.
func (f *fakes) ai(w http.ResponseWriter, r *http.Request) {
	f.aiCalls.Add(1)
	io.Copy(io.Discard, r.Body)
	if r.Header.Get("Authorization") != "Bearer "+aiKey {
		w.WriteHeader(http.StatusUnauthorized)
		writeJSON(w, map[string]any{"error": map[string]any{"message": "bad key", "type": "invalid_request_error"}})
		return
	}
	if !wait(r, f.aiDelay) {
		return
	}
	writeJSON(w, map[string]any{
		"id": fmt.Sprintf("chatcmpl-%d", time.Now().UnixNano()), "object": "chat.completion", "created": time.Now().Unix(), "model": aiModel,
		"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
			"message": map[string]any{"role": "assistant", "content": aiAnswer}}},
		"usage": map[string]any{"prompt_tokens": 420, "completion_tokens": 60, "total_tokens": 480},
	})
}

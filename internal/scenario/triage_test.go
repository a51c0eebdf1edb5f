package scenario

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oncallbot/bot/internal/chat"
	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/triage"
)

// Issue 12, first step: with a triage section, a new incident is triaged
// after its page: its room gets the summary (here through the timeline,
// which every room shows), naming the similar incident before it, its
// note and tag, found across a restart; the API answers the triage; a
// route with triage: false is left alone, and so is an integration with
// it.
func TestTriageFindsTheSimilarIncidentAcrossARestart(t *testing.T) {
	cfg := strings.Replace(BaseConfig, "reopen_window: 5m", "reopen_window: 5m\ntriage: {timeout: 2s}", 1)
	cfg = strings.Replace(cfg, "    alert_delay: 10m\n    severity_max: warning", "    alert_delay: 10m\n    severity_max: warning\n    triage: false", 1)
	cfg = strings.Replace(cfg, "default_severity: warning}", "default_severity: warning, triage: false}", 1)
	h := New(t, WithConfig(cfg))

	first := h.OnlyIncident(h.PostAlerts(Firing("alertname=DiskFull", "instance=db-03").Summary("disk full on db-03")))
	h.Advance(time.Minute)
	h.Say("alice", "ops", first.ID, "note cleaned /var/log, rotated the journal")
	h.Say("alice", "ops", first.ID, "resolve")
	h.Say("alice", "ops", first.ID, "tag needs-tuning")
	h.Restart()

	h.Advance(2 * time.Hour)
	second := h.OnlyIncident(h.PostAlerts(Firing("alertname=DiskFull", "instance=db-07").Summary("disk full on db-07")))
	h.Tick()
	var said string
	for _, e := range h.Incident(second.ID).Timeline {
		if e.Kind == triage.KindTriaged {
			said = e.Detail
		}
	}
	for _, want := range []string{"disk full on db-07: 1 alert (1 firing)", "Where: instance=db-07.",
		"Seen 1 time before; last #" + itoa(first.ID), `(note: "cleaned /var/log, rotated the journal"), tagged needs-tuning.`} {
		if !strings.Contains(said, want) {
			t.Errorf("the triage line %q lacks %q", said, want)
		}
	}
	r := h.API("GET", "/api/v1/incidents/"+itoa(second.ID))
	var d struct {
		Triage *triage.Report `json:"triage"`
	}
	if err := json.Unmarshal(r.Body, &d); err != nil || d.Triage == nil || d.Triage.Status != "ready" || len(d.Triage.Similar) != 1 ||
		d.Triage.Similar[0].ID != first.ID || len(d.Triage.Sources) != 1 || d.Triage.Sources[0].Name != "history" || !d.Triage.Sources[0].OK {
		t.Fatalf("API triage = %s", r.Body)
	}
	// The first had nothing before it.
	if d := h.API("GET", "/api/v1/incidents/"+itoa(first.ID)); !strings.Contains(string(d.Body), `"summary":"disk full on db-03: 1 alert (1 firing), error`) ||
		!strings.Contains(string(d.Body), "Not seen before.") {
		t.Errorf("the first incident's triage = %s", d.Body)
	}

	// The metrics count the triages since the restart.
	m := h.API("GET", "/metrics")
	for _, want := range []string{"bot_triage_duration_seconds_count 1", "bot_triage_wait_seconds_count 1"} {
		if !strings.Contains(string(m.Body), want) {
			t.Errorf("triage metrics lack %q", want)
		}
	}
	// /oncall triage digs again.
	r2 := h.Say("bob", "ops", second.ID, "triage")
	if !strings.Contains(r2.Text, "Triage of #"+itoa(second.ID)+": disk full on db-07") || r2.Private {
		t.Errorf("/oncall triage = %+v", r2)
	}

	// The staging route says triage: false, and so does the generic
	// integration.
	staging := h.OnlyIncident(h.PostAlerts(Firing("alertname=Canary", "env=staging")))
	generic := h.OnlyIncident(h.Post("generic", []byte(`{"title": "Backup failed on db1", "severity": "error"}`)))
	h.Tick()
	for _, id := range []int64{staging.ID, generic.ID} {
		for _, e := range h.Incident(id).Timeline {
			if e.Kind == triage.KindTriaged {
				t.Fatalf("incident %d was triaged, its route or integration saying triage: false: %q", id, e.Detail)
			}
		}
	}
}

// With a Prometheus configured, the triage says where the alert's own
// expression stands, queried through the official client from a fake
// Prometheus HTTP API; with Prometheus down, the summary still comes and
// says which source failed.
func TestTriageAsksPrometheus(t *testing.T) {
	var down atomic.Bool
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		r.ParseForm()
		if r.URL.Path != "/api/v1/query_range" || r.Form.Get("query") != "disk_used_percent > 90" {
			http.Error(w, `{"status":"error","errorType":"bad_data","error":"unexpected query"}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"instance":"db-03"},"values":[[1772420400,"41"],[1772424000,"96.5"]]}]}}`))
	}))
	defer prom.Close()
	cfg := strings.Replace(BaseConfig, "reopen_window: 5m", "reopen_window: 5m\ntriage: {timeout: 2s, prometheus: {url: \""+prom.URL+"\"}}", 1)
	h := New(t, WithConfig(cfg))
	alert := Firing("alertname=DiskFull", "instance=db-03").Summary("disk full on db-03")
	alert.Annotations["expr"] = "disk_used_percent > 90"
	inc := h.OnlyIncident(h.PostAlerts(alert))
	h.Tick()
	line := func(id int64) string {
		for _, e := range h.Incident(id).Timeline {
			if e.Kind == triage.KindTriaged {
				return e.Detail
			}
		}
		return ""
	}
	if l := line(inc.ID); !strings.Contains(l, "disk_used_percent > 90 is 96.5 now (41 an hour before it fired, peak 96.5).") {
		t.Errorf("triage = %q", l)
	}
	down.Store(true)
	other := Firing("alertname=DiskFull2").Summary("disk full on db-04")
	other.Annotations["expr"] = "disk_used_percent > 90"
	second := h.OnlyIncident(h.PostAlerts(other))
	h.Tick()
	if l := line(second.ID); !strings.Contains(l, "disk full on db-04") || !strings.Contains(l, "(Not answering: prometheus.)") {
		t.Errorf("triage with Prometheus down = %q", l)
	}
}

// With an AI endpoint configured (here a fake OpenAI-compatible server on
// loopback, reached by the official client through the real app), its
// probable cause and next step join the rule-based summary on the
// timeline; the API carries the structured answer; a planted secret in
// the alert never reaches the endpoint; the metrics count the call and
// its tokens. With the endpoint failing, the rule-based summary stands
// and says the AI is not available.
func TestTriageAsksTheAI(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	var failing atomic.Bool
	ai := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		if r.URL.Path != "/v1/chat/completions" || r.Header.Get("Authorization") != "Bearer sk-scenario-key" {
			http.Error(w, `{"error":{"message":"bad request"}}`, http.StatusBadRequest)
			return
		}
		if failing.Load() {
			http.Error(w, `{"error":{"message":"overloaded"}}`, http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"id":"c1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"{\"probable_cause\":\"the journal filled /var\",\"impact\":\"db-03 refuses writes\",\"next_steps\":[\"vacuum the journal\"],\"evidence\":[\"E1\"]}"}}],"usage":{"prompt_tokens":300,"completion_tokens":50,"total_tokens":350}}`))
	}))
	defer ai.Close()
	t.Setenv("AI_KEY_SCENARIO", "sk-scenario-key")
	cfg := strings.Replace(BaseConfig, "reopen_window: 5m", "reopen_window: 5m\ntriage: {timeout: 2s, ai: {base_url: \""+ai.URL+"/v1\", model: m, api_key: \"${AI_KEY_SCENARIO}\", daily_tokens: 100000}}", 1)
	mem := NewMemChat()
	h := New(t, WithConfig(cfg), WithPlatform(mem))
	alert := Firing("alertname=DiskFull", "instance=db-03").Summary("disk full on db-03")
	alert.Annotations["description"] = "password=PLANTED-hunter2 in the dump"
	inc := h.OnlyIncident(h.PostAlerts(alert))
	h.Tick()
	line := func(id int64, kind string) string {
		for _, e := range h.Incident(id).Timeline {
			if e.Kind == kind {
				return e.Detail
			}
		}
		return ""
	}
	// The summary first, then the AI's answer in a line of its own: the
	// summary never waits for the model.
	if l := line(inc.ID, triage.KindTriaged); !strings.Contains(l, "disk full on db-03") || strings.Contains(l, "journal") {
		t.Errorf("triage = %q", l)
	}
	if l := line(inc.ID, triage.KindTriageAI); !strings.HasPrefix(l, "the journal filled /var\nImpact: db-03 refuses writes\nNext 1: vacuum the journal\nEvidence: E1 incident \"disk full on db-03\"") {
		t.Errorf("AI analysis = %q", l)
	}
	if posts := mem.Room(inc.ID).Posts; !slices.ContainsFunc(posts, func(p string) bool { return strings.Contains(p, "AI analysis: the journal filled /var") }) {
		t.Errorf("the room was not told the AI's analysis: %q", posts)
	}
	mu.Lock()
	if len(bodies) != 1 || strings.Contains(bodies[0], "PLANTED-hunter2") || !strings.Contains(bodies[0], "disk full on db-03") {
		t.Errorf("the AI was sent %q", bodies)
	}
	mu.Unlock()
	r := h.API("GET", "/api/v1/incidents/"+itoa(inc.ID))
	var d struct {
		Triage *triage.Report `json:"triage"`
	}
	if err := json.Unmarshal(r.Body, &d); err != nil || d.Triage == nil || d.Triage.AI == nil || d.Triage.AI.Impact != "db-03 refuses writes" {
		t.Fatalf("API triage = %s", r.Body)
	}
	m := string(h.API("GET", "/metrics").Body)
	for _, want := range []string{`bot_triage_ai_calls_total{outcome="ok"} 1`, "bot_triage_ai_tokens_total 350"} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	// The day's spending is kept, for the budget to hold across a restart.
	if n, err := (triage.Ledger{Store: h.App.Store}).Spent(context.Background(), h.Clock.Now().UTC().Format(time.DateOnly)); err != nil || n != 350 {
		t.Errorf("the day's spending kept = %d (%v), want 350", n, err)
	}

	failing.Store(true)
	second := h.OnlyIncident(h.PostAlerts(Firing("alertname=DiskFull2").Summary("disk full on db-04")))
	h.Tick()
	if l := line(second.ID, triage.KindTriageAI); !strings.HasPrefix(l, "not available: ") || !strings.Contains(l, "503") || !strings.Contains(l, "The summary above stands.") {
		t.Errorf("AI analysis with the AI failing = %q", l)
	}
	if rep, err := h.App.TriageOf(context.Background(), second.ID); err != nil || rep.Status != "partial" || rep.AI != nil ||
		rep.Sources[len(rep.Sources)-1].Name != "ai" || rep.Sources[len(rep.Sources)-1].OK {
		t.Errorf("the triage with the AI failing = %+v (%v)", rep, err)
	}
}

// The room's side of a triage: the line "Triage: ..." in the room, the
// chart of the alert's expression posted under it (a PNG the platform
// takes as a picture), and on the card the expression's value now and
// the runbook and dashboard as link buttons. An annotation that is not
// an http(s) URL never becomes a button.
func TestTriageInTheRoom(t *testing.T) {
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"instance":"db-03"},"values":[[1772420400,"41"],[1772422200,"70"],[1772424000,"96.5"]]}]}}`))
	}))
	defer prom.Close()
	mem := NewMemChat()
	cfg := strings.Replace(BaseConfig, "reopen_window: 5m", "reopen_window: 5m\ntriage: {timeout: 2s, prometheus: {url: \""+prom.URL+"\"}}", 1)
	h := New(t, WithConfig(cfg), WithPlatform(mem))
	alert := Firing("alertname=DiskFull", "instance=db-03").Summary("disk full on db-03")
	alert.Annotations["expr"] = "disk_used_percent > 90"
	alert.Annotations["runbook_url"] = "https://runbooks.example/disk"
	alert.Annotations["dashboard"] = "javascript:alert(1)"
	alert.Annotations["grafana_url"] = "https://grafana.example/d/disk"
	inc := h.OnlyIncident(h.PostAlerts(alert))
	h.Tick()

	room := mem.Room(inc.ID)
	if !slices.ContainsFunc(room.Posts, func(p string) bool {
		return strings.Contains(p, "Triage: disk full on db-03") && strings.Contains(p, "disk_used_percent > 90 is 96.5 now")
	}) {
		t.Fatalf("the room was not told the triage: %q", room.Posts)
	}
	if len(room.Images) != 1 {
		t.Fatalf("pictures in the room = %d, want the chart once", len(room.Images))
	}
	img := room.Images[0]
	pic, err := png.Decode(bytes.NewReader(img.Data))
	if err != nil || pic.Bounds().Dx() != 720 || pic.Bounds().Dy() != 320 {
		t.Fatalf("chart %q: %v", img.Name, err)
	}
	if img.Name != "triage-"+itoa(inc.ID)+".png" || !strings.Contains(img.Alt, "disk_used_percent > 90, from an hour before it fired") {
		t.Errorf("chart named %q, alt %q", img.Name, img.Alt)
	}
	card := onlyCard(t, room)
	var now string
	for _, f := range card.Fields {
		if f.Label == "Now" {
			now = f.Value
		}
	}
	if now != "disk_used_percent > 90: 96.5" {
		t.Errorf("card field Now = %q, fields %+v", now, card.Fields)
	}
	var links []string
	for _, b := range card.Buttons {
		if b.URL != "" {
			links = append(links, b.Label+" "+b.URL)
			if b.Value != "" {
				t.Errorf("link button %q runs a command %q", b.Label, b.Value)
			}
		}
	}
	if want := []string{"Runbook https://runbooks.example/disk", "Dashboard https://grafana.example/d/disk"}; !slices.Equal(links, want) {
		t.Errorf("link buttons %q, want %q", links, want)
	}

	// An ack later keeps the triage's additions on the card.
	h.Say("alice", "ops", inc.ID, "ack")
	h.Tick()
	card = onlyCard(t, mem.Room(inc.ID))
	if card.Status != "acknowledged" || !slices.ContainsFunc(card.Buttons, func(b chat.Button) bool { return b.Label == "Runbook" }) {
		t.Errorf("card after the ack = %+v", card)
	}
	if n := len(mem.Room(inc.ID).Images); n != 1 {
		t.Errorf("pictures after the ack = %d, want the one chart", n)
	}
}

// fakePrometheusUp answers every range query with one series climbing
// from 41 to 96.5.
func fakePrometheusUp(t *testing.T) string {
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"instance":"db-03"},"values":[[1772420400,"41"],[1772422200,"70"],[1772424000,"96.5"]]}]}}`))
	}))
	t.Cleanup(prom.Close)
	return prom.URL
}

// withTriage adds a triage section asking prom to a configuration.
func withTriage(cfg, prom string) string {
	return cfg + "\ntriage: {timeout: 2s, prometheus: {url: \"" + prom + "\"}}\n"
}

// triageAlert fires an alert whose expression Prometheus knows, with a
// runbook.
func triageAlert() AMAlert {
	a := Firing("alertname=DiskFull", "instance=db-03").Summary("disk full on db1")
	a.Annotations["expr"] = "disk_used_percent > 90"
	a.Annotations["runbook_url"] = "https://runbooks.example/disk"
	return a
}

// Issue 12 on every platform: the triage's line in the incident's room
// (Slack's thread under the card, Telegram's topic, Discord's thread),
// the chart under it as each platform takes pictures (a file shared
// through Slack's files API, a Telegram photo, a Discord attachment), and
// the runbook as a link button on the card.
func TestTriageOnEveryPlatform(t *testing.T) {
	prom := fakePrometheusUp(t)
	const line = "Triage: disk full on db1"
	t.Run("slack", func(t *testing.T) {
		h := New(t, WithConfig(withTriage(slackConfig, prom)))
		h.OnlyIncident(h.PostAlerts(triageAlert()))
		h.Tick()
		ch := h.Slack.Channel("inc-1-disk-full-on-db1")
		msgs := h.Slack.Messages(ch.ID)
		if !slices.ContainsFunc(msgs, func(m SlackMessage) bool { return m.ThreadTS == msgs[0].TS && strings.Contains(m.Text, line) }) {
			t.Errorf("the thread was not told the triage: %+v", msgs)
		}
		if !strings.Contains(msgs[0].Blocks, `"url":"https://runbooks.example/disk"`) {
			t.Errorf("the card has no runbook button: %s", msgs[0].Blocks)
		}
		files := h.Slack.WaitFiles(ch.ID, 1)
		if len(files) != 1 || files[0].ThreadTS != msgs[0].TS || files[0].Name != "triage-1.png" {
			t.Fatalf("files = %+v, want the chart once in the card's thread", files)
		}
		if _, err := png.Decode(bytes.NewReader(files[0].Data)); err != nil {
			t.Errorf("the chart is not a PNG: %v", err)
		}
	})
	t.Run("telegram", func(t *testing.T) {
		h := New(t, WithConfig(withTriage(telegramConfig, prom)))
		h.OnlyIncident(h.PostAlerts(triageAlert()))
		h.Tick()
		topic := h.Telegram.Topic("#1 disk full on db1")
		msgs := h.Telegram.Messages(TelegramForum, topic.ID)
		var told, photos int
		for _, m := range msgs {
			if m.Photo != nil {
				photos++
				if _, err := png.Decode(bytes.NewReader(m.Photo)); err != nil || m.PhotoName != "triage-1.png" || !strings.Contains(m.Text, "disk_used_percent > 90") {
					t.Errorf("photo %q (caption %q): %v", m.PhotoName, m.Text, err)
				}
			} else if strings.Contains(m.Text, line) {
				told++
			}
		}
		if told != 1 || photos != 1 {
			t.Errorf("the topic heard the triage %d times with %d photos: %+v", told, photos, msgs)
		}
		if !strings.Contains(msgs[0].Keyboard, `"url":"https://runbooks.example/disk"`) {
			t.Errorf("the card has no runbook button: %s", msgs[0].Keyboard)
		}
	})
	t.Run("discord", func(t *testing.T) {
		h := New(t, WithConfig(withTriage(discordConfig, prom)))
		h.OnlyIncident(h.PostAlerts(triageAlert()))
		h.Tick()
		th := h.Discord.Thread("#1 disk full on db1")
		msgs := h.Discord.Messages(th.ID)
		var told, pictures int
		for _, m := range msgs {
			if strings.Contains(m.Content, "Triage: disk full on db1") {
				told++
			}
			for _, f := range m.Files {
				pictures++
				if _, err := png.Decode(bytes.NewReader(f.Data)); err != nil || f.Name != "triage-1.png" {
					t.Errorf("attachment %q: %v", f.Name, err)
				}
			}
		}
		if told != 1 || pictures != 1 {
			t.Errorf("the thread heard the triage %d times with %d pictures: %+v", told, pictures, msgs)
		}
		if !strings.Contains(msgs[0].Components, `"url":"https://runbooks.example/disk"`) || !strings.Contains(msgs[0].Components, `"style":5`) {
			t.Errorf("the card has no runbook link button: %s", msgs[0].Components)
		}
	})
}

// In a storm, the storm incident is triaged and the incidents that join
// it are not: one outage, one triage (and one AI question).
func TestTriageInAStormIsTheStorms(t *testing.T) {
	h := New(t, WithConfig(stormConfig+"\ntriage: {timeout: 2s}\n"))
	const before, storm = 20, 30
	h.Post("alertmanager", nodeDown(0, before+storm))
	h.Advance(time.Minute)
	triaged := 0
	var stormTriaged bool
	for id := int64(1); id <= before+storm+1; id++ {
		d := h.Incident(id)
		if slices.Contains(AllKinds(d), triage.KindTriaged) {
			triaged++
			if d.Children > 0 {
				stormTriaged = true
			}
		}
	}
	if !stormTriaged || triaged != before+1 {
		t.Errorf("%d incidents triaged (the storm's: %v), want the %d before the storm and the storm itself", triaged, stormTriaged, before)
	}
}

// A route's triage_sources limits its incidents' triage to those named:
// here the history alone, so the configured Prometheus is never asked.
func TestARoutesTriageSources(t *testing.T) {
	var asked atomic.Int32
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"success","data":{"resultType":"matrix","result":[]}}`))
	}))
	defer prom.Close()
	cfg := strings.Replace(withTriage(BaseConfig, prom.URL), "  group_by: [alertname]\npeople:", "  group_by: [alertname]\n  triage_sources: [history]\npeople:", 1)
	if !strings.Contains(cfg, "triage_sources") {
		t.Fatal("the route's triage_sources did not apply")
	}
	h := New(t, WithConfig(cfg))
	alert := Firing("alertname=DiskFull").Summary("disk full on db-03")
	alert.Annotations["expr"] = "disk_used_percent > 90"
	inc := h.OnlyIncident(h.PostAlerts(alert))
	h.Tick()
	rep, err := h.App.TriageOf(context.Background(), inc.ID)
	if err != nil || rep == nil || len(rep.Sources) != 1 || rep.Sources[0].Name != "history" {
		t.Fatalf("triage = %+v (%v), want the history alone", rep, err)
	}
	if n := asked.Load(); n != 0 {
		t.Errorf("Prometheus was asked %d times", n)
	}
}

// History from before triage was turned on is found too: at start the
// triage files the incidents of its window it has not seen.
func TestTriageFindsHistoryFromBeforeItWasOn(t *testing.T) {
	h := New(t) // no triage section
	before := h.OnlyIncident(h.PostAlerts(Firing("alertname=DiskFull", "instance=db-03").Summary("disk full on db-03")))
	h.Say("alice", "ops", before.ID, "resolve")
	h.Config.Triage = &config.Triage{Timeout: config.Duration(2 * time.Second)}
	h.Restart()
	h.Advance(time.Hour)
	now := h.OnlyIncident(h.PostAlerts(Firing("alertname=DiskFull2", "instance=db-04").Summary("disk full on db-04")))
	h.Tick()
	rep, err := h.App.TriageOf(context.Background(), now.ID)
	if err != nil || rep == nil || len(rep.Similar) != 1 || rep.Similar[0].ID != before.ID {
		t.Fatalf("triage = %+v (%v), want #%d found", rep, err, before.ID)
	}
}

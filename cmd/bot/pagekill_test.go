package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// pageReceiver is a person's webhook: it counts every page by its key, a
// bundle's pages each, and the POSTs that carried a page already seen.
type pageReceiver struct {
	mu        sync.Mutex
	byKey     map[string]int
	incidents map[int64]bool
	repeats   int // POSTs carrying at least one page seen before
}

func (r *pageReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	// A receiver that takes its time, so a kill finds deliveries in
	// flight; the page counts once received, whatever the bot hears.
	defer time.Sleep(30 * time.Millisecond)
	type page struct {
		Key      string `json:"key"`
		Incident struct {
			ID int64 `json:"id"`
		} `json:"incident"`
	}
	var outer struct {
		page
		Pages []json.RawMessage `json:"pages"`
	}
	if err := json.Unmarshal(body, &outer); err != nil {
		http.Error(w, "bad page", http.StatusBadRequest)
		return
	}
	pages := []page{outer.page}
	if len(outer.Pages) > 0 {
		pages = nil
		for _, raw := range outer.Pages {
			var p page
			json.Unmarshal(raw, &p)
			pages = append(pages, p)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	repeat := false
	for _, p := range pages {
		if r.byKey[p.Key] > 0 {
			repeat = true
		}
		r.byKey[p.Key]++
		r.incidents[p.Incident.ID] = true
	}
	if repeat {
		r.repeats++
	}
}

func (r *pageReceiver) paged(ids map[int64]bool) (int, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for id := range ids {
		if r.incidents[id] {
			n++
		}
	}
	return n, r.repeats
}

// TestSIGKILLsRepeatAtMostOnePagePerCrash kills the bot with SIGKILL three
// times while new incidents page one person by webhook, and checks, after
// the last restart, that every incident whose alert got a 202 paged that
// person, and that no more deliveries repeated a page than there were
// crashes (one person, so one delivery in flight at a time: at most one
// repeat a crash). Before deliveries were claimed, a single run without
// any crash paged a third of its incidents twice.
func TestSIGKILLsRepeatAtMostOnePagePerCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	recv := &pageReceiver{byKey: map[string]int{}, incidents: map[int64]bool{}}
	srv := httptest.NewServer(recv)
	defer srv.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "bot.yaml")
	config := fmt.Sprintf(`
listen: 127.0.0.1:0
api_tokens: [{name: t, token: api}]
integrations: [{name: am, format: alertmanager, token: hook}]
default_route: {team: ops, escalation_policy: p, group_by: [group]}
people:
  - {name: pat, webhook: "%s/pat", notify: [{method: webhook, after: 0m}]}
teams: [{name: ops, members: [pat], leads: [pat], schedule: s, escalation_policy: p}]
schedules:
  - {name: s, time_zone: UTC, layers: [{name: w, rotation: weekly, start: "2020-01-06 00:00", participants: [pat]}]}
escalation_policies:
  - {name: p, steps: [{delay: 1h, targets: [{schedule: s}]}]}
`, srv.URL)
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "bot.db")
	client := &http.Client{Timeout: 10 * time.Second}
	accepted := map[int64]bool{}
	var mu sync.Mutex
	const kills, perLife = 3, 60
	seq := 0
	for life := range kills + 1 {
		cmd, addr := startBot(t, cfg, db)
		if life == kills {
			defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
			break
		}
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			first := seq
			seq += perLife / 4
			go func(first int) {
				defer wg.Done()
				for n := first; n < first+perLife/4; n++ {
					body, _ := json.Marshal(map[string]any{"version": "4", "status": "firing", "alerts": []map[string]any{{
						"status": "firing", "fingerprint": fmt.Sprintf("%016x", n), "startsAt": "2026-01-01T00:00:00Z",
						"labels": map[string]string{"alertname": "Down", "group": fmt.Sprint(n)},
					}}})
					req, _ := http.NewRequest("POST", "http://"+addr+"/hooks/am", bytes.NewReader(body))
					req.Header.Set("Authorization", "Bearer hook")
					resp, err := client.Do(req)
					if err != nil {
						return
					}
					var res struct{ Incidents []int64 }
					json.NewDecoder(resp.Body).Decode(&res)
					resp.Body.Close()
					if resp.StatusCode == http.StatusAccepted {
						mu.Lock()
						for _, id := range res.Incidents {
							accepted[id] = true
						}
						mu.Unlock()
					}
				}
			}(first)
		}
		wg.Wait()
		// The pages of this life's incidents are still going out.
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		paged, repeats := recv.paged(accepted)
		if paged == len(accepted) {
			if repeats > kills {
				t.Fatalf("%d deliveries repeated a page across %d crashes, want at most one a crash", repeats, kills)
			}
			t.Logf("%d incidents all paged; %d repeated deliveries across %d crashes", paged, repeats, kills)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d accepted incidents paged 30 s after the last restart", paged, len(accepted))
		}
		time.Sleep(20 * time.Millisecond) // waiting for another process's deliveries, not a timer
	}
}

package scenario

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkWebhookToFirstSlackCall measures, on the wall clock with the
// bot's loops running, the time from a webhook's 202 to the first Slack
// API call it causes (the incident channel's creation on the fake Slack),
// with alerts posted at 500 a second, each opening an incident.
func BenchmarkWebhookToFirstSlackCall(b *testing.B) {
	const rate, seconds = 500, 4
	h := New(b, WithConfig(slackConfig), WithRealClock())
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var (
		mu       sync.Mutex
		accepted = map[string]time.Time{}
		wg       sync.WaitGroup
	)
	b.ResetTimer()
	tick := time.NewTicker(time.Second / rate)
	defer tick.Stop()
	for i := range rate * seconds {
		<-tick.C
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("Bench%05d", i)
			body := AlertmanagerBody(Firing("alertname=" + name))
			req, _ := http.NewRequest("POST", h.Server.URL+"/hooks/alertmanager", bytesReader(body))
			req.Header.Set("Authorization", "Bearer "+Tokens["alertmanager"])
			resp, err := client.Do(req)
			if err != nil || resp.StatusCode != 202 {
				b.Errorf("post: %v %v", err, resp)
				return
			}
			resp.Body.Close()
			mu.Lock()
			accepted[name] = time.Now()
			mu.Unlock()
		}()
	}
	wg.Wait()
	// Wait (bounded) for the channels of every incident.
	deadline := time.Now().Add(30 * time.Second)
	var lat []time.Duration
	for name, at := range accepted {
		for {
			if t, ok := h.Slack.createdBySlug(name); ok {
				lat = append(lat, max(t.Sub(at), 0))
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("no channel for %s after 30s", name)
			}
			time.Sleep(5 * time.Millisecond) // waiting on another goroutine's HTTP call, not a timer
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	p := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(p(0.5), "p50-ms")
	b.ReportMetric(p(0.99), "p99-ms")
	b.ReportMetric(float64(len(lat)), "incidents")
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// BenchmarkStormModeSlack measures, on the wall clock with the bot's loops
// running, a storm with storm mode on: 5,020 new incidents (each alert its
// own), posted 10 alerts a request by 16 clients as fast as the bot takes
// them. It reports the time from the first 202 until the storm's card on
// the fake Slack counts every incident that joined, and how many channels
// and pages the storm made (the target: one room and one page, the card
// counting 5,000 within 10 s).
func BenchmarkStormModeSlack(b *testing.B) {
	const before, storm, clients = 20, 5000, 16
	h := New(b, WithConfig(stormConfig), WithRealClock())
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	post := func(body []byte) {
		req, _ := http.NewRequest("POST", h.Server.URL+"/hooks/alertmanager", bytesReader(body))
		req.Header.Set("Authorization", "Bearer "+Tokens["alertmanager"])
		resp, err := client.Do(req)
		if err != nil || resp.StatusCode != 202 {
			b.Errorf("post: %v %v", err, resp)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	b.ResetTimer()
	start := time.Now()
	post(nodeDown(0, before))
	next := make(chan int)
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				post(nodeDown(i, i+10))
			}
		}()
	}
	for i := before; i < before+storm; i += 10 {
		next <- i
	}
	close(next)
	wg.Wait()
	ingested := time.Since(start)
	want := fmt.Sprintf("%s in this storm", thousands(storm))
	deadline := time.Now().Add(60 * time.Second)
	var counted time.Duration
	for counted == 0 {
		for _, ch := range h.Slack.channelsNamed("alert-storm") {
			if msgs := h.Slack.Messages(ch); len(msgs) > 0 && strings.Contains(msgs[0].Blocks, want) {
				counted = time.Since(start)
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("the storm's card did not count %d incidents within 60 s", storm)
		}
		time.Sleep(5 * time.Millisecond) // waiting on the bot's HTTP calls to the fake, not a timer
	}
	b.StopTimer()
	b.ReportMetric(ingested.Seconds(), "ingest-s")
	b.ReportMetric(counted.Seconds(), "card-counts-all-s")
	b.ReportMetric(float64(h.Slack.Calls("conversations.create")), "channels")
	b.ReportMetric(float64(len(h.Slack.channelsNamed("alert-storm"))), "storm-rooms")
}

// thousands writes n with commas, as the bot's cards do.
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

package scenario

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
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

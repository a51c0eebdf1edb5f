package triage

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakePrometheus answers /api/v1/query_range as Prometheus does: a
// matrix of one series climbing from 40 to 97 (disk use in percent), or
// the failure it was told to give.
type fakePrometheus struct {
	mu     sync.Mutex
	fail   int // status to answer with, 0 for none
	delay  time.Duration
	asked  []string
	series string
}

func (f *fakePrometheus) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	f.mu.Lock()
	f.asked = append(f.asked, r.URL.Path+" "+r.Form.Get("query")+" step="+r.Form.Get("step"))
	fail, delay := f.fail, f.delay
	f.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	if fail != 0 {
		w.WriteHeader(fail)
		fmt.Fprint(w, `{"status":"error","errorType":"internal","error":"storage is down"}`)
		return
	}
	if r.URL.Path != "/api/v1/query_range" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"status":"success","data":{"resultType":"matrix","result":[%s]}}`, f.series)
}

const diskSeries = `{"metric":{"instance":"db-03","mountpoint":"/"},"values":[[1764558000,"40"],[1764561600,"88.5"],[1764562200,"97"]]},
	{"metric":{"instance":"db-03","mountpoint":"/boot"},"values":[[1764558000,"10"],[1764562200,"12"]]}`

func TestPrometheusSource(t *testing.T) {
	fake := &fakePrometheus{series: diskSeries}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	p, err := NewPrometheus(srv.URL, func() time.Time { return opened.Add(5 * time.Minute) })
	if err != nil {
		t.Fatal(err)
	}
	d := detail()
	d.Alerts[0].SourceURL = "http://prometheus:9090/graph?g0.expr=" + "disk_used_percent%20%3E%2090" + "&g0.tab=1"
	ev, err := p.Gather(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Facts) != 1 || ev.Facts[0] != "disk_used_percent > 90 is 97 now (40 an hour before it fired, peak 97)." {
		t.Errorf("facts = %q", ev.Facts)
	}
	// The chart's series, highest now first, each named by its labels.
	if ev.Value != "disk_used_percent > 90: 97" || len(ev.Series) != 2 || ev.Series[0].Name != `{instance="db-03", mountpoint="/"}` ||
		len(ev.Series[0].Points) != 3 || ev.Series[0].Points[2].V != 97 || !ev.Series[0].Points[0].T.Equal(time.Unix(1764558000, 0)) {
		t.Errorf("value %q, series %+v", ev.Value, ev.Series)
	}
	if len(fake.asked) != 1 || fake.asked[0] != "/api/v1/query_range disk_used_percent > 90 step=60" {
		t.Errorf("asked = %q", fake.asked)
	}

	// An annotation names the expression for other senders; none means
	// nothing to ask, and no error.
	d2 := detail()
	d2.Alerts[0].SourceURL = ""
	if ev, err := p.Gather(context.Background(), d2); err != nil || len(ev.Facts) != 0 {
		t.Errorf("no expression: %v %v", ev, err)
	}
	d2.Alerts[1].Annotations = map[string]string{"query": "up == 0"}
	fake.series = ""
	if ev, err := p.Gather(context.Background(), d2); err != nil || len(ev.Facts) != 1 || !strings.Contains(ev.Facts[0], "up == 0 has no data now") {
		t.Errorf("no data: %v %v", ev, err)
	}

	// Down, or slow: the triage stands without it and says so.
	fake.fail = http.StatusServiceUnavailable
	r := Runner{Sources: []Source{p}, Timeout: time.Second, Now: func() time.Time { return opened }}
	rep := r.Run(context.Background(), d)
	if rep.Status != "partial" || rep.Sources[0].OK || !strings.Contains(rep.Sources[0].Error, "503") || !strings.Contains(rep.Summary, "Not answering: prometheus") {
		t.Errorf("down: %+v", rep)
	}
	fake.fail, fake.delay = 0, time.Hour
	r.Sources, r.Timeout = []Source{p}, 50*time.Millisecond
	if rep := r.Run(context.Background(), d); rep.Status != "partial" || !strings.Contains(rep.Sources[0].Error, "no answer within the time allowed") {
		t.Errorf("slow: %+v", rep.Sources)
	}
}

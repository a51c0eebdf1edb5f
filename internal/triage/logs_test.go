package triage

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestLogsSource(t *testing.T) {
	var asked string
	bodies := map[string]string{
		"loki": `{"status":"success","data":{"resultType":"streams","result":[
			{"stream":{"app":"api"},"values":[["1764558000000000002","disk at 97%"],["1764558000000000000","write failed: ENOSPC"]]},
			{"stream":{"app":"api","pod":"b"},"values":[["1764558000000000001","retrying"]]}]}}`,
		"es":    `{"hits":{"hits":[{"_source":{"message":"ENOSPC on /var"}},{"_source":{"log":"backup stalled"}}]}}`,
		"plain": "first line\nsecond line\n",
		"empty": `{"status":"success","data":{"resultType":"streams","result":[]}}`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = r.URL.RequestURI()
		if r.URL.Query().Get("token") == "down" {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.Write([]byte(bodies[strings.TrimPrefix(r.URL.Path, "/")]))
	}))
	defer srv.Close()
	cases := []struct {
		kind  string
		lines []string
		fact  string
	}{
		{"loki", []string{"write failed: ENOSPC", "retrying", "disk at 97%"}, `3 log lines around it; the last: "disk at 97%".`},
		{"es", []string{"ENOSPC on /var", "backup stalled"}, `the last: "backup stalled"`},
		{"plain", []string{"first line", "second line"}, `the last: "second line"`},
		{"empty", nil, "No log lines around it."},
	}
	for _, c := range cases {
		t.Run(c.kind, func(t *testing.T) {
			l, err := NewLogs(srv.URL+"/"+c.kind+`?query={instance="{{.Labels.instance}}"}&start={{.StartNS}}&end={{.EndNS}}&limit=20`, func() time.Time { return opened })
			if err != nil {
				t.Fatal(err)
			}
			d := detail()
			d.Alerts[0].Labels["instance"] = `db-03 "primary"&x=1`
			ev, err := l.Gather(context.Background(), d)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(ev.Logs, "|") != strings.Join(c.lines, "|") || len(ev.Facts) != 1 || !strings.Contains(ev.Facts[0], c.fact) {
				t.Errorf("logs = %q, facts = %q", ev.Logs, ev.Facts)
			}
			// The label went in escaped: it cannot add parameters.
			if !strings.Contains(asked, "db-03+%22primary%22%26x%3D1") || strings.Contains(asked, "&x=1") {
				t.Errorf("asked %q", asked)
			}
		})
	}
	l, _ := NewLogs(srv.URL+"/loki?token=down", nil)
	if _, err := l.Gather(context.Background(), detail()); err == nil || !strings.Contains(err.Error(), "502") {
		t.Errorf("a failing store = %v", err)
	}
	dead, _ := NewLogs("http://127.0.0.1:1/loki?token=s3cret-token", nil)
	if _, err := dead.Gather(context.Background(), detail()); err == nil || strings.Contains(err.Error(), "s3cret-token") {
		t.Errorf("an unreachable store's error = %v, want one without the query's token", err)
	}
	if _, err := NewLogs("{{.Labels", nil); err == nil {
		t.Error("a broken template was taken")
	}
}

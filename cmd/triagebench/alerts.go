package main

import (
	"encoding/json"
	"fmt"
	"time"
)

// alertNames loosely follow the node-exporter and kubernetes-mixin rule
// sets; the history is made of the same names, so each new incident has
// similar ones before it.
var alertNames = []string{"NodeFilesystemSpaceFillingUp", "KubePodCrashLooping", "NodeMemoryHighUtilization",
	"TargetDown", "CPUThrottlingHigh", "KubeDeploymentReplicasMismatch", "NodeHighNumberConntrackEntriesUsed",
	"KubePersistentVolumeFillingUp", "PrometheusRuleFailures", "KubeJobFailed"}

type amAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// newAlert is the i-th alert of a set (prefix): its own instance, so its
// own incident under group_by [alertname, instance], with the expression
// behind it as an expr annotation, as a rule file's template puts it.
func newAlert(prefix string, i int, start time.Time) amAlert {
	name := alertNames[i%len(alertNames)]
	inst := fmt.Sprintf("%s-%d:9100", prefix, i)
	sev := "warning"
	if i%3 == 0 {
		sev = "critical"
	}
	expr := fmt.Sprintf(`(node_filesystem_avail_bytes{instance=%q} / node_filesystem_size_bytes{instance=%q}) * 100 < 10`, inst, inst)
	return amAlert{
		Status: "firing",
		Labels: map[string]string{"alertname": name, "instance": inst, "severity": sev, "job": "node",
			"cluster": fmt.Sprintf("prod-%d", i%3), "service": "api"},
		Annotations: map[string]string{"summary": fmt.Sprintf("%s on %s", name, inst),
			"description": fmt.Sprintf("%s has been failing on %s for more than 5 minutes.", name, inst),
			"expr":        expr, "runbook_url": "https://runbooks.example.org/" + name},
		StartsAt:     start,
		GeneratorURL: "http://prometheus.monitoring:9090/graph?g0.tab=1",
		Fingerprint:  fingerprint(prefix, i),
	}
}

func fingerprint(salt string, i int) string {
	h := uint64(14695981039346656037)
	for _, c := range []byte(fmt.Sprintf("%s/%d", salt, i)) {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return fmt.Sprintf("%016x", h)
}

// webhookBody is an Alertmanager webhook (version 4) carrying alerts.
func webhookBody(alerts []amAlert) []byte {
	status := "firing"
	if len(alerts) > 0 && alerts[0].Status == "resolved" {
		status = "resolved"
	}
	b, _ := json.Marshal(map[string]any{
		"version": "4", "groupKey": fmt.Sprintf("{}:{fp=%q}", alerts[0].Fingerprint), "truncatedAlerts": 0, "status": status,
		"receiver": "oncall-bot", "groupLabels": map[string]string{}, "commonLabels": map[string]string{},
		"commonAnnotations": map[string]string{}, "externalURL": "http://alertmanager.monitoring:9093", "alerts": alerts,
	})
	return b
}

// bodies cuts alerts into webhook bodies of batch alerts each, and says
// how many alerts each carries.
func bodies(alerts []amAlert, batch int) (out [][]byte, per []int) {
	for i := 0; i < len(alerts); i += batch {
		chunk := alerts[i:min(i+batch, len(alerts))]
		out = append(out, webhookBody(chunk))
		per = append(per, len(chunk))
	}
	return out, per
}

// newAlerts are n new alerts of a set, firing since a minute ago.
func newAlerts(prefix string, n int) []amAlert {
	start := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	out := make([]amAlert, n)
	for i := range out {
		out[i] = newAlert(prefix, i, start)
	}
	return out
}
